"""``yizhan import demand|candidates FILE``: weighted demand points and candidate places.

Rows are keyed by ``code`` (编号), as sites are: from the file's code column, else generated
from the row's name and point (:func:`point_code`; the import says so). A file whose codes
already exist is refused unless ``upsert`` (update those, add the rest) or ``replace``
(the file becomes the whole set) is given, so importing the same file twice never counts
a worker twice. All or nothing, like every import.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa

from geo.ingest.read_files import read_table
from geo.errors import InputError, Problem
from geo.ingest.import_sites import ImportReport, Progress, raise_if_errors
from geo.store.tables import candidates, demand
from geo.ingest.records import convert_points, parse_float
from geo.store.vocab import Vocabulary

#: Per kind of point: table, number column, plural noun for messages.
_KINDS = {"demand": (demand, "weight", "demand points"), "candidates": (candidates, "capacity", "candidates")}


def point_code(name: str | None, lon: float, lat: float) -> str:
    """Code of a row given without one: a hash of its name and its WGS-84 point rounded to
    1e-6 degrees (~0.1 m), so the same file, or the same rows re-typed with other decimals
    or in another CRS, gets the same codes. Not its weight or capacity: a row whose weight
    changed updates its point with ``upsert``. 16 hex digits: no collision among millions
    of rows. (Migration 0002 has a frozen copy for rows stored before codes.)"""
    key = f"{name or ''}|{lon:.6f}|{lat:.6f}"
    return "AUTO-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16].upper()


def _read_rows(table, what: str, crs, vocab: Vocabulary, problems: list[Problem]) -> list[dict]:
    """One record per row (code, name, category, number, lon, lat), problems per bad value."""
    n = len(table.frame)
    lon, lat, _ = convert_points(table, crs, problems)
    num_field = _KINDS[what][1]
    rows = []
    for i in range(n):
        try:
            x = parse_float(table.cell(i, num_field), name=num_field)
            if x is not None and x < 0:
                raise ValueError(f"{num_field} {x:g} is negative")
        except ValueError as e:
            problems.append(table.problem(i, num_field, str(e)))
            x = None
        cat = table.cell(i, "category")
        if what == "demand":
            try:
                cat = vocab.resolve("demand_category", cat) if cat else "other"
            except ValueError as e:
                problems.append(table.problem(i, "category", str(e)))
            x = 1.0 if x is None else x
        rows.append(dict(code=table.cell(i, "code") or None, name=table.cell(i, "name") or None,
                         category=cat or None, lon=float(lon[i]), lat=float(lat[i]), **{num_field: x}))
    return rows


def _set_codes(table, rows: list[dict], problems: list[Problem]) -> None:
    """Codes from the code column (every cell needed) or generated; duplicates are errors
    naming the other rows."""
    generated = "code" not in table.frame.columns
    if generated:
        for r in rows:
            r["code"] = point_code(r["name"], r["lon"], r["lat"])
        problems.append(table.problem(None, "code", "no code/编号 column: codes were generated from "
                                      "name and point", "warning"))
    seen: dict[str, list[int]] = {}
    found = []  # (row, message), reported row by row
    for i, r in enumerate(rows):
        if r["code"] is None:
            found.append((i, "the code/编号 is empty"))
        elif r["lon"] == r["lon"]:  # a row without a point has no generated code to compare
            seen.setdefault(r["code"], []).append(i)
    for code, where in seen.items():
        for i in where if len(where) > 1 else ():
            others = ", ".join(str(table.row_number(j)) for j in where if j != i)
            found.append((i, f"same name and point as row {others} and no code/编号: merge the rows or "
                             "give each a code" if generated else f"duplicate code {code!r} (also row {others})"))
    problems += [table.problem(i, "code", m) for i, m in sorted(found, key=lambda f: f[0])]


def _existing(conn, tbl: sa.Table, num_field: str) -> dict[str, tuple]:
    """``code -> (id, name, category, number, lon, lat)`` of every stored row."""
    cols = [tbl.c.code, tbl.c.id, tbl.c.name, tbl.c.category, tbl.c[num_field], tbl.c.lon, tbl.c.lat]
    return {r[0]: tuple(r[1:]) for r in conn.execute(sa.select(*cols))}


def _content(r: dict, num_field: str) -> tuple:
    """What an update compares (as :func:`_existing` gives it, without the id): exact values."""
    return (r["name"], r["category"], r[num_field], r["lon"], r["lat"])


def _classify(rows: list[dict], existing: dict, num_field: str) -> tuple[list[dict], list[dict], int]:
    """New rows, changed rows (with the stored ``_id``) and how many are unchanged."""
    new, changed, unchanged = [], [], 0
    for r in rows:
        old = existing.get(r["code"])
        if old is None:
            new.append(r)
        elif old[1:] != _content(r, num_field):
            changed.append(dict(r, _id=old[0]))
        else:
            unchanged += 1
    return new, changed, unchanged


def _check_flags(path, upsert: bool, replace: bool) -> None:
    if upsert and replace:
        raise InputError([Problem(Path(path).name, None, "--replace", "--upsert updates matching codes and "
                                  "adds the rest; --replace makes the file the whole set: give one of them")])


def _import_points(engine, path, *, what: str, crs, upsert: bool, replace: bool, dry_run: bool,
                   progress: Progress | None) -> ImportReport:
    _check_flags(path, upsert, replace)
    tbl, num_field, noun = _KINDS[what]
    table = read_table(path)
    n = len(table.frame)
    if n == 0:
        raise InputError([table.problem(None, None, "the file has a header but no data rows")])
    problems: list[Problem] = []
    with engine.connect() as conn:
        vocab = Vocabulary.load(conn)
        existing = _existing(conn, tbl, num_field)
    rows = _read_rows(table, what, crs, vocab, problems)
    _set_codes(table, rows, problems)
    if not (upsert or replace):
        problems += [table.problem(i, "code", f"code {r['code']!r} already exists (use --upsert to update "
                                   f"existing {noun} or --replace to replace them all)")
                     for i, r in enumerate(rows) if r["code"] in existing]
    raise_if_errors(problems)
    new, changed, unchanged = _classify(rows, existing, num_field)
    report = ImportReport(str(path), what, rows=n, created=len(new), updated=len(changed),
                          unchanged=unchanged, dry_run=dry_run, warnings=problems,
                          removed=len(existing) - len(changed) - unchanged if replace else 0)
    with engine.connect() as conn, conn.begin() as trans:
        if replace:
            conn.execute(tbl.delete())
            _insert(conn, tbl, rows, progress)
        else:
            if changed:  # SET takes the columns named by the parameters
                conn.execute(tbl.update().where(tbl.c.id == sa.bindparam("_id")),
                             [dict(r, geom=_ewkt(r)) for r in changed])
            _insert(conn, tbl, new, progress)
        if dry_run:
            trans.rollback()
    return report


def _ewkt(r: dict) -> str:
    return f"SRID=4326;POINT({r['lon']!r} {r['lat']!r})"


def _insert(conn, tbl: sa.Table, rows: list[dict], progress: Progress | None) -> None:
    n = len(rows)
    for a in range(0, n, 5000):
        conn.execute(tbl.insert(), [dict(r, geom=_ewkt(r)) for r in rows[a:a + 5000]])
        if progress:
            progress(min(a + 5000, n), n)


def import_demand(engine: sa.Engine, path: str | Path, *, crs: str | None = None, upsert: bool = False,
                  replace: bool = False, dry_run: bool = False,
                  progress: Progress | None = None) -> ImportReport:
    """Load outdoor-worker demand points (``weight`` = workers there, default 1), keyed by code.

    Codes that exist already are refused unless ``upsert`` (update them, add new ones) or
    ``replace`` (delete every stored demand point, then insert the file's; one transaction).
    """
    return _import_points(engine, path, what="demand", crs=crs, upsert=upsert, replace=replace,
                          dry_run=dry_run, progress=progress)


def import_candidates(engine: sa.Engine, path: str | Path, *, crs: str | None = None, upsert: bool = False,
                      replace: bool = False, dry_run: bool = False,
                      progress: Progress | None = None) -> ImportReport:
    """Load candidate places for new stations (optional ``capacity``), keyed by code like
    :func:`import_demand`."""
    return _import_points(engine, path, what="candidates", crs=crs, upsert=upsert, replace=replace,
                          dry_run=dry_run, progress=progress)
