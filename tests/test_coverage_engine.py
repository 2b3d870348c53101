"""Coverage engine (geo.engine.coverage, geo.services.dask_coverage) against a brute-force geodesic oracle."""
from __future__ import annotations

import math

import geopandas as gpd
import h3
import numpy as np
import pyproj
import pytest
import shapely

from geo.engine.coverage import covered_from_sites, nearest_distance_from_sites, pairs_from_sites
from geo.engine.coverage_gaps import (
    area_coverage_from_sites,
    coverage_by_area,
    discs_from_sites,
    gaps_from_sites,
    hotspots_from_demand,
)

GEOD = pyproj.Geod(ellps="WGS84")
PLACES = {  # lon, lat
    "taiyuan": (112.56, 37.86),
    "mohe_53n": (122.53, 53.0),
    "sanya_18n": (109.51, 18.25),
    "kashgar_76e": (75.99, 39.47),
}


def oracle_distances(dlon, dlat, slon, slat):
    """All-pairs geodesic distances with pyproj (the definition)."""
    n, m = len(dlon), len(slon)
    d = GEOD.inv(np.repeat(dlon, m), np.repeat(dlat, m), np.tile(slon, n), np.tile(slat, n))[2]
    return np.asarray(d).reshape(n, m)


def clustered(n, rng, *, centre=(112.56, 37.86), half=0.05, k=15, spread=0.008):
    cx = centre[0] + rng.uniform(-half, half, k)
    cy = centre[1] + rng.uniform(-half * 0.8, half * 0.8, k)
    c = rng.integers(0, k, n)
    return cx[c] + rng.normal(0, spread, n), cy[c] + rng.normal(0, spread * 0.8, n)


def ring(lon, lat, dist, n_az=16):
    az = np.linspace(0, 360, n_az, endpoint=False)
    x, y, _ = GEOD.fwd(np.full(n_az, lon), np.full(n_az, lat), az, np.full(n_az, float(dist)))
    return np.asarray(x), np.asarray(y)


@pytest.mark.parametrize("place", sorted(PLACES))
def test_hand_made_threshold(place):
    lon, lat = PLACES[place]
    rows = []
    for dist, expect in [(999.9, True), (1000.1, False), (999.999, True), (1000.001, False), (0.0, True)]:
        x, y = ring(lon, lat, dist)
        rows.append((x, y, np.full(x.size, expect)))
    dx, dy, expect = (np.concatenate(v) for v in zip(*rows))
    got = covered_from_sites(dx, dy, [lon], [lat], radius_m=1000)
    oracle = (oracle_distances(dx, dy, [lon], [lat]) <= 1000).any(axis=1)
    assert np.array_equal(oracle, expect)
    assert np.array_equal(got, oracle)


@pytest.mark.parametrize("place", sorted(PLACES))
def test_hand_made_second_site_decides(place):
    """Chord-nearest site just outside, another site just inside: still covered."""
    lon, lat = PLACES[place]
    s1 = ring(lon, lat, 1000.0005, 1)
    s2 = ring(lon, lat, 999.9995, 4)
    slon = np.r_[s1[0], s2[0][2]]
    slat = np.r_[s1[1], s2[1][2]]
    got = covered_from_sites([lon], [lat], slon, slat, radius_m=1000)
    assert got.tolist() == [True]
    assert covered_from_sites([lon], [lat], s1[0], s1[1], radius_m=1000).tolist() == [False]


@pytest.mark.parametrize(
    ("place", "radius"),
    [(p, r) for p in sorted(PLACES) for r in (300.0, 1000.0)] + [("kashgar_76e", 3000.0)],
)
def test_random_equals_oracle(place, radius):
    rng = np.random.default_rng(int(radius) + len(place))
    dx, dy = clustered(3000, rng, centre=PLACES[place])
    sx, sy = clustered(300, rng, centre=PLACES[place])
    d = oracle_distances(dx, dy, sx, sy)
    got = covered_from_sites(dx, dy, sx, sy, radius_m=radius)
    assert np.array_equal(got, (d <= radius).any(axis=1))
    assert got.mean() > 0.05
    assert radius > 1000 or not got.all()


def test_boundary_shell_cases_equal_oracle():
    """Many demand points within a millimetre of R around many sites."""
    rng = np.random.default_rng(7)
    sx, sy = clustered(50, rng)
    az = rng.uniform(0, 360, 2000)
    pick = rng.integers(0, 50, 2000)
    dist = 1000 + rng.uniform(-2e-3, 2e-3, 2000)
    dx, dy, _ = GEOD.fwd(sx[pick], sy[pick], az, dist)
    d = oracle_distances(dx, dy, sx, sy)
    assert np.array_equal(covered_from_sites(dx, dy, sx, sy, radius_m=1000), (d <= 1000).any(axis=1))


