"""New-site suggestions: the maximal covering location problem (MCLP).

Choose ``count`` candidates maximising the demand weight newly covered within
``radius_m`` geodesic metres; existing sites stay, and demand they cover gives no
gain.  Candidate-demand pairs are exact (:func:`geo.engine.coverage.pairs_from_sites`).

Solvers
-------
``greedy``
    Lazy greedy (Minoux): a max-heap of upper bounds of each candidate's marginal
    gain; the top is re-evaluated and picked when it still beats the next bound.
    Coverage is monotone submodular, so the result covers at least ``1 - 1/e``
    (63.2 %) of the optimum's new demand (Nemhauser, Wolsey & Fisher 1978).  Then
    (uncapacitated) a 1-swap interchange and GRASP restarts, keeping the best, so
    the bound still holds; an instance bound is reported too:
    ``OPT <= G + sum of the count largest marginal gains after the last pick``.
``exact``
    spopt's :class:`spopt.locate.MCLP` solved with PuLP's bundled CBC (optimal),
    or a small PuLP model when capacities are given.  For small instances only.
``auto``
    ``exact`` when the reduced problem (uncovered demand × useful candidates) has at
    most ``2e6`` cells, ``count <= 30`` and, with capacities, at most 20 000
    coverage pairs; ``greedy`` otherwise.

Capacity (simplification)
-------------------------
A candidate with capacity ``c`` serves at most ``c`` weight.  Demand is divisible:
the greedy gain is ``min(c, uncovered weight in range)``; the picked site serves its
nearest uncovered demand first (the last point partially).  No ``1 - 1/e`` bound.
"""
from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from geo.engine.coverage import float_array, covered_from_sites, pairs_from_sites
from geo.engine.coverage_gaps import laea_transformer, transform_geometry

__all__ = ["SitingResult", "suggest_sites", "grid_candidates_from_gaps"]

GREEDY_BOUND = "greedy: ≥ 63.2% of optimum (1-1/e)"
EXACT_BOUND = "exact: optimal (CBC)"
EXACT_LIMIT_BOUND = "exact: CBC hit the time limit; best solution found, optimality not proven"
CAPACITY_BOUND = "greedy with capacities: heuristic (the 1-1/e guarantee needs uncapacitated sites)"
AUTO_MAX_CELLS = 2_000_000
AUTO_MAX_COUNT = 30
AUTO_MAX_CAPACITY_PAIRS = 20_000


@dataclass(frozen=True)
class SitingResult:
    """Proposed sites in pick order.

    Attributes
    ----------
    chosen, lon, lat : numpy.ndarray
        Candidate positions in pick order and their coordinates.
    gain, cumulative_coverage_rate : numpy.ndarray
        Demand weight newly covered by each pick (non-increasing) and the share of
        all demand covered after it, existing sites included.
    base_coverage_rate, total_demand : float
        Share covered by the existing sites alone; total demand weight.
    method, bound : str
        ``"greedy"`` or ``"exact"``, and what it guarantees.
    optimality_lower_bound : float
        Greedy without capacity: proven lower bound of ``gain.sum() / optimum``
        for this instance; exact: 1.0; otherwise NaN.
    """

    chosen: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    gain: np.ndarray
    cumulative_coverage_rate: np.ndarray
    base_coverage_rate: float
    total_demand: float
    method: str
    bound: str
    optimality_lower_bound: float = math.nan

    def to_frame(self):
        """Return the picks as a :class:`pandas.DataFrame` (``rank`` from 1)."""
        return pd.DataFrame({
            "rank": np.arange(1, len(self.chosen) + 1), "candidate": self.chosen, "lon": self.lon,
            "lat": self.lat, "gain": self.gain, "cumulative_coverage_rate": self.cumulative_coverage_rate,
        })


def _capacity(capacity, n):
    cap = np.full(n, np.inf) if capacity is None else float_array(capacity)
    if cap.size != n or (cap < 0).any():
        raise ValueError("capacity needs one value >= 0 (NaN: unlimited) per candidate")
    return np.where(np.isnan(cap), np.inf, cap)


