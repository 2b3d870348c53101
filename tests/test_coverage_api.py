"""Coverage, gaps and suggestions from the database, through the CLI and the real HTTP API,
on both backends, against a brute-force geodesic oracle."""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo.ingest.demo import build_demo
from geo.ingest.import_areas import import_areas
from geo.ingest.import_points import import_demand
from geo.ingest.import_sites import import_sites

GEOD = Geod(ellps="WGS84")


def brute_rate(slon, slat, dlon, dlat, w, r):
    cov = np.zeros(len(dlon), bool)
    for x, y in zip(slon, slat):
        _, _, d = GEOD.inv(np.full(len(dlon), x), np.full(len(dlon), y), dlon, dlat)
        cov |= d <= r
    return cov, float(w[cov].sum() / w.sum())


@pytest.fixture
def planted(engine, data_dir, tmp_path):
    """Demo areas; sites at known spots; demand at 999.9 m / 1000.1 m and random points."""
    import_areas(engine, data_dir / "district.geojson", level="district")
    import_areas(engine, data_dir / "streets.geojson", level="street")
    sites = [(112.565, 37.861), (112.585, 37.845), (112.60, 37.86)]
    rows = ["code,name,lon,lat,status,opening_hours,services"]
    for i, (x, y) in enumerate(sites):
        hours = "20:00-02:00" if i == 2 else "08:00-18:00"
        rows.append(f"S{i},站{i},{x},{y},open,{hours},{'charging' if i == 0 else 'water'}")
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_sites(engine, tmp_path / "s.csv", kind="love_station")
    rng = np.random.default_rng(5)
    dl, dt_, w = [], [], []
    for x, y in sites:
        for dist in (999.9, 1000.1):
            az = rng.uniform(0, 360)
            lo, la, _ = GEOD.fwd(x, y, az, dist)
            dl.append(lo), dt_.append(la), w.append(3.0)
    n = 400
    dl += list(rng.uniform(112.55, 112.62, n))
    dt_ += list(rng.uniform(37.835, 37.875, n))
    w += list(rng.integers(1, 20, n).astype(float))
    (tmp_path / "d.csv").write_text("lon,lat,weight\n" + "".join(f"{float(a)!r},{float(b)!r},{c}\n" for a, b, c in zip(dl, dt_, w)),
                                    encoding="utf-8")
    import_demand(engine, tmp_path / "d.csv")
    return np.array(sites), np.array(dl), np.array(dt_), np.array(w)


def test_coverage_equals_brute_force(planted, db_url, server_factory, client_factory):
    sites, dl, dt_, w = planted
    cov, rate = brute_rate(sites[:, 0], sites[:, 1], dl, dt_, w, 1000.0)
    assert cov[[0, 2, 4]].all()  # planted at 999.9 m: inside (1000.1 m ones may be near another site)
    with server_factory(db_url) as srv:
        c = client_factory(srv.url)
        r = c.get("/api/coverage", params={"radius": 1000}).json()
        assert r["totals"]["coverage_rate"] == pytest.approx(rate, abs=1e-6)
        assert r["totals"]["demand_covered"] == pytest.approx(float(w[cov].sum()))
        assert r["totals"]["demand"] == pytest.approx(float(w.sum()))
        assert 0 < sum(a["demand"] for a in r["areas"]) <= float(w.sum()) + 1e-6  # some points lie outside the streets
        for key in ("sites", "demand", "demand_covered", "coverage_rate", "area_km2", "area_covered_km2"):
            assert key in r["totals"] and key in r["areas"][0]
        # only the charging site; only sites open at 23:00 (the night one)
        cov1, rate1 = brute_rate(sites[:1, 0], sites[:1, 1], dl, dt_, w, 1000.0)
        r1 = c.get("/api/coverage", params={"radius": 1000, "service": "充电"}).json()
        assert r1["totals"]["coverage_rate"] == pytest.approx(rate1, abs=1e-6) and r1["totals"]["sites"] == 1
        cov2, rate2 = brute_rate(sites[2:, 0], sites[2:, 1], dl, dt_, w, 1000.0)
        r2 = c.get("/api/coverage", params={"radius": 1000, "at": "2024-07-01T23:00"}).json()
        assert r2["totals"]["coverage_rate"] == pytest.approx(rate2, abs=1e-6) and r2["totals"]["sites"] == 1
        g = c.get("/api/coverage/gaps", params={"radius": 1000}).json()
        du = [f["properties"]["demand_uncovered"] for f in g["features"]]
        assert du == sorted(du, reverse=True) and {f["properties"]["type"] for f in g["features"]} == {"area", "hotspot"}
        hot = [f for f in g["features"] if f["properties"]["type"] == "hotspot"]
        assert sum(f["properties"]["demand_uncovered"] for f in hot) == pytest.approx(float(w[~cov].sum()))
        for bad in ({"radius": -1}, {"radius": "nan"}, {"by": "city"}, {"mode": "fly"}, {"kind": "x"},
                    {"at": "soon"}, {"mode": "walk"}, {"mode": "walk", "network": "/nope.pbf"}):
            resp = c.get("/api/coverage", params=bad)
            assert resp.status_code == 422 and resp.json()["detail"], bad


