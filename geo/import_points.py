"""``yizhan import demand|candidates FILE``: weighted demand points and candidate places."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from geo._io import read_table
from geo.errors import InputError
from geo.imports import ImportReport, Progress, _raise_if_errors
from geo.models import candidates, demand
from geo.records import convert_points, parse_float
from geo.vocab import Vocabulary


def _import_points(engine, path, *, what: str, crs, replace: bool, dry_run: bool,
                   progress: Progress | None) -> ImportReport:
    table = read_table(path)
    n = len(table.frame)
    if n == 0:
        raise InputError([table.problem(None, None, "the file has a header but no data rows")])
    problems = []
    lon, lat, _ = convert_points(table, crs, problems)
    col = (lambda c, i: table.cell(i, c))
    with engine.connect() as conn:
        vocab = Vocabulary.load(conn)
    rows = []
    num_field = "weight" if what == "demand" else "capacity"
    for i in range(n):
        try:
            x = parse_float(col(num_field, i), name=num_field)
            if x is not None and x < 0:
                raise ValueError(f"{num_field} {x:g} is negative")
        except ValueError as e:
            problems.append(table.problem(i, num_field, str(e)))
            x = None
        cat = col("category", i)
        if what == "demand":
            try:
                cat = vocab.resolve("demand_category", cat) if cat else "other"
            except ValueError as e:
                problems.append(table.problem(i, "category", str(e)))
        rec = dict(code=col("code", i) or None, name=col("name", i) or None, category=cat or None,
                   lon=float(lon[i]), lat=float(lat[i]), geom=f"SRID=4326;POINT({float(lon[i])!r} {float(lat[i])!r})")
        if what == "demand":
            rec["weight"] = 1.0 if x is None else x
        else:
            rec["capacity"] = x
        rows.append(rec)
    _raise_if_errors(problems)
    tbl = demand if what == "demand" else candidates
    report = ImportReport(str(path), what, rows=n, created=n, dry_run=dry_run)
    with engine.connect() as conn, conn.begin() as trans:
        if replace:
            conn.execute(tbl.delete())
        for a in range(0, n, 5000):
            conn.execute(tbl.insert(), rows[a:a + 5000])
            if progress:
                progress(min(a + 5000, n), n)
        if dry_run:
            trans.rollback()
    report.warnings = problems
    return report


def import_demand(engine: sa.Engine, path: str | Path, *, crs: str | None = None,
                  replace: bool = False, dry_run: bool = False,
                  progress: Progress | None = None) -> ImportReport:
    """Load outdoor-worker demand points (``weight`` = workers there, default 1)."""
    return _import_points(engine, path, what="demand", crs=crs, replace=replace,
                          dry_run=dry_run, progress=progress)


def import_candidates(engine: sa.Engine, path: str | Path, *, crs: str | None = None,
                      replace: bool = False, dry_run: bool = False,
                      progress: Progress | None = None) -> ImportReport:
    """Load candidate places for new stations (optional ``capacity``)."""
    return _import_points(engine, path, what="candidates", crs=crs, replace=replace,
                          dry_run=dry_run, progress=progress)