def test_large_input_threads_and_cubes_equal_oracle():
    """Over 200,000 points (ECEF on threads), many sharing a cube with a site, half in the shell."""
    from geo.engine.coverage import _covered_kdtree, _share_cube_with_site, ecef_from_lonlat

    rng = np.random.default_rng(11)
    sx, sy = clustered(12, rng, half=0.03)
    n = 210_000
    pick = rng.integers(0, sx.size, n)
    dist = np.where(rng.random(n) < 0.5, 1000 + rng.uniform(-2e-3, 2e-3, n), rng.uniform(0, 2500, n))
    dx, dy, _ = GEOD.fwd(sx[pick], sy[pick], rng.uniform(0, 360, n), dist)
    oracle = (oracle_distances(dx, dy, sx, sy) <= 1000).any(axis=1)
    cube = _share_cube_with_site(ecef_from_lonlat(dx, dy), ecef_from_lonlat(sx, sy), 1000.0)
    assert 0 < cube.sum() < oracle.sum()  # the cube shortcut is exercised, and is not the whole answer
    for workers in (1, 2, -1):
        assert np.array_equal(covered_from_sites(dx, dy, sx, sy, radius_m=1000, workers=workers), oracle)
        assert np.array_equal(_covered_kdtree(dx, dy, sx, sy, 1000.0, workers), oracle)  # the KD-tree path too


@pytest.mark.parametrize("radius", [5.0, 15.0, 25.0, 1000.0, 20_000.0])
def test_whole_globe_and_small_radii_equal_oracle(radius):
    """Sites anywhere on Earth (keys of negative coordinates), radii below and above the cube limit."""
    from geo.engine.coverage import _share_cube_with_site

    rng = np.random.default_rng(int(radius))
    sx, sy = rng.uniform(-180, 180, 200), np.degrees(np.arcsin(rng.uniform(-0.99, 0.99, 200)))
    pick = rng.integers(0, 200, 4000)
    d = radius * np.where(rng.random(4000) < 0.5, 1 + rng.uniform(-2e-6, 2e-6, 4000), rng.uniform(0, 2, 4000))
    dx, dy, _ = GEOD.fwd(sx[pick], sy[pick], rng.uniform(0, 360, 4000), d)
    oracle = (oracle_distances(dx, dy, sx, sy) <= radius).any(axis=1)
    assert np.array_equal(covered_from_sites(dx, dy, sx, sy, radius_m=radius), oracle)
    assert (_share_cube_with_site(np.zeros((1, 3)), np.zeros((1, 3)), radius) is None) == (radius < 21)


def test_just_outside_is_never_covered_by_a_shared_cube():
    """Points up to 25 % beyond R of isolated sites: a too-large cube (or a key clash) would cover some."""
    rng = np.random.default_rng(12)
    gx, gy = np.meshgrid(np.arange(75.0, 135.0, 0.5), np.arange(19.0, 53.0, 0.5))
    sx, sy = gx.ravel(), gy.ravel()  # >= 40 km apart
    pick = np.repeat(np.arange(sx.size), 60)
    d = 1000.0 * (1.0 + np.where(np.arange(pick.size) % 2, rng.uniform(1e-9, 1e-6, pick.size),
                                 rng.uniform(0.0, 0.25, pick.size)))
    dx, dy, _ = GEOD.fwd(sx[pick], sy[pick], rng.uniform(0, 360, pick.size), d)
    assert not covered_from_sites(dx, dy, sx, sy, radius_m=1000).any()
    ix, iy, _ = GEOD.fwd(sx[pick], sy[pick], rng.uniform(0, 360, pick.size), d - 260.0)
    assert covered_from_sites(ix, iy, sx, sy, radius_m=1000).all()


def _grid_status(dx, dy, sx, sy, radius, threads=2):
    from geo.engine.coverage_grid import status_from_sites
    from geo.engine.coverage import _sure_chord

    return status_from_sites(*(np.asarray(v, dtype=float) for v in (dx, dy, sx, sy)), radius_m=radius,
                             sure_chord=_sure_chord(radius), threads=threads)


@pytest.mark.parametrize(("lat", "radius"), [(0.0, 1000.0), (37.86, 1000.0), (53.0, 300.0), (79.0, 1000.0),
                                             (-33.9, 5000.0), (37.86, 1.0), (20.0, 100_000.0)])
