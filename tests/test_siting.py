"""Maximal covering location: greedy vs exact (spopt/CBC), bookkeeping, capacity, grids."""
from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from geo.engine.coverage import covered_from_sites, nearest_distance_from_sites
from geo.engine.siting import EXACT_BOUND, GREEDY_BOUND, grid_candidates_from_gaps, suggest_sites

GEOD = pyproj.Geod(ellps="WGS84")
TAIYUAN = (112.56, 37.86)


def clustered(n, rng, k=15, spread=0.01):
    """Clustered points over a ~10 km square of Taiyuan."""
    cx = TAIYUAN[0] + rng.uniform(-0.05, 0.05, k)
    cy = TAIYUAN[1] + rng.uniform(-0.04, 0.04, k)
    c = rng.integers(0, k, n)
    return cx[c] + rng.normal(0, spread, n), cy[c] + rng.normal(0, spread * 0.8, n)


def instance(seed, n_demand=2000, n_cand=300):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(8, 30))
    dx, dy = clustered(n_demand, rng, k=k)
    w = rng.integers(1, 20, n_demand).astype(float)
    cx, cy = clustered(n_cand, rng, k=k)
    ex, ey = clustered(int(rng.integers(0, 8)), rng, k=k)
    return dx, dy, w, cx, cy, ex, ey


def covered_weight(dx, dy, w, sx, sy, radius=1000):
    return w[covered_from_sites(dx, dy, sx, sy, radius_m=radius)].sum()


@pytest.mark.parametrize("seed", [0, 31])
def test_greedy_reaches_99_percent_of_exact(seed):
    dx, dy, w, cx, cy, ex, ey = instance(seed)
    kw = dict(existing_lon=ex, existing_lat=ey, radius_m=1000, count=10)
    greedy = suggest_sites(dx, dy, w, cx, cy, method="greedy", **kw)
    exact = suggest_sites(dx, dy, w, cx, cy, method="exact", **kw)
    assert (greedy.method, greedy.bound) == ("greedy", GREEDY_BOUND)
    assert (exact.method, exact.bound) == ("exact", EXACT_BOUND)
    assert len(greedy.chosen) == len(exact.chosen) == 10
    g_cov = covered_weight(dx, dy, w, np.r_[ex, cx[greedy.chosen]], np.r_[ey, cy[greedy.chosen]])
    e_cov = covered_weight(dx, dy, w, np.r_[ex, cx[exact.chosen]], np.r_[ey, cy[exact.chosen]])
    assert g_cov >= 0.99 * e_cov
    assert e_cov >= g_cov - 1e-9  # exact is optimal
    # the reported rates are the real coverage
    assert greedy.cumulative_coverage_rate[-1] * w.sum() == pytest.approx(g_cov)
    assert exact.cumulative_coverage_rate[-1] * w.sum() == pytest.approx(e_cov)
    # plain lazy greedy also holds its guarantee against the optimum
    plain = suggest_sites(dx, dy, w, cx, cy, method="greedy", improve=False, **kw)
    base = greedy.base_coverage_rate * w.sum()
    assert plain.gain.sum() >= (1 - 1 / np.e) * (e_cov - base)
    assert 0.632 <= plain.optimality_lower_bound <= plain.gain.sum() / (e_cov - base) + 1e-12


def test_bookkeeping_gains_and_rates():
    dx, dy, w, cx, cy, ex, ey = instance(3, n_demand=3000, n_cand=400)
    r = suggest_sites(dx, dy, w, cx, cy, existing_lon=ex, existing_lat=ey, radius_m=1000, count=25, method="greedy")
    assert len(r.chosen) == len(set(r.chosen.tolist())) == 25
    assert (np.diff(r.gain) <= 1e-9).all() and (r.gain > 0).all()
    assert (np.diff(r.cumulative_coverage_rate) >= 0).all()
    base = covered_weight(dx, dy, w, ex, ey)
    assert r.base_coverage_rate * w.sum() == pytest.approx(base)
    # gains are new coverage only: base + gains equals the coverage of all sites together
    for i in (0, 9, 24):
        sx, sy = np.r_[ex, cx[r.chosen[: i + 1]]], np.r_[ey, cy[r.chosen[: i + 1]]]
        assert base + r.gain[: i + 1].sum() == pytest.approx(covered_weight(dx, dy, w, sx, sy))
    frame = r.to_frame()
    assert frame.columns.tolist()[:2] == ["rank", "candidate"] and frame["rank"].iloc[-1] == 25


def test_existing_coverage_is_not_double_counted():
    rng = np.random.default_rng(11)
    dx, dy = clustered(1000, rng)
    w = np.ones(1000)
    ex, ey = dx[:3], dy[:3]
    # candidates exactly at the existing sites add nothing
    r = suggest_sites(dx, dy, w, ex, ey, existing_lon=ex, existing_lat=ey, radius_m=1000, count=3)
    assert len(r.chosen) == 0
    r = suggest_sites(dx, dy, w, np.r_[ex, dx[500]], np.r_[ey, dy[500]],
                      existing_lon=ex, existing_lat=ey, radius_m=1000, count=3)
    assert r.chosen.tolist() == [3]
    newly = covered_from_sites(dx, dy, [dx[500]], [dy[500]], radius_m=1000)
    old = covered_from_sites(dx, dy, ex, ey, radius_m=1000)
    assert r.gain[0] == (newly & ~old).sum()


