"""Exact nearest-site search on the WGS-84 ellipsoid, in memory.

`NearestIndex` answers "which k sites are closest to this point" with geodesic
distances (metres on the WGS-84 ellipsoid, Karney's algorithm via
``pyproj.Geod``) that are *exact*: the answer is the same as computing the
geodesic to every site and sorting, ties broken by the smaller position.  It
works anywhere (Kashgar, Harbin and Sanya alike); nothing depends on a
projection or on degree arithmetic.

Method
------
Every site is converted to Earth-centred Cartesian coordinates (ECEF, height
0) on the *same* ellipsoid ``pyproj.Geod`` uses, and put in a balanced,
compact ``scipy.spatial.cKDTree``.

Lemma (chord bound).  For two points P, Q on the ellipsoid, the 3-D chord
``|P - Q|`` is <= the geodesic distance ``g(P, Q)``: the geodesic is a curve
in R^3 joining P and Q and no curve is shorter than the straight segment.

Search.  Take the K nearest sites *by chord* (K = k + margin), compute their
geodesics and sort them; let ``g_k`` be the k-th smallest and ``c_K`` the
K-th chord.  Every site not fetched has chord >= c_K, hence geodesic >= c_K.
If ``c_K > g_k + tol`` no unseen site is closer than (or tied with) the k-th
answer, so the fetched set contains the exact top k, ties included.
Otherwise every site with geodesic <= g_k has chord <= g_k, so a ball query
of radius ``g_k + tol`` returns a superset of the answer; ranking it by
geodesic is exact.  ``tol`` (10 micrometres plus 1e-12 relative) only widens
the candidate set: it absorbs floating-point rounding of the ECEF conversion
(~1e-8 m) and of the geodesic solution (~1.5e-8 m), so rounding cannot
break the proof.  A ``max_distance`` D is folded in the same way: a site
within D has chord <= D, so the tree is asked only for chords <= D, and when
fewer than k sites qualify the threshold is D instead of ``g_k``.

Masks.  A mask selecting few sites (< 2 % or < 5000) is searched by brute
force: chords to the selected sites (vectorised numpy), geodesics for the
nearest few by chord, then the same bound selects every site that could
still win.  A larger mask uses the tree with K grown by doubling (starting
at ``max(4k, (k + margin) * n / m)``) until k selected sites are seen, then
the test/ball step above; past ``_TREE_CAP`` it falls back to brute force.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
from scipy.spatial import cKDTree

from geo.engine.geodesy import A, E2, ecef

__all__ = ["NearestIndex"]

_MARGIN = 2  # extra chord candidates fetched beyond k
_ABS_TOL = 1e-5  # metres, see module docstring
_REL_TOL = 1e-12
_BRUTE_MIN = 5000  # masks selecting fewer sites than this ...
_BRUTE_FRAC = 0.02  # ... or than this share are brute-forced
_TREE_CAP = 4096  # beyond this K the masked tree search becomes brute force
_SCALAR_MAX = 8  # rank up to this many candidates with scalar geodesics


def _tol(t: float | np.ndarray) -> float | np.ndarray:
    return _ABS_TOL + _REL_TOL * t


def _empty3() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64)


class NearestIndex:
    """Immutable index of site positions answering exact geodesic k-NN queries.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS-84 longitudes and latitudes in degrees, same length, may be empty.
        Results refer to sites by their position in these arrays.

    Raises
    ------
    ValueError
        If the arrays differ in shape, are not 1-D, or hold non-finite or
        out-of-range values.

    Examples
    --------
    >>> idx = NearestIndex(np.array([116.40, 121.47]), np.array([39.90, 31.23]))
    >>> pos, dist, bearing = idx.query(116.3, 39.9, k=1)
    >>> int(pos[0])
    0
    """

    def __init__(self, lon: np.ndarray, lat: np.ndarray):
        lon = np.array(lon, dtype=np.float64, copy=True).reshape(-1) if np.ndim(lon) else None
        lat = np.array(lat, dtype=np.float64, copy=True).reshape(-1) if np.ndim(lat) else None
        if lon is None or lat is None or lon.shape != lat.shape:
            raise ValueError("lon and lat must be 1-D arrays of the same length")
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
            raise ValueError("lon and lat must be finite")
        if np.any(np.abs(lon) > 180.0) or np.any(np.abs(lat) > 90.0):
            raise ValueError("lon must be within -180..180 and lat within -90..90")
        self._geod = pyproj.Geod(ellps="WGS84")
        self._lon, self._lat = lon, lat
        self._xyz = self._ecef(lon, lat)
        for a in (self._lon, self._lat, self._xyz):
            a.flags.writeable = False
        self._tree = (cKDTree(self._xyz, balanced_tree=True, compact_nodes=True)
                      if lon.size else None)

    @classmethod
    def from_lonlat(cls, lon, lat) -> "NearestIndex":
        """Build an index from any array-likes of longitudes and latitudes (degrees)."""
        return cls(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))

    def __len__(self) -> int:
        return int(self._lon.size)

    @property
    def lon(self) -> np.ndarray:
        """Read-only longitudes of the indexed sites."""
        return self._lon

    @property
    def lat(self) -> np.ndarray:
        """Read-only latitudes of the indexed sites."""
        return self._lat

    @staticmethod
    def _ecef(lon, lat) -> np.ndarray:
        """Geodetic (height 0) to ECEF metres, vectorised (:func:`geo.engine.geodesy.ecef`)."""
        return ecef(lon, lat)

    def _ecef1(self, lon: float, lat: float) -> np.ndarray:
        """Scalar `_ecef` with the same formulas (math is ~10x cheaper than numpy here)."""
        a, e2 = A, E2
        lam, phi = math.radians(lon), math.radians(lat)
        sphi, cphi = math.sin(phi), math.cos(phi)
        n = a / math.sqrt(1.0 - e2 * sphi * sphi)
        return np.array([n * cphi * math.cos(lam), n * cphi * math.sin(lam),
                         n * (1.0 - e2) * sphi])

    @staticmethod
    def _check_point(lon, lat) -> tuple[float, float]:
        lon, lat = float(lon), float(lat)
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
            raise ValueError(f"invalid query point lon={lon!r}, lat={lat!r}")
        return lon, lat

    @staticmethod
    def _check_opts(k, max_distance) -> tuple[int, float]:
        if isinstance(k, bool) or int(k) != k or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        if max_distance is None:
            return int(k), math.inf
        dmax = float(max_distance)
        if not dmax >= 0.0:
            raise ValueError(f"max_distance must be >= 0, got {max_distance!r}")
        return int(k), dmax

    def _rank(self, lon, lat, pos, dmax):
        """Geodesics from the query to ``pos``; keep <= dmax; sort by (distance, position)."""
        pos = np.asarray(pos, dtype=np.int64)
        m = pos.size
        if m == 0:
            return _empty3()
        if m <= _SCALAR_MAX:  # the same Karney solution, without numpy's per-call overhead
            inv, slon, slat = self._geod.inv, self._lon, self._lat
            hits = []
            for p in pos.tolist():
                a, _, dd = inv(lon, lat, float(slon[p]), float(slat[p]), return_back_azimuth=False)
                if dd <= dmax:
                    hits.append((dd, p, a))
            hits.sort()
            if not hits:
                return _empty3()
            d, p, a = zip(*hits)
            return (np.array(p, dtype=np.int64), np.array(d, dtype=np.float64),
                    np.array(a, dtype=np.float64))
        az, _, d = self._geod.inv(np.full(m, lon), np.full(m, lat), self._lon[pos],
                                  self._lat[pos], inplace=True,
                                  return_back_azimuth=False)
        if dmax < math.inf:
            keep = d <= dmax
            pos, d, az = pos[keep], d[keep], az[keep]
        order = np.lexsort((pos, d))
        return pos[order], d[order], az[order]

    def _brute(self, q, lon, lat, k, allowed, dmax):
        """Exact search over the positions ``allowed`` without the tree."""
        diff = self._xyz[allowed] - q
        c = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        if dmax < math.inf:
            near = c <= dmax + _tol(dmax)
            allowed, c = allowed[near], c[near]
        kk = k + _MARGIN
        if allowed.size <= kk:
            return self._rank(lon, lat, allowed, dmax)
        part = np.argpartition(c, kk - 1)[:kk]
        pos, d, _ = self._rank(lon, lat, allowed[part], dmax)
        t = d[k - 1] if d.size >= k else dmax
        cand = allowed[c <= t + _tol(t)] if t < math.inf else allowed
        return self._rank(lon, lat, cand, dmax)

    def _search(self, lon, lat, k, mask, dmax):
        n = len(self)
        q = self._ecef1(lon, lat)
        if mask is not None:
            m = int(np.count_nonzero(mask))
            if m == 0:
                return _empty3()
            if m < max(_BRUTE_MIN, _BRUTE_FRAC * n):
                return self._brute(q, lon, lat, k, np.flatnonzero(mask), dmax)
            kk = max(4 * k, math.ceil((k + _MARGIN) * n / m))
        else:
            kk = k + _MARGIN
        ub = dmax + _tol(dmax) if dmax < math.inf else math.inf
        while True:
            kk = min(kk, n)
            c, i = self._tree.query(q, kk, distance_upper_bound=ub)
            c, i = np.atleast_1d(c), np.atleast_1d(i)
            seen = i[i < n]
            if mask is not None:
                seen = seen[mask[seen]]
            pos, d, az = self._rank(lon, lat, seen, dmax)
            t = d[k - 1] if d.size >= k else dmax
            if kk >= n or c[-1] > t + _tol(t):  # c[-1] is inf when the tree ran out
                return pos, d, az
            if d.size >= k:  # every site with geodesic <= t has chord <= t
                ball = np.asarray(self._tree.query_ball_point(q, t + _tol(t)), dtype=np.int64)
                if mask is not None:
                    ball = ball[mask[ball]]
                return self._rank(lon, lat, ball, dmax)
            kk *= 2
            if kk > _TREE_CAP:
                allowed = np.flatnonzero(mask) if mask is not None else np.arange(n)
                return self._brute(q, lon, lat, k, allowed, dmax)

    def query(self, lon: float, lat: float, *, k: int = 3, mask: np.ndarray | None = None,
              max_distance: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the k sites nearest to one point, exactly, by geodesic distance.

        Parameters
        ----------
        lon, lat : float
            Query point, WGS-84 degrees.
        k : int, optional
            Maximum number of sites returned (default 3). May exceed ``len(self)``.
        mask : numpy.ndarray of bool, optional
            Length ``len(self)``; only positions where it is True are eligible.
        max_distance : float, optional
            Only sites within this many metres (inclusive) are returned.

        Returns
        -------
        positions : numpy.ndarray of int64
            Site positions, nearest first; equal distances by smaller position.
        distance_m : numpy.ndarray of float64
            Geodesic distances in metres on the WGS-84 ellipsoid.
        bearing_deg : numpy.ndarray of float64
            Forward azimuth from the query point to each site, in [0, 360).

        Raises
        ------
        ValueError
            On an invalid point, k, max_distance or mask.
        """
        lon, lat = self._check_point(lon, lat)
        k, dmax = self._check_opts(k, max_distance)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != (len(self),):
                raise ValueError(f"mask must be a bool array of length {len(self)}")
        if len(self) == 0 or k == 0:
            return _empty3()
        pos, d, az = self._search(lon, lat, k, mask, dmax)
        bearing = np.mod(az[:k], 360.0)
        bearing[bearing >= 360.0] = 0.0  # np.mod(-1e-20, 360) rounds to 360
        return pos[:k].astype(np.int64, copy=False), d[:k], bearing

    def query_many(self, lon: np.ndarray, lat: np.ndarray, *, k: int = 1,
                   max_distance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact k nearest sites for many points at once (vectorised).

        Parameters
        ----------
        lon, lat : numpy.ndarray
            Query points, WGS-84 degrees, same length.
        k : int, optional
            Sites per query point (default 1).
        max_distance : float, optional
            Only sites within this many metres (inclusive) are returned.

        Returns
        -------
        positions : numpy.ndarray of int64, shape (n, k)
            Site positions per query, nearest first; -1 where there is none.
        distance_m : numpy.ndarray of float64, shape (n, k)
            Geodesic distances in metres; ``inf`` where there is no site.
        """
        lon = np.asarray(lon, dtype=np.float64).reshape(-1)
        lat = np.asarray(lat, dtype=np.float64).reshape(-1)
        if lon.shape != lat.shape:
            raise ValueError("lon and lat must have the same length")
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))
                and np.all(np.abs(lon) <= 180) and np.all(np.abs(lat) <= 90)):
            raise ValueError("query points must be finite lon/lat in range")
        k, dmax = self._check_opts(k, max_distance)
        nq, n = lon.size, len(self)
        out_p = np.full((nq, k), -1, dtype=np.int64)
        out_d = np.full((nq, k), np.inf)
        if nq == 0 or n == 0 or k == 0:
            return out_p, out_d
        kk = min(k + _MARGIN, n)
        ub = dmax + _tol(dmax) if dmax < math.inf else math.inf
        c, i = self._tree.query(self._ecef(lon, lat), kk, distance_upper_bound=ub)
        c, i = c.reshape(nq, kk), i.reshape(nq, kk).astype(np.int64)
        missing = i >= n
        safe = np.where(missing, 0, i)
        _, _, d = self._geod.inv(np.repeat(lon, kk), np.repeat(lat, kk), self._lon[safe].ravel(),
                                 self._lat[safe].ravel(), return_back_azimuth=False)
        d = d.reshape(nq, kk)
        d[missing | (d > dmax)] = np.inf
        order = np.lexsort((i, d), axis=-1)
        d, i = np.take_along_axis(d, order, -1), np.take_along_axis(i, order, -1)
        kc = min(k, kk)
        t = d[:, kc - 1] if kk >= k else np.full(nq, np.inf)
        t = np.where(np.isfinite(t), t, dmax)
        with np.errstate(invalid="ignore"):
            exact = (kk >= n) | (c[:, -1] > t + _tol(t))
        found = np.isfinite(d[:, :kc])
        out_p[:, :kc] = np.where(found, i[:, :kc], -1)
        out_d[:, :kc] = d[:, :kc]
        for r in np.flatnonzero(~exact):
            p, dd, _ = self._search(float(lon[r]), float(lat[r]), k, None, dmax)
            out_p[r], out_d[r] = -1, np.inf
            out_p[r, :p.size], out_d[r, :p.size] = p[:k], dd[:k]
        return out_p, out_d
