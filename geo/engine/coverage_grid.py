"""Compiled fast path of :func:`geo.engine.coverage.covered_from_sites`: sites in latitude rows.

Importing this module loads (or, the first time, compiles) its numba kernels and runs
them once on one point, which links them: about 0.3 s once per process, like loading
any compiled extension; nothing else runs at import time.

Method
------
Sites go into a grid of latitude rows of height ``hlat`` and longitude columns of
width ``hlon`` (degrees), sorted by row, then column: ``row_start[r]:row_start[r+1]``
are row ``r``'s sites, their columns ascending.  The cell sizes are bounds, not
estimates, so every site within ``R`` (geodesic) of a point lies in the 3 x 3 cells
around the point's cell:

* along any curve, ``|d phi / ds| <= 1 / M(phi) <= 1 / (a (1 - e^2))`` (``M`` the
  meridional radius of curvature, smallest at the equator), so
  ``hlat = (R + TOL) / (a (1 - e^2))`` radians bounds the latitude change;
* ``|d lambda / ds| <= 1 / (N cos phi) <= 1 / (a cos phi_max)``, where ``phi_max``
  bounds ``|phi|`` on every such curve (the data's widest latitude plus ``hlat``),
  so ``hlon = (R + TOL) / (a cos phi_max)`` bounds the longitude change.

Both are widened by 1e-9 (relative) against rounding.  For each demand point (one
pass, compiled, on several threads) the kernel computes its Earth-centred
coordinates and scans the three column ranges of its three rows (one binary search
per range; within a row the three cells are one contiguous run of sites), stopping
at the first site whose chord is at most the *sure chord* of :mod:`geo.engine.coverage`
(geodesic provably ``<= R - TOL``): status 1, covered.  A site in the shell between
the sure chord and ``R + TOL`` gives status 2 (the caller decides those few points
with ``Geod.inv``); none gives 0, uncovered (chord ``<= geodesic``).

Earth-centred coordinates are taken in a frame turned about the polar axis by the
data's central longitude ``lonc`` (a rotation keeps every chord), with
``cos = sqrt(1 - sin**2)``: two ``sin`` calls per point instead of four, and well
conditioned because ``|lat| <= 85`` and ``|lon - lonc| <= 80`` degrees are required.
:func:`status_from_sites` returns ``None`` when the data do not fit those limits, the
antimeridian or the size limits; the caller then uses its KD-tree path.

Demand is processed in cell order (4096 x 4096 cells over its box, ~1.5 km across China; two
16-bit radix passes), so consecutive points read the same rows of sites from cache.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from geo.engine.geodesy import A, E2

__all__ = ["status_from_sites"]

RHO_MIN = A * (1.0 - E2)
_WIDEN = 1.0 + 1e-9
MAX_LAT = 85.0  #: beyond this latitude (plus a cell) the KD-tree path is used
MAX_HALF_SPAN = 80.0  #: largest |lon - lonc| in degrees (cos(80 deg) = 0.17 keeps sqrt well conditioned)
MAX_ROWS = 1 << 22  #: row table of at most 32 MB (R of 1 m over 36 degrees of latitude needs 4.0e6)
MAX_RADIUS = 100_000.0  #: beyond 100 km the cells hold too many sites to scan; the KD-tree path is used


def _jit(signature, **options):
    """``numba.njit`` with an on-disk cache, or compiled in memory when no cache directory is
    writable (a read-only install run by a user without a home: a few seconds once per process)."""
    def decorate(fn):
        try:
            return njit(signature, cache=True, nogil=True, **options)(fn)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            return njit(signature, nogil=True, **options)(fn)
    return decorate


@_jit("UniTuple(float64, 3)(float64, float64, float64)", inline="always")
def _xyz(lon, lat, lonc):
    sp = math.sin(math.radians(lat))
    cp = math.sqrt(1.0 - sp * sp)
    sl = math.sin(math.radians(lon - lonc))
    cl = math.sqrt(1.0 - sl * sl)
    nn = A / math.sqrt(1.0 - E2 * sp * sp)
    return nn * cp * cl, nn * cp * sl, nn * (1.0 - E2) * sp


@_jit("void(float64[::1], float64[::1], float64, float64[:, ::1])")
def _sites_xyz(lon, lat, lonc, out):
    for i in range(lon.size):
        out[i, 0], out[i, 1], out[i, 2] = _xyz(lon[i], lat[i], lonc)


@_jit("void(float64[::1], float64[::1], float64, int64[::1], int64[::1], float64[:, ::1], float64, float64, "
      "float64, float64, float64, float64, int8[::1], int64, int64)")
def _status(lon, lat, lonc, row_start, s_col, sxyz, lat0, hlat, lon0, hlon, sure2, r2, out, start, stop):
    for i in range(start, stop):
        x, y, z = _xyz(lon[i], lat[i], lonc)
        row = int(math.floor((lat[i] - lat0) / hlat))
        col = int(math.floor((lon[i] - lon0) / hlon))
        status = 0
        for t in range(3):
            rr = row + (0, -1, 1)[t]  # own row first
            a, b = row_start[rr], row_start[rr + 1]
            if a == b:
                continue
            cols = s_col[a:b]
            for j in range(a + np.searchsorted(cols, col - 1), a + np.searchsorted(cols, col + 2)):
                dx, dy, dz = sxyz[j, 0] - x, sxyz[j, 1] - y, sxyz[j, 2] - z
                d2 = dx * dx + dy * dy + dz * dz
                if d2 <= r2:
                    status = 2
                    if d2 <= sure2:
                        status = 1
                        break
            if status == 1:
                break
        out[i] = status


def _link():
    """Run the kernels once on one point: numba links cached code on its first call."""
    one, xyz = np.zeros(1), np.zeros((1, 3))
    _sites_xyz(one, one, 0.0, xyz)
    _status(one, one, 0.0, np.zeros(4, dtype=np.int64), np.zeros(1, dtype=np.int64), xyz, -1.0, 1.0, -1.0, 1.0,
            1.0, 1.0, np.zeros(1, dtype=np.int8), 0, 1)


_link()


def _order(lon, lat, box):
    """Positions in cell order, 4096 x 4096 cells over the box (~1.5 km across China; metres in
    a district), by two stable 16-bit radix sorts."""
    lo0, la0, lo1, la1 = box
    gx = np.clip((lon - lo0) * (4095.999 / max(lo1 - lo0, 1e-9)), 0, 4095).astype(np.uint32)
    gy = np.clip((lat - la0) * (4095.999 / max(la1 - la0, 1e-9)), 0, 4095).astype(np.uint32)
    key = (gy << 12) | gx
    first = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
    return first[np.argsort((key[first] >> 16).astype(np.uint16), kind="stable")]


class _Grid:
    __slots__ = ("box", "hlat", "hlon", "lat0", "lon0", "lonc", "ny")

    def __init__(self, box, radius_m):
        lo0, la0, lo1, la1 = box
        self.box = box
        self.hlat = math.degrees((radius_m + 1e-4) / RHO_MIN) * _WIDEN
        phi_max = max(abs(la0), abs(la1)) + 2.0 * self.hlat
        self.hlon = math.degrees((radius_m + 1e-4) / (A * math.cos(math.radians(min(phi_max, 89.0))))) * _WIDEN
        self.lat0, self.lon0 = la0 - 2.0 * self.hlat, lo0 - 2.0 * self.hlon
        self.lonc = 0.5 * (lo0 + lo1)
        self.ny = int(math.floor((la1 - self.lat0) / self.hlat)) + 3

    @classmethod
    def fitting(cls, box, radius_m):
        """The grid for demand in ``box``, or None when the fast path's limits are not met."""
        if not 0.0 < radius_m <= MAX_RADIUS:
            return None
        g = cls(box, radius_m)
        lo0, la0, lo1, la1 = box
        fits = (max(abs(la0), abs(la1)) + 2.0 * g.hlat <= MAX_LAT
                and lo0 - 2.0 * g.hlon > -180.0 and lo1 + 2.0 * g.hlon < 180.0
                and 0.5 * (lo1 - lo0) + 2.0 * g.hlon <= MAX_HALF_SPAN and g.ny <= MAX_ROWS)
        return g if fits else None

    def sites(self, slon, slat):
        """``(row_start, columns, xyz)`` of the sites that can reach the box, sorted by row, column."""
        lo0, la0, lo1, la1 = self.box
        keep = np.flatnonzero((slat >= la0 - 1.5 * self.hlat) & (slat <= la1 + 1.5 * self.hlat)
                              & (slon >= lo0 - 1.5 * self.hlon) & (slon <= lo1 + 1.5 * self.hlon))
        sl, sa = slon[keep], slat[keep]
        rows = np.floor((sa - self.lat0) / self.hlat).astype(np.int64)
        cols = np.floor((sl - self.lon0) / self.hlon).astype(np.int64)
        o = np.argsort(rows * (int(cols.max()) + 2 if cols.size else 1) + cols)
        xyz = np.empty((o.size, 3))
        _sites_xyz(np.ascontiguousarray(sl[o]), np.ascontiguousarray(sa[o]), self.lonc, xyz)
        sorted_rows = rows[o]
        return np.searchsorted(sorted_rows, np.arange(self.ny + 1)).astype(np.int64), cols[o], xyz