def test_lazy_greedy_matches_naive_greedy():
    rng = np.random.default_rng(12)
    dx, dy = clustered(1500, rng)
    w = rng.uniform(0.5, 3.0, 1500)  # continuous weights: no ties
    cx, cy = clustered(120, rng)
    cov = np.array([covered_from_sites(dx, dy, [a], [b], radius_m=800) for a, b in zip(cx, cy)])
    left, picks = w.copy(), []
    for _ in range(12):
        gains = cov @ left
        j = int(np.argmax(gains))
        picks.append(j)
        left[cov[j]] = 0
    r = suggest_sites(dx, dy, w, cx, cy, radius_m=800, count=12, method="greedy", improve=False)
    assert r.chosen.tolist() == picks


def test_auto_method_choice():
    rng = np.random.default_rng(13)
    dx, dy = clustered(300, rng)
    cx, cy = clustered(40, rng)
    assert suggest_sites(dx, dy, None, cx, cy, radius_m=800, count=3).method == "exact"
    assert suggest_sites(dx, dy, None, cx, cy, radius_m=800, count=31).method == "greedy"
    dx, dy = clustered(30_000, rng)
    cx, cy = clustered(200, rng)
    big = suggest_sites(dx, dy, None, cx, cy, radius_m=800, count=5)
    assert big.method == "greedy" and big.bound == GREEDY_BOUND


def test_capacity_greedy_and_exact():
    rng = np.random.default_rng(14)
    dx, dy = clustered(800, rng, k=6)
    w = rng.integers(1, 10, 800).astype(float)
    cx, cy = clustered(60, rng, k=6)
    cap = np.full(60, 300.0)
    cap[::7] = np.nan  # unlimited
    g = suggest_sites(dx, dy, w, cx, cy, radius_m=800, count=5, capacity=cap, method="greedy")
    assert g.method == "greedy" and "capacit" in g.bound
    lim = np.where(np.isnan(cap), np.inf, cap)[g.chosen]
    assert (g.gain <= lim + 1e-9).all() and (np.diff(g.gain) <= 1e-9).all()
    e = suggest_sites(dx, dy, w, cx, cy, radius_m=800, count=5, capacity=cap, method="exact")
    assert e.method == "exact"
    assert (e.gain <= np.where(np.isnan(cap), np.inf, cap)[e.chosen] + 1e-6).all()
    assert e.gain.sum() >= g.gain.sum() - 1e-6
    unc = suggest_sites(dx, dy, w, cx, cy, radius_m=800, count=5, method="exact")
    assert unc.gain.sum() >= e.gain.sum() - 1e-6


def test_no_candidates_and_grid_from_gaps():
    from geo.engine.coverage_gaps import gaps_from_sites

    rng = np.random.default_rng(15)
    dx, dy = clustered(500, rng)
    r = suggest_sites(dx, dy, None, [], [], radius_m=1000, count=5)
    assert len(r.chosen) == 0 and r.cumulative_coverage_rate.size == 0
    area = shapely.box(TAIYUAN[0] - 0.03, TAIYUAN[1] - 0.03, TAIYUAN[0] + 0.03, TAIYUAN[1] + 0.03)
    gaps = gaps_from_sites(area, [TAIYUAN[0]], [TAIYUAN[1]], radius_m=1500)
    gx, gy = grid_candidates_from_gaps(gaps.geometry, spacing_m=500)
    assert gx.size > 20
    union = shapely.union_all(gaps.geometry.to_numpy())
    assert shapely.contains_xy(union, gx, gy).all()
    # spacing is metric: away from the disc edge the nearest other grid point is 500 m away
    far = nearest_distance_from_sites(gx, gy, [TAIYUAN[0]], [TAIYUAN[1]]) > 2100
    n = gx.size
    d = np.asarray(GEOD.inv(np.repeat(gx, n), np.repeat(gy, n), np.tile(gx, n), np.tile(gy, n))[2]).reshape(n, n)
    np.fill_diagonal(d, np.inf)
    assert np.allclose(d.min(axis=1)[far], 500, rtol=2e-3)
    # tiny polygon still yields its representative point
    tiny = shapely.Point(TAIYUAN).buffer(0.0001)
    tx, ty = grid_candidates_from_gaps([tiny], spacing_m=500)
    assert tx.size == 1 and tiny.contains(shapely.Point(tx[0], ty[0]))
    r = suggest_sites(dx, dy, None, gx, gy, existing_lon=[TAIYUAN[0]], existing_lat=[TAIYUAN[1]],
                      radius_m=1000, count=3)
    assert len(r.chosen) == 3 and (r.gain > 0).all()


def test_bad_inputs():
    with pytest.raises(ValueError):
        suggest_sites([1.0], [2.0], [-1.0], [1.0], [2.0], radius_m=10, count=1)
    with pytest.raises(ValueError):
        suggest_sites([1.0], [2.0], None, [1.0], [2.0], radius_m=10, count=1, method="magic")
    with pytest.raises(ValueError):
        suggest_sites([1.0], [2.0], None, [1.0], [2.0], radius_m=10, count=1, capacity=[1.0, 2.0])
