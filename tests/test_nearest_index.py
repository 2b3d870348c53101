"""Exactness tests for geo.engine.nearest_index.NearestIndex against brute-force pyproj.Geod.

A full brute force (Geod.inv to all 200,000 sites) costs ~0.15 s per query, so
it runs on a sample of queries; all 2,000 queries are also checked against a
tree-free numpy reference that computes chords to every site and geodesics to
every site that the chord <= geodesic bound cannot exclude.
"""

import math
import os
import sys

import numpy as np
import pyproj
import pytest
from scipy.spatial import cKDTree

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from geo.engine.nearest_index import NearestIndex  # noqa: E402

GEOD = pyproj.Geod(ellps="WGS84")
CHINA = (73.5, 135.1, 18.0, 53.6)
CITIES = {"kashgar": (75.99, 39.47), "harbin": (126.6, 45.75), "sanya": (109.5, 18.25),
          "beijing": (116.40, 39.90), "urumqi": (87.62, 43.83)}
DENSE = (121.4737, 31.2304)  # Shanghai: points a few metres apart, with exact duplicates
N_SITES, N_QUERIES, N_FULL = 200_000, 2_000, 32


def _ecef(lon, lat):
    a, f = GEOD.a, GEOD.f
    e2 = f * (2 - f)
    lam, phi = np.radians(lon), np.radians(lat)
    n = a / np.sqrt(1 - e2 * np.sin(phi) ** 2)
    return np.stack([n * np.cos(phi) * np.cos(lam), n * np.cos(phi) * np.sin(lam),
                     n * (1 - e2) * np.sin(phi)], axis=-1)


def _points(rng, n, spread_deg, dense_m):
    """Uniform over China's box, city clusters and a metre-scale dense cluster."""
    n_uni, n_city, n_dense = n // 2, n // 2 // (len(CITIES) + 1), n - n // 2
    n_dense -= n_city * len(CITIES)
    lon = [rng.uniform(CHINA[0], CHINA[1], n_uni)]
    lat = [rng.uniform(CHINA[2], CHINA[3], n_uni)]
    for clon, clat in CITIES.values():
        lon.append(clon + rng.normal(0, spread_deg, n_city))
        lat.append(clat + rng.normal(0, spread_deg, n_city))
    deg = dense_m / 111_000.0
    lon.append(DENSE[0] + rng.normal(0, deg / math.cos(math.radians(DENSE[1])), n_dense))
    lat.append(DENSE[1] + rng.normal(0, deg, n_dense))
    return np.concatenate(lon), np.concatenate(lat)


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(20240501)
    lon, lat = _points(rng, N_SITES, 0.08, 30.0)
    dup = rng.choice(N_SITES, 300, replace=False)  # exact duplicates => exact ties
    lon[dup[150:]], lat[dup[150:]] = lon[dup[:150]], lat[dup[:150]]
    qlon, qlat = _points(rng, N_QUERIES, 0.12, 40.0)
    pick = rng.choice(N_SITES, 40, replace=False)  # queries exactly on sites (distance 0)
    qlon[:40], qlat[:40] = lon[pick], lat[pick]
    qlon[40:80], qlat[40:80] = lon[dup[:40]], lat[dup[:40]]
    return {"lon": lon, "lat": lat, "xyz": _ecef(lon, lat), "qlon": qlon, "qlat": qlat,
            "index": NearestIndex.from_lonlat(lon, lat), "rng": rng}


def brute(lon, lat, qlon, qlat, k, allowed=None, dmax=math.inf):
    """Geodesic to every (allowed) site, sorted by (distance, position)."""
    pos = np.arange(lon.size) if allowed is None else np.flatnonzero(allowed)
    _, _, d = GEOD.inv(np.full(pos.size, qlon), np.full(pos.size, qlat), lon[pos], lat[pos])
    keep = d <= dmax
    pos, d = pos[keep], d[keep]
    o = np.lexsort((pos, d))[:k]
    return pos[o], d[o]


