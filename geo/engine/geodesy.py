"""Ellipsoid helpers shared by the nearest index and the coverage engine (WGS-84)."""
from __future__ import annotations

import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
A = 6378137.0  #: WGS-84 semi-major axis (m)
F = 1 / 298.257223563  #: WGS-84 flattening
E2 = F * (2 - F)  #: first eccentricity squared


def ecef(lon, lat) -> np.ndarray:
    """Earth-centred x, y, z in metres of points on the WGS-84 ellipsoid (height 0), (n, 3).

    The straight chord between two such points is never longer than the geodesic between
    them, which is what makes KD-tree searches on these coordinates exact after a
    geodesic re-check.
    """
    lam = np.radians(np.asarray(lon, dtype="float64"))
    phi = np.radians(np.asarray(lat, dtype="float64"))
    s = np.sin(phi)
    n = A / np.sqrt(1 - E2 * s * s)
    c = np.cos(phi)
    return np.column_stack([n * c * np.cos(lam), n * c * np.sin(lam), n * (1 - E2) * s])


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres (vectorised, broadcasting)."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(a, dtype="float64")
                                                   for a in (lon1, lat1, lon2, lat2)))
    _, _, d = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(d)
