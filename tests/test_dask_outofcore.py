"""Out-of-core coverage on a real LocalCluster, on both backends: the workers read the demand
from the database in id ranges and send back per-area sums; the summary equals the in-process
one to the bit, and this process never loads the demand."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from geo.services import coverage_planning as planning
from geo.services.dask_coverage import area_totals_from_db_dask
from geo.store.street_assignment import AreaLookup
from geo.engine.coverage import covered_from_sites
from geo.store.db import engine_from_url, upgrade
from geo.errors import InputError
from geo.ingest.import_areas import import_areas
from geo.ingest.import_points import import_demand
from geo.ingest.import_sites import import_sites
from geo.store.tables import demand
from geo.services.coverage_planning import coverage_summary


def _refuse_demand(*_a, **_k):
    raise AssertionError("demand loaded in the driver process")


def _load(engine, data_dir, tmp_path):
    """Demo streets, communities and sites; the demo demand (whole weights) plus fractional
    weights, points outside every street, points on street boundaries; holes in the ids."""
    import_areas(engine, data_dir / "district.geojson", level="district")
    import_areas(engine, data_dir / "streets.geojson", level="street")
    import_areas(engine, data_dir / "communities.geojson", level="community")
    import_sites(engine, data_dir / "love_stations.csv", kind="love_station")
    import_sites(engine, data_dir / "worker_homes.csv", kind="worker_home")
    import_demand(engine, data_dir / "demand.csv")
    with engine.connect() as conn:
        streets, district = planning.load_areas(conn, by="street")
    geoms = [a[4] for a in streets]
    x0, y0, x1, y1 = district.bounds
    rng = np.random.default_rng(11)
    n = 1500
    lon = rng.uniform(x0 - 0.01, x1 + 0.01, n)
    lat = rng.uniform(y0 - 0.01, y1 + 0.01, n)
    w = rng.uniform(0.05, 12.0, n) * rng.choice([1e-3, 1.0, 1e3], n)
    shared = list(dict.fromkeys(  # each shared vertex once: a file's rows without codes are distinct
        tuple(xy) for g in geoms for xy in shapely.get_coordinates(g).tolist()
        if sum(shapely.intersects(h, shapely.Point(xy)) for h in geoms) >= 2))
    assert len(shared) >= 10
    pts = [(*xy, 0.1) for xy in shared[:40]] + list(zip(lon.tolist(), lat.tolist(), w.tolist()))
    path = tmp_path / "more_demand.csv"
    path.write_text("lon,lat,weight\n" + "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in pts), encoding="utf-8")
    import_demand(engine, path)
    with engine.begin() as conn:
        conn.execute(demand.delete().where(demand.c.id % 7 == 3))


@pytest.fixture
def district(engine, data_dir, tmp_path):
    _load(engine, data_dir, tmp_path)
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(demand)).scalar_one()


@pytest.mark.parametrize(("by", "filters"), [("street", {}), ("community", {"service": "charging"})])
def test_out_of_core_equals_in_process(engine, district, local_client, monkeypatch, by, filters):
    with engine.connect() as conn:
        expect = coverage_summary(conn, radius_m=1000, by=by, **filters)
    monkeypatch.setattr(planning, "load_demand", _refuse_demand)
    with engine.connect() as conn:
        got = coverage_summary(conn, radius_m=1000, by=by, scheduler=local_client, chunk_rows=500, **filters)
    assert got == expect  # every area's demand, demand_covered, coverage_rate, km²; the totals
    t = expect["totals"]
    assert t["sites"] > 0 and 0 < t["coverage_rate"] < 1
    assert sum(a["demand"] for a in expect["areas"]) < t["demand"]  # some demand lies outside every area
    assert sum(0 < (a["coverage_rate"] or 0) < 1 for a in expect["areas"]) >= 3


def test_chunk_sums_are_exact(engine, db_url, district, local_client):
    """Several chunks; totals and per-street sums equal the correctly rounded sums (math.fsum)."""
    with engine.connect() as conn:
        _, slon, slat = planning.load_sites(conn)
        streets, _ = planning.load_areas(conn, by="street")
        dlon, dlat, w = planning.load_demand(conn)
        ids = conn.execute(sa.select(demand.c.id)).scalars().all()
    assert district == w.size and max(ids) - min(ids) + 1 > w.size  # the ids have holes
    calls = []
    r = area_totals_from_db_dask(db_url, site_lon=slon, site_lat=slat, radius_m=1000,
                                 area_geoms=[a[4] for a in streets], scheduler=local_client, chunk_rows=700,
                                 progress=lambda done, total: calls.append((done, total)))
    assert r["chunks"] == math.ceil(w.size / 700) >= 5
    assert calls == [(k, r["chunks"]) for k in range(1, r["chunks"] + 1)]  # one progress call per chunk
    cov = covered_from_sites(dlon, dlat, slon, slat, radius_m=1000)
    assert r["totals"] == {"demand": math.fsum(w), "demand_covered": math.fsum(w[cov]), "points": w.size}
    lookup = AreaLookup.from_rows([type("R", (), dict(id=a[0], code=a[1], name=a[2], level="street",
                                                       parent_id=None, geom=a[4])) for a in streets])
    where = lookup.locate(dlon, dlat, "street")
    assert r["outside"]["points"] == int((where < 0).sum()) > 0
    for i, a in enumerate(streets):
        m = where == a[0]
        assert r["areas"].loc[i].tolist() == [math.fsum(w[m]), math.fsum(w[m & cov]), int(m.sum())]


def test_threshold_switches_to_out_of_core(engine, district, monkeypatch):
    """Above ``dask_threshold`` a LocalCluster is started and the demand is read by its workers."""
    with engine.connect() as conn:
        expect = coverage_summary(conn, radius_m=600, by="street")
    monkeypatch.setattr(planning, "load_demand", _refuse_demand)
    with engine.connect() as conn:
        assert coverage_summary(conn, radius_m=600, by="street", dask_threshold=district - 1,
                                chunk_rows=1000) == expect
        with pytest.raises(AssertionError, match="driver process"):  # at the threshold: in process
            coverage_summary(conn, radius_m=600, by="street", dask_threshold=district)


def test_relative_spatialite_path(spatialite_template, data_dir, tmp_path, monkeypatch, local_client):
    """Workers do not share this process's working directory: the file's path is made absolute."""
    shutil.copy(spatialite_template, tmp_path / "rel.db")
    monkeypatch.chdir(tmp_path)
    eng = engine_from_url("sqlite:///rel.db")
    try:
        import_areas(eng, data_dir / "streets.geojson", level="street")
        import_sites(eng, data_dir / "love_stations.csv", kind="love_station")
        import_demand(eng, data_dir / "demand.csv")
        with eng.connect() as conn:
            expect = coverage_summary(conn, radius_m=1000)
            got = coverage_summary(conn, radius_m=1000, scheduler=local_client, chunk_rows=1000)
        assert got == expect and expect["totals"]["demand"] > 0
    finally:
        eng.dispose()
    with pytest.raises(InputError, match="not found"):
        area_totals_from_db_dask(f"sqlite:///{tmp_path / 'missing.db'}", site_lon=[], site_lat=[], radius_m=1000)
    assert not (tmp_path / "missing.db").exists()


def test_in_memory_sqlite_is_refused(local_client):
    eng = engine_from_url("sqlite://")
    try:
        upgrade(eng)
        with eng.connect() as conn, pytest.raises(InputError, match="in-memory SQLite database cannot be read"):
            coverage_summary(conn, radius_m=1000, scheduler=local_client)
    finally:
        eng.dispose()
    for url in ("sqlite:///:memory:", "sqlite:///file:m1?mode=memory&cache=shared&uri=true"):
        with pytest.raises(InputError, match="in-memory"):
            area_totals_from_db_dask(url, site_lon=[], site_lat=[], radius_m=1000, scheduler=local_client)


@pytest.fixture
def dask_cluster_address(tmp_path):
    """A real scheduler and worker started with Dask's own command line, as an operator would."""
    dask_cli = str(Path(sys.executable).with_name("dask"))
    info = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--scheduler-file", str(info), *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([dask_cli, "worker", "--scheduler-file", str(info), "--nworkers", "2",
                                       "--nthreads", "1", "--memory-limit", "2GiB", *common],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_cli_coverage_on_a_running_dask_cluster(db_url, district, dask_cluster_address):
    """`yizhan coverage --scheduler tcp://…` in a subprocess, against a scheduler and workers started
    by `dask scheduler` / `dask worker`: the same JSON as the in-process command."""
    env = dict(os.environ, YIZHAN_DATABASE_URL=db_url, COLUMNS="200")
    yizhan = str(Path(sys.executable).with_name("yizhan"))

    def coverage(*extra):
        r = subprocess.run([yizhan, "coverage", "--radius", "800", "--by", "community", "--json", *extra],
                           capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    expect = coverage()
    got = coverage("--scheduler", dask_cluster_address)
    assert got == expect and expect["totals"]["demand_covered"] > 0
    import distributed

    with distributed.Client(dask_cluster_address, timeout=30) as client:  # the chunks ran there
        ran = client.run_on_scheduler(lambda dask_scheduler: sorted(
            {str(t[0]) for t in dask_scheduler.transition_log if str(t[0]).startswith("_chunk_sums")}))
    assert ran


def test_unreachable_or_malformed_scheduler_is_a_clear_error(engine, district):
    import socket

    with socket.socket() as s:  # a local port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with engine.connect() as conn:
        for address in (f"tcp://127.0.0.1:{port}", "not a scheduler address"):
            with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
                coverage_summary(conn, radius_m=1000, scheduler=address)