def reference(w, qlon, qlat, k, allowed=None, dmax=math.inf, m=64):
    """Tree-free exact reference: geodesic to every site whose chord could still win."""
    pos = np.arange(w["lon"].size) if allowed is None else np.flatnonzero(allowed)
    diff = w["xyz"][pos] - _ecef(qlon, qlat) if allowed is not None else w["xyz"] - _ecef(qlon, qlat)
    c = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    if pos.size > m:
        part = np.argpartition(c, m)[:m]
        _, _, d = GEOD.inv(np.full(m, qlon), np.full(m, qlat), w["lon"][pos[part]],
                           w["lat"][pos[part]])
        bound = min(np.sort(d)[k - 1], dmax) + 1e-3
        pos = pos[c <= bound]
    _, _, d = GEOD.inv(np.full(pos.size, qlon), np.full(pos.size, qlat), w["lon"][pos], w["lat"][pos])
    keep = d <= dmax
    pos, d = pos[keep], d[keep]
    o = np.lexsort((pos, d))[:k]
    return pos[o], d[o]


def _same(got_p, got_d, ref_p, ref_d):
    assert got_p.tolist() == ref_p.tolist()
    np.testing.assert_allclose(got_d, ref_d, rtol=0, atol=1e-6)


def test_chord_never_exceeds_geodesic():
    rng = np.random.default_rng(7)
    lon1, lat1 = rng.uniform(-180, 180, 200_000), rng.uniform(-90, 90, 200_000)
    lon2 = np.concatenate([rng.uniform(-180, 180, 100_000), lon1[:100_000] + rng.normal(0, 1e-4, 100_000)])
    lat2 = np.concatenate([rng.uniform(-90, 90, 100_000), np.clip(lat1[:100_000] + rng.normal(0, 1e-4, 100_000), -90, 90)])
    lon2 = (lon2 + 180) % 360 - 180
    _, _, g = GEOD.inv(lon1, lat1, lon2, lat2)
    chord = np.linalg.norm(_ecef(lon1, lat1) - _ecef(lon2, lat2), axis=1)
    assert np.all(chord <= g + 1e-8)


@pytest.mark.slow
def test_full_brute_force_sample(world):
    idx = world["index"]
    for j in np.linspace(0, N_QUERIES - 1, N_FULL).astype(int):
        q = world["qlon"][j], world["qlat"][j]
        ref_p, ref_d = brute(world["lon"], world["lat"], *q, 3)
        p3, d3, _ = idx.query(*q, k=3)
        _same(p3, d3, ref_p, ref_d)
        p1, d1, _ = idx.query(*q, k=1)
        _same(p1, d1, ref_p[:1], ref_d[:1])


@pytest.mark.slow
def test_all_queries_exact(world):
    """k=1 and k=3, query and query_many, for all 2,000 queries."""
    idx = world["index"]
    many1_p, many1_d = idx.query_many(world["qlon"], world["qlat"], k=1)
    many3_p, many3_d = idx.query_many(world["qlon"], world["qlat"], k=3)
    assert many1_p.shape == many1_d.shape == (N_QUERIES, 1)
    assert many3_p.shape == many3_d.shape == (N_QUERIES, 3)
    for j in range(N_QUERIES):
        q = world["qlon"][j], world["qlat"][j]
        ref_p, ref_d = reference(world, *q, 3)  # sorted by (distance, position): k=1 is ref[:1]
        p, d, _ = idx.query(*q, k=3)
        _same(p, d, ref_p, ref_d)
        p, d, _ = idx.query(*q, k=1)
        _same(p, d, ref_p[:1], ref_d[:1])
        _same(many3_p[j], many3_d[j], ref_p, ref_d)
        _same(many1_p[j], many1_d[j], ref_p[:1], ref_d[:1])
    assert np.all(many1_d[:80, 0] == 0.0)  # queries placed on sites