def _serve(resid, cols, dist, cap):
    """Remove up to ``cap`` weight from ``resid[cols]``, nearest first; return it."""
    if (have := resid[cols].sum()) <= cap:
        resid[cols] = 0.0
        return have
    cols = cols[np.argsort(dist, kind="stable")]
    before = np.cumsum(resid[cols]) - resid[cols]
    take = np.clip(cap - before, 0.0, resid[cols])
    resid[cols] -= take
    return float(take.sum())


def _compact(idx, n):
    """Sorted distinct values of ``idx`` (all in ``0..n-1``) and ``idx``'s positions in them."""
    used = np.bincount(idx, minlength=n) > 0
    return np.flatnonzero(used), (np.cumsum(used) - 1)[idx]


def _lazy_greedy(A, resid, cap, count, dist=None):
    """Lazy greedy over 0/1 CSR ``A`` (candidates × demand); ``dist`` aligned with ``A.data``."""
    heap = [(-u, j) for j, u in enumerate(np.minimum(cap, A @ resid).tolist()) if u > 0]
    heapq.heapify(heap)
    picks, gains = [], []
    while heap and len(picks) < count:
        _, j = heapq.heappop(heap)
        lo, hi = A.indptr[j], A.indptr[j + 1]
        cols = A.indices[lo:hi]
        g = min(cap[j], float(resid[cols].sum()))
        if g <= 0:
            continue
        if heap and g < -heap[0][0]:
            heapq.heappush(heap, (-g, j))
            continue
        picks.append(j)
        gains.append(_serve(resid, cols, None if dist is None else dist[lo:hi], cap[j]))
    return picks, gains


def _spread(A, AT, w, idx):
    """Weight of demand ``idx`` summed per candidate covering it."""
    starts = AT.indptr[idx]  # AT rows: demand; columns: candidates
    lens = AT.indptr[idx + 1] - starts
    pos = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
    return np.bincount(AT.indices[pos], weights=np.repeat(w[idx], lens), minlength=A.shape[0])


def _random_greedy(A, AT, w, count, rng, *, rcl=3):
    """Greedy that picks uniformly among the ``rcl`` best gains (GRASP construction)."""
    n, g0, chosen = np.zeros(A.shape[1], dtype=np.int64), A @ w, []
    for _ in range(count):
        g = g0.copy()
        g[chosen] = -1.0  # never twice
        top = np.argpartition(-g, rcl)[:rcl] if g.size > rcl else np.arange(g.size)
        if (top := top[g[top] > 0]).size == 0:
            break
        chosen.append(k := int(rng.choice(np.sort(top))))
        nk = A.indices[A.indptr[k]:A.indptr[k + 1]]
        g0 -= _spread(A, AT, w, nk[n[nk] == 0])
        n[nk] += 1
    return chosen


def _interchange(A, AT, w, picks, *, max_passes=5):
    """1-swap local search (Teitz-Bart) on an uncapacitated solution; never worse.

    ``n[i]`` counts chosen sites covering demand ``i``; ``g0[k]`` is the uncovered
    weight candidate ``k`` would add.  Dropping ``j`` frees the demand only ``j``
    covers; the best replacement is ``argmax g0 + freed weight in range``.
    """
    chosen, is_chosen = list(picks), np.isin(np.arange(A.shape[0]), picks)
    n = np.bincount(A[chosen].indices, minlength=A.shape[1]) if chosen else np.zeros(A.shape[1], np.int64)
    g0, tol = A @ (w * (n == 0)), 1e-9 * max(float(w.sum()), 1.0)
    for _ in range(max_passes):
        improved = False
        for pos, j in enumerate(chosen):
            nj = A.indices[A.indptr[j]:A.indptr[j + 1]]
            sole = nj[n[nj] == 1]
            freed = _spread(A, AT, w, sole)
            score = np.where(is_chosen, -np.inf, g0 + freed)
            k = int(np.argmax(score))
            if score[k] - float(w[sole].sum()) <= tol:
                continue
            g0 += freed
            n[nj] -= 1
            nk = A.indices[A.indptr[k]:A.indptr[k + 1]]
            g0 -= _spread(A, AT, w, nk[n[nk] == 0])
            n[nk] += 1
            is_chosen[j], is_chosen[k] = False, True
            chosen[pos] = k
            improved = True
        if not improved:
            break
    return chosen


