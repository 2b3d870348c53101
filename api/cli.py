"""The ``yizhan`` command line (Typer). Exit codes: 0 ok, 1 bad input, 2 usage error."""
from __future__ import annotations

import datetime as dt
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from geo.errors import YizhanError, InputError

app = typer.Typer(help="驿站 yizhan: outdoor-worker rest stations and worker homes — import, "
                       "nearest, coverage, suggestions, reports, maps, HTTP API.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
import_app = typer.Typer(help="Load areas, sites, demand points or candidate places from a file.",
                         no_args_is_help=True)
export_app = typer.Typer(help="Write sites to a file.", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
map_app = typer.Typer(help="Stand-alone HTML maps.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for writes (the secret is shown once).", no_args_is_help=True)
vocab_app = typer.Typer(help="Kinds, levels, statuses, services: data, not code.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(report_app, name="report")
app.add_typer(map_app, name="map")
app.add_typer(token_app, name="token")
app.add_typer(vocab_app, name="vocab")

out = Console()
err = Console(stderr=True)

CrsOpt = Annotated[Optional[str], typer.Option("--crs", help="wgs84 (default), gcj02, bd09 or EPSG:NNNN")]


class Level(str, Enum):
    district = "district"
    street = "street"
    community = "community"


class ExportFormat(str, Enum):
    geojson = "geojson"
    csv = "csv"
    xlsx = "xlsx"
    gpkg = "gpkg"


def engine():
    """Engine for ``YIZHAN_DATABASE_URL`` (default ``sqlite:///yizhan.db``), schema upgraded."""
    from geo.store.db import engine_from_url, ensure_schema
    from geo.settings import get_settings

    eng = engine_from_url(get_settings().database_url)
    ensure_schema(eng)
    return eng


@contextmanager
def progress_bar(label: str):
    """A rich progress bar on stderr; yields a ``(done, total)`` callback."""
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as p:
        task = p.add_task(label, total=None)
        yield lambda done, total: p.update(task, completed=done, total=total)


def fail(e: YizhanError) -> None:
    """Print a domain error and exit 1."""
    problems = getattr(e, "problems", None)
    if problems and len(problems) == 1 and problems[0].source == "request":
        err.print(f"[red]error:[/red] {e.message}", highlight=False)
    elif problems:
        err.print(f"[red]error:[/red] {len(problems)} problem(s); nothing was written", highlight=False)
        for p in problems[:200]:
            err.print(f"  {p}", highlight=False, markup=False)
        if len(problems) > 200:
            err.print(f"  … and {len(problems) - 200} more", highlight=False)
    else:
        err.print(f"[red]error:[/red] {e}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def unique_conflicts(source: str):
    """A unique code lost to a concurrent import: a clear error, not a driver traceback."""
    from geo.store.db import unique_conflicts as conflicts
    with conflicts(source):
        yield


def show_report(report) -> None:
    for w in report.warnings[:200]:
        err.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    if len(report.warnings) > 200:
        err.print(f"[yellow]warning:[/yellow] … and {len(report.warnings) - 200} more", highlight=False)
    out.print(report.summary(), highlight=False)


def parse_day(value: Optional[str], name: str) -> Optional[dt.date]:
    if value is None:
        return None
    from geo.ingest.records import parse_date
    try:
        return parse_date(value)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint=name) from None


@app.command()
def init() -> None:
    """Create or upgrade the database schema (migrations)."""
    from geo.store.db import current_revision
    eng = engine()
    out.print(f"schema at revision {current_revision(eng)} ({eng.url.render_as_string(hide_password=True)})")


@import_app.command("areas")
def import_areas_cmd(file: Path, level: Annotated[Level, typer.Option(help="street or community")],
                     crs: CrsOpt = None,
                     dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Load street or community polygons (code, name, parent)."""
    from geo.ingest.import_areas import import_areas
    try:
        with unique_conflicts(file.name), progress_bar("areas") as cb:
            show_report(import_areas(engine(), file, level=level.value, crs=crs, dry_run=dry_run,
                                     progress=cb))
    except YizhanError as e:
        fail(e)


@import_app.command("sites")
def import_sites_cmd(file: Path, kind: Annotated[Optional[str], typer.Option(help="love_station, worker_home, …")] = None,
                     crs: CrsOpt = None,
                     dry_run: Annotated[bool, typer.Option("--dry-run", help="check and report, write nothing")] = False,
                     upsert: Annotated[bool, typer.Option("--upsert", help="update existing sites by code")] = False,
                     effective_on: Annotated[Optional[str], typer.Option("--effective-on", help="date the changes take effect (default today)")] = None,
                     status: Annotated[Optional[str], typer.Option("--status", help="status of new rows with no status and no opening date (open, planned, …)")] = None,
                     opened_on: Annotated[Optional[str], typer.Option("--opened-on", help="opening date of new rows without one (such rows are open unless their status says otherwise)")] = None) -> None:
    """Load sites; all rows or none. Rows match existing sites by code, else by kind and name."""
    from geo.ingest.import_sites import import_sites
    if effective_on and not upsert:
        raise typer.BadParameter("--effective-on goes with --upsert", param_hint="--effective-on")
    try:
        with unique_conflicts(file.name), progress_bar("sites") as cb:
            show_report(import_sites(engine(), file, kind=kind, crs=crs, dry_run=dry_run, upsert=upsert,
                                     effective_on=parse_day(effective_on, "--effective-on"),
                                     status=status, opened_on=parse_day(opened_on, "--opened-on"),
                                     actor="cli", progress=cb))
    except YizhanError as e:
        fail(e)


UPSERT_HELP = "update the stored {} whose code is in the file, add the others"
REPLACE_HELP = "make the file the whole set: delete every stored {}, then load the file"


@import_app.command("demand")
def import_demand_cmd(file: Path, crs: CrsOpt = None,
                      upsert: Annotated[bool, typer.Option("--upsert", help=UPSERT_HELP.format("demand points"))] = False,
                      replace: Annotated[bool, typer.Option("--replace", help=REPLACE_HELP.format("demand points"))] = False,
                      dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Load outdoor-worker demand points (weight = workers there, default 1), keyed by code/编号."""
    from geo.ingest.import_points import import_demand
    try:
        with unique_conflicts(file.name), progress_bar("demand") as cb:
            show_report(import_demand(engine(), file, crs=crs, upsert=upsert, replace=replace,
                                      dry_run=dry_run, progress=cb))
    except YizhanError as e:
        fail(e)


@import_app.command("candidates")
def import_candidates_cmd(file: Path, crs: CrsOpt = None,
                          upsert: Annotated[bool, typer.Option("--upsert", help=UPSERT_HELP.format("candidates"))] = False,
                          replace: Annotated[bool, typer.Option("--replace", help=REPLACE_HELP.format("candidates"))] = False,
                          dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Load candidate places for new stations, keyed by code/编号."""
    from geo.ingest.import_points import import_candidates
    try:
        with unique_conflicts(file.name), progress_bar("candidates") as cb:
            show_report(import_candidates(engine(), file, crs=crs, upsert=upsert, replace=replace,
                                          dry_run=dry_run, progress=cb))
    except YizhanError as e:
        fail(e)


@export_app.command("sites")
def export_sites_cmd(format: Annotated[ExportFormat, typer.Option("--format")],
                     out_path: Annotated[Path, typer.Option("--out")],
                     kind: Annotated[Optional[str], typer.Option()] = None) -> None:
    """Export sites (re-importing the file gives the same sites)."""
    from geo.ingest.export_sites import export_sites
    try:
        with engine().connect() as conn:
            n = export_sites(conn, out_path, fmt=format.value, kind=kind)
    except YizhanError as e:
        fail(e)
    out.print(f"wrote {n} sites to {out_path}")


@app.command()
def backup(out_path: Annotated[Path, typer.Option("--out", help="FILE.db (SpatiaLite) or FILE.dump (PostGIS)")]) -> None:
    """Back up the whole database, every site with its history (restore: see README)."""
    from geo.store.backup import backup_database
    try:
        path = backup_database(engine(), out_path)
    except YizhanError as e:
        fail(e)
    out.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@token_app.command("create")
def token_create(role: Annotated[str, typer.Option(help="planner or admin (reader: read-only)")],
                 name: Annotated[Optional[str], typer.Option(help="who holds it")] = None) -> None:
    """Create a token; its secret is printed once and stored only as a hash."""
    from geo.store.tokens import create_token
    try:
        with engine().begin() as conn:
            tid, secret = create_token(conn, role=role, name=name)
    except YizhanError as e:
        fail(e)
    out.print(f"token {tid} ({role}, {name or role}) — keep this secret, it is not shown again:")
    print(secret)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token by id."""
    from geo.store.tokens import revoke_token
    try:
        with engine().begin() as conn:
            revoke_token(conn, token_id)
    except YizhanError as e:
        fail(e)
    out.print(f"token {token_id} revoked")


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from geo.engine.clock import stamp
    from geo.store.tokens import list_tokens
    with engine().connect() as conn:
        for t in list_tokens(conn):
            out.print(f"{t.id}\t{t.role}\t{t.name}\t{stamp(t.created_at)}\t"
                      f"{'revoked ' + stamp(t.revoked_at) if t.revoked_at else 'active'}")


@vocab_app.command("list")
def vocab_list(domain: Annotated[Optional[str], typer.Argument()] = None) -> None:
    """Show the vocabulary (kind, level, status, service, demand_category)."""
    from geo.store.vocab import Vocabulary
    with engine().connect() as conn:
        v = Vocabulary.load(conn)
    for d, terms in v.terms.items():
        if domain and d != domain:
            continue
        for code in v.codes(d):
            out.print(f"{d}\t{code}\t{terms[code]['zh']}\t{terms[code]['en']}", highlight=False)


@vocab_app.command("add")
def vocab_add(domain: str, code: str, label_zh: str, label_en: Annotated[Optional[str], typer.Argument()] = None,
              rank: Annotated[int, typer.Option()] = 100) -> None:
    """Add a term, e.g. ``yizhan vocab add kind childcare 爱心托管班 "childcare class"``."""
    import sqlalchemy as sa
    from geo.store.tables import vocab
    from geo.store.vocab import DOMAINS
    from geo.engine.text_rules import check_code, control_character
    if domain not in DOMAINS:
        raise typer.BadParameter(f"domain must be one of {', '.join(DOMAINS)}", param_hint="DOMAIN")
    if why := check_code(code):
        fail(InputError(why, field="code"))
    for field, text in (("label_zh", label_zh), ("label_en", label_en or "")):
        if why := (control_character(text) or ("is empty" if field == "label_zh" and not text.strip() else None)):
            fail(InputError(why, field=field))
    with engine().begin() as conn:
        if conn.execute(sa.select(vocab.c.code).where(vocab.c.domain == domain, vocab.c.code == code)).first():
            fail(InputError(f"{domain} {code!r} exists already", field="code"))
        conn.execute(vocab.insert().values(domain=domain, code=code, label_zh=label_zh,
                                           label_en=label_en or code, rank=rank))
    out.print(f"added {domain} {code} ({label_zh})")


from api import cli_analysis  # noqa: E402,F401  (registers nearest, coverage, suggest, report, map, serve, demo)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