@pytest.mark.slow
@pytest.mark.parametrize("share", [0.10, 0.001])
def test_random_mask_exact(world, share):
    idx = world["index"]
    mask = world["rng"].random(N_SITES) < share
    for j in range(0, N_QUERIES, 20):
        q = world["qlon"][j], world["qlat"][j]
        ref_p, ref_d = brute(world["lon"], world["lat"], *q, 3, mask)
        p, d, _ = idx.query(*q, k=3, mask=mask)
        _same(p, d, ref_p, ref_d)
        assert mask[p].all()


@pytest.mark.slow
def test_clustered_mask_far_away(world):
    """Mask = Harbin cluster only, queries in Kashgar/Sanya: forces growth and fallback."""
    idx = world["index"]
    mask = np.hypot(world["lon"] - 126.6, world["lat"] - 45.75) < 0.3
    assert mask.sum() > 5000
    for q in [(75.99, 39.47), (109.5, 18.25), (126.6, 45.75), (126.0, 45.0)]:
        ref_p, ref_d = brute(world["lon"], world["lat"], *q, 3, mask)
        p, d, _ = idx.query(*q, k=3, mask=mask)
        _same(p, d, ref_p, ref_d)


@pytest.mark.slow
@pytest.mark.parametrize("dmax", [0.0, 25.0, 5_000.0, 60_000.0])
def test_max_distance(world, dmax):
    idx = world["index"]
    mask = world["rng"].random(N_SITES) < 0.1
    sparse = world["rng"].random(N_SITES) < 0.002
    sel = range(0, N_QUERIES, 10)
    many_p, many_d = idx.query_many(world["qlon"][sel], world["qlat"][sel], k=3, max_distance=dmax)
    for r, j in enumerate(sel):
        q = world["qlon"][j], world["qlat"][j]
        ref_p, ref_d = reference(world, *q, 3, dmax=dmax)
        p, d, _ = idx.query(*q, k=3, max_distance=dmax)
        _same(p, d, ref_p, ref_d)
        assert np.all(d <= dmax)
        found = many_p[r] >= 0
        _same(many_p[r][found], many_d[r][found], ref_p, ref_d)
        assert np.all(np.isinf(many_d[r][~found]))
        for m in (mask, sparse):  # tree path and brute-force path
            ref_p, ref_d = reference(world, *q, 3, allowed=m, dmax=dmax)
            p, d, _ = idx.query(*q, k=3, max_distance=dmax, mask=m)
            _same(p, d, ref_p, ref_d)


def test_exact_ties_force_ball_fallback():
    """Sites stacked 6 deep: chord ties at the K-th candidate defeat the first test."""
    rng = np.random.default_rng(5)
    base_lon, base_lat = rng.uniform(126.5, 126.7, 2000), rng.uniform(45.7, 45.8, 2000)
    perm = rng.permutation(12000)
    lon, lat = np.tile(base_lon, 6)[perm], np.tile(base_lat, 6)[perm]
    idx = NearestIndex(lon, lat)
    qlon, qlat = rng.uniform(126.5, 126.7, 100), rng.uniform(45.7, 45.8, 100)
    qlon[:50], qlat[:50] = lon[:50], lat[:50]
    for k in (1, 3, 8):
        many_p, many_d = idx.query_many(qlon, qlat, k=k)
        for j in range(qlon.size):
            ref_p, ref_d = brute(lon, lat, qlon[j], qlat[j], k)
            p, d, _ = idx.query(qlon[j], qlat[j], k=k)
            _same(p, d, ref_p, ref_d)
            _same(many_p[j], many_d[j], ref_p, ref_d)