def _improve(A, w, picks, restarts, seed=0):
    """Interchange the greedy solution, then GRASP restarts; keep the best (never worse)."""
    AT = A.T.tocsr()
    best = _interchange(A, AT, w, picks)

    def value_of(sel):
        return float(w[np.unique(A[np.asarray(sel, dtype=np.int64)].indices)].sum()) if len(sel) else 0.0

    value, rng = value_of(best), np.random.default_rng(seed)
    for _ in range(restarts):
        sol = _interchange(A, AT, w, _random_greedy(A, AT, w, len(picks), rng))
        v = value_of(sol)
        if v > value + 1e-9 * max(value, 1.0):
            best, value = sol, v
    return best


def _ordered(A, w, cap, sel):
    """Order a chosen set greedily so gains are non-increasing; returns (picks, gains)."""
    order, gains = _lazy_greedy(A[(sel := np.asarray(sel, dtype=np.int64))], w.copy(), cap[sel], sel.size)
    return sel[np.asarray(order, dtype=np.int64)].tolist(), gains


def _greedy_bound(A, resid, gains, count):
    """Instance bound ``G / (G + top-count marginal gains)`` (uncapacitated)."""
    total, top = float(np.sum(gains)), np.sort(A @ resid)[::-1][:count].sum()
    return 1.0 if total + top <= 0 else total / (total + top)


def _cbc(prob, time_limit_s):
    """Solve with PuLP's bundled CBC; True when the solution is proven optimal."""
    import pulp
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s))
    return prob.sol_status == pulp.LpSolutionOptimal


def _exact_spopt(A, w, count, time_limit_s):
    """spopt's MCLP model of the reduced problem; returns (chosen, optimal)."""
    from spopt.locate import MCLP

    cost, coo = np.ones((A.shape[1], A.shape[0])), A.tocoo()
    cost[coo.col, coo.row] = 0.0
    m = MCLP.from_cost_matrix(cost, w, service_radius=0.5, p_facilities=count)
    optimal = _cbc(m.problem, time_limit_s)
    return [j for j, v in enumerate(m.fac_vars) if (v.varValue or 0) > 0.5], optimal


def _exact_capacitated(A, w, cap, count, time_limit_s):
    """Capacitated MCLP with divisible demand (PuLP + CBC); returns (picks, served, optimal)."""
    import pulp

    coo, prob, by_d, by_c = A.tocoo(), pulp.LpProblem("cmclp", pulp.LpMaximize), {}, {}
    y = [pulp.LpVariable(f"y{j}", cat=pulp.LpBinary) for j in range(A.shape[0])]
    x = [pulp.LpVariable(f"x{k}", lowBound=0, upBound=1) for k in range(coo.nnz)]
    prob += pulp.lpSum(w[i] * x[k] for k, i in enumerate(coo.col.tolist()))
    for k, (j, i) in enumerate(zip(coo.row.tolist(), coo.col.tolist())):
        by_d.setdefault(i, []).append(k)
        by_c.setdefault(j, []).append(k)
        prob += x[k] <= y[j]
    for ks in by_d.values():
        prob += pulp.lpSum(x[k] for k in ks) <= 1
    for j, ks in by_c.items():
        if np.isfinite(cap[j]):
            prob += pulp.lpSum(w[coo.col[k]] * x[k] for k in ks) <= cap[j] * y[j]
    prob += pulp.lpSum(y) == count
    optimal = _cbc(prob, time_limit_s)
    picks = [j for j in range(A.shape[0]) if (y[j].varValue or 0) > 0.5]
    served = {j: sum(w[coo.col[k]] * (x[k].varValue or 0) for k in by_c.get(j, [])) for j in picks}
    picks.sort(key=lambda j: (-served[j], j))
    return picks, [served[j] for j in picks], optimal


