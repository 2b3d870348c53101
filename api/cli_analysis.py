"""CLI commands that read and analyse: nearest, coverage, suggest, report, map, serve, demo."""
from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from api.cli import app, engine, err, fail, map_app, out, progress_bar, report_app
from geo.errors import YizhanError


@app.command()
def nearest(lon: Annotated[float, typer.Option()], lat: Annotated[float, typer.Option()],
            k: Annotated[int, typer.Option(min=1, max=50)] = 3,
            kind: Annotated[Optional[str], typer.Option()] = None,
            service: Annotated[Optional[list[str]], typer.Option("--service", help="repeat or a,b")] = None,
            open_at: Annotated[Optional[str], typer.Option("--open-at", help="ISO time or 'now'")] = None,
            max_distance: Annotated[Optional[float], typer.Option("--max-distance", help="metres")] = None,
            crs: Annotated[Optional[str], typer.Option("--crs")] = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Nearest open sites to a point (geodesic distance), as a table or --json."""
    import orjson

    from api import params
    from geo.services.nearest_snapshot import SiteSnapshot, parse_when
    from geo.store.vocab import Vocabulary
    try:
        with engine().connect() as conn:
            vocab, snap = Vocabulary.load(conn), SiteSnapshot.load(conn)
        wlon, wlat = params.lonlat_param(lon, lat, params.crs_param(crs))
        kind_code = params.vocab_param(vocab, "kind", kind, "kind")
        svc = params.services_param(vocab, ",".join(service or []), "service")
        try:
            when = parse_when(open_at)
        except ValueError as e:
            raise YizhanError(f"--open-at: {e}") from None
        rows = snap.nearest(wlon, wlat, k=k, kind=kind_code, services=svc, open_at=when,
                            max_distance=params.positive_param(max_distance, "max_distance"))
    except YizhanError as e:
        fail(e)
    if as_json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.table import Table
    t = Table("#", "name", "kind", "level", "distance m", "bearing°", "open now", "services", "street")
    for i, r in enumerate(rows, 1):
        t.add_row(str(i), r["name"], vocab.label("kind", r["kind"]), vocab.label("level", r["level"]),
                  f"{r['distance_m']:.0f}", f"{r['bearing_deg']:.0f}",
                  {True: "是", False: "否", None: "?"}[r["open_now"]],
                  "、".join(vocab.label("service", s) for s in r["services"]), r["street"] or "")
    out.print(t)


@app.command()
def coverage(radius: Annotated[float, typer.Option(help="service radius in metres (双15: 1000)")] = 1000.0,
             kind: Annotated[Optional[str], typer.Option()] = None,
             service: Annotated[Optional[str], typer.Option(help="only sites offering it, e.g. charging")] = None,
             at: Annotated[Optional[str], typer.Option(help="only sites open at this ISO time")] = None,
             mode: Annotated[str, typer.Option(help="straight or walk")] = "straight",
             network: Annotated[Optional[Path], typer.Option(help="FILE.osm.pbf for --mode walk")] = None,
             max_snap: Annotated[float, typer.Option(
                 help="--mode walk: metres from the nearest street node beyond which a point is not routable")] = 100.0,
             by: Annotated[str, typer.Option(help="street or community")] = "street",
             scheduler: Annotated[Optional[str], typer.Option(
                 help="Dask scheduler address: the workers read the demand from the database in chunks "
                      "(a SpatiaLite file must be on a disk they share)")] = None,
             out_path: Annotated[Optional[Path], typer.Option(
                 "--out", help=".csv, .xlsx, or .geojson (the areas' polygons with their figures)")] = None,
             gaps_out: Annotated[Optional[Path], typer.Option(
                 "--gaps-out", help=".geojson of every uncovered polygon and hotspot, ranked")] = None,
             top: Annotated[int, typer.Option(min=0, max=100, help="gaps and hotspots listed on screen")] = 5,
             as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Coverage of outdoor-worker demand: totals and per street/community, and gaps."""
    from geo.services.coverage_planning import coverage_gaps, coverage_summary
    from geo.store.analysis_inputs import demand_count, load_areas
    from geo.settings import get_settings
    threshold = get_settings().dask_threshold
    gaps = None
    try:
        with engine().connect() as conn, progress_bar("coverage") as cb:
            f = _site_filters(conn, kind, service, at)
            cb(0, 1)
            r = coverage_summary(conn, radius_m=_radius(radius), by=by, mode=mode,
                                 network=str(network) if network else None, max_snap_m=max_snap, scheduler=scheduler,
                                 dask_threshold=threshold, progress=cb, **f)
            cb(1, 1)
            # gaps need the demand in this process: on screen only for runs that hold it anyway;
            # --gaps-out asks for them explicitly (walking: hotspots only, no polygons)
            if gaps_out or (top and not as_json and not scheduler and demand_count(conn) <= threshold):
                gaps = coverage_gaps(conn, radius_m=r["radius_m"], mode=mode,
                                     network=str(network) if network else None, max_snap_m=max_snap, **f)
            areas = load_areas(conn, by=by)[0] if out_path and out_path.suffix.lower() == ".geojson" else None
    except YizhanError as e:
        fail(e)
    if out_path:
        if areas is not None:
            _write_geojson(_coverage_collection(r, areas), out_path)
        else:
            _write_table(r["areas"] + [dict(r["totals"], name="合计 total", level="district")], out_path)
        err.print(f"wrote {out_path}")
    if gaps_out:
        from api.geojson import gaps_collection
        _write_geojson(gaps_collection(*gaps, radius_m=r["radius_m"], mode=mode), gaps_out)
        err.print(f"wrote {gaps_out}" + (" (walking: hotspots only)" if mode == "walk" else ""))
    if as_json:
        import orjson
        print(orjson.dumps(r, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.table import Table
    t = Table("area", "sites", "demand", "covered", "rate", "km²", "covered km²",
              title=f"coverage within {r['radius_m']:g} m ({r['mode']})")
    for a in r["areas"] + [dict(r["totals"], name="合计")]:
        rate = "—" if a["coverage_rate"] is None else f"{a['coverage_rate']:.1%}"
        t.add_row(a["name"], str(a["sites"]), f"{a['demand']:.0f}", f"{a['demand_covered']:.0f}", rate,
                  f"{a['area_km2']:.2f}" if a["area_km2"] is not None else "—",
                  f"{a['area_covered_km2']:.2f}" if a["area_covered_km2"] is not None else "—")
    out.print(t)
    if r["totals"].get("points_non_routable"):
        err.print(f"{r['totals']['points_non_routable']} demand points are farther than {max_snap:g} m "
                  "from any street node: reported as not routable, not covered (--max-snap)")
    if gaps is not None and top:
        _print_gaps(*gaps, radius_m=r["radius_m"], top=top, walk=mode == "walk")


def _coverage_collection(r: dict, areas: list) -> dict:
    """The coverage summary as GeoJSON: one polygon feature per area, the totals as a member."""
    import shapely

    from api.geojson import collection, feature
    geom = {a.id: shapely.geometry.mapping(a.geom) for a in areas}
    return collection([feature(geom.get(a["area_id"]), a) for a in r["areas"]],
                      **{k: v for k, v in r.items() if k != "areas"})


def _write_geojson(fc: dict, path: Path) -> None:
    import orjson

    from geo.ingest.spreadsheet import write_bytes_atomic
    try:
        write_bytes_atomic(path, orjson.dumps(fc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    except YizhanError as e:
        fail(e)


def _print_gaps(gaps, hotspots, *, radius_m: float, top: int, walk: bool = False) -> None:
    """The largest uncovered polygons and the densest uncovered hotspots, a few lines each."""
    from rich.table import Table
    if gaps is not None and len(gaps):
        t = Table("rank", "km²", "uncovered workers", "inside at (lon, lat)",
                  title=f"{len(gaps)} uncovered areas beyond {radius_m:g} m, {gaps['area_km2'].sum():.2f} km²",
                  caption="all gaps and hotspots: --gaps-out FILE.geojson")
        for rec in gaps.head(top).itertuples():
            p = rec.geometry.representative_point()
            t.add_row(str(rec.rank), f"{rec.area_km2:.2f}", f"{rec.demand_uncovered:.0f}", f"{p.x:.5f}, {p.y:.5f}")
        out.print(t)
    if hotspots is not None and len(hotspots):
        t = Table("rank", "H3 cell", "uncovered workers", "points", "centre (lon, lat)",
                  title=f"{len(hotspots)} hotspots of workers beyond {radius_m:g} m{' on foot' if walk else ''} "
                        "(H3 cells)")
        for rec in hotspots.head(top).itertuples():
            c = rec.geometry.centroid
            t.add_row(str(rec.rank), rec.h3, f"{rec.demand_uncovered:.0f}", str(rec.points), f"{c.x:.5f}, {c.y:.5f}")
        out.print(t)
    elif hotspots is not None:
        out.print("every demand point is covered: no hotspots")


def _radius(radius: float) -> float:
    from api import params
    return params.positive_param(radius, "radius", maximum=50_000)


def _site_filters(conn, kind, service, at) -> dict:
    from api import params
    from geo.services.nearest_snapshot import parse_when
    from geo.store.vocab import Vocabulary
    vocab = Vocabulary.load(conn)
    try:
        when = parse_when(at)
    except ValueError as e:
        raise YizhanError(f"--at: {e}") from None
    svc = params.services_param(vocab, service, "service")
    return {"kind": params.vocab_param(vocab, "kind", kind, "kind"), "service": svc[0] if svc else None, "at": when}


def _write_table(rows: list[dict], path: Path) -> None:
    import pandas as pd

    from geo.ingest.spreadsheet import frame_rows, write_bytes_atomic, write_table
    try:
        if path.suffix.lower() == ".json":
            import orjson
            write_bytes_atomic(path, orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        else:
            write_table(path, *frame_rows(pd.DataFrame(rows)))
    except YizhanError as e:
        fail(e)


@app.command()
def suggest(count: Annotated[int, typer.Option(min=1, max=1000)],
            radius: Annotated[float, typer.Option()] = 1000.0,
            kind: Annotated[Optional[str], typer.Option()] = None,
            candidates: Annotated[Optional[Path], typer.Option(help="candidate places file (default: loaded ones)")] = None,
            method: Annotated[str, typer.Option(help="auto, greedy or exact")] = "auto",
            mode: Annotated[str, typer.Option(help="straight or walk (gains by walking distance)")] = "straight",
            network: Annotated[Optional[Path], typer.Option(help="FILE.osm.pbf for --mode walk")] = None,
            max_snap: Annotated[float, typer.Option(
                help="--mode walk: metres from the nearest street node beyond which a point is not routable")] = 100.0,
            out_path: Annotated[Optional[Path], typer.Option("--out", help=".csv, .xlsx or .geojson")] = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Where should the next N stations go? (maximal covering, existing sites kept)."""
    from geo.services.coverage_planning import suggestions
    try:
        with engine().connect() as conn, progress_bar("suggest") as cb:
            f = _site_filters(conn, kind, None, None)
            cb(0, 1)
            r = suggestions(conn, count=count, radius_m=_radius(radius),
                            candidates_path=str(candidates) if candidates else None, method=method,
                            mode=mode, network=str(network) if network else None, max_snap_m=max_snap,
                            kind=f["kind"])
            cb(1, 1)
    except YizhanError as e:
        fail(e)
    if out_path:
        if out_path.suffix.lower() in (".geojson", ".json"):
            fc = {"type": "FeatureCollection", "method": r["method"], "bound": r["bound"], "features": [
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                 "properties": p} for p in r["suggestions"]]}
            _write_geojson(fc, out_path)
        else:
            _write_table(r["suggestions"], out_path)
        err.print(f"wrote {out_path}")
    if as_json:
        import orjson
        print(orjson.dumps(r, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.table import Table
    t = Table("rank", "name", "lon", "lat", "gain", "cumulative rate",
              title=f"{len(r['suggestions'])} new sites within {r['radius_m']:g} m — {r['bound']}")
    for p in r["suggestions"]:
        t.add_row(str(p["rank"]), p["name"] or "", f"{p['lon']:.6f}", f"{p['lat']:.6f}", f"{p['gain']:.0f}",
                  f"{p['cumulative_coverage_rate']:.1%}")
    out.print(t)
    out.print(f"existing sites cover {r['base_coverage_rate']:.1%} of {r['total_demand']:.0f} workers", highlight=False)


class ReportFormat(str, Enum):
    md = "md"
    html = "html"
    xlsx = "xlsx"
    csv = "csv"
    json = "json"


@report_app.command("annual")
def report_annual(year: Annotated[int, typer.Option(min=1990, max=2100)],
                  as_of: Annotated[Optional[str], typer.Option("--as-of", help="count date (default 31 Dec)")] = None,
                  format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.md,
                  out_path: Annotated[Optional[Path], typer.Option("--out")] = None,
                  by_community: Annotated[bool, typer.Option("--by-community")] = False,
                  radius: Annotated[Optional[float], typer.Option(help="demand coverage radius, metres")] = None) -> None:
    """Annual site-count report: counts as of a date, the work-summary sentence, charts."""
    from api.cli import parse_day
    from geo.services.annual_report import annual_report
    from geo.services.report_render import render
    day = parse_day(as_of, "--as-of")
    if format == ReportFormat.xlsx and out_path is None:
        raise typer.BadParameter("xlsx needs --out FILE.xlsx", param_hint="--out")
    try:
        with engine().connect() as conn:
            r = annual_report(conn, year=year, as_of=day, by_community=by_community, radius_m=radius)
    except (YizhanError, ValueError) as e:
        fail(e if isinstance(e, YizhanError) else YizhanError(str(e)))
    data = render(r, format.value)
    if out_path:
        from geo.ingest.spreadsheet import write_bytes_atomic
        try:
            write_bytes_atomic(out_path, data)
        except YizhanError as e:
            fail(e)
        err.print(r["sentence"], highlight=False)
        err.print(f"wrote {out_path}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.write(b"\n")


@map_app.command("coverage")
def map_coverage(out_path: Annotated[Path, typer.Option("--out", help="FILE.html (stand-alone, offline)")],
                 radius: Annotated[float, typer.Option()] = 1000.0,
                 kind: Annotated[Optional[str], typer.Option()] = None,
                 tiles: Annotated[str, typer.Option(help="none (offline), osm, amap (GCJ-02), tianditu")] = "none",
                 suggest_count: Annotated[int, typer.Option("--suggest", help="suggested sites to show")] = 5) -> None:
    """Stand-alone coverage map (one HTML file, Leaflet embedded: opens with no network)."""
    from maps.from_db import coverage_map_from_db
    from maps.offline import save_html
    if tiles not in ("none", "osm", "amap", "tianditu"):
        raise typer.BadParameter("tiles must be none, osm, amap or tianditu", param_hint="--tiles")
    key = os.environ.get("YIZHAN_TIANDITU_KEY") or None
    if tiles == "tianditu" and not key:
        raise typer.BadParameter("天地图 tiles need a key: set YIZHAN_TIANDITU_KEY", param_hint="--tiles")
    try:
        with engine().connect() as conn, progress_bar("map") as cb:
            cb(0, 1)
            kind_code = _site_filters(conn, kind, None, None)["kind"]
            m = coverage_map_from_db(conn, radius_m=_radius(radius), kind=kind_code, tiles=tiles,
                                     mode="inline", suggest=suggest_count,
                                     tianditu_key=key)
            cb(1, 1)
    except YizhanError as e:
        fail(e)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_html(m, out_path, mode="inline")
    out.print(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB)")


class LogLevel(str, Enum):
    critical, error, warning, info, debug = "critical", "error", "warning", "info", "debug"


@app.command()
def serve(host: Annotated[str, typer.Option()] = "127.0.0.1", port: Annotated[int, typer.Option()] = 8000,
          workers: Annotated[int, typer.Option(min=1)] = 1,
          access_log: Annotated[bool, typer.Option(
              "--access-log/--no-access-log",
              help="log one line per request (off by default: it costs every request CPU time)")] = False,
          log_level: Annotated[LogLevel, typer.Option(help="uvicorn's log level (startup, errors)")] = LogLevel.info,
          ) -> None:
    """Serve the HTTP API and maps with uvicorn (uvloop and httptools when installed)."""
    import uvicorn

    engine()  # create/upgrade the schema once, before workers start
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=LogLevel(log_level).value, access_log=access_log)


@app.command()
def demo(port: Annotated[int, typer.Option()] = 8000,
         host: Annotated[str, typer.Option()] = "127.0.0.1",
         no_serve: Annotated[bool, typer.Option("--no-serve", help="build only")] = False) -> None:
    """Build the demo database if absent, serve it, print the URLs."""
    from geo.ingest.demo import build_demo, is_empty
    eng = engine()
    try:
        if is_empty(eng):
            with progress_bar("demo") as cb:
                for line in build_demo(eng, progress=cb):
                    out.print(line, highlight=False)
        else:
            out.print("demo database present; not rebuilt")
    except YizhanError as e:
        fail(e)
    from geo.ingest.demo import DATA
    os.environ.setdefault("YIZHAN_NETWORK_DIR", str(DATA))  # the demo's street network for mode=walk
    base = f"http://{host}:{port}"
    out.print(f"coverage map: {base}/maps/coverage\nfinder:       {base}/maps/finder\n"
              f"API docs:     {base}/docs\nnearest:      {base}/api/nearest?lon=112.57&lat=37.86\n"
              f"on foot:      {base}/api/coverage?mode=walk&radius=1200&network=streets.osm.pbf")
    if not no_serve:
        serve(host=host, port=port, workers=1, access_log=False, log_level="info")
