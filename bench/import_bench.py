"""Import benchmark (issue 3, "Done when"): 200,000 sites from CSV into each backend.

Generates a CSV of 200,000 love stations over China (``--small``: 20,000) with the columns
``code,name,lon,lat,level,status,services,opening_hours,opened_on`` (levels and services
given partly as codes and partly as Chinese labels, three forms of opening hours), then:

* ``geo.ingest.import_sites.import_sites`` into a fresh SpatiaLite file and a fresh PostGIS database;
* the same file read by pandas → ``GeoDataFrame(points_from_xy)`` → ``to_postgis`` (PostGIS,
  through a SQLAlchemy engine) and ``to_file(driver="GPKG")`` (GeoPackage);

and prints rows/s and the ratios ours / theirs. Ours checks every row (codes, vocabulary,
dates, hours, China extent, duplicate codes), writes the ``sites`` row *and* its history
and maintains the database's spatial index, all in one transaction; geopandas writes the
frame as it is. ``--profile`` adds a cProfile top-15 of our import on each backend.
No timed asserts: the machine is shared; its load average is printed.

Usage: python bench/import_bench.py [--small] [--rows N] [--profile] [--backends spatialite,postgis]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _load  # noqa: E402

LEVELS = ["provincial_gov", "provincial_union", "city_union", "district_union", "other",
          "市总工会级", "区总工会级"]
SERVICES = ["water,toilet", "饮水、热饭、充电", "rest", "water,charging,wifi", "", "如厕;休息"]
HOURS = ["24小时", "08:00-20:00", "周一至周五 9:00-17:00", "Mo-Fr 08:00-18:00; Sa 09:00-12:00",
         "20:00-02:00"]


def make_csv(path: Path, n: int, seed: int = 3) -> None:
    """A CSV of ``n`` valid sites over China (UTF-8)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    lon, lat = _load.national(rng, n)
    days = rng.integers(0, 6 * 365, n)
    opened = (np.datetime64("2018-01-01") + days.astype("timedelta64[D]")).astype(str)
    frame = pd.DataFrame({
        "code": [f"B{i:07d}" for i in range(n)],
        "name": [f"爱心驿站{i}号" for i in range(n)],
        "lon": np.round(lon, 7), "lat": np.round(lat, 7),
        "level": np.array(LEVELS)[rng.integers(0, len(LEVELS), n)],
        "status": "open",
        "services": np.array(SERVICES)[rng.integers(0, len(SERVICES), n)],
        "opening_hours": np.array(HOURS)[rng.integers(0, len(HOURS), n)],
        "opened_on": opened,
    })
    frame.to_csv(path, index=False, encoding="utf-8")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def ours(backend: str, csv: Path, tmp: Path, made_dbs: list, *, near_dup: float,
         profile: bool = False) -> tuple[float, str | None]:
    """Seconds of ``import_sites`` into a fresh, migrated database (migration not timed)."""
    from geo.store.db import engine_from_url, upgrade
    from geo.ingest.import_sites import import_sites

    if backend == "spatialite":
        url = f"sqlite:///{tmp / f'ours_{len(made_dbs)}_{int(profile)}.db'}"
        made_dbs.append(None)
    else:
        name = _load.pg_create("yizhan_bench_import")
        made_dbs.append(name)
        url = _load.pg_url(name)
    eng = engine_from_url(url)
    try:
        upgrade(eng)
        prof = cProfile.Profile() if profile else None
        t = time.perf_counter()
        if prof:
            prof.enable()
        rep = import_sites(eng, csv, kind="love_station", near_duplicate_m=near_dup, actor="bench")
        if prof:
            prof.disable()
        secs = time.perf_counter() - t
        assert rep.created == rep.rows, rep.summary()
        import sqlalchemy as sa
        with eng.connect() as conn:
            nsites = conn.execute(sa.text("SELECT count(*) FROM sites")).scalar_one()
            nhist = conn.execute(sa.text("SELECT count(*) FROM site_history")).scalar_one()
        assert nsites == rep.rows, (nsites, rep.rows)
        text = None
        if prof:
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(15)
            s.write("\n")
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
            text = s.getvalue()
        else:
            print(f"    ({nsites:,} sites, {nhist:,} history rows written)")
        return secs, text
    finally:
        eng.dispose()