def test_suggestions_api_and_cli(engine, db_url, server_factory, client_factory, tmp_path):
    build_demo(engine)
    with server_factory(db_url) as srv:
        c = client_factory(srv.url)
        fc = c.get("/api/coverage/suggestions", params={"count": 4, "radius": 1000}).json()
        gains = [f["properties"]["gain"] for f in fc["features"]]
        rates = [f["properties"]["cumulative_coverage_rate"] for f in fc["features"]]
        assert len(gains) == 4 and gains == sorted(gains, reverse=True) and rates == sorted(rates)
        assert fc["method"] in ("greedy", "exact") and fc["bound"]
        assert rates[-1] == pytest.approx(fc["base_coverage_rate"] + sum(gains) / fc["total_demand"], abs=1e-5)
        assert c.get("/api/coverage/suggestions", params={"count": 0}).status_code == 422
        html = c.get("/maps/coverage").text
        assert "https://" not in html.split("<body")[0] and "/static/leaflet/leaflet.js" in html
    from test_cli import run
    r = run(db_url, "suggest", "--count", "3", "--radius", "1000", "--json")
    assert r.returncode == 0, r.stderr
    r = run(db_url, "coverage", "--radius", "1000", "--by", "community", "--out", tmp_path / "c.xlsx")
    assert r.returncode == 0 and (tmp_path / "c.xlsx").exists()
    r = run(db_url, "map", "coverage", "--out", tmp_path / "m.html")
    assert r.returncode == 0 and (tmp_path / "m.html").stat().st_size > 100_000
    import re
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert not re.findall(r'<(?:script[^>]*src|link[^>]*href)=["\']?(?:https?:)?//', html)
    assert run(db_url, "coverage", "--radius", "-5").returncode == 1


