"""Coverage and siting benchmark (issue 5): 1,000,000 demand points, 200,000 sites, R = 1 km.

Run ``python bench/coverage_bench.py`` (about 25 s; ``--small`` is a 5 % run for a quick
check). Prints timings and the machine's load average; nothing is asserted.

Data (synthetic, seeded): demand and sites clustered around ~95 real Chinese city centres
(Kashgar 76 °E to Jiamusi 130 °E, Sanya 18 °N to Hailar 49 °N: UTM zones 43N-53N), city sizes
Zipf-like; demand sits around 20,000 hubs (delivery stations, depots …) plus 12 % rural
points 20-150 km from a city, sites around 5,000 other hubs (3 % rural), so about three
quarters of the points are covered at 1 km. ``--scenario taiyuan`` is the earlier data:
everything in one 50 x 50 km city, where 200,000 sites (80 per km²) cover 100 % of the
points and the union of their buffers collapses to one polygon of ~2,700 vertices.

1. yizhan: ``geo.engine.coverage.covered_from_sites`` on all points and sites (exact geodesic; the
   compiled grid path of ``geo.engine.coverage_grid``). Loading its numba kernels (once per process,
   ~0.3 s from numba's on-disk cache, seconds the very first time) is timed and printed but
   kept out of the coverage timings, as importing GeoPandas, Shapely and GEOS is for the naive
   pipeline; "first run" is the first coverage call in the process after that.
2. The naive GeoPandas pipeline a user would write, per UTM zone: a single UTM zone (what
   ``estimate_utm_crs()`` returns for the whole set) is wrong across China (scale error
   ~1 % at 9 ° from its central meridian; China spans 62 ° of longitude), so demand and
   sites are grouped by their 6 ° zone and projected to it (EPSG:326zz; scale 0.9996-1.0008
   inside a zone); each zone's union also takes the sites within 0.02 ° of its edges
   (≥ 1.3 km below 54 °N), so no pair is lost at a zone edge.
   Then ``buffer(1000)`` (GeoPandas' default 16 segments per quarter: 64-gons),
   ``union_all()``, ``demand.within(union)``.
   * measured in full: projecting and buffering all 200,000 sites, ``union_all`` of all
     buffers, projecting all 1,000,000 demand points;
   * sampled: ``within`` on a random sample of demand points (default 50,000), timed and
     extrapolated linearly to all points (each point's test is independent of the
     others); ``--naive-full`` runs it on every point instead, nothing extrapolated.
   Two variants on the same sample: ``sjoin`` with its default predicate "intersects"
   (it queries the right-hand side's spatial index with each point, so the sampled part
   is linear in points) against the union's parts, and against the 200,000 buffers
   without any union; those spatial indexes are built in full and timed outside the
   sampled part. The naive answer is compared with the exact one on the sample
   (polygon buffers are inscribed 64-gons; UTM scale is not 1). A last variant goes beyond
   what GeoPandas' ``within`` does (it does not prepare the union): ``shapely.prepare`` of
   each union and ``shapely.contains_xy`` on every demand point, timed on all points. Its
   total is almost all buffer + union + projection, the floor of any polygon approach.
3. Suggestions: 200 sites from 20,000 candidates over all demand (greedy with
   interchange), with 2,000 existing sites kept and without any.
4. spopt (MCLP + CBC, exact) where it can finish: it needs a dense demand x candidate
   matrix (1,000,000 x 20,000 float64 = 160 GB for the full instance), so it runs on a
   ~12 x 12 km instance in the largest city beside the greedy on the same instance.
"""
from __future__ import annotations

import argparse
import importlib
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from geo.engine.coverage import covered_from_sites  # noqa: E402
from geo.engine.siting import suggest_sites  # noqa: E402

