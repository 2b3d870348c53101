"""Bulk writes through the database driver's own cursor (COPY on PostgreSQL, ``executemany``
on SQLite), bypassing SQLAlchemy's per-parameter processing: what makes a 200,000-site import
take seconds. Values must already be what the driver takes (:class:`Binder`)."""
from __future__ import annotations

import contextlib
import sqlite3

import numpy as np
import pandas as pd
import sqlalchemy as sa
from geoalchemy2 import Geometry

__all__ = ["BULK_INDEX_ROWS", "Binder", "ewkb_points", "insert_rows", "spatial_index_after_insert"]

#: Inserts of at least this many sites index their points on SpatiaLite in one statement.
BULK_INDEX_ROWS = 1000
#: Page cache (KiB) of the connection during such an insert (SQLite's default is 2,000).
_BULK_CACHE_KIB = 65536


def ewkb_points(lon: np.ndarray, lat: np.ndarray, srid: int = 4326) -> list[bytes]:
    """EWKB of points: what PostGIS receives in a binary COPY, and SpatiaLite reads with
    ``GeomFromEWKB(hex(?))``."""
    rec = np.empty(len(lon), dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"),
                                    ("x", "<f8"), ("y", "<f8")])
    rec["order"], rec["type"], rec["srid"] = 1, 0x20000001, srid  # little-endian POINT with SRID
    rec["x"], rec["y"] = lon, lat
    return np.frombuffer(rec.tobytes(), dtype=f"S{rec.itemsize}").tolist()


class Binder:
    """Values as the DBAPI takes them for a column (dates become text on SQLite)."""

    def __init__(self, conn: sa.Connection):
        self.dialect = conn.dialect

    def one(self, column: sa.Column, value):
        proc = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        return value if proc is None or value is None else proc(value)

    def __call__(self, column: sa.Column, values) -> list:
        """Each distinct value bound once."""
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        bound = np.array([self.one(column, v) for v in uniques] + [None], dtype=object)
        return bound[codes].tolist()


def insert_rows(conn: sa.Connection, table: sa.Table, columns, rows) -> None:
    """Insert tuples through the driver's cursor: COPY on PostgreSQL, ``executemany`` on SQLite.

    Values must be what the driver takes (see :class:`Binder`); a geometry is EWKB bytes.
    PostgreSQL gets a binary COPY (a tenth of the client's formatting work of a text one,
    and less parsing on the server), typed from the catalog.
    """
    raw = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            types = _binary_copy_types(cur, table.name, columns)
            with cur.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("GeomFromEWKB(hex(?))" if isinstance(table.c[c].type, Geometry) else "?"
                      for c in columns)
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
    finally:
        cur.close()


#: How a binary COPY sends each PostgreSQL column type (geometry: its EWKB bytes).
_BINARY_AS = {"varchar": "text", "text": "text", "int4": "int4", "int8": "int8", "float8": "float8",
              "date": "date", "timestamptz": "timestamptz", "geometry": "bytea"}


def _binary_copy_types(cur, table: str, columns) -> list[str]:
    """psycopg's type of each column in a binary COPY, from the column types in the catalog."""
    found = dict(cur.execute("SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t "
                             "ON t.oid = a.atttypid WHERE a.attrelid = %s::regclass AND a.attnum > 0",
                             (table,)).fetchall())
    return [_BINARY_AS[found[c]] for c in columns]


@contextlib.contextmanager
def spatial_index_after_insert(conn: sa.Connection, table: sa.Table, n: int):
    """On SpatiaLite, check and index the points of a large insert once, after it.

    SpatiaLite's per-row triggers check each new geometry's type and SRID, put it in the
    R*Tree and stamp ``geometry_columns_time`` (about 30 µs a row: most of a 200,000-site
    import). For ``n >= BULK_INDEX_ROWS`` they are dropped for the insert and the same
    work is done by one statement each (:func:`_spatialite_bulk_sql`), then they are put
    back — all inside the caller's transaction, so a rollback restores everything.
    """
    if conn.dialect.name != "sqlite" or n < BULK_INDEX_ROWS:
        yield
        return
    raw = conn.connection.driver_connection
    geom = next(c.name for c in table.c if isinstance(c.type, Geometry))
    check, index, stamp = _spatialite_bulk_sql(table.name, geom)
    names = (f"ggi_{table.name}_{geom}", f"gii_{table.name}_{geom}", f"tmi_{table.name}_{geom}")
    dropped = dict(raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                               "AND name IN (?, ?, ?)", names).fetchall())
    before = raw.execute(f"SELECT coalesce(max(rowid), 0) FROM {table.name}").fetchone()[0]
    cache = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = {min(cache, -_BULK_CACHE_KIB)}")  # the R*Tree fits in memory
    for name in dropped:
        raw.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
        if names[0] in dropped and raw.execute(check, (before,)).fetchone()[0]:
            raise sqlite3.IntegrityError(f"{table.name}.{geom} violates Geometry constraint "
                                         "[geom-type or SRID not allowed]")
    finally:
        if raw.in_transaction:  # else it was rolled back, the dropped triggers with it
            if names[1] in dropped:
                raw.execute(index, (before,))
            if names[2] in dropped:
                raw.execute(stamp)
            for sql in dropped.values():
                raw.execute(sql)
        raw.execute(f"PRAGMA cache_size = {cache}")


def _spatialite_bulk_sql(table: str, geom: str) -> tuple[str, str, str]:
    """For the rows after ``?`` (new rowids: the transaction holds the write lock), what
    SpatiaLite's ``ggi_``, ``gii_`` and ``tmi_`` triggers do row by row: count the
    geometries breaking the column's type/SRID constraint, put the bounding boxes in the
    R*Tree (which rounds them outwards, as ``RTreeAlign`` does), stamp the insert time."""
    column = f"Lower(f_table_name) = Lower('{table}') AND Lower(f_geometry_column) = Lower('{geom}')"
    check = (f"SELECT count(*) FROM {table} WHERE rowid > ? AND (SELECT geometry_type FROM "
             f"geometry_columns WHERE {column} AND GeometryConstraints({table}.{geom}, geometry_type, "
             "srid) = 1) IS NULL")
    index = (f'INSERT INTO "idx_{table}_{geom}" (pkid, xmin, xmax, ymin, ymax) SELECT rowid, '
             f"MbrMinX({geom}), MbrMaxX({geom}), MbrMinY({geom}), MbrMaxY({geom}) FROM {table} "
             "WHERE rowid > ?")
    stamp = (f"UPDATE geometry_columns_time SET last_insert = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
             f"WHERE {column}")
    return check, index, stamp
