"""Fixtures: every test gets its own real database, on SpatiaLite and on PostGIS.

``db_url`` is parametrized over both backends. SpatiaLite: a copy of a migrated template
file. PostGIS: ``CREATE DATABASE … TEMPLATE`` of a migrated template database, dropped
afterwards. A backend that cannot be reached fails the run; it is never skipped (set
``YIZHAN_TEST_BACKENDS=spatialite`` to choose on purpose, e.g. on a laptop without
PostgreSQL).
"""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from geo.store.db import engine_from_url, upgrade

PG_URL = os.environ.get("YIZHAN_TEST_PG_URL", "postgresql+psycopg:///yizhan_test?host=/var/run/postgresql")
BACKENDS = [b for b in os.environ.get("YIZHAN_TEST_BACKENDS", "spatialite,postgis").split(",") if b]
ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin():
    import psycopg

    u = make_url(PG_URL)
    kw = {"dbname": u.database, "autocommit": True}
    if u.query.get("host"):
        kw["host"] = u.query["host"]
    if u.host:
        kw["host"] = u.host
    if u.port:
        kw["port"] = u.port
    if u.username:
        kw["user"] = u.username
    if u.password:
        kw["password"] = u.password
    return psycopg.connect(**kw)


def pg_url_for(dbname: str) -> str:
    return make_url(PG_URL).set(database=dbname).render_as_string(hide_password=False)


def _drop_db(cur, name: str) -> None:
    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    eng = engine_from_url(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def postgis_template() -> str:
    name = f"yizhan_tpl_{_worker()}_{os.getpid()}"
    try:
        conn = _pg_admin()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"PostGIS test server unreachable at {PG_URL}: {e} (run `make pg`)")
    with conn, conn.cursor() as cur:
        _drop_db(cur, name)
        cur.execute(f'CREATE DATABASE "{name}"')
    eng = engine_from_url(pg_url_for(name))
    upgrade(eng)
    eng.dispose()
    yield name
    with _pg_admin() as conn, conn.cursor() as cur:
        _drop_db(cur, name)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """URL of a fresh, migrated, empty database on each backend."""
    if request.param == "spatialite":
        tpl = request.getfixturevalue("spatialite_template")
        path = tmp_path / "yizhan.db"
        shutil.copy(tpl, path)
        yield f"sqlite:///{path}"
    else:
        tpl = request.getfixturevalue("postgis_template")
        name = f"yizhan_t_{_worker()}_{os.getpid()}_{next(_counter)}"
        with _pg_admin() as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
        yield pg_url_for(name)
        with _pg_admin() as conn, conn.cursor() as cur:
            _drop_db(cur, name)


@pytest.fixture
def engine(db_url):
    eng = engine_from_url(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def backend(db_url) -> str:
    return "spatialite" if db_url.startswith("sqlite") else "postgis"


def fingerprint(eng: sa.Engine) -> dict:
    """Row counts of every table and a checksum of sites, history, areas, demand, candidates."""
    from geo.store.tables import metadata

    out = {}
    with eng.connect() as conn:
        for t in metadata.sorted_tables:
            cols = [c for c in t.c if c.name != "geom"]
            rows = conn.execute(sa.select(*cols).order_by(*t.primary_key.columns)).all()
            out[t.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16])
    return out


@pytest.fixture
def data_dir() -> Path:
    return ROOT / "data"


@pytest.fixture
def corpus() -> Path:
    return ROOT / "tests" / "corpus"


@pytest.fixture
def fp():
    """The :func:`fingerprint` function (compare before/after a refused write)."""
    return fingerprint


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a thread of the test process."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        import time

        self.thread.start()
        for _ in range(600):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("server failed to start")
            time.sleep(0.05)
        raise RuntimeError("server did not start in 30 s")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_server(db_url: str, **settings):
    from api.app import create_app
    from api.settings import ApiSettings

    return LiveServer(create_app(ApiSettings(database_url=db_url, **settings)))


@pytest.fixture
def server_factory():
    return make_server


@pytest.fixture
def client_factory():
    import httpx

    def make(base_url, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=base_url, headers=headers, timeout=60)
    return make


@pytest.fixture(scope="module")
def db_url_module(request, tmp_path_factory):
    """Factory of fresh databases that live for a test module (for big shared data sets)."""
    made = []

    def make(backend: str) -> str:
        if backend == "spatialite":
            path = tmp_path_factory.mktemp("mod") / "yizhan.db"
            shutil.copy(request.getfixturevalue("spatialite_template"), path)
            return f"sqlite:///{path}"
        tpl = request.getfixturevalue("postgis_template")
        name = f"yizhan_m_{_worker()}_{os.getpid()}_{next(_counter)}"
        with _pg_admin() as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
        made.append(name)
        return pg_url_for(name)

    yield make
    for name in made:
        with _pg_admin() as conn, conn.cursor() as cur:
            _drop_db(cur, name)


CHROMIUM = "/usr/bin/chromium"  # Debian's package (installed by make); Playwright downloads nothing
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@contextmanager
def chromium():
    """A headless Debian Chromium driven by Playwright; a missing browser fails the test."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def local_client():
    """A real Dask LocalCluster (2 worker processes, 1 thread each) and its client."""
    import distributed

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
    ) as cluster, distributed.Client(cluster) as client:
        yield client