RADIUS = 1000.0
#: (lon, lat) of Chinese city centres, roughly by size (the first gets the most hubs)
CITIES = np.array([
    (116.40, 39.90), (121.47, 31.23), (113.26, 23.13), (114.06, 22.54), (106.55, 29.56), (117.20, 39.13),
    (104.07, 30.57), (114.31, 30.59), (120.16, 30.27), (108.94, 34.34), (118.80, 32.06), (113.63, 34.75),
    (112.94, 28.23), (123.43, 41.80), (117.12, 36.65), (120.38, 36.07), (126.53, 45.80), (125.32, 43.82),
    (114.51, 38.04), (119.30, 26.08), (115.86, 28.68), (117.23, 31.82), (102.83, 24.88), (108.37, 22.82),
    (106.63, 26.65), (112.55, 37.87), (111.75, 40.84), (103.83, 36.06), (87.62, 43.83), (110.35, 20.02),
    (106.23, 38.49), (101.78, 36.62), (91.11, 29.65), (121.61, 38.91), (118.09, 24.48), (121.55, 29.87),
    (120.59, 31.30), (120.31, 31.49), (113.75, 23.02), (113.12, 23.02), (75.99, 39.47), (109.84, 40.66),
    (113.30, 40.08), (112.45, 34.62), (117.28, 34.20), (118.18, 39.63), (121.45, 37.46), (120.70, 28.00),
    (118.68, 24.87), (116.68, 23.35), (113.58, 22.27), (109.41, 24.33), (110.29, 25.27), (104.68, 31.47),
    (106.08, 30.80), (106.93, 27.73), (103.80, 25.49), (115.46, 38.87), (114.54, 36.63), (118.36, 35.10),
    (119.16, 36.71), (119.97, 31.81), (120.89, 31.98), (120.76, 30.75), (120.58, 30.00), (119.65, 29.08),
    (118.43, 31.35), (114.93, 25.83), (111.29, 30.69), (112.14, 32.04), (112.57, 26.89), (110.36, 21.27),
    (109.51, 18.25), (126.55, 43.84), (125.10, 46.59), (123.92, 47.35), (130.32, 46.80), (129.63, 44.55),
    (122.99, 41.11), (119.77, 49.21), (118.89, 42.26), (109.78, 39.61), (109.73, 38.29), (107.24, 34.36),
    (105.72, 34.58), (94.90, 36.40), (86.15, 41.76), (81.32, 43.92), (93.52, 42.82), (88.88, 29.27),
    (100.23, 25.59), (100.23, 26.87), (103.72, 27.34), (102.26, 27.89),
])
TAIYUAN = (112.56, 37.86)
HALF_LON, HALF_LAT = 0.284, 0.225  # the taiyuan scenario: ~50 km x 50 km
ZONE_MARGIN_DEG = 0.02  # sites this close to a UTM zone's edge also go into that zone's union


def load():
    la = os.getloadavg()
    return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} cores"


class Span:
    """Wall-clock and CPU seconds (CPU: every thread of this process, whose naive steps use one,
    plus finished child processes such as CBC)."""

    __slots__ = ("wall", "cpu")

    def __init__(self, wall=0.0, cpu=0.0):
        self.wall, self.cpu = wall, cpu

    def __add__(self, o):
        return Span(self.wall + o.wall, self.cpu + o.cpu)

    def __sub__(self, o):
        return Span(self.wall - o.wall, self.cpu - o.cpu)

    def __mul__(self, f):
        return Span(self.wall * f, self.cpu * f)

    def __format__(self, spec):
        return f"{format(self.wall, spec)} s (CPU {format(self.cpu, spec)} s)"


def now():
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Span(time.perf_counter(), time.process_time() + kids.ru_utime + kids.ru_stime)


def ratio(a, b):
    return f"{a.wall / b.wall:.0f}x wall, {a.cpu / b.cpu:.0f}x CPU"


def timed(fn, *args, **kwargs):
    t = now()
    out = fn(*args, **kwargs)
    return out, now() - t


def _offset(lon, lat, km_x, km_y):
    return lon + km_x / (111.32 * np.cos(np.radians(lat))), lat + km_y / 110.57


def hubs(rng, n):
    """Hub points around the cities: Zipf-like city weights, city spread 2-12 km."""
    size = 1.0 / np.arange(1, len(CITIES) + 1) ** 0.9
    size /= size.sum()
    spread = 2.0 + 10.0 * np.sqrt(size / size.max())
    c = rng.choice(len(CITIES), n, p=size)
    lon, lat = _offset(CITIES[c, 0], CITIES[c, 1], *(rng.normal(0, 1, (2, n)) * spread[c]))
    pop = rng.pareto(1.5, n) + 1.0
    return lon, lat, pop / pop.sum()