def suggest_sites(
    demand_lon, demand_lat, demand_weight, cand_lon, cand_lat, *, existing_lon=None, existing_lat=None,
    radius_m, count, capacity=None, method="auto", improve=True, restarts=None, time_limit_s=None,
    pairs=None, existing_covered=None,
):
    """Suggest ``count`` new sites among candidates (maximal covering location).

    Parameters
    ----------
    demand_lon, demand_lat, demand_weight : array_like
        Demand points (WGS-84) and outdoor workers per point (``None``: 1 each; >= 0).
    cand_lon, cand_lat : array_like
        Candidate places (see :func:`grid_candidates_from_gaps` when there are none).
    existing_lon, existing_lat : array_like, optional
        Existing sites, kept fixed.
    radius_m : float
        Service radius (geodesic metres).
    count : int
        Number of sites wanted.  Fewer are returned when no candidate adds coverage.
    capacity : array_like, optional
        Per-candidate maximum weight served (NaN or inf: unlimited).
    method : {"auto", "greedy", "exact"}
        Solver; see the module docstring.
    improve : bool, optional
        Greedy without capacities: then a 1-swap interchange (Teitz-Bart) and
        ``restarts`` randomised-greedy + interchange restarts (GRASP, fixed seed);
        the best solution is kept, so coverage only increases and the bound holds.
    restarts : int, optional
        Default: ``min(50, 2e7 // (count * candidates + pairs))``.
    time_limit_s : float, optional
        CBC time limit for ``exact``.
    pairs : callable, optional
        ``pairs(demand_lon, demand_lat, cand_lon, cand_lat, radius_m=...)`` returning
        ``(demand_idx, cand_idx, distance_m)`` within the radius; default straight-line
        (:func:`geo.engine.coverage.pairs_from_sites`); e.g. walking distance with
        :func:`geo.engine.walk_network.pairs_from_network` bound to a street network.
    existing_covered : array_like of bool, optional
        Demand already covered by the existing sites under the same distance (instead of
        straight-line coverage by ``existing_lon``, ``existing_lat``).

    Returns
    -------
    SitingResult
    """
    count = int(count)
    if method not in ("auto", "greedy", "exact") or count < 0:
        raise ValueError("method must be 'auto', 'greedy' or 'exact' and count >= 0")
    dlon, dlat = float_array(demand_lon), float_array(demand_lat)
    w = np.ones(dlon.size) if demand_weight is None else float_array(demand_weight)
    if w.size != dlon.size or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("demand_weight must be finite, >= 0 and one per demand point")
    clon, clat, total = float_array(cand_lon), float_array(cand_lat), float(w.sum())
    cap = _capacity(capacity, clon.size)
    if existing_covered is None:
        ex = ([], []) if existing_lon is None else (existing_lon, existing_lat)
        covered = covered_from_sites(dlon, dlat, *ex, radius_m=radius_m)
    else:
        covered = np.asarray(existing_covered, dtype=bool).ravel()
    base, rest = float(w[covered].sum()), np.flatnonzero(~covered & (w > 0))
    di, ci, dist = (pairs or pairs_from_sites)(dlon[rest], dlat[rest], clon, clat, radius_m=radius_m)
    # reduce: keep demand and candidates that take part in some pair
    (dkeep, dinv), (ckeep, cinv) = _compact(di, rest.size), _compact(ci, clon.size)
    coo = sp.coo_array((dist, (cinv, dinv)), shape=(ckeep.size, dkeep.size))
    coo.has_canonical_format = True  # each pair occurs once: skip scipy's duplicate-summing sort
    A = coo.tocsr()
    dist, A.data = A.data, np.ones(A.nnz)  # 0/1 coverage matrix; distances kept aside, aligned
    resid, capk = w[rest][dkeep].astype("float64"), cap[ckeep]
    p, capped = min(count, A.shape[0]), bool(np.isfinite(capk).any())
    if method == "auto":
        small = float(A.shape[0]) * A.shape[1] <= AUTO_MAX_CELLS and count <= AUTO_MAX_COUNT
        method = "exact" if small and (not capped or A.nnz <= AUTO_MAX_CAPACITY_PAIRS) else "greedy"
    if method == "exact" and p > 0:
        with warnings.catch_warnings(action="ignore", category=DeprecationWarning):  # PuLP 3.x notices
            if capped:
                picks, gains, optimal = _exact_capacitated(A, resid, capk, p, time_limit_s)
            else:
                sel, optimal = _exact_spopt(A, resid, p, time_limit_s)
                picks, gains = _ordered(A, resid, capk, sel)
        bound, lb = (EXACT_BOUND, 1.0) if optimal else (EXACT_LIMIT_BOUND, math.nan)
    else:
        method = "greedy"
        picks, gains = _lazy_greedy(A, resid.copy(), capk, p, dist) if p > 0 else ([], [])
        if capped:
            bound, lb = CAPACITY_BOUND, math.nan
        else:  # uncapacitated: local search + instance bound
            if improve and picks:
                work = 2e7 // (count * A.shape[0] + A.nnz)  # restarts in a fixed work budget
                n_restarts = int(min(work, 50)) if restarts is None else int(restarts)
                picks, gains = _ordered(A, resid, capk, _improve(A, resid, picks, n_restarts))
            left = resid.copy()
            left[np.unique(A[picks].indices) if picks else []] = 0.0
            bound, lb = GREEDY_BOUND, max(1 - 1 / math.e, _greedy_bound(A, left, gains, count))
    chosen, gains = ckeep[np.asarray(picks, dtype=np.int64)], np.asarray(gains, dtype="float64")
    cum = (base + np.cumsum(gains)) / total if total > 0 else np.full(gains.size, np.nan)
    return SitingResult(
        chosen=chosen, lon=clon[chosen], lat=clat[chosen], gain=gains, cumulative_coverage_rate=cum,
        base_coverage_rate=base / total if total > 0 else math.nan, total_demand=total, method=method,
        bound=bound, optimality_lower_bound=lb,
    )