def test_grid_cells_hold_every_site_within_r(lat, radius):
    """Sites due north/south/east/west and diagonal at R -/+ a hair, at the latitudes where the cell
    bounds are tightest (meridional radius smallest at the equator, parallels shortest towards the
    pole): the compiled grid path must find each one (status 1 or 2), never one beyond R."""
    rng = np.random.default_rng(int(lat * 10) + int(radius))
    n = 400
    dx, dy = 100.0 + rng.uniform(-0.05, 0.05, n), lat + rng.uniform(-0.05, 0.05, n)
    az = np.tile([0.0, 90.0, 180.0, 270.0, 45.0, 135.0, 225.0, 315.0], n // 8)
    for dist, inside in ((radius - 2e-4, True), (radius + 2e-4, False)):
        sx, sy, _ = GEOD.fwd(dx, dy, az, np.full(n, dist))
        for j in range(0, n, 50):  # one site at a time: no other site may help
            st = _grid_status(dx[j:j + 1], dy[j:j + 1], sx[j:j + 1], sy[j:j + 1], radius)
            assert st is not None
            assert st[0] != (0 if inside else 1), (j, dist)  # found when inside; never "surely" when outside
            assert covered_from_sites(dx[j:j + 1], dy[j:j + 1], sx[j:j + 1], sy[j:j + 1],
                                      radius_m=radius).tolist() == [inside]
        st = _grid_status(dx, dy, sx, sy, radius)
        got = covered_from_sites(dx, dy, sx, sy, radius_m=radius)
        oracle = (oracle_distances(dx, dy, sx, sy) <= radius).any(axis=1)
        assert np.array_equal(got, oracle)
        assert np.array_equal(st == 1, oracle & (st == 1))  # status 1 is never wrong


def test_grid_path_taken_in_china_and_equals_kdtree():
    """China-wide clustered data at 1 km take the compiled path; it equals the KD-tree path on every point,
    for 1 and 2 threads, and the shell points (status 2) are decided exactly."""
    from geo.engine.coverage import _covered_kdtree

    rng = np.random.default_rng(21)
    cities = np.array([PLACES[p] for p in sorted(PLACES)])
    c = rng.integers(0, len(cities), 150_000)
    dx, dy = cities[c, 0] + rng.normal(0, 0.05, c.size), cities[c, 1] + rng.normal(0, 0.04, c.size)
    k = rng.integers(0, len(cities), 5_000)
    sx, sy = cities[k, 0] + rng.normal(0, 0.05, k.size), cities[k, 1] + rng.normal(0, 0.04, k.size)
    ring_x, ring_y, _ = GEOD.fwd(sx[:2000], sy[:2000], rng.uniform(0, 360, 2000), 1000 + rng.uniform(-1e-4, 1e-4, 2000))
    dx, dy = np.r_[dx, ring_x], np.r_[dy, ring_y]
    kd = _covered_kdtree(dx, dy, sx, sy, 1000.0, -1)
    for threads in (1, 2):
        st = _grid_status(dx, dy, sx, sy, 1000.0, threads)
        assert st is not None and (st == 2).sum() > 20
        assert not (st == 1)[~kd].any() and not kd[st == 0].any()
        assert np.array_equal(covered_from_sites(dx, dy, sx, sy, radius_m=1000, workers=threads), kd)
    assert 0.2 < kd.mean() and (~kd).sum() > 1000


@pytest.mark.parametrize("case", ["antimeridian", "polar", "span", "radius_0", "radius_huge", "bad_lon"])
def test_grid_falls_back_outside_its_limits(case):
    """Outside the compiled grid's limits the KD-tree path answers, still exactly."""
    dx, dy, sx, sy, radius = {
        "antimeridian": ([179.999, -179.999], [10.0, 10.0], [-179.9995], [10.0], 1000.0),
        "polar": ([0.0, 120.0], [86.0, 89.99], [60.0], [89.995], 2000.0),
        "span": ([-100.0, 100.0], [0.0, 0.0], [-100.005], [0.0], 1000.0),
        "radius_0": ([112.5, 112.5001], [37.8, 37.8], [112.5], [37.8], 0.0),
        "radius_huge": ([112.5, 118.0], [37.8, 37.8], [113.0], [37.8], 200_000.0),
        "bad_lon": ([112.5, 472.5], [37.8, 37.8], [112.5], [37.8], 10.0),
    }[case]
    if case not in ("radius_0", "bad_lon"):
        assert _grid_status(dx, dy, sx, sy, radius) is None
    got = covered_from_sites(dx, dy, sx, sy, radius_m=radius)
    assert np.array_equal(got, (oracle_distances(dx, dy, sx, sy) <= radius).any(axis=1))
    assert got.tolist() == {"antimeridian": [True, True], "polar": [False, True], "span": [True, False],
                            "radius_0": [True, False], "radius_huge": [True, False], "bad_lon": [True, True]}[case]


def test_non_finite_points_and_sites_cover_nothing():
    dx = [112.5, np.nan, 112.5001, np.inf]
    dy = [37.8, 37.8, 37.8, 37.8]
    got = covered_from_sites(dx, dy, [np.nan, 112.5, 112.5], [37.8, np.nan, 37.8], radius_m=100)
    assert got.tolist() == [True, False, True, False]
    assert not covered_from_sites(dx, dy, [np.nan], [37.8], radius_m=100).any()


def test_nearest_distance_equals_oracle():
    rng = np.random.default_rng(3)
    dx, dy = clustered(2000, rng, half=0.2)
    sx, sy = clustered(200, rng, half=0.2)
    sx, sy = np.r_[sx, sx[:5]], np.r_[sy, sy[:5]]  # duplicated sites (ties)
    d = oracle_distances(dx, dy, sx, sy)
    dist, idx = nearest_distance_from_sites(dx, dy, sx, sy, return_index=True)
    assert np.array_equal(dist, d.min(axis=1))
    assert np.array_equal(d[np.arange(len(dx)), idx], d.min(axis=1))
    capped = nearest_distance_from_sites(dx, dy, sx, sy, max_distance_m=800)
    expect = np.where(d.min(axis=1) <= 800, d.min(axis=1), np.inf)
    assert np.array_equal(capped, expect)


def test_pairs_equal_oracle():
    rng = np.random.default_rng(4)
    dx, dy = clustered(1500, rng)
    sx, sy = clustered(200, rng)
    d = oracle_distances(dx, dy, sx, sy)
    di, si, dist = pairs_from_sites(dx, dy, sx, sy, radius_m=1000)
    got = np.zeros_like(d, dtype=bool)
    got[di, si] = True
    assert np.array_equal(got, d <= 1000)
    assert len(di) == (d <= 1000).sum()
    assert np.allclose(dist, d[di, si], rtol=1e-6, atol=1e-6)


def test_empty_inputs():
    assert covered_from_sites([], [], [1.0], [2.0], radius_m=1000).shape == (0,)
    assert not covered_from_sites([112.5], [37.8], [], [], radius_m=1000).any()
    assert np.isinf(nearest_distance_from_sites([112.5], [37.8], [], [])).all()
    assert len(pairs_from_sites([112.5], [37.8], [], [], radius_m=10)[0]) == 0


def test_coverage_by_area_counts():
    covered = np.array([True, False, True, True, False])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    df = coverage_by_area(covered, w, np.array([0, 0, 1, -1, 2]), 4)
    assert df["demand"].tolist() == [3.0, 3.0, 5.0, 0.0]
    assert df["demand_covered"].tolist() == [1.0, 3.0, 0.0, 0.0]
    assert df["coverage_rate"].iloc[:3].tolist() == [1 / 3, 1.0, 0.0]
    assert math.isnan(df["coverage_rate"].iloc[3])


@pytest.mark.parametrize("place", ["taiyuan", "mohe_53n", "sanya_18n"])
def test_single_disc_area_is_pi(place):
    lon, lat = PLACES[place]
    area = shapely.box(lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1)
    total, cov = area_coverage_from_sites(area, [lon], [lat], radius_m=1000)
    assert cov == pytest.approx(math.pi, rel=1e-3)
    expect = abs(GEOD.geometry_area_perimeter(shapely.segmentize(area, 0.001))[0]) / 1e6
    assert total == pytest.approx(expect, rel=1e-6)


def test_half_disc_and_by_area_columns():
    lon, lat = PLACES["taiyuan"]
    left = shapely.box(lon - 0.1, lat - 0.1, lon, lat + 0.1)
    right = shapely.box(lon, lat - 0.1, lon + 0.1, lat + 0.1)
    df = coverage_by_area(
        [True], None, [0], 2, areas=[left, right], site_lon=[lon + 0.02], site_lat=[lat], radius_m=1000,
    )
    assert df["sites"].tolist() == [0, 1]
    assert df["area_covered_km2"].iloc[0] == 0.0
    assert df["area_covered_km2"].iloc[1] == pytest.approx(math.pi, rel=1e-3)
    _, half = area_coverage_from_sites(right, [lon], [lat], radius_m=1000)
    assert half == pytest.approx(math.pi / 2, rel=2e-3)


def test_disc_vertices_on_geodesic_circle():
    (disc,) = discs_from_sites([122.53], [53.0], radius_m=1000, n_vertices=128)
    xy = shapely.get_coordinates(disc)[:-1]
    assert len(xy) == 128
    d = oracle_distances(xy[:, 0], xy[:, 1], [122.53], [53.0])
    assert np.allclose(d, 1000, atol=1e-6)


def test_gaps_contain_every_uncovered_point_and_rank():
    rng = np.random.default_rng(5)
    lon, lat = PLACES["taiyuan"]
    area = shapely.box(lon - 0.03, lat - 0.03, lon + 0.03, lat + 0.03)
    sx, sy = lon + rng.uniform(-0.03, 0.03, 6), lat + rng.uniform(-0.03, 0.03, 6)
    dx, dy = lon + rng.uniform(-0.03, 0.03, 3000), lat + rng.uniform(-0.03, 0.03, 3000)
    w = rng.integers(1, 9, 3000).astype(float)
    cov = covered_from_sites(dx, dy, sx, sy, radius_m=800)
    gaps = gaps_from_sites(area, sx, sy, radius_m=800, demand_lon=dx, demand_lat=dy, demand_weight=w, covered=cov)
    assert gaps.crs.to_epsg() == 4326
    assert gaps["rank"].tolist() == list(range(1, len(gaps) + 1))
    assert (np.diff(gaps["demand_uncovered"].to_numpy()) <= 0).all()
    assert gaps["demand_uncovered"].sum() == pytest.approx(w[~cov].sum())
    inside_any = shapely.contains_xy(shapely.union_all(gaps.geometry.to_numpy()), dx[~cov], dy[~cov])
    assert inside_any.all()
    total, covered_km2 = area_coverage_from_sites(area, sx, sy, radius_m=800)
    assert gaps["area_km2"].sum() == pytest.approx(total - covered_km2, rel=1e-3)


def test_hotspots_rank_and_sum():
    rng = np.random.default_rng(6)
    dx, dy = clustered(4000, rng)
    sx, sy = clustered(20, rng)
    w = rng.integers(1, 5, 4000).astype(float)
    cov = covered_from_sites(dx, dy, sx, sy, radius_m=1000)
    hs = hotspots_from_demand(dx, dy, w, cov, h3_res=9)
    assert hs["demand_uncovered"].sum() == pytest.approx(w[~cov].sum())
    assert (np.diff(hs["demand_uncovered"].to_numpy()) <= 0).all()
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 9 for c in hs["h3"])
    i = np.flatnonzero(~cov)[0]
    cell = h3.latlng_to_cell(dy[i], dx[i], 9)
    poly = hs.set_index("h3").geometry[cell]
    assert poly.buffer(1e-6).contains(shapely.Point(dx[i], dy[i]))


