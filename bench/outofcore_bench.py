"""Out-of-core coverage benchmark (issue 5, scale-out): the demo district with N demand rows.

Builds a SpatiaLite file (``--backend postgis``: a PostGIS database) with the demo's streets
and stations and ``--rows`` demand points (default 2,000,000; ``--small`` 200,000) spread over
the district, then runs ``geo.services.coverage_planning.coverage_summary`` twice, each in a fresh process:

* in process: the driver reads every demand row into arrays, as below the threshold;
* out of core: the same call with a 2-worker ``LocalCluster`` (``dask_threshold=0``), whose
  workers read the demand table in id ranges of ``--chunk-rows`` and return per-area sums.

Prints wall time and peak resident memory (``ru_maxrss``) of the driver and of each worker,
and whether the two summaries are equal (they must be, to the bit). Nothing is asserted on
time; the machine is shared, its load is printed.

Usage: python bench/outofcore_bench.py [--small] [--rows N] [--chunk-rows N] [--backend spatialite|postgis]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _load  # noqa: E402


def build(url: str, rows: int, seed: int = 7) -> None:
    """Demo streets and stations, then ``rows`` demand points over the district (bulk insert)."""
    import numpy as np
    import shapely

    from geo.store.db import engine_from_url, upgrade
    from geo.ingest.demo import DATA
    from geo.ingest.import_areas import import_areas
    from geo.ingest.import_sites import import_sites

    eng = engine_from_url(url)
    try:
        upgrade(eng)
        import_areas(eng, DATA / "district.geojson", level="district")
        import_areas(eng, DATA / "streets.geojson", level="street")
        import_sites(eng, DATA / "love_stations.csv", kind="love_station")
        district = shapely.from_geojson((DATA / "district.geojson").read_text(encoding="utf-8"))
        x0, y0, x1, y1 = district.bounds
        rng = np.random.default_rng(seed)
        sqlite = eng.dialect.name == "sqlite"
        geom = "MakePoint(?, ?, 4326)" if sqlite else "ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
        mark = "?" if sqlite else "%s"
        sql = (f"INSERT INTO demand (code, category, weight, lon, lat, geom) "
               f"VALUES ({mark}, 'other', {mark}, {mark}, {mark}, {geom})")
        with eng.begin() as conn:
            cur = conn.connection.cursor()
            for a in range(0, rows, 200_000):
                n = min(200_000, rows - a)
                lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
                w = rng.integers(1, 20, n).astype(float)
                codes = [f"B{a + k}" for k in range(n)]
                cur.executemany(sql, list(zip(codes, w.tolist(), lon.tolist(), lat.tolist(), lon.tolist(),
                                              lat.tolist())))
    finally:
        eng.dispose()


def run_one(url: str, mode: str, chunk_rows: int) -> dict:
    """One summary in this (fresh) process; wall time and peak memory of it and its workers."""
    import resource

    from geo.store.db import engine_from_url
    from geo.services.coverage_planning import coverage_summary

    eng = engine_from_url(url)
    t = time.perf_counter()
    workers = []
    with eng.connect() as conn:
        if mode == "inproc":
            r = coverage_summary(conn, radius_m=1000, dask_threshold=10**12)
        else:
            import distributed

            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                          dashboard_address="127.0.0.1:0") as cluster, \
                    distributed.Client(cluster) as client:
                r = coverage_summary(conn, radius_m=1000, scheduler=client, chunk_rows=chunk_rows)
                peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
                workers = sorted(v / 1024 for v in peaks.values())
    secs = time.perf_counter() - t
    eng.dispose()
    return {"seconds": secs, "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "workers_mb": workers, "summary": r}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="200,000 rows (make bench)")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--chunk-rows", type=int, default=500_000)
    ap.add_argument("--backend", choices=("spatialite", "postgis"), default="spatialite")
    ap.add_argument("--run", choices=("inproc", "outofcore"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:  # a child: one measurement, JSON on stdout
        print(json.dumps(run_one(a.url, a.run, a.chunk_rows)))
        return 0
    _load.exit_on_sigterm()
    rows = a.rows or (200_000 if a.small else 2_000_000)
    with tempfile.TemporaryDirectory(prefix="yizhan_ooc_") as tmp:
        pg = None
        if a.backend == "spatialite":
            url = f"sqlite:///{Path(tmp) / 'ooc.db'}"
        else:
            pg = _load.pg_create("yizhan_bench_ooc")
            url = _load.pg_url(pg)
        try:
            t = time.perf_counter()
            build(url, rows)
            print(f"out-of-core bench: {rows:,} demand rows on {a.backend}, 80 stations, 7 streets "
                  f"(built in {time.perf_counter() - t:.1f} s); {_load.machine_load()}")
            res = {}
            for mode in ("inproc", "outofcore"):
                p = subprocess.run([sys.executable, __file__, "--run", mode, "--url", url,
                                    "--chunk-rows", str(a.chunk_rows)], capture_output=True, text=True, timeout=3600)
                if p.returncode:
                    print(p.stderr[-3000:])
                    return 1
                res[mode] = json.loads(p.stdout.strip().splitlines()[-1])
                r = res[mode]
                extra = (f"; workers peak {', '.join(f'{m:,.0f} MB' for m in r['workers_mb'])}, chunks of "
                         f"{a.chunk_rows:,} rows" if r["workers_mb"] else "")
                print(f"  {'in process' if mode == 'inproc' else 'out of core (Dask, 2 workers)':31s} "
                      f"{r['seconds']:6.1f} s, driver peak {r['driver_mb']:,.0f} MB{extra}")
            same = res["inproc"]["summary"] == res["outofcore"]["summary"]
            print(f"  summaries equal: {same}; totals {res['inproc']['summary']['totals']}")
            print(f"  {_load.machine_load()}")
            return 0 if same else 1
        finally:
            if pg:
                _load.pg_drop(pg)


if __name__ == "__main__":
    sys.exit(main())
