"""CLI commands that read and analyse: nearest, coverage, suggest, report, map, serve, demo."""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from api.cli import app, engine, err, fail, map_app, out, progress_bar, report_app
from geo.errors import YizhanError


def _not_yet(what: str) -> None:
    err.print(f"{what} is not built yet (see the open issues)")
    raise typer.Exit(1)


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
    from geo.finder import SiteSnapshot, navigation_links, parse_when
    from geo.vocab import Vocabulary
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
    for r in rows:
        r["links"] = navigation_links(r["lon"], r["lat"], r["name"])
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
def coverage(radius: Annotated[float, typer.Option()] = 1000.0) -> None:
    """Coverage statistics and gaps."""
    _not_yet("coverage")


@app.command()
def suggest(count: Annotated[int, typer.Option()], radius: Annotated[float, typer.Option()] = 1000.0) -> None:
    """Proposed new sites."""
    _not_yet("suggest")


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
    from geo.report import annual_report
    from geo.report_render import render
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
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(data)
        err.print(r["sentence"], highlight=False)
        err.print(f"wrote {out_path}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.write(b"\n")


@map_app.command("coverage")
def map_coverage(out_path: Annotated[str, typer.Option("--out")]) -> None:
    """Stand-alone coverage map."""
    _not_yet("map coverage")


@app.command()
def serve(host: Annotated[str, typer.Option()] = "127.0.0.1", port: Annotated[int, typer.Option()] = 8000,
          workers: Annotated[int, typer.Option(min=1)] = 1) -> None:
    """Serve the HTTP API and maps with uvicorn."""
    import uvicorn

    engine()  # create/upgrade the schema once, before workers start
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info")


@app.command()
def demo(port: Annotated[int, typer.Option()] = 8000,
         host: Annotated[str, typer.Option()] = "127.0.0.1",
         no_serve: Annotated[bool, typer.Option("--no-serve", help="build only")] = False) -> None:
    """Build the demo database if absent, serve it, print the URLs."""
    from geo.demo import build_demo, is_empty
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
    base = f"http://{host}:{port}"
    out.print(f"coverage map: {base}/maps/coverage\nfinder:       {base}/maps/finder\n"
              f"API docs:     {base}/docs\nnearest:      {base}/api/nearest?lon=112.57&lat=37.86")
    if not no_serve:
        serve(host=host, port=port, workers=1)