def test_dask_equals_in_process(local_client):
    from geo.services.dask_coverage import covered_from_sites_dask

    rng = np.random.default_rng(8)
    dx, dy = clustered(50_000, rng, half=0.1, k=40)
    sx, sy = clustered(500, rng, half=0.1, k=40)
    expect = covered_from_sites(dx, dy, sx, sy, radius_m=1000)
    gdf = gpd.GeoDataFrame({"w": np.ones(dx.size)}, geometry=gpd.points_from_xy(dx, dy), crs="EPSG:4326")
    got = covered_from_sites_dask(gdf, sx, sy, radius_m=1000, scheduler=local_client, npartitions=6)
    assert np.array_equal(got, expect)
    assert 0.1 < expect.mean() < 0.99


@pytest.mark.slow
def test_dask_dataframe_input_projected(local_client):
    import dask_geopandas

    from geo.services.dask_coverage import covered_from_sites_dask

    rng = np.random.default_rng(9)
    dx, dy = clustered(5000, rng)
    sx, sy = clustered(100, rng)
    expect = covered_from_sites(dx, dy, sx, sy, radius_m=1000)
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(dx, dy), crs="EPSG:4326").to_crs("EPSG:4547")
    ddf = dask_geopandas.from_geopandas(gdf, npartitions=2)
    got = covered_from_sites_dask(ddf, sx, sy, radius_m=1000, scheduler=local_client)
    assert got.index.tolist() == list(range(5000))
    assert np.array_equal(got.to_numpy(), expect)
