"""Exact geodesic coverage of demand points by sites (areas and gaps: :mod:`geo.engine.coverage_gaps`).

NumPy and one numba kernel on WGS-84 lon/lat; distances are ``pyproj.Geod(ellps="WGS84").inv``'s.

Method (exact, fast; no polygon buffer decides coverage)
--------------------
Points go to ellipsoidal ECEF coordinates in a :class:`scipy.spatial.cKDTree`.
For two surface points at chord ``c`` and geodesic distance ``s``:

* ``c <= s`` (the straight segment is the shortest curve), so a chord ball of
  radius ``R`` holds every site within geodesic ``R``;
* ``s <= U(c) = 2 rho asin(c / (2 rho))`` with ``rho = a (1 - e^2)`` (6 335 439 m),
  the smallest radius of curvature of the ellipsoid.  Proof: a geodesic has no
  geodesic curvature, so its curvature in space equals the normal curvature of the
  surface, which is at most ``1 / rho``; by Schur's comparison theorem its chord is
  at least the chord of a circular arc of radius ``rho`` of the same length.  (On a
  convex surface ``s <= pi c / 2``, so ``s <= pi rho`` holds whenever ``c < 2 rho``.)

``U(c) - c`` is about ``c^3 / (24 rho^2)``: 1e-6 m at 1 km.  So ``U(c) <= R - TOL`` is
covered and ``c > R + TOL`` is not; only pairs in that sub-millimetre shell go to
``Geod.inv``.  ``TOL = 1e-4 m`` absorbs the rounding of chords and ``Geod.inv`` (~1e-8 m).

:func:`covered_from_sites` runs the same decision in a compiled pass over sites sorted
into latitude rows (:mod:`geo.engine.coverage_grid`: proven cell bounds, stops at the first
site within the sure chord) wherever the data fit its limits -- everywhere in China at
service radii up to 100 km; 1,000,000 points and 200,000 sites in about 0.08 s on two
cores.  Elsewhere (polar caps, the antimeridian, radii above 100 km) and for the few
points with a site in the shell, the KD-tree path decides: it puts the sites in the
tree and, before any search, flags the demand points that share an axis-aligned ECEF
cube of edge ``sure chord / sqrt(3)`` with a site (any two points of such a cube are
within the sure chord); the rest get one ``k = 1`` search (chord-nearest site within
``R + TOL``), in ~1 km cell order so consecutive searches share cache.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.spatial import cKDTree

from geo.engine.geodesy import A, E2, GEOD, ecef

__all__ = [
    "GEOD", "ecef_from_lonlat", "geodesic_distance", "covered_from_sites", "nearest_distance_from_sites",
    "pairs_from_sites",
]

RHO_MIN = A * (1.0 - E2)  #: smallest radius of curvature of WGS-84 (m)
TOL = 1e-4  #: metres of slack around the decision shell


def float_array(x):
    return np.ascontiguousarray(np.asarray(x, dtype="float64").ravel())


def ecef_from_lonlat(lon, lat):
    """Earth-centred ``(n, 3)`` coordinates in metres of WGS-84 surface points (degrees in)."""
    return ecef(float_array(lon), float_array(lat))


def _sure_chord(radius_m):
    """Largest chord whose geodesic is provably ``<= radius_m - TOL``."""
    r = max(float(radius_m) - TOL, 0.0)
    return 2.0 * RHO_MIN * np.sin(min(r / (2.0 * RHO_MIN), np.pi / 2)) * (1.0 - 1e-12)


def geodesic_distance(lon1, lat1, lon2, lat2):
    """Vectorised WGS-84 geodesic distance in metres (``pyproj.Geod.inv``)."""
    return np.asarray(GEOD.inv(*(float_array(v) for v in (lon1, lat1, lon2, lat2)))[2], dtype="float64")


def _tree(site_xyz, **kw):
    return cKDTree(site_xyz, **({"balanced_tree": False, "compact_nodes": False} | kw))


def _threads(workers):
    """Threads meant by a SciPy-style ``workers`` (-1: every core this process may use)."""
    if workers is None or workers == 1:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores if workers < 0 else min(int(workers), cores)


def _spatial_order(lon, lat):
    """Order points by 0.01-degree lon/lat cell (~1 km), so consecutive KD-tree queries share cache.

    NumPy's default (SIMD) argsort on a float key: the order only speeds the queries up,
    ties and NaN go anywhere.
    """
    return np.argsort(np.floor((lat + 90.0) * 100.0) * 36_001.0 + np.floor((lon + 180.0) * 100.0))


_CELL_BITS = 21  #: bits per axis of a packed cube index (|ECEF| / side < 2**20)


def _cube_keys(xyz, side):
    """One int64 per point naming the axis-aligned cube of edge ``side`` (m) holding it."""
    key, col = np.zeros(len(xyz), dtype=np.int64), np.empty(len(xyz))
    for axis in range(3):  # one column at a time: few and small temporaries
        np.floor(np.divide(xyz[:, axis], side, out=col), out=col)
        key <<= _CELL_BITS
        key |= col.astype(np.int64) + (1 << (_CELL_BITS - 1))
    return key


def _site_cubes(sxyz, radius_m):
    """``(side, sorted keys)`` of the cubes holding a site, for cubes so small (diagonal
    below the sure chord) that sharing one proves coverage; ``None`` when R is too small."""
    side = _sure_chord(radius_m) / np.sqrt(3.0) * (1.0 - 1e-9)
    if side < 2.0 * A / (1 << (_CELL_BITS - 1)):  # R under ~21 m: the packed key would overflow
        return None
    return side, np.unique(_cube_keys(sxyz, side))


def _in_site_cube(dxyz, cubes):
    """True where a point lies in one of ``cubes`` (:func:`_site_cubes`)."""
    side, skeys = cubes
    dkeys = _cube_keys(dxyz, side)
    return skeys[np.minimum(np.searchsorted(skeys, dkeys), skeys.size - 1)] == dkeys


def _share_cube_with_site(dxyz, sxyz, radius_m):
    """True where a demand point shares a (small) cube with a site; None when R is too small."""
    cubes = _site_cubes(sxyz, radius_m)
    return None if cubes is None else _in_site_cube(dxyz, cubes)


def _ball_pairs(tree, xyz, r, *, workers):
    """Flattened ``(row, site)`` pairs of every site with chord ``<= r`` (r per row)."""
    lists = tree.query_ball_point(xyz, r, workers=workers, return_sorted=False)
    counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    cols = np.fromiter((j for x in lists for j in x), dtype=np.int64, count=int(counts.sum()))
    return np.repeat(np.arange(len(lists)), counts), cols


def covered_from_sites(demand_lon, demand_lat, site_lon, site_lat, *, radius_m, workers=-1):
    """Flag demand points that have a site within ``radius_m`` geodesic metres.

    Exact with respect to ``pyproj.Geod(ellps="WGS84").inv`` (see the module
    docstring for the proof of the chord bounds used to skip most geodesic calls).
    Data that fit the compiled grid's limits (everywhere in China at service radii up
    to 100 km) take :mod:`geo.engine.coverage_grid`; the rest, and the few points with a site
    in the sub-millimetre shell, take the KD-tree path.  Points or sites with a
    non-finite coordinate cover and are covered by nothing.

    Parameters
    ----------
    demand_lon, demand_lat : array_like
        Demand points, WGS-84 degrees.
    site_lon, site_lat : array_like
        Sites (already filtered by kind, service, opening time by the caller).
    radius_m : float
        Service radius in metres (a point at exactly ``radius_m`` is covered).
    workers : int, optional
        Threads (-1: all cores).

    Returns
    -------
    numpy.ndarray of bool
    """
    dlon, dlat, sx, sy = float_array(demand_lon), float_array(demand_lat), float_array(site_lon), float_array(site_lat)
    covered = np.zeros(dlon.size, dtype=bool)
    if not (fin := np.isfinite(sx) & np.isfinite(sy)).all():
        sx, sy = sx[fin], sy[fin]
    if dlon.size == 0 or sx.size == 0:
        return covered
    if not (fin := np.isfinite(dlon) & np.isfinite(dlat)).all():
        covered[fin] = covered_from_sites(dlon[fin], dlat[fin], sx, sy, radius_m=radius_m, workers=workers)
        return covered
    status = None
    if float(radius_m) > 0 and all(np.abs(v).max() <= m for v, m in ((dlon, 180), (dlat, 90), (sx, 180), (sy, 90))):
        from geo.engine.coverage_grid import status_from_sites

        status = status_from_sites(dlon, dlat, sx, sy, radius_m=float(radius_m), sure_chord=_sure_chord(radius_m),
                                   threads=_threads(workers))
    if status is None:
        return _covered_kdtree(dlon, dlat, sx, sy, radius_m, workers)
    covered = status == 1
    if (band := np.flatnonzero(status == 2)).size:
        covered[band] = _covered_kdtree(dlon[band], dlat[band], sx, sy, radius_m, workers)
    return covered


def _covered_kdtree(dlon, dlat, sx, sy, radius_m, workers):
    """The KD-tree path of :func:`covered_from_sites` (finite float64 arrays, non-empty sites)."""
    covered, radius_m, r = np.zeros(dlon.size, dtype=bool), float(radius_m), float(radius_m) + TOL
    if dlon.size == 0:
        return covered
    # sites (the smaller set, usually) in the tree, built while the demand is prepared
    k = _threads(workers)
    sxyz = ecef(sx, sy)
    with ThreadPoolExecutor(k) as pool:
        building = pool.submit(_tree, sxyz, leafsize=32, balanced_tree=True, compact_nodes=True)
        cubes = _site_cubes(sxyz, radius_m)
        # demand in ~1 km cell order (consecutive searches share cache), converted and checked
        # against the site cubes chunk by chunk on every thread (NumPy frees the GIL)
        order = _spatial_order(dlon, dlat)
        n = dlon.size
        olon, olat, dxyz, cov = np.empty(n), np.empty(n), np.empty((n, 3)), np.zeros(n, dtype=bool)

        def prepare(part):
            o = order[part]
            olon[part], olat[part] = dlon[o], dlat[o]
            dxyz[part] = ecef(olon[part], olat[part])
            if cubes is not None:  # 1. a site in the same small cube: covered, no search needed
                cov[part] = _in_site_cube(dxyz[part], cubes)

        cut = np.linspace(0, n, (8 * k if n >= 200_000 and k > 1 else 1) + 1).astype(np.int64)
        list(pool.map(prepare, (slice(a, b) for a, b in zip(cut[:-1], cut[1:]))))
        tree = building.result()
    dlon, dlat = olon, olat
    ask = np.flatnonzero(~cov)
    # 2. chord to the chord-nearest site within r: > r (inf) is surely uncovered (chord <= geodesic),
    # <= the sure chord is surely covered; only the sub-millimetre shell between goes to Geod.inv
    c, j = tree.query(dxyz[ask], k=1, distance_upper_bound=r, workers=k)
    cov[ask] = c <= _sure_chord(radius_m)
    inband = ~cov[ask] & (c <= r)
    band, j = ask[inband], j[inband]
    if band.size:
        cov[band] = geodesic_distance(dlon[band], dlat[band], sx[j], sy[j]) <= radius_m
        if (rest := band[~cov[band]]).size:  # the chord-nearest is not always the geodesic-nearest
            rows, cols = _ball_pairs(tree, dxyz[rest], r, workers=workers)
            hit = geodesic_distance(dlon[rest[rows]], dlat[rest[rows]], sx[cols], sy[cols]) <= radius_m
            cov[rest[rows[hit]]] = True
    covered[order] = cov
    return covered


def nearest_distance_from_sites(
    demand_lon, demand_lat, site_lon, site_lat, *, max_distance_m=None, return_index=False, workers=-1
):
    """Geodesic distance (m) from each demand point to its nearest site.

    Exact: the chord-nearest site gives ``s1``; any site that could be nearer has
    chord ``<= s1``, and every such site is checked with ``Geod.inv``.

    Parameters
    ----------
    demand_lon, demand_lat, site_lon, site_lat, workers
        As in :func:`covered_from_sites`.
    max_distance_m : float, optional
        Cap; points with no site within it get ``inf`` (and index -1).
    return_index : bool, optional
        Also return the position of the nearest site.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        Distances, and the site positions when ``return_index``.
    """
    dlon, dlat, sx, sy = float_array(demand_lon), float_array(demand_lat), float_array(site_lon), float_array(site_lat)
    dist = np.full(dlon.size, np.inf)
    idx = np.full(dlon.size, -1, dtype=np.int64)
    if dlon.size and sx.size:
        dxyz = ecef_from_lonlat(dlon, dlat)
        tree = _tree(ecef_from_lonlat(sx, sy))
        ub = np.inf if max_distance_m is None else float(max_distance_m) + TOL
        k = 2 if sx.size > 1 else 1
        c, j = tree.query(dxyz, k=k, distance_upper_bound=ub, workers=workers)
        c, j = c.reshape(len(dxyz), k), j.reshape(len(dxyz), k)
        found = np.flatnonzero(np.isfinite(c[:, 0]))
        j1 = j[found, 0]
        dist[found] = geodesic_distance(dlon[found], dlat[found], sx[j1], sy[j1])
        idx[found] = j1
        if k == 2:
            amb = found[c[found, 1] <= dist[found] + TOL]
            if amb.size:
                rows, cols = _ball_pairs(tree, dxyz[amb], dist[amb] + TOL, workers=workers)
                s = geodesic_distance(dlon[amb[rows]], dlat[amb[rows]], sx[cols], sy[cols])
                order = np.lexsort((cols, s, rows))
                rows, cols, s = rows[order], cols[order], s[order]
                first = np.r_[True, rows[1:] != rows[:-1]]
                dist[amb[rows[first]]] = s[first]
                idx[amb[rows[first]]] = cols[first]
        if max_distance_m is not None:
            far = dist > float(max_distance_m)
            dist[far], idx[far] = np.inf, -1
    return (dist, idx) if return_index else dist


def pairs_from_sites(demand_lon, demand_lat, site_lon, site_lat, *, radius_m, workers=-1):
    """All ``(demand, site, geodesic-or-chord distance)`` pairs within ``radius_m``.

    Exact like :func:`covered_from_sites`.  Distances are chords for pairs accepted
    by the chord bound (relative error < 1e-6 at 10 km), geodesic for the others.

    Returns
    -------
    tuple of numpy.ndarray
        ``demand_idx`` (int64), ``site_idx`` (int64), ``distance_m`` (float64), in
        no particular order (build a ``scipy.sparse`` matrix from them).
    """
    dlon, dlat, sx, sy = float_array(demand_lon), float_array(demand_lat), float_array(site_lon), float_array(site_lat)
    if dlon.size == 0 or sx.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    radius_m = float(radius_m)
    dtree = _tree(ecef_from_lonlat(dlon, dlat))
    stree = _tree(ecef_from_lonlat(sx, sy))
    m = stree.sparse_distance_matrix(dtree, radius_m + TOL, output_type="ndarray")
    si, di, c = m["i"].copy(), m["j"].copy(), m["v"].copy()
    band = np.flatnonzero(c > _sure_chord(radius_m))
    if band.size:
        s = geodesic_distance(dlon[di[band]], dlat[di[band]], sx[si[band]], sy[si[band]])
        c[band] = s
        keep = np.ones(c.size, dtype=bool)
        keep[band[s > radius_m]] = False
        si, di, c = si[keep], di[keep], c[keep]
    return di.astype(np.int64, copy=False), si.astype(np.int64, copy=False), c
