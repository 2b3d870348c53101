"""``yizhan import …``: areas, sites, demand and candidates from files. All or nothing.

Every row is checked before anything is written; any error raises
:class:`~geo.errors.InputError` listing every bad value (file, row, field, reason) and
the database is left exactly as it was. Warnings (repaired polygons, a declared street
that disagrees with the point, near-duplicate sites) are returned in the report.
"""
from __future__ import annotations

import datetime as dt
import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import sqlalchemy as sa

from geo import sites as sitesmod
from geo._io import read_table
from geo.areas import AreaLookup
from geo.errors import InputError, Problem
from geo.models import sites
from geo.records import convert_points, site_record
from geo.vocab import Vocabulary

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    path: str
    what: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        s = (f"{Path(self.path).name}: {verb} {self.rows} {self.what} rows — "
             f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged")
        return s + (f", {len(self.warnings)} warning(s)" if self.warnings else "")


def _raise_if_errors(problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)


def _placement(lookup: AreaLookup, table, lon, lat, recs, problems) -> list[tuple]:
    """Street and community ids from the points; report declared names that disagree."""
    if not lookup:
        for i, r in enumerate(recs):
            for lvl in ("street", "community"):
                if r.get(f"declared_{lvl}"):
                    problems.append(table.problem(i, lvl, f"{lvl} {r[f'declared_{lvl}']!r} kept as "
                                                  "declared: no areas are loaded to check it", "warning"))
        return [(None, None)] * len(recs)
    ok = np.isfinite(lon)
    st = lookup.locate(np.where(ok, lon, 0), np.where(ok, lat, 0), "street")
    cm = lookup.locate(np.where(ok, lon, 0), np.where(ok, lat, 0), "community")
    out = []
    for i, r in enumerate(recs):
        pair = []
        for lvl, arr in (("street", st), ("community", cm)):
            aid = int(arr[i]) if arr[i] >= 0 else None
            declared = r.get(f"declared_{lvl}")
            if declared and lookup.ids.get(lvl) is not None:
                found = lookup.names.get(aid) if aid else None
                if aid is None:
                    problems.append(table.problem(i, lvl, f"declared {lvl} {declared!r} but the point "
                                                  f"lies in no loaded {lvl}", "warning"))
                elif declared not in (found, lookup.codes[aid]):
                    problems.append(table.problem(i, lvl, f"declared {lvl} {declared!r} but the point "
                                                  f"lies in {found!r}; using {found!r}", "warning"))
            pair.append(aid)
        out.append(tuple(pair))
    return out


def _near_duplicates(conn, table, lon, lat, recs, problems, *, within_m: float) -> None:
    """Warn about two sites within ``within_m`` metres with similar names."""
    from scipy.spatial import cKDTree

    from geo.geodesy import ecef

    ex = conn.execute(sa.select(sites.c.code, sites.c.name, sites.c.lon, sites.c.lat)).all()
    codes = [r["code"] for r in recs] + [e.code for e in ex]
    names = [r["name"] for r in recs] + [e.name for e in ex]
    lo = np.concatenate([lon, [e.lon for e in ex]]).astype("float64")
    la = np.concatenate([lat, [e.lat for e in ex]]).astype("float64")
    ok = np.flatnonzero(np.isfinite(lo))
    if ok.size < 2:
        return
    pairs = cKDTree(ecef(lo[ok], la[ok])).query_pairs(within_m, output_type="ndarray")
    n = len(recs)
    for a, b in pairs:
        a, b = sorted((int(ok[a]), int(ok[b])))
        if a >= n or codes[a] == codes[b]:
            continue
        if difflib.SequenceMatcher(None, names[a], names[b]).ratio() >= 0.6:
            other = f"row {table.row_number(b)}" if b < n else f"existing site {codes[b]}"
            problems.append(table.problem(a, "name", f"{names[a]!r} is within {within_m:g} m of "
                                          f"{names[b]!r} ({other}): a duplicate?", "warning"))


def _effective_groups(rec: dict, diff_fields: list[str], default: dt.date) -> dict:
    """When each changed field takes effect: dated columns move status changes."""
    groups: dict[dt.date, list[str]] = {}
    for f in diff_fields:
        when = default
        if f in ("status", "closed_on") and rec.get("status") == "closed" and rec.get("closed_on"):
            when = rec["closed_on"]
        elif f in ("status", "opened_on") and rec.get("status") == "open" and rec.get("opened_on"):
            when = rec["opened_on"]
        groups.setdefault(when, []).append(f)
    return dict(sorted(groups.items()))


def import_sites(engine: sa.Engine, path: str | Path, *, kind: str | None = None,
                 crs: str | None = None, dry_run: bool = False, upsert: bool = False,
                 effective_on: dt.date | None = None, actor: str = "cli",
                 near_duplicate_m: float = 20.0, progress: Progress | None = None) -> ImportReport:
    """Import sites from a file. See the module docstring for the all-or-nothing rule."""
    effective_on = effective_on or dt.date.today()
    table = read_table(path)
    n = len(table.frame)
    report = ImportReport(str(path), "site", rows=n, dry_run=dry_run)
    problems: list[Problem] = []
    if n == 0:
        raise InputError([table.problem(None, None, "the file has a header but no data rows")])
    with engine.connect() as conn:
        vocab = Vocabulary.load(conn)
        if kind:
            try:
                kind = vocab.resolve("kind", kind)
            except ValueError as e:
                raise InputError([Problem(Path(path).name, None, "--kind", str(e))]) from None
        lookup = AreaLookup.load(conn)
        lon, lat, spec = convert_points(table, crs, problems)
        recs = []
        for i in range(n):
            rec = site_record(table, i, vocab, kind=kind, problems=problems)
            rec.update(lon=lon[i], lat=lat[i], src_crs=str(spec))
            recs.append(rec)
            if progress and i % 5000 == 0:
                progress(i, n * 2)
        if "code" not in table.frame.columns:
            import hashlib
            for r in recs:
                key = f"{r['kind']}|{r['name']}|{r['lon']:.6f}|{r['lat']:.6f}"
                r["code"] = "AUTO-" + hashlib.sha1(key.encode()).hexdigest()[:10].upper()
            problems.append(table.problem(None, "code", "no code/编号 column: codes were generated "
                                          "from kind, name and point", "warning"))
        counts = Counter(r["code"] for r in recs if r["code"])
        for i, r in enumerate(recs):
            if r["code"] and counts[r["code"]] > 1:
                others = [table.row_number(j) for j, q in enumerate(recs) if q["code"] == r["code"] and j != i]
                problems.append(table.problem(i, "code", f"duplicate code {r['code']!r} (also row "
                                              f"{', '.join(map(str, others[:5]))})"))
        existing = {}
        all_codes = [r["code"] for r in recs if r["code"]]
        for a in range(0, len(all_codes), 500):
            for row in conn.execute(sa.select(sites.c.id, sites.c.code)
                                    .where(sites.c.code.in_(all_codes[a:a + 500]))):
                existing[row.code] = row.id
        if existing and not upsert:
            for i, r in enumerate(recs):
                if r["code"] in existing:
                    problems.append(table.problem(i, "code", f"code {r['code']!r} already exists "
                                                  "(use --upsert to update existing sites)"))
        placement = _placement(lookup, table, lon, lat, recs, problems)
        _near_duplicates(conn, table, lon, lat, recs, problems, within_m=near_duplicate_m)
    _raise_if_errors(problems)
    report.warnings = problems
    new = [i for i, r in enumerate(recs) if r["code"] not in existing]
    old = [i for i, r in enumerate(recs) if r["code"] in existing]
    source = f"import {Path(path).name}"
    with engine.connect() as conn, conn.begin() as trans:
        if new:
            states = [dict(sitesmod.state_from_record(recs[i]), code=recs[i]["code"]) for i in new]
            sitesmod.create_sites(conn, states, effective_on=effective_on, actor=actor,
                                  source=source, placement=[placement[i] for i in new])
        report.created = len(new)
        for k, i in enumerate(old):
            sid = existing[recs[i]["code"]]
            state = sitesmod.state_from_record(recs[i])
            cur = sitesmod.replay(sitesmod.history_rows(conn, sid))
            diff = [f for f in sitesmod.TRACKED if state.get(f) != cur.get(f)]
            try:
                for when, fields in _effective_groups(recs[i], diff, effective_on).items():
                    sitesmod.update_site(conn, sid, {f: state[f] for f in fields}, effective_on=when,
                                         actor=actor, source=f"{source} row {table.row_number(i)}",
                                         placement=placement[i])
            except InputError as e:
                problems.append(table.problem(i, e.problems[0].field, e.problems[0].message))
            report.updated += bool(diff)
            report.unchanged += not diff
            if progress and k % 500 == 0:
                progress(n + k, n * 2)
        _raise_if_errors(problems)  # rolls the transaction back
        if dry_run:
            trans.rollback()
    if progress:
        progress(n * 2, n * 2)
    return report