def national(rng, n, hub, *, spread_km, rural):
    """``n`` points: around hubs (by hub weight, exponential spread) plus rural ones."""
    lon, lat, pop = hub
    n_r = int(n * rural)
    k = rng.choice(lon.size, n - n_r, p=pop)
    x, y = _offset(lon[k], lat[k], *(rng.normal(0, 1, (2, k.size)) * rng.exponential(spread_km, k.size)))
    c, d, a = rng.integers(0, len(CITIES), n_r), rng.uniform(20, 150, n_r), rng.uniform(0, 2 * np.pi, n_r)
    rx, ry = _offset(CITIES[c, 0], CITIES[c, 1], d * np.cos(a), d * np.sin(a))
    p = rng.permutation(n)
    return np.r_[x, rx][p], np.r_[y, ry][p]


def taiyuan_city(rng, n, centres):
    """The earlier scenario: 85 % around 300 cluster centres (~1 km spread), 15 % uniform."""
    m = int(n * 1.1) + 10
    n_bg = int(0.15 * m)
    c = rng.integers(0, centres.shape[0], m - n_bg)
    x = np.r_[centres[c, 0] + rng.normal(0, 0.012, c.size), TAIYUAN[0] + rng.uniform(-HALF_LON, HALF_LON, n_bg)]
    y = np.r_[centres[c, 1] + rng.normal(0, 0.009, c.size), TAIYUAN[1] + rng.uniform(-HALF_LAT, HALF_LAT, n_bg)]
    keep = np.flatnonzero((np.abs(x - TAIYUAN[0]) <= HALF_LON) & (np.abs(y - TAIYUAN[1]) <= HALF_LAT))
    keep = rng.permutation(keep)[:n]
    return x[keep], y[keep]


