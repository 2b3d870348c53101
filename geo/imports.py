"""``yizhan import …``: areas, sites, demand and candidates from files. All or nothing.

Every row is checked before anything is written; any error raises
:class:`~geo.errors.InputError` listing every bad value (file, row, field, reason) and
the database is left exactly as it was. Warnings (repaired polygons, a declared street
that disagrees with the point, near-duplicate sites) are returned in the report.
"""
from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo import clock
from geo import sites as sitesmod
from geo._io import read_table
from geo.areas import AreaLookup
from geo.errors import InputError, Problem
from geo.models import sites
from geo.records import convert_points, records_at, site_records
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


def _placement(lookup: AreaLookup, table, lon, lat, frame: pd.DataFrame, problems) -> np.ndarray:
    """Street and community ids from the points (``-1`` for none), shape ``(n, 2)``;
    report declared names that disagree (warnings, row by row)."""
    n = len(frame)
    out = np.full((n, 2), -1, dtype="int64")
    found = []  # (row, level index, message)
    levels = ("street", "community")
    for k, lvl in enumerate(levels):
        declared = frame[f"declared_{lvl}"].to_numpy(dtype=object)
        given = pd.notna(declared)
        if not lookup:
            found += [(i, k, f"{lvl} {declared[i]!r} kept as declared: no areas are loaded to check it")
                      for i in np.flatnonzero(given)]
            continue
        ok = np.isfinite(lon)
        out[:, k] = aid = lookup.locate(np.where(ok, lon, 0), np.where(ok, lat, 0), lvl)
        if lookup.ids.get(lvl) is None:
            continue
        name = _area_labels(lookup.names, aid)
        code = _area_labels(lookup.codes, aid)
        found += [(i, k, f"declared {lvl} {declared[i]!r} but the point lies in no loaded {lvl}")
                  for i in np.flatnonzero(given & (aid < 0))]
        found += [(i, k, f"declared {lvl} {declared[i]!r} but the point lies in {name[i]!r}; "
                         f"using {name[i]!r}")
                  for i in np.flatnonzero(given & (aid >= 0) & (declared != name) & (declared != code))]
    for i, k, message in sorted(found):
        problems.append(table.problem(int(i), levels[k], message, "warning"))
    return out


def _area_labels(labels: dict[int, str], aid: np.ndarray) -> np.ndarray:
    """``labels[id]`` per point (``None`` for no area), each distinct id looked up once."""
    ids, inverse = np.unique(aid, return_inverse=True)
    return np.array([labels.get(int(a)) for a in ids], dtype=object)[inverse]


def _near_duplicates(table, frame: pd.DataFrame, existing: pd.DataFrame, problems, *,
                     within_m: float) -> None:
    """Warn about two sites within ``within_m`` metres with similar names (off when ≤ 0).

    Pairs come from a KD-tree on Earth-centred coordinates; only those pairs compare
    names (cheap upper bounds of the similarity first).
    """
    if within_m <= 0:
        return
    from scipy.spatial import cKDTree

    from geo.geodesy import ecef

    n = len(frame)
    codes = np.concatenate([frame["code"].to_numpy(dtype=object), existing["code"].to_numpy(dtype=object)])
    names = np.concatenate([frame["name"].to_numpy(dtype=object), existing["name"].to_numpy(dtype=object)])
    lo = np.concatenate([frame["lon"].to_numpy(dtype="float64"), existing["lon"].to_numpy(dtype="float64")])
    la = np.concatenate([frame["lat"].to_numpy(dtype="float64"), existing["lat"].to_numpy(dtype="float64")])
    ok = np.flatnonzero(np.isfinite(lo))
    if ok.size < 2:
        return
    pairs = np.sort(ok[cKDTree(ecef(lo[ok], la[ok])).query_pairs(within_m, output_type="ndarray")], axis=1)
    pairs = pairs[(pairs[:, 0] < n) & (codes[pairs[:, 0]] != codes[pairs[:, 1]])]
    for a, b in pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))].tolist():
        m = difflib.SequenceMatcher(None, names[a], names[b])
        if m.real_quick_ratio() >= 0.6 and m.quick_ratio() >= 0.6 and m.ratio() >= 0.6:
            other = f"row {table.row_number(b)}" if b < n else f"existing site {codes[b]}"
            problems.append(table.problem(a, "name", f"{names[a]!r} is within {within_m:g} m of "
                                          f"{names[b]!r} ({other}): a duplicate?", "warning"))


