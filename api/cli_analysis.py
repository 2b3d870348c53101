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
            service: Annotated[Optional[list[str]], typer.Option("--service")] = None,
            open_at: Annotated[Optional[str], typer.Option("--open-at", help="ISO time or 'now'")] = None,
            crs: Annotated[Optional[str], typer.Option("--crs")] = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Nearest sites to a point (geodesic distance)."""
    _not_yet("nearest")


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
