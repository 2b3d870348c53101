"""CLI commands that read and analyse: nearest, coverage, suggest, report, map, serve, demo."""
from __future__ import annotations

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


@report_app.command("annual")
def report_annual(year: Annotated[int, typer.Option()]) -> None:
    """Annual site-count report."""
    _not_yet("report annual")


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