def grid_candidates_from_gaps(gap_polygons, *, spacing_m):
    """Candidate points on a square grid inside uncovered polygons.

    Each polygon is gridded in a Lambert azimuthal equal-area projection centred on
    it; a polygon too small to hold a grid point gets its representative point.

    Parameters
    ----------
    gap_polygons : iterable of shapely geometry or geopandas.GeoSeries
        WGS-84 polygons, e.g. ``gaps_from_sites(...).geometry``.
    spacing_m : float
        Grid spacing in metres.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)``.
    """
    if not float(spacing_m) > 0:
        raise ValueError("spacing_m must be > 0")
    step, pts = float(spacing_m), [np.zeros((0, 2))]
    for poly in getattr(gap_polygons, "geometry", gap_polygons):
        if poly is None or poly.is_empty:
            continue
        tr = laea_transformer(poly.centroid.x, poly.centroid.y)
        local = transform_geometry(shapely.segmentize(poly, 0.001), tr)
        x0, y0, x1, y1 = local.bounds
        gx = np.arange(math.floor(x0 / step), math.ceil(x1 / step) + 1) * step
        gy = np.arange(math.floor(y0 / step), math.ceil(y1 / step) + 1) * step
        xx, yy = (a.ravel() for a in np.meshgrid(gx, gy))
        inside = shapely.contains_xy(local, xx, yy)
        if inside.any():
            xx, yy = xx[inside], yy[inside]
        else:
            rp = local.representative_point()
            xx, yy = np.array([rp.x]), np.array([rp.y])
        pts.append(np.column_stack(tr.transform(xx, yy, direction="INVERSE")))
    pts = np.concatenate(pts)
    return pts[:, 0].copy(), pts[:, 1].copy()
