"""demand points and candidates keyed by code: fill missing codes, one row per code, unique index

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Before this revision ``yizhan import demand|candidates`` appended every file it was given, so
a file imported twice counted every worker twice, and rows of files without a code column had
no code. This revision:

* gives a row without a code the code the importer now generates from its content
  (:func:`point_code`, frozen here: the same as ``geo.ingest.import_points.point_code``), so that
  re-importing the same file finds its rows;
* of rows sharing a code, keeps the first (lowest id); a later row that repeats it exactly
  (name, category, weight or capacity, point) is deleted — it is the same point imported
  again — and a later row that differs is kept under the code ``CODE-2`` (``-3`` …);
* adds a unique index on ``code`` (and, on PostGIS, makes it NOT NULL; SpatiaLite cannot
  add that constraint without rebuilding the table and its spatial index, and every write
  of the service sets a code).

Every deletion and renaming is printed to stderr, table by table.
"""
import hashlib
import sys

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Table and its number column.
TABLES = (("demand", "weight"), ("candidates", "capacity"))


def point_code(name, lon: float, lat: float) -> str:
    """Code of a row without one: its name and its WGS-84 point to 1e-6 degrees (~0.1 m)."""
    key = f"{name or ''}|{lon:.6f}|{lat:.6f}"
    return "AUTO-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16].upper()


def _plan(rows) -> tuple[list[tuple[int, str]], list[int], list[str]]:
    """``(id, new code)`` to set, ids to delete, and what was done (for stderr)."""
    taken = {r.code for r in rows if r.code}
    first: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    sets, deletes, notes = [], [], []
    for r in rows:
        code = r.code or point_code(r.name, r.lon, r.lat)
        content = (r.name, r.category, r.num, r.lon, r.lat)
        if code not in first:
            first[code] = content
            taken.add(code)
            if code != r.code:
                sets.append((r.id, code))
            continue
        if content == first[code]:
            deletes.append(r.id)
            counts[code] = counts.get(code, 0) + 1
            continue
        k = 2
        while f"{code}-{k}" in taken:
            k += 1
        taken.add(f"{code}-{k}")
        first[f"{code}-{k}"] = content
        sets.append((r.id, f"{code}-{k}"))
        notes.append(f"row id {r.id} shared code {code!r} with a different row: now {code}-{k}")
    notes += [f"deleted {n} exact repeat(s) of code {c!r}" for c, n in counts.items()]
    return sets, deletes, notes


def upgrade() -> None:
    bind = op.get_bind()
    for name, num in TABLES:
        t = sa.table(name, sa.column("id"), sa.column("code"), sa.column("name"), sa.column("category"),
                     sa.column(num), sa.column("lon"), sa.column("lat"))
        rows = bind.execute(sa.select(t.c.id, t.c.code, t.c.name, t.c.category, t.c[num].label("num"),
                                      t.c.lon, t.c.lat).order_by(t.c.id)).all()
        sets, deletes, notes = _plan(rows)
        if sets:
            bind.execute(t.update().where(t.c.id == sa.bindparam("rid")).values(code=sa.bindparam("new")),
                         [{"rid": i, "new": c} for i, c in sets])
        for a in range(0, len(deletes), 5000):
            bind.execute(t.delete().where(t.c.id.in_(deletes[a:a + 5000])))
        for note in notes:
            print(f"migration 0002, {name}: {note}", file=sys.stderr)
        op.create_index(f"uq_{name}_code", name, ["code"], unique=True)
        if bind.dialect.name == "postgresql":
            op.alter_column(name, "code", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    bind = op.get_bind()
    for name, _ in TABLES:
        op.drop_index(f"uq_{name}_code", table_name=name)
        if bind.dialect.name == "postgresql":
            op.alter_column(name, "code", existing_type=sa.String(64), nullable=True)