def test_empty_cases_and_small_index():
    empty = NearestIndex(np.array([]), np.array([]))
    assert len(empty) == 0
    p, d, b = empty.query(116.4, 39.9, k=3)
    assert p.size == d.size == b.size == 0 and p.dtype == np.int64
    mp, md = empty.query_many(np.array([116.4, 120.0]), np.array([39.9, 30.0]), k=2)
    assert mp.tolist() == [[-1, -1], [-1, -1]] and np.isinf(md).all()

    lon = np.array([116.40, 116.41, 116.30, 121.47, 116.40])
    lat = np.array([39.90, 39.91, 39.95, 31.23, 39.90])
    idx = NearestIndex(lon, lat)
    p, d, _ = idx.query(116.40, 39.90, k=10)  # k > n
    ref_p, ref_d = brute(lon, lat, 116.40, 39.90, 10)
    _same(p, d, ref_p, ref_d)
    assert p.tolist()[:2] == [0, 4]  # exact tie broken by smaller position
    p, d, b = idx.query(116.40, 39.90, k=3, mask=np.zeros(5, bool))
    assert p.size == d.size == b.size == 0
    p, _, _ = idx.query(116.40, 39.90, k=3, mask=np.array([False, False, False, True, False]))
    assert p.tolist() == [3]
    assert idx.query(116.40, 39.90, k=0)[0].size == 0
    mp, md = idx.query_many(np.array([116.40]), np.array([39.90]), k=7)
    assert mp[0, :5].tolist() == ref_p.tolist() and mp[0, 5:].tolist() == [-1, -1]
    assert np.isinf(md[0, 5:]).all()
    p, d, _ = idx.query(116.40, 39.90, k=3, max_distance=2000.0)
    assert p.tolist() == [0, 4, 1] and d[-1] <= 2000.0
    with pytest.raises(ValueError):
        idx.query(116.4, 39.9, mask=np.ones(4, bool))
    with pytest.raises(ValueError):
        idx.query(float("nan"), 39.9)
    with pytest.raises(ValueError):
        idx.query(116.4, 39.9, k=-1)
    with pytest.raises(ValueError):
        idx.query(116.4, 39.9, max_distance=-1.0)
    with pytest.raises(ValueError):
        idx.query_many(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError):
        NearestIndex(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError):
        idx.lon[0] = 0.0  # immutable


def test_bearing_matches_geod_azimuth():
    rng = np.random.default_rng(3)
    lon, lat = _points(rng, 5_000, 0.5, 500.0)
    idx = NearestIndex(lon, lat)
    for qlon, qlat in zip(*_points(rng, 200, 0.5, 500.0)):
        p, d, b = idx.query(qlon, qlat, k=3)
        az, _, g = GEOD.inv(np.full(p.size, qlon), np.full(p.size, qlat), lon[p], lat[p])
        assert np.all((b >= 0) & (b < 360))
        np.testing.assert_allclose(b, np.mod(az, 360.0) % 360.0, atol=1e-9)
        np.testing.assert_allclose(d, g, atol=1e-9)
    four = NearestIndex(np.array([116.0, 117.0, 116.0, 115.0]), np.array([40.0, 39.0, 38.0, 39.0]))
    for site, expect in enumerate([0.0, 90.0, 180.0, 270.0]):
        mask = np.arange(4) == site
        b = four.query(116.0, 39.0, k=1, mask=mask)[2][0]
        assert abs((b - expect + 180) % 360 - 180) < 1.0


def test_planar_degrees_is_wrong_at_high_latitude():
    """Why we do not do nearest on raw lon/lat: near Heilongjiang it is often wrong."""
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(120, 135, 3000), rng.uniform(45, 53.5, 3000)
    qlon, qlat = rng.uniform(120.5, 134.5, 1000), rng.uniform(45.5, 53, 1000)
    _, planar = cKDTree(np.column_stack([lon, lat])).query(np.column_stack([qlon, qlat]), 1)
    exact, _ = NearestIndex(lon, lat).query_many(qlon, qlat, k=1)
    for j in range(0, 1000, 50):
        assert exact[j, 0] == brute(lon, lat, qlon[j], qlat[j], 1)[0][0]
    share = np.mean(planar != exact[:, 0])
    print(f"planar-degree nearest wrong for {share:.1%} of queries")
    assert share > 0.05, share