def status_from_sites(lon, lat, site_lon, site_lat, *, radius_m, sure_chord, threads):
    """Per demand point 1 (covered), 0 (not) or 2 (a site in the shell: decide with Geod.inv).

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Finite demand coordinates (float64, degrees, within [-180, 180] x [-90, 90]).
    site_lon, site_lat : numpy.ndarray
        Sites, likewise.
    radius_m : float
        Service radius (m).
    sure_chord : float
        Chord below which coverage is proved (:func:`geo.engine.coverage._sure_chord`).
    threads : int
        Threads for the kernel.

    Returns
    -------
    numpy.ndarray of int8 or None
        None when the fast path's limits (module docstring) are not met.
    """
    box = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    grid = _Grid.fitting(box, float(radius_m))
    if grid is None:
        return None
    n = lon.size
    r, sure = float(radius_m) + 1e-4, float(sure_chord)
    cut = np.linspace(0, n, (8 * threads if n >= 100_000 and threads > 1 else 1) + 1).astype(np.int64)
    parts = list(zip(cut[:-1].tolist(), cut[1:].tolist()))
    olon, olat, status = np.empty(n), np.empty(n), np.empty(n, dtype=np.int8)
    with ThreadPoolExecutor(threads) as pool:
        preparing = pool.submit(grid.sites, site_lon, site_lat)
        order = _order(lon, lat, box)

        def gather(ab):
            a, b = ab
            np.take(lon, order[a:b], out=olon[a:b])
            np.take(lat, order[a:b], out=olat[a:b])

        list(pool.map(gather, parts))
        row_start, cols, sxyz = preparing.result()
        args = (olon, olat, grid.lonc, row_start, cols, sxyz, grid.lat0, grid.hlat, grid.lon0, grid.hlon,
                sure * sure, r * r, status)
        list(pool.map(lambda ab: _status(*args, *ab), parts))
    out = np.empty(n, dtype=np.int8)
    out[order] = status
    return out
