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

from geo.engine import clock
from geo.store import sites as sitesmod
from geo.ingest.read_files import read_table
from geo.store.street_assignment import AreaLookup
from geo.errors import InputError, Problem
from geo.ingest.import_checks import (area_fit_warning, crs_offset_problem, default_warnings,
                               outside_streets)
from geo.ingest.import_match import auto_codes, existing_sites, match_rows, row_kinds, same_name_other_kind
from geo.ingest.records import convert_points, records_at, site_records
from geo.store.vocab import Vocabulary

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
    removed: int | None = None  # rows of the whole set replaced (``--replace``), else None
    dry_run: bool = False
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        s = (f"{Path(self.path).name}: {verb} {self.rows} {self.what} rows — "
             f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged"
             + (f", {self.removed} removed" if self.removed is not None else ""))
        return s + (f", {len(self.warnings)} warning(s)" if self.warnings else "")


def raise_if_errors(problems: list[Problem]) -> None:
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

    from geo.engine.geodesy import ecef

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


#: Tracked fields an update takes from the file only when their cell is filled (column).
_CELL_OF = {"kind": "kind", "level": "level", "status": "status", "name": "name", "address": "address",
            "services": "services", "opening_hours": "opening_hours", "phone": "phone",
            "capacity": "capacity", "host_org": "host_org", "operator": "operator",
            "opened_on": "opened_on", "closed_on": "closed_on", "declared_street": "street",
            "declared_community": "community"}


def _filled(table) -> dict[str, np.ndarray]:
    """Per tracked field, the rows whose file gives it (``location``/``src_crs``: every row)."""
    n = len(table.frame)
    out = {f: (table.frame[c].to_numpy(dtype=object) != "") if c in table.frame.columns
           else np.zeros(n, dtype=bool) for f, c in _CELL_OF.items()}
    out["location"] = out["src_crs"] = np.ones(n, dtype=bool)
    return out


def import_sites(engine: sa.Engine, path: str | Path, *, kind: str | None = None,
                 crs: str | None = None, dry_run: bool = False, upsert: bool = False,
                 effective_on: dt.date | None = None, status: str | None = None,
                 opened_on: dt.date | None = None, actor: str = "cli",
                 near_duplicate_m: float = 20.0, progress: Progress | None = None) -> ImportReport:
    """Import sites from a file. See the module docstring for the all-or-nothing rule.

    Checks run column by column over the whole file (:func:`geo.ingest.records.site_records`)
    and new sites go in with one bulk write (:func:`geo.store.sites.create_sites`). Rows match
    existing sites by code, else by kind and exact name (:mod:`geo.ingest.import_match`); with
    ``upsert`` a matched row is compared with the site's replayed history and only the
    fields its file fills that changed are updated (an empty cell keeps the stored value).
    ``status`` / ``opened_on`` (``--status`` / ``--opened-on``) fill the empty cells of new
    rows; a new row with neither a status nor an opening date is an error.
    ``near_duplicate_m <= 0`` turns the near-duplicate warning off.
    """
    import_day = clock.today()
    effective_on = effective_on or import_day
    table = read_table(path)
    n = len(table.frame)
    report = ImportReport(str(path), "site", rows=n, dry_run=dry_run)
    problems: list[Problem] = []
    if n == 0:
        raise InputError([table.problem(None, None, "the file has a header but no data rows")])
    with engine.connect() as conn:
        vocab = Vocabulary.load(conn)
        kind, status = (_option(vocab, d, v, path) for d, v in (("kind", kind), ("status", status)))
        lookup = AreaLookup.load(conn)
        existing = existing_sites(conn)
    lon, lat, spec = convert_points(table, crs, problems)
    matching: list[Problem] = []  # reported after the cells' own problems
    ids = match_rows(table, row_kinds(table, vocab, kind), existing, upsert=upsert, kind=kind,
                     problems=matching)
    is_old = ids >= 0
    frame = site_records(table, vocab, kind=kind, problems=problems, status=status,
                         opened_on=opened_on, updating=is_old)
    problems += matching
    frame["lon"], frame["lat"], frame["src_crs"] = lon, lat, str(spec)
    _checks(table, frame, ids, existing, lookup, spec, crs_given=bool(crs or table.file_crs),
            problems=problems, day=f"the import day, {effective_on}" if effective_on == import_day
            else f"--effective-on, {effective_on}")
    placement = _placement(lookup, table, lon, lat, frame, problems)
    outside_streets(table, frame, placement[:, 0], lookup, problems)
    _near_duplicates(table, frame, existing, problems, within_m=near_duplicate_m)
    raise_if_errors(problems)
    report.warnings = problems
    if progress:
        progress(n, n * 2)
    with engine.connect() as conn, conn.begin() as trans:
        report.created = _create(conn, frame, ~is_old, placement, effective_on, actor, path)
        _update(conn, table, frame, ids, placement, effective_on, actor, path, report, problems, progress)
        raise_if_errors(problems)  # rolls the transaction back
        if dry_run:
            trans.rollback()
    if progress:
        progress(n * 2, n * 2)
    return report