def make_data(scenario, rng, n_dem, n_site, n_cand, n_hubs):
    if scenario == "taiyuan":
        centres = np.column_stack((TAIYUAN[0] + rng.uniform(-HALF_LON, HALF_LON, 300),
                                   TAIYUAN[1] + rng.uniform(-HALF_LAT, HALF_LAT, 300)))
        return (taiyuan_city(rng, n_dem, centres), taiyuan_city(rng, n_site, centres),
                taiyuan_city(rng, n_cand, centres), TAIYUAN)
    dem_hubs, site_hubs = hubs(rng, n_hubs), hubs(rng, max(n_hubs // 4, 10))
    return (national(rng, n_dem, dem_hubs, spread_km=0.6, rural=0.12),
            national(rng, n_site, site_hubs, spread_km=0.5, rural=0.03),
            national(rng, n_cand, dem_hubs, spread_km=1.5, rural=0.10), tuple(CITIES[0]))


# ------------------------------------------------------------------ the naive GeoPandas pipeline
def utm_zone(lon):
    return (np.floor((np.asarray(lon) + 180.0) / 6.0).astype(np.int64) % 60) + 1


def naive_build(sx, sy, zones):
    """Per zone: project the zone's sites (plus the edge margin), buffer, ``union_all``."""
    import geopandas as gpd

    t_buf, t_union = Span(), Span()
    unions, buffers = {}, {}
    for z in zones:
        west = -180.0 + 6.0 * (z - 1)
        m = (sx >= west - ZONE_MARGIN_DEG) & (sx < west + 6.0 + ZONE_MARGIN_DEG)
        t0 = now()
        b = gpd.GeoSeries(gpd.points_from_xy(sx[m], sy[m]), crs="EPSG:4326").to_crs(32600 + z).buffer(RADIUS)
        t1 = now()
        unions[z] = b.union_all()
        t_buf, t_union = t_buf + (t1 - t0), t_union + (now() - t1)
        buffers[z] = b
    return unions, buffers, t_buf, t_union


def naive_project_demand(dx, dy, dz):
    import geopandas as gpd

    t0 = now()
    out = {z: gpd.GeoSeries(gpd.points_from_xy(dx[dz == z], dy[dz == z]), crs="EPSG:4326").to_crs(32600 + z)
           for z in np.unique(dz)}
    return out, now() - t0


def naive_within(projected, dz, sample, unions):
    """``GeoSeries.within(union)`` per zone on the sample rows; (flags in sample order, seconds)."""
    out, t = np.zeros(sample.size, dtype=bool), Span()
    pos = {z: np.searchsorted(np.flatnonzero(dz == z), sample[dz[sample] == z]) for z in projected}
    for z, p in pos.items():
        pts = projected[z].iloc[p]
        t0 = now()
        hit = pts.within(unions[z]).to_numpy()
        t += now() - t0
        out[dz[sample] == z] = hit
    return out, t


def naive_sjoin(projected, dz, sample, right):
    """``sjoin(points, right[z])`` per zone on the sample rows; ``right``'s STRtrees are prebuilt.

    The default predicate "intersects" queries ``right``'s index with each point (linear in
    points); "within" would build an index on the points and query it with every polygon.
    """
    import geopandas as gpd

    out, t = np.zeros(sample.size, dtype=bool), Span()
    for z in projected:
        rows = np.flatnonzero(dz[sample] == z)
        p = np.searchsorted(np.flatnonzero(dz == z), sample[rows])
        left = gpd.GeoDataFrame(geometry=projected[z].iloc[p].reset_index(drop=True))
        t0 = now()
        j = gpd.sjoin(left, right[z], predicate="intersects", how="inner")
        t += now() - t0
        out[rows[np.unique(j.index.to_numpy())]] = True
    return out, t


def naive_indexes(unions, buffers):
    """GeoDataFrames of union parts and of raw buffers per zone with their STRtrees built; seconds."""
    import geopandas as gpd

    t0 = now()
    parts = {z: gpd.GeoDataFrame(geometry=gpd.GeoSeries([u], crs=buffers[z].crs).explode(index_parts=False)
                                 .reset_index(drop=True)) for z, u in unions.items()}
    for g in parts.values():
        g.sindex  # noqa: B018 - builds and caches the STRtree
    t1 = now()
    raw = {z: gpd.GeoDataFrame(geometry=b.reset_index(drop=True)) for z, b in buffers.items()}
    for g in raw.values():
        g.sindex  # noqa: B018
    return parts, raw, t1 - t0, now() - t1


def naive_prepared(projected, dz, unions):
    """Not GeoPandas' ``within``: ``shapely.prepare`` each zone's union, then ``contains_xy`` on
    every demand point's projected x, y (all points, nothing sampled); (flags, seconds)."""
    import shapely

    out, t = np.zeros(dz.size, dtype=bool), Span()
    for z, g in projected.items():
        t0 = now()
        shapely.prepare(unions[z])
        xy = shapely.get_coordinates(g.to_numpy())
        hit = shapely.contains_xy(unions[z], xy[:, 0], xy[:, 1])
        t += now() - t0
        out[np.flatnonzero(dz == z)] = hit
    return out, t


def share(flags, w):
    return f"{flags.mean():.3%} of points, {w[flags].sum() / w.sum():.3%} of workers"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="5 %% run (50,000 points, 10,000 sites)")
    ap.add_argument("--scenario", choices=("china", "taiyuan"), default="china")
    ap.add_argument("--sample", type=int, default=None, help="demand points in the naive `within` sample")
    ap.add_argument("--naive-full", action="store_true", help="naive `within` on every demand point")
    ap.add_argument("--skip-suggest", action="store_true")
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args(argv)
    s = 0.05 if a.small else 1.0
    n_dem, n_site, n_cand = int(1_000_000 * s), int(200_000 * s), int(20_000 * s)
    n_pick, n_exist = (20, 100) if a.small else (200, 2_000)
    rng = np.random.default_rng(a.seed)
    (dx, dy), (sx, sy), (cx, cy), big_city = make_data(a.scenario, rng, n_dem, n_site, n_cand, int(20_000 * s))
    w = rng.integers(1, 20, dx.size).astype(float)
    dz, sz = utm_zone(dx), utm_zone(sx)
    print(f"yizhan coverage bench ({'small' if a.small else 'full'}, scenario {a.scenario}): {dx.size:,} demand "
          f"points, {sx.size:,} sites, R = {RADIUS:.0f} m; demand in UTM zones "
          f"{', '.join(f'{z}N: {n:,}' for z, n in zip(*np.unique(dz, return_counts=True)))}")
    print(f"machine: {load()} (shared; timings are wall clock)")

    # ---- 1. this project
    t_load = timed(importlib.import_module, "geo.engine.coverage_grid")[1]
    covered, t_first = timed(covered_from_sites, dx, dy, sx, sy, radius_m=RADIUS)
    t_best = min([t_first] + [timed(covered_from_sites, dx, dy, sx, sy, radius_m=RADIUS)[1] for _ in range(2)],
                 key=lambda t: t.wall)
    print(f"\n[coverage] yizhan, exact geodesic (compiled pass over sites in latitude rows, Geod.inv only within "
          f"1e-4 m of R): first run {t_first:.3f}, best of 3 {t_best:.3f}; covered {share(covered, w)}")
    print(f"[coverage]   (loading the compiled kernels, once per process, not in these timings: {t_load:.2f})")

    # ---- 2. naive GeoPandas, per UTM zone
    import geopandas as gpd
    import shapely

    zones = np.unique(dz)
    unions, buffers, t_buf, t_union = naive_build(sx, sy, zones)
    n_parts = sum(int(shapely.get_num_geometries(u)) for u in unions.values())
    n_vert = sum(int(shapely.get_num_coordinates(u)) for u in unions.values())
    projected, t_proj = naive_project_demand(dx, dy, dz)
    n_s = dx.size if a.naive_full else min(a.sample or int(50_000 * s), dx.size)
    sample = np.sort(rng.choice(dx.size, n_s, replace=False))
    naive, t_within = naive_within(projected, dz, sample, unions)
    f = dx.size / n_s
    t_naive = t_buf + t_union + t_proj + t_within * f
    what = ("on all points (nothing extrapolated)" if n_s == dx.size else
            f"on a random sample of {n_s:,} demand points, EXTRAPOLATED linearly x{f:.0f} -> {t_within * f:.1f}")
    print(f"[coverage] naive GeoPandas {gpd.__version__} / GEOS {shapely.geos_version_string}, per UTM zone "
          f"({len(zones)} zones, EPSG:326zz; sites within {ZONE_MARGIN_DEG} deg of a zone edge go into both zones):")
    print(f"[coverage]   measured in full: to_crs + buffer(1000) of {sx.size:,} sites {t_buf:.2f}; union_all "
          f"{t_union:.2f} ({n_parts:,} polygons, {n_vert:,} vertices); to_crs of {dx.size:,} demand points "
          f"{t_proj:.2f}")
    print(f"[coverage]   within(union): {t_within:.2f} {what}")
    if n_s == dx.size and dx.size > 50_000:  # check of the sampled method against the full measurement
        check = np.sort(rng.choice(dx.size, 50_000, replace=False))
        t_check = naive_within(projected, dz, check, unions)[1]
        print(f"[coverage]   (the default 50,000-point sample, extrapolated x{dx.size / 50_000:.0f}, would have "
              f"said {t_check * (dx.size / 50_000):.1f})")
    print(f"[coverage]   naive total {t_naive:.1f}, of which {t_within * f:.1f} "
          f"{'measured' if n_s == dx.size else 'extrapolated'}")
    print(f"[coverage]   ratio naive / yizhan: {ratio(t_naive, t_first)} against yizhan's first run; "
          f"{ratio(t_naive, t_best)} against its best of 3")
    exact, on = covered[sample], "points" if n_s == dx.size else "sample"
    print(f"[coverage]   naive answer on the {on}: covered {share(naive, w[sample])}"
          f" vs exact {share(exact, w[sample])}; {int((exact & ~naive).sum()):,} covered points missed, "
          f"{int((naive & ~exact).sum()):,} uncovered points counted as covered")

    parts, raw, t_ix_parts, t_ix_raw = naive_indexes(unions, buffers)
    sj_parts, t_sj_parts = naive_sjoin(projected, dz, sample, parts)
    sj_raw, t_sj_raw = naive_sjoin(projected, dz, sample, raw)
    tot_parts = t_buf + t_union + t_proj + t_ix_parts + t_sj_parts * f
    tot_raw = t_buf + t_proj + t_ix_raw + t_sj_raw * f
    x = "" if n_s == dx.size else f", EXTRAPOLATED x{f:.0f}"
    print(f"[coverage]   variant sjoin(intersects) on the union's parts: index {t_ix_parts:.2f}, sjoin {t_sj_parts:.2f}"
          f"{x}; total {tot_parts:.1f}; ratio {ratio(tot_parts, t_first)}"
          f"{'' if np.array_equal(sj_parts, naive) else ' (answer differs from within!)'}")
    print(f"[coverage]   variant sjoin(intersects) on the {sx.size:,} buffers, no union: index {t_ix_raw:.2f}, sjoin "
          f"{t_sj_raw:.2f}{x}; total {tot_raw:.1f}; ratio {ratio(tot_raw, t_first)}"
          f"{'' if np.array_equal(sj_raw, naive) else ' (answer differs from within!)'}")
    prep, t_prep = naive_prepared(projected, dz, unions)  # last: it prepares the unions in place
    tot_prep = t_buf + t_union + t_proj + t_prep
    print(f"[coverage]   variant beyond GeoPandas' within: shapely.prepare(union) + shapely.contains_xy on all "
          f"{dx.size:,} points (measured, not sampled) {t_prep:.2f}; total {tot_prep:.1f}; ratio "
          f"{ratio(tot_prep, t_first)}; covered {share(prep, w)}, {int((covered & ~prep).sum()):,} covered points "
          f"missed, {int((prep & ~covered).sum()):,} uncovered counted as covered")
    fastest = min(t_naive, tot_parts, tot_raw, tot_prep, key=lambda t: t.wall)
    print(f"[coverage] ratio of the fastest polygon-buffer variant ({fastest.wall:.1f} s) to yizhan: "
          f"{ratio(fastest, t_first)} (first run); {ratio(fastest, t_best)} (best of 3); {load()}")
    del unions, buffers, projected, parts, raw

    if a.skip_suggest:
        return
    # ---- 3. suggestions
    pick = rng.choice(sx.size, n_exist, replace=False)
    res, t_greedy = timed(suggest_sites, dx, dy, w, cx, cy, existing_lon=sx[pick], existing_lat=sy[pick],
                          radius_m=RADIUS, count=n_pick, method="greedy")
    print(f"\n[suggest] {len(res.chosen)} sites from {cx.size:,} candidates over {dx.size:,} demand points "
          f"({n_exist:,} existing sites kept): {res.method} {t_greedy:.2f}; coverage "
          f"{res.base_coverage_rate:.2%} -> {res.cumulative_coverage_rate[-1]:.2%}; {res.bound}; "
          f"instance bound >= {res.optimality_lower_bound:.1%} of optimum")
    res0, t_greedy0 = timed(suggest_sites, dx, dy, w, cx, cy, radius_m=RADIUS, count=n_pick, method="greedy")
    print(f"[suggest] same without existing sites: {res0.method} {t_greedy0:.2f}; coverage 0% -> "
          f"{res0.cumulative_coverage_rate[-1]:.2%}; instance bound >= {res0.optimality_lower_bound:.1%} of optimum")
    print(f"[suggest] spopt on this instance: not run: MCLP.from_cost_matrix takes a dense demand x candidate "
          f"matrix ({dx.size:,} x {cx.size:,} float64 = {dx.size * cx.size * 8 / 1e9:,.1f} GB)")

    # ---- 4. spopt (exact) on an instance it can finish, beside greedy on the same one
    m_dem, m_cand, m_pick = (1_000, 150, 5) if a.small else (5_000, 300, 15)

    def in_box(x, y):  # ~12 x 12 km around the largest city's centre
        return np.flatnonzero((np.abs(x - big_city[0]) <= 0.07) & (np.abs(y - big_city[1]) <= 0.054))

    inside = rng.choice(in_box(dx, dy), m_dem, replace=False)
    near = in_box(cx, cy)
    cand = rng.choice(near, min(m_cand, near.size), replace=False)
    qx, qy, qw = dx[inside], dy[inside], w[inside]
    kw = dict(radius_m=RADIUS, count=m_pick)
    g, t_g = timed(suggest_sites, qx, qy, qw, cx[cand], cy[cand], method="greedy", **kw)
    e, t_e = timed(suggest_sites, qx, qy, qw, cx[cand], cy[cand], method="exact", time_limit_s=600, **kw)
    print(f"[suggest] ~12x12 km in the largest city ({qx.size:,} demand, {cand.size} candidates, p = {m_pick}): "
          f"spopt MCLP + CBC {t_e:.2f} ({e.bound}); greedy {t_g:.3f} reaching "
          f"{g.gain.sum() / max(e.gain.sum(), 1e-12):.2%} of the exact optimum's new coverage")
    print(f"machine: {load()}")


if __name__ == "__main__":
    main()
