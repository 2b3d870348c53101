"""City-scale ``GET /maps/coverage`` through ``yizhan serve`` (issue 21), for ``map_bench.py``.

The demo district's areas with 2,000 stations, 200,000 demand points and 5,000 candidates
spread over its extent (``--small``: a tenth). Prints the cold build (first request), warm
answers (cache hits) and ``/api/nearest`` p99 under ``wrk`` while idle and while a cold
map builds (server on core 0, wrk on core 1, as in ``nearest_bench.py``).
"""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np

import _load


def fill(url: str, tmp: Path, *, sites: int, demand: int, candidates: int) -> None:
    """Demo areas and sites, then ``sites`` more stations, ``demand`` demand and ``candidates``."""
    from geo.store.db import engine_from_url, ensure_schema
    from geo.ingest.demo import build_demo
    from geo.ingest.import_points import import_candidates, import_demand
    from geo.ingest.import_sites import import_sites

    eng = engine_from_url(url)
    ensure_schema(eng)
    build_demo(eng)
    x0, y0, x1, y1 = 112.52, 37.80, 112.66, 37.90  # the demo district's box
    rng = np.random.default_rng(21)

    def pts(n):
        return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    lon, lat = pts(sites)
    (tmp / "s.csv").write_text("code,name,lon,lat,status,opening_hours\n" + "".join(
        f"B{i:05d},城站{i},{a:.6f},{b:.6f},open,08:00-20:00\n" for i, (a, b) in enumerate(zip(lon, lat))),
        encoding="utf-8")
    import_sites(eng, tmp / "s.csv", kind="love_station", near_duplicate_m=0)
    lon, lat = pts(demand)
    w = rng.integers(1, 20, demand)
    (tmp / "d.csv").write_text("lon,lat,weight\n" + "".join(
        f"{a:.6f},{b:.6f},{c}\n" for a, b, c in zip(lon, lat, w)), encoding="utf-8")
    import_demand(eng, tmp / "d.csv", replace=True)
    lon, lat = pts(candidates)
    (tmp / "c.csv").write_text("code,lon,lat\n" + "".join(
        f"K{i},{a:.6f},{b:.6f}\n" for i, (a, b) in enumerate(zip(lon, lat))), encoding="utf-8")
    import_candidates(eng, tmp / "c.csv", replace=True)
    eng.dispose()


def run(small: bool = False, duration: float = 10.0) -> None:
    import tempfile

    scale = 10 if small else 1
    tmp = Path(tempfile.mkdtemp(prefix="yizhan_map_bench_"))
    url = f"sqlite:///{tmp / 'city.db'}"
    t0 = time.perf_counter()
    fill(url, tmp, sites=2_000 // scale, demand=200_000 // scale, candidates=5_000 // scale)
    print(f"\ncity scale: {2_000 // scale:,} stations (+ the demo's), {200_000 // scale:,} demand, "
          f"{5_000 // scale:,} candidates, built in {time.perf_counter() - t0:.0f} s; {_load.machine_load()}")
    rng = np.random.default_rng(3)
    paths = [f"/api/nearest?lon={a:.6f}&lat={b:.6f}&k=3"
             for a, b in zip(rng.uniform(112.52, 112.66, 2000), rng.uniform(37.80, 37.90, 2000))]
    kw = dict(duration=duration, warmup=2.0, core=1, workdir=tmp)
    with _load.Server(None, env={"YIZHAN_DATABASE_URL": url}, core=0, log=tmp / "srv.log") as srv:
        time.sleep(15)  # the server warms its map-build process at start (imports, low priority)
        idle = _load.wrk(srv.url, paths, **kw)
        got: dict = {}

        def cold():
            t = time.perf_counter()
            got["status"], got["body"] = _load.http_get(srv.url + "/maps/coverage", timeout=600)
            got["s"] = time.perf_counter() - t
        th = threading.Thread(target=cold)
        th.start()
        during = _load.wrk(srv.url, paths, **{**kw, "warmup": 0.0, "duration": duration})
        th.join()
        building = "the build lasted the whole run" if got["s"] > duration else \
            f"the build ended {got['s']:.1f} s into the {duration:g} s run"
        warm = []
        for _ in range(3):
            t = time.perf_counter()
            st, body = _load.http_get(srv.url + "/maps/coverage", timeout=600)
            warm.append(time.perf_counter() - t)
        assert st == 200 and body == got["body"], "warm page differs from the cold one"
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"  GET /maps/coverage cold {got['s']:.2f} s ({len(got['body']) / 1e6:.1f} MB, HTTP {got['status']}), "
          f"warm {min(warm) * 1e3:.0f}–{max(warm) * 1e3:.0f} ms (3 requests)")
    print(_load.fmt_wrk("  nearest idle", idle))
    print(_load.fmt_wrk("  nearest while the map builds", during) + f"  [{building}]")
    print(f"  nearest p99 during a build / idle: {during['ms']['p99'] / idle['ms']['p99']:.2f} "
          f"(target ≤ 2); {_load.machine_load()}")