def frame_from_csv(csv: Path):
    import geopandas as gpd
    import pandas as pd

    df = pd.read_csv(csv, dtype={"code": str, "services": str, "opening_hours": str})
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="20,000 rows (make bench)")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--backends", default="spatialite,postgis")
    ap.add_argument("--near-duplicate-m", type=float, default=0.0,
                    help="near-duplicate warning radius for our import (default 0: off; the CLI uses 20)")
    ap.add_argument("--profile", action="store_true", help="cProfile top-15 of our import, per backend")
    args = ap.parse_args()
    n = args.rows or (20_000 if args.small else 200_000)
    backends = [b for b in args.backends.split(",") if b]
    import geopandas as gpd
    import sqlalchemy as sa

    print(f"import_bench: {n:,} sites from CSV; backends {', '.join(backends)}")
    print(f"machine: {_load.machine_load()}")
    tmp = Path(tempfile.mkdtemp(prefix="yizhan_import_bench_"))
    made: list = []
    _load.exit_on_sigterm()
    try:
        csv = tmp / "sites.csv"
        t_gen, _ = timed(lambda: make_csv(csv, n))
        print(f"CSV: {csv.stat().st_size / 1e6:.1f} MB written in {t_gen:.1f} s\n")
        res: dict[str, float] = {}

        # ours
        for b in backends:
            print(f"  yizhan import_sites → {b} …")
            res[f"ours_{b}"], _ = ours(b, csv, tmp, made, near_dup=args.near_duplicate_m)

        # geopandas, same file, same frame
        t_read, gdf = timed(lambda: frame_from_csv(csv))
        res["gpd_read"] = t_read
        if "postgis" in backends:
            name = _load.pg_create("yizhan_bench_import_gpd")
            made.append(name)
            eng = sa.create_engine(_load.pg_url(name))
            try:
                res["gpd_postgis_write"], _ = timed(
                    lambda: gdf.to_postgis("sites_gpd", eng, if_exists="replace", index=False,
                                           chunksize=10_000))
                with eng.connect() as conn:
                    assert conn.execute(sa.text("SELECT count(*) FROM sites_gpd")).scalar_one() == n
                    idx = conn.execute(sa.text("SELECT count(*) FROM pg_indexes WHERE tablename='sites_gpd'")).scalar_one()
                res["gpd_postgis_indexes"] = idx
            finally:
                eng.dispose()
        gpkg = tmp / "sites.gpkg"
        res["gpd_gpkg_write"], _ = timed(lambda: gdf.to_file(gpkg, driver="GPKG", layer="sites"))
        assert len(gpd.read_file(gpkg, columns=["code"], ignore_geometry=True)) == n

        def rps(secs):
            return n / secs

        print(f"\n{'what':<52} {'seconds':>8} {'rows/s':>10}")
        lines = []
        for b in backends:
            lines.append((f"yizhan import_sites → {b}", res[f"ours_{b}"]))
        lines.append(("geopandas read_csv + points_from_xy", res["gpd_read"]))
        if "postgis" in backends:
            lines.append(("geopandas to_postgis (write only)", res["gpd_postgis_write"]))
            lines.append(("geopandas read + to_postgis", res["gpd_read"] + res["gpd_postgis_write"]))
        lines.append(("geopandas to_file GPKG (write only)", res["gpd_gpkg_write"]))
        lines.append(("geopandas read + to_file GPKG", res["gpd_read"] + res["gpd_gpkg_write"]))
        for label, secs in lines:
            print(f"{label:<52} {secs:8.2f} {rps(secs):10,.0f}")

        print("\nratios, ours / theirs (rows/s; > 1 means ours is faster). Ours validates every row,")
        print("writes each site's history and keeps the spatial index, in one transaction:")
        if "postgis" in backends:
            o = res["ours_postgis"]
            print(f"  PostGIS:    ours / to_postgis          {res['gpd_postgis_write'] / o:6.3f}   "
                  f"(ours / read+to_postgis {(res['gpd_read'] + res['gpd_postgis_write']) / o:.3f}; "
                  f"to_postgis made {res['gpd_postgis_indexes']} index(es))")
        if "spatialite" in backends:
            o = res["ours_spatialite"]
            print(f"  SpatiaLite: ours / to_file GPKG        {res['gpd_gpkg_write'] / o:6.3f}   "
                  f"(ours / read+to_file {(res['gpd_read'] + res['gpd_gpkg_write']) / o:.3f})")
        if "postgis" in backends and "spatialite" not in backends:
            o = res["ours_postgis"]
            print(f"  PostGIS:    ours / to_file GPKG        {res['gpd_gpkg_write'] / o:6.3f}")
        print(f"\nmachine after: {_load.machine_load()}")

        if args.profile:
            for b in backends:
                _, text = ours(b, csv, tmp, made, near_dup=args.near_duplicate_m, profile=True)
                print(f"\ncProfile of import_sites → {b} ({n:,} rows; top 15 by cumulative, then by own time):")
                keep = [ln for ln in text.splitlines() if ln.strip()]
                print("\n".join(keep))
    finally:
        for name in made:
            if name:
                _load.pg_drop(name)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