def test_cli_coverage_shows_gaps_and_writes_geojson(planted, db_url, engine, tmp_path):
    """`yizhan coverage` prints the figures and the largest gaps and hotspots; `--out x.geojson`
    is the areas' polygons with their figures; `--gaps-out` holds every gap and hotspot."""
    from test_cli import run

    sites, dl, dt_, w = planted
    cov, _ = brute_rate(sites[:, 0], sites[:, 1], dl, dt_, w, 1000.0)
    r = run(db_url, "coverage", "--radius", "1000", "--top", "3", "--out", tmp_path / "c.geojson",
            "--gaps-out", tmp_path / "g.geojson")
    assert r.returncode == 0, r.stderr
    assert "uncovered areas beyond 1000 m" in r.stdout and "hotspots of workers beyond 1000 m" in r.stdout
    as_json = run(db_url, "coverage", "--radius", "1000", "--json")
    summary = json.loads(as_json.stdout)
    assert "gaps" not in summary and "uncovered areas" not in as_json.stdout  # --json stays the contract's
    fc = json.loads((tmp_path / "c.geojson").read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection" and fc["totals"] == summary["totals"]
    assert [f["properties"] for f in fc["features"]] == summary["areas"]
    streets = gpd.GeoDataFrame.from_features(fc["features"], crs=4326)
    assert streets.geom_type.isin(["Polygon", "MultiPolygon"]).all() and streets.is_valid.all()
    inside = streets.sindex.query(shapely.points(dl, dt_), predicate="within")  # each street's demand
    for i, props in enumerate(summary["areas"]):
        pts = inside[0][inside[1] == i]
        assert props["demand"] == pytest.approx(float(w[pts].sum()))
        assert props["demand_covered"] == pytest.approx(float(w[pts][cov[pts]].sum()))
    g = json.loads((tmp_path / "g.geojson").read_text(encoding="utf-8"))
    hot = [f["properties"] for f in g["features"] if f["properties"]["type"] == "hotspot"]
    gaps = [f["properties"] for f in g["features"] if f["properties"]["type"] == "area"]
    assert sum(h["demand_uncovered"] for h in hot) == pytest.approx(float(w[~cov].sum()))
    assert gaps and sum(a["demand_uncovered"] for a in gaps) <= float(w[~cov].sum()) + 1e-6
    du = [f["properties"]["demand_uncovered"] for f in g["features"]]
    assert du == sorted(du, reverse=True) and len(hot) > 3  # all of them, not only the --top 3 shown


def test_walking_coverage_end_to_end(engine, db_url, data_dir, server_factory, client_factory, tmp_path):
    """The demo district with its street network file (data/streets.osm.pbf, read by pyrosm):
    `yizhan coverage --mode walk` and /api/coverage(/gaps)?mode=walk equal per-site networkx
    Dijkstra (tests/test_walk.py's reference) on the stored sites and demand."""
    from test_cli import run
    from test_walk import reference

    from geo.store.analysis_inputs import load_demand, load_sites
    from geo.engine.walk_network import graph_from_arrays, network_from_pbf

    build_demo(engine)
    pbf = str(data_dir / "streets.osm.pbf")
    net = network_from_pbf(pbf, as_arrays=True)
    with engine.connect() as conn:
        _, slon, slat = load_sites(conn)
        dlon, dlat, w = load_demand(conn)
    best, routable = reference(graph_from_arrays(net), net, dlon, dlat, slon, slat, 1200.0, 100.0)
    covered = np.isfinite(best)
    assert 0.3 < w[covered].sum() / w.sum() < 0.95 and 0 < (~routable).sum() < 0.2 * w.size
    r = run(db_url, "coverage", "--mode", "walk", "--network", pbf, "--radius", "1200", "--json")
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    assert cli["totals"]["demand_covered"] == pytest.approx(float(w[covered].sum()), abs=1e-6)
    assert cli["totals"]["points_non_routable"] == int((~routable).sum())
    assert cli["totals"]["demand_non_routable"] == pytest.approx(float(w[~routable].sum()), abs=1e-6)
    assert all(a["area_covered_km2"] is None for a in cli["areas"])
    best3, routable3 = reference(graph_from_arrays(net), net, dlon, dlat, slon, slat, 1200.0, 300.0)
    r = run(db_url, "coverage", "--mode", "walk", "--network", pbf, "--radius", "1200", "--max-snap", "300", "--json")
    wide = json.loads(r.stdout)["totals"]  # the snap threshold is the planner's to set
    assert wide["points_non_routable"] == int((~routable3).sum()) < cli["totals"]["points_non_routable"]
    assert wide["demand_covered"] == pytest.approx(float(w[np.isfinite(best3)].sum()), abs=1e-6)
    # walking suggestions: the best single new station gains exactly the most walk-uncovered workers
    from geo.services.coverage_planning import candidate_arrays
    from geo.engine.walk_network import pairs_from_network
    with engine.connect() as conn:
        clon, clat, _, _, cap = candidate_arrays(conn)  # a pick's gain is capped by its capacity
    di, ci, _ = pairs_from_network(net, dlon, dlat, clon, clat, radius_m=1200.0, max_snap_m=100.0)
    new = ~covered[di]
    reach = np.bincount(ci[new], weights=w[di[new]], minlength=clon.size)
    best_gain = np.fmin(reach, cap).max()
    assert np.isfinite(cap).any() and best_gain < reach.max()  # the caps bind here
    r = run(db_url, "suggest", "--count", "1", "--radius", "1200", "--mode", "walk", "--network", pbf, "--json")
    assert r.returncode == 0, r.stderr
    sug = json.loads(r.stdout)
    assert sug["mode"] == "walk" and sug["base_coverage_rate"] == pytest.approx(cli["totals"]["coverage_rate"], abs=1e-6)
    assert sug["suggestions"][0]["gain"] == pytest.approx(best_gain, abs=1e-6) and best_gain > 0
    r = run(db_url, "coverage", "--mode", "walk", "--network", data_dir / "demand.csv")
    assert r.returncode == 1 and "could not read demand.csv as an OpenStreetMap .osm.pbf extract" in r.stderr
    with server_factory(db_url, network_dir=str(data_dir)) as srv:
        c = client_factory(srv.url)
        walk = {"radius": 1200, "mode": "walk", "network": "streets.osm.pbf"}
        api = c.get("/api/coverage", params=walk).json()
        assert api["totals"] == cli["totals"] and api["areas"] == cli["areas"]
        assert c.get("/api/coverage", params=walk | {"max_snap": 300}).json()["totals"] == wide
        fc = c.get("/api/coverage/suggestions", params=walk | {"count": 3}).json()
        assert fc["mode"] == "walk" and fc["features"][0]["properties"]["gain"] <= best_gain + 1e-6
        assert fc["base_coverage_rate"] == sug["base_coverage_rate"]
        for snap in (0, -5, "nan", 1e9):
            bad = c.get("/api/coverage/gaps", params=walk | {"max_snap": snap})
            assert bad.status_code == 422 and "max_snap" in bad.text, snap
        g = c.get("/api/coverage/gaps", params=walk | {"limit": 5000}).json()
        assert g["mode"] == "walk" and {f["properties"]["type"] for f in g["features"]} == {"hotspot"}
        assert sum(f["properties"]["demand_uncovered"] for f in g["features"]) == pytest.approx(
            float(w[~covered].sum()), abs=1e-6)
        # only .osm.pbf files inside YIZHAN_NETWORK_DIR: never another file of the server's
        for name in ("/etc/passwd", "../data/streets.osm.pbf/../../pyproject.toml", "demand.csv",
                     "nope.osm.pbf", "."):
            for path in ("/api/coverage", "/api/coverage/gaps", "/api/coverage/suggestions"):
                bad = c.get(path, params=walk | {"network": name})
                assert bad.status_code == 422 and "network directory" in bad.json()["detail"], (path, name)
    junk = tmp_path / "nets"
    junk.mkdir()
    (junk / "junk.osm.pbf").write_bytes(b"not a protobuf" * 50)
    with server_factory(db_url, network_dir=str(junk)) as srv:
        c = client_factory(srv.url)
        bad = c.get("/api/coverage", params={"mode": "walk", "network": "junk.osm.pbf"})
        assert bad.status_code == 422 and "could not read junk.osm.pbf" in bad.json()["detail"]
    with server_factory(db_url, network_dir=None) as srv:  # no YIZHAN_NETWORK_DIR: walking over HTTP is off
        bad = client_factory(srv.url).get("/api/coverage", params=walk)
        assert bad.status_code == 422 and "YIZHAN_NETWORK_DIR" in bad.json()["detail"]
