"""Engines and migrations for SpatiaLite (default, a file) and PostGIS.

Engines are created by :func:`engine_from_url` when a command or the app starts, never at
import time. SpatiaLite is loaded into every new SQLite connection; shapely, pyproj and
pyogrio are imported *before* that (see below).
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

# Import the wheels' GEOS/PROJ/GDAL before mod_spatialite loads the system ones: loading
# mod_spatialite first makes the process abort at exit ("double free or corruption").
import pyogrio  # noqa: F401
import pyproj  # noqa: F401
import shapely  # noqa: F401
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


class _SQLiteConnection(sa.Connection):
    """Tells the ``begin`` event an implicit transaction (a read) from an explicit one.

    ``engine.begin()`` / ``conn.begin()`` is how every write starts: on SQLite it begins
    ``IMMEDIATE``, taking the write lock at once, so that a second writer waits (busy
    timeout) instead of failing with "database is locked" when its read snapshot turns out
    stale at its first write. Reads (autobegin) stay deferred and never wait for a writer.
    """

    def _autobegin(self) -> None:
        if self._transaction is None and self._allow_autobegin:
            self._implicit_begin = True
        super()._autobegin()


def is_unique_violation(exc: BaseException) -> bool:
    """A UNIQUE constraint failed (SQLite) / unique_violation 23505 (PostgreSQL)."""
    if not isinstance(exc, sa.exc.IntegrityError):
        return False
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def unique_conflict_message(exc: sa.exc.IntegrityError, source: str) -> str:
    """What a lost race on a unique code means, in words (no driver traceback)."""
    text = str(exc.orig).splitlines()
    detail = next((t.strip() for t in text if t.strip().startswith("DETAIL:")), text[0] if text else "")
    return (f"{source}: a record with the same code already exists — written by another import "
            f"or edit at the same time ({detail.removeprefix('DETAIL:').strip()}); nothing was "
            "written: run it again to see which rows, or use --upsert")


@contextmanager
def unique_conflicts(source: str):
    """Turn a unique-code race lost inside the block into a clear :class:`Conflict`."""
    from geo.errors import Conflict

    try:
        yield
    except sa.exc.IntegrityError as e:
        if not is_unique_violation(e):
            raise
        raise Conflict(unique_conflict_message(e, source)) from None


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"


def engine_from_url(url: str, *, pool_size: int = 5, echo: bool = False) -> sa.Engine:
    """Create an engine for a ``sqlite:///FILE`` (SpatiaLite) or ``postgresql+psycopg://`` URL."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _spatialite(dbapi_conn, _rec):  # pragma: no cover - exercised by every test
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            dbapi_conn.enable_load_extension(True)
            dbapi_conn.load_extension("mod_spatialite")
            dbapi_conn.enable_load_extension(False)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync at checkpoints
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # real transactions for DDL and SAVEPOINTs too
            implicit = conn.__dict__.pop("_implicit_begin", False)
            conn.exec_driver_sql("BEGIN" if implicit else "BEGIN IMMEDIATE")

        engine._connection_cls = _SQLiteConnection
        return engine
    if u.get_backend_name() == "postgresql":
        return sa.create_engine(u, echo=echo, pool_size=pool_size, max_overflow=10,
                                pool_pre_ping=True, pool_recycle=600)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///FILE or postgresql+psycopg://…")


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Create or upgrade the schema (``yizhan init``)."""
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def ensure_schema(engine: sa.Engine) -> None:
    """Upgrade when the schema is missing or behind (first use creates the file)."""
    if current_revision(engine) != head_revision():
        upgrade(engine)


def now() -> dt.datetime:
    """The current instant, aware UTC (:func:`geo.engine.clock.now`)."""
    from geo.engine.clock import now as clock_now

    return clock_now()


def next_seq(conn: sa.Connection, name: str = "sites_seq") -> int:
    """Increment and return a counter inside the caller's transaction."""
    from geo.store.tables import counters

    conn.execute(sa.update(counters).where(counters.c.name == name)
                 .values(value=counters.c.value + 1))
    return conn.execute(sa.select(counters.c.value).where(counters.c.name == name)).scalar_one()


def read_seq(conn: sa.Connection, name: str = "sites_seq") -> int:
    from geo.store.tables import counters

    return conn.execute(sa.select(counters.c.value).where(counters.c.name == name)).scalar_one()