def _option(vocab: Vocabulary, domain: str, value: str | None, path) -> str | None:
    """A ``--kind`` / ``--status`` value as its code."""
    try:
        return vocab.resolve(domain, value) if value else None
    except ValueError as e:
        raise InputError([Problem(Path(path).name, None, f"--{domain}", str(e))]) from None


def _checks(table, frame, ids, existing, lookup, spec, *, crs_given, problems, day) -> None:
    """Codes of the rows, the coordinate system against stored sites and areas, loud defaults."""
    new = ids < 0
    codes = np.array(frame["code"], dtype=object)
    if "code" not in table.frame.columns:
        codes[~new] = existing.set_index("id").loc[ids[~new], "code"].to_numpy(dtype=object)
        if new.any():
            codes[new] = auto_codes(frame[new])
            problems.append(table.problem(None, "code", (
                f"no code/编号 column: codes were generated for {new.sum()} new site(s) from kind, name "
                "and point; a later --upsert of this file finds them by kind and name"), "warning"))
        frame["code"] = codes
    lon, lat = (frame[c].to_numpy(dtype="float64") for c in ("lon", "lat"))
    p = crs_offset_problem(table, lon, lat, spec, ids, existing)
    if p is None and not (~new).any():
        p = area_fit_warning(table, lon, lat, spec, lookup, crs_given=crs_given)
    problems += [p] if p else []
    default_warnings(table, frame, new, day, problems)
    same_name_other_kind(table, frame, existing, new, problems)


def _create(conn, frame, new: np.ndarray, placement, effective_on, actor, path) -> int:
    rows = np.flatnonzero(new)
    if rows.size:
        states = frame if rows.size == len(frame) else frame.iloc[rows].reset_index(drop=True)
        sitesmod.create_sites(conn, states, effective_on=effective_on, actor=actor,
                              source=f"import {Path(path).name}", placement=placement[rows])
    return int(rows.size)


def _update(conn, table, frame, ids, placement, effective_on, actor, path, report, problems,
            progress) -> None:
    """Rows that match existing sites: only filled fields that changed, each on its date."""
    old = np.flatnonzero(ids >= 0)
    filled = _filled(table)
    history = sitesmod.history_rows_by_site(conn, ids[old].tolist())
    n = len(frame)
    for k, (i, rec) in enumerate(zip(old.tolist(), records_at(frame, old))):
        sid = int(ids[i])
        state = sitesmod.state_from_record(rec)
        cur = sitesmod.replay(history[sid])
        diff = [f for f in sitesmod.TRACKED if filled[f][i] and state.get(f) != cur.get(f)]
        try:
            for when, fields in _effective_groups(rec, diff, effective_on).items():
                sitesmod.update_site(conn, sid, {f: state[f] for f in fields}, effective_on=when,
                                     actor=actor, source=f"import {Path(path).name} row {table.row_number(i)}",
                                     placement=tuple(None if a < 0 else int(a) for a in placement[i]))
        except InputError as e:
            problems.append(table.problem(i, e.problems[0].field, e.problems[0].message))
        report.updated += bool(diff)
        report.unchanged += not diff
        if progress and k % 500 == 0:
            progress(n + k, n * 2)