def _code_problems(table, codes: np.ndarray, existing: pd.DataFrame, *, upsert: bool,
                   problems) -> np.ndarray:
    """Duplicate codes in the file (errors) and, without ``upsert``, codes already in the
    database (errors). Returns which rows update an existing site."""
    s = pd.Series(codes)
    found = []
    dup = s.duplicated(keep=False).to_numpy() & s.notna().to_numpy()
    for code, rows in s[dup].groupby(s[dup]).indices.items():
        rows = np.flatnonzero(dup)[rows]
        for i in rows:
            others = [table.row_number(j) for j in rows[:6] if j != i][:5]
            found.append((i, f"duplicate code {code!r} (also row {', '.join(map(str, others))})"))
    old = s.isin(existing["code"]).to_numpy()
    if not upsert:
        found += [(i, f"code {codes[i]!r} already exists (use --upsert to update existing sites)")
                  for i in np.flatnonzero(old)]
    for i, message in sorted(found, key=lambda f: f[0]):
        problems.append(table.problem(int(i), "code", message))
    return old


def _auto_codes(frame: pd.DataFrame) -> list[str]:
    """Codes for a file without a code column, from kind, name and point."""
    import hashlib

    return ["AUTO-" + hashlib.sha1(f"{k}|{nm}|{x:.6f}|{y:.6f}".encode()).hexdigest()[:10].upper()
            for k, nm, x, y in zip(frame["kind"], frame["name"], frame["lon"], frame["lat"])]


def _existing_sites(conn) -> pd.DataFrame:
    """Code, id, name and point of every site in the database (one query)."""
    rows = conn.execute(sa.select(sites.c.code, sites.c.id, sites.c.name, sites.c.lon, sites.c.lat)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["code", "id", "name", "lon", "lat"])


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
    """Import sites from a file. See the module docstring for the all-or-nothing rule.

    Checks run column by column over the whole file (:func:`geo.records.site_records`)
    and new sites go in with one bulk write (:func:`geo.sites.create_sites`); sites whose
    code exists are compared with their replayed history (read in a few queries) and only
    the changed ones are updated, one by one, with ``upsert``. ``near_duplicate_m <= 0`` turns
    the near-duplicate warning off.
    """
    effective_on = effective_on or clock.today()
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
        existing = _existing_sites(conn)
    lon, lat, spec = convert_points(table, crs, problems)
    frame = site_records(table, vocab, kind=kind, problems=problems)
    frame["lon"], frame["lat"], frame["src_crs"] = lon, lat, str(spec)
    if "code" not in table.frame.columns:
        frame["code"] = _auto_codes(frame)
        problems.append(table.problem(None, "code", "no code/编号 column: codes were generated "
                                      "from kind, name and point", "warning"))
    is_old = _code_problems(table, frame["code"].to_numpy(dtype=object), existing, upsert=upsert,
                            problems=problems)
    placement = _placement(lookup, table, lon, lat, frame, problems)
    _near_duplicates(table, frame, existing, problems, within_m=near_duplicate_m)
    _raise_if_errors(problems)
    report.warnings = problems
    if progress:
        progress(n, n * 2)
    new, old = np.flatnonzero(~is_old), np.flatnonzero(is_old)
    existing_id = dict(zip(existing["code"], existing["id"]))
    source = f"import {Path(path).name}"
    with engine.connect() as conn, conn.begin() as trans:
        if new.size:
            states = frame if new.size == n else frame.iloc[new].reset_index(drop=True)
            sitesmod.create_sites(conn, states, effective_on=effective_on, actor=actor, source=source,
                                  placement=placement[new])
        report.created = new.size
        codes = frame["code"].to_numpy(dtype=object)
        history = sitesmod.history_rows_by_site(conn, [existing_id[codes[i]] for i in old.tolist()])
        for k, (i, rec) in enumerate(zip(old.tolist(), records_at(frame, old))):
            sid = int(existing_id[rec["code"]])
            state = sitesmod.state_from_record(rec)
            cur = sitesmod.replay(history[sid])
            diff = [f for f in sitesmod.TRACKED if state.get(f) != cur.get(f)]
            try:
                for when, fields in _effective_groups(rec, diff, effective_on).items():
                    sitesmod.update_site(conn, sid, {f: state[f] for f in fields}, effective_on=when,
                                         actor=actor, source=f"{source} row {table.row_number(i)}",
                                         placement=tuple(None if a < 0 else int(a) for a in placement[i]))
            except InputError as e:
                problems.append(table.problem(i, e.problems[0].field, e.problems[0].message))
            report.updated += bool(diff)
            report.unchanged += not diff
            if progress and k % 500 == 0:
                progress(n + new.size + k, n * 2)
        _raise_if_errors(problems)  # rolls the transaction back
        if dry_run:
            trans.rollback()
    if progress:
        progress(n * 2, n * 2)
    return report
