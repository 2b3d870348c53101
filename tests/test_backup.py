"""Backups keep every site and its history: SQLite backup API and pg_dump/pg_restore."""
from __future__ import annotations

import subprocess

from geo.store.backup import backup_database
from geo.store.db import engine_from_url
from geo.ingest.demo import build_demo


def test_backup_and_restore_keep_everything(engine, db_url, backend, tmp_path, fp):
    from conftest import _drop_db, _pg_admin, pg_url_for
    build_demo(engine)
    before = fp(engine)
    assert before["site_history"][0] > before["sites"][0] > 80
    if backend == "spatialite":
        path = backup_database(engine, tmp_path / "backup.db")
        restored = engine_from_url(f"sqlite:///{path}")
        assert fp(restored) == before
        restored.dispose()
        return
    path = backup_database(engine, tmp_path / "backup.dump")
    name = f"yizhan_restore_{tmp_path.name[-20:]}".replace("-", "_")
    with _pg_admin() as conn, conn.cursor() as cur:
        _drop_db(cur, name)
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        r = subprocess.run(["pg_restore", "--no-owner", "--host", "/var/run/postgresql", "--dbname", name, str(path)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        restored = engine_from_url(pg_url_for(name))
        assert fp(restored) == before
        restored.dispose()
    finally:
        with _pg_admin() as conn, conn.cursor() as cur:
            _drop_db(cur, name)
