"""Independent reference answers for tests (brute force on the ellipsoid)."""
from __future__ import annotations

import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
R_MAX = 6378137.0


def _haversine(lon, lat, qlon, qlat):
    lam, phi = np.radians(lon), np.radians(lat)
    ql, qp = np.radians(qlon), np.radians(qlat)
    a = np.sin((phi - qp) / 2) ** 2 + np.cos(phi) * np.cos(qp) * np.sin((lam - ql) / 2) ** 2
    return 2 * R_MAX * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def geodesic_knn(lon, lat, qlon, qlat, k, allowed=None):
    """k nearest by geodesic distance (pyproj Geod) — brute force with a safe prefilter.

    The spherical distance on a sphere of the equatorial radius is within 0.7 % of the
    geodesic, so every site whose spherical distance is within 1.01× the k-th best
    candidate's is checked with ``Geod.inv``; the rest cannot win.
    """
    pos = np.arange(len(lon)) if allowed is None else np.flatnonzero(allowed)
    if pos.size == 0:
        return pos, np.empty(0)
    h = _haversine(lon[pos], lat[pos], qlon, qlat)
    m = min(pos.size, max(4 * k, 32))
    cand = np.argpartition(h, m - 1)[:m]
    _, _, d = GEOD.inv(np.full(m, qlon), np.full(m, qlat), lon[pos[cand]], lat[pos[cand]])
    bound = np.sort(d)[min(k, m) - 1] * 1.01 / 0.993 + 1.0
    keep = pos[h <= bound]
    _, _, d = GEOD.inv(np.full(keep.size, qlon), np.full(keep.size, qlat), lon[keep], lat[keep])
    o = np.lexsort((keep, d))[:k]
    return keep[o], d[o]
