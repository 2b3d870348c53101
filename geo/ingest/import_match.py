"""Which rows of a site file update existing sites (``--upsert``) and which create new ones.

A file with a ``code``/编号 column matches by code. A file without one matches by kind and
exact name: a name that matches two sites is an error naming both, and two rows of the file
with the same kind and name are an error (nothing could tell them apart later). Without
``--upsert`` a match is an error: re-importing a file never doubles its sites.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.errors import Problem
from geo.store.tables import sites
from geo.store.vocab import Vocabulary

#: Columns of the ``existing`` frame.
EXISTING = ["code", "id", "name", "kind", "lon", "lat"]


def existing_sites(conn) -> pd.DataFrame:
    """Code, id, name, kind and point of every site in the database (one query)."""
    rows = conn.execute(sa.select(*(sites.c[c] for c in EXISTING))).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=EXISTING)


def row_kinds(table, vocab: Vocabulary, kind: str | None) -> np.ndarray:
    """Each row's kind cell resolved, else ``--kind``; ``None`` where neither (or unknown:
    :func:`geo.ingest.records.site_records` reports it)."""
    n = len(table.frame)
    if "kind" not in table.frame.columns:
        return np.full(n, kind, dtype=object)
    cells = table.frame["kind"].to_numpy(dtype=object)
    codes, uniques = pd.factorize(cells)

    def one(v):
        try:
            return vocab.resolve("kind", v) if v else kind
        except ValueError:
            return None
    return np.array([one(v) for v in uniques] + [kind], dtype=object)[codes]


def match_rows(table, kinds: np.ndarray, existing: pd.DataFrame, *, upsert: bool,
               kind: str | None, problems: list[Problem]) -> np.ndarray:
    """Site id each row updates (``-1``: a new site), with a problem per bad match."""
    found: list[tuple[int, str, str]] = []
    if "code" in table.frame.columns:
        ids = _by_code(table, existing, upsert, found)
    else:
        ids = _by_name(table, kinds, existing, upsert, found)
    stored = dict(zip(existing["id"], existing["kind"]))
    cells = table.frame["kind"].to_numpy(dtype=object) if "kind" in table.frame.columns else None
    for i in np.flatnonzero(ids >= 0):
        own = cells is not None and cells[i] != ""
        if kind and not own and stored[ids[i]] != kind:
            found.append((int(i), "kind", f"the row updates {_code(existing, ids[i])}, a {stored[ids[i]]}: "
                                          f"--kind {kind} does not change kinds (give a kind/类型 column)"))
    for i, field, message in sorted(found, key=lambda f: f[0]):
        problems.append(table.problem(i, field, message))
    return ids


def _code(existing: pd.DataFrame, sid) -> str:
    return str(existing.loc[existing["id"] == sid, "code"].iloc[0])


def _by_code(table, existing: pd.DataFrame, upsert: bool, found) -> np.ndarray:
    """Duplicate codes in the file (errors) and, without ``upsert``, codes already in the database."""
    s = pd.Series(table.frame["code"].to_numpy(dtype=object)).replace("", None)
    dup = s.duplicated(keep=False).to_numpy() & s.notna().to_numpy()
    for code, rows in s[dup].groupby(s[dup]).indices.items():
        rows = np.flatnonzero(dup)[rows]
        for i in rows:
            others = [table.row_number(j) for j in rows[:6] if j != i][:5]
            found.append((int(i), "code", f"duplicate code {code!r} (also row {', '.join(map(str, others))})"))
    ids = s.map(dict(zip(existing["code"], existing["id"]))).fillna(-1).to_numpy(dtype="int64")
    if not upsert:
        found += [(int(i), "code", f"code {s[i]!r} already exists (use --upsert to update existing sites)")
                  for i in np.flatnonzero(ids >= 0)]
    return ids


def _by_name(table, kinds: np.ndarray, existing: pd.DataFrame, upsert: bool, found) -> np.ndarray:
    """Matches by kind and exact name (any kind where the row has none)."""
    names = table.frame["name"].to_numpy(dtype=object) if "name" in table.frame.columns else \
        np.full(len(table.frame), "", dtype=object)
    by_name = {nm: g for nm, g in existing.groupby("name", sort=False)}
    ids = np.full(len(names), -1, dtype="int64")
    seen: dict[tuple, int] = {}
    for i, (nm, k) in enumerate(zip(names, kinds)):
        if nm == "":
            continue
        if (k, nm) in seen:
            found.append((i, "name", f"{k} {nm!r} is also in row {table.row_number(seen[k, nm])}: without "
                                     "a code/编号 column, sites are told apart by kind and name"))
            continue
        seen[k, nm] = i
        g = by_name.get(nm)
        if g is not None and k is not None:
            g = g[g["kind"] == k]
        if g is None or g.empty:
            continue
        if len(g) > 1:
            found.append((i, "name", f"{nm!r} matches {len(g)} existing sites ({', '.join(sorted(g['code']))}): "
                                     "give a code/编号 column to say which"))
        elif not upsert:
            found.append((i, "name", f"a {g['kind'].iloc[0]} named {nm!r} exists already "
                                     f"(code {g['code'].iloc[0]}): use --upsert to update it"))
        else:
            ids[i] = int(g["id"].iloc[0])
    return ids


def auto_codes(frame: pd.DataFrame) -> list[str]:
    """Codes for new rows of a file without a code column, from kind, name and point."""
    return ["AUTO-" + hashlib.sha1(f"{k}|{nm}|{x:.6f}|{y:.6f}".encode()).hexdigest()[:10].upper()
            for k, nm, x, y in zip(frame["kind"], frame["name"], frame["lon"], frame["lat"])]


def same_name_other_kind(table, frame: pd.DataFrame, existing: pd.DataFrame, new: np.ndarray,
                         problems: list[Problem]) -> None:
    """Warn about a new site whose name is an existing site's of another kind, or another row's."""
    pool = pd.concat([existing[["name", "kind", "code"]].assign(row=-1),
                      frame.loc[new, ["name", "kind", "code"]].assign(row=np.flatnonzero(new))])
    for nm, g in pool[pool["name"].isin(frame.loc[new, "name"])].groupby("name", sort=False):
        if g["kind"].nunique() < 2:
            continue
        for r in g[g["row"] >= 0].itertuples():
            others = [f"{o.kind} {o.code}" if o.row < 0 else f"{o.kind} in row {table.row_number(o.row)}"
                      for o in g.itertuples() if o.kind != r.kind]
            problems.append(table.problem(int(r.row), "name", f"{nm!r} is also the name of "
                                          f"{', '.join(others)}: two sites, or a wrong kind?", "warning"))
