"""Whole-database backups that keep every site *and* its history.

SpatiaLite: SQLite's online backup API (consistent while the service runs).
PostGIS: ``pg_dump --format=custom`` (restore with ``pg_restore -d NEWDB FILE``).
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from geo.errors import YizhanError


def backup_database(engine: sa.Engine, out: str | Path) -> Path:
    """Write a backup of the whole database to ``out``; return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    url = engine.url
    if url.get_backend_name() == "sqlite":
        src = sqlite3.connect(url.database)
        dst = sqlite3.connect(out)
        try:
            with dst:
                src.backup(dst)
        finally:
            src.close()
            dst.close()
        return out
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise YizhanError("pg_dump is not installed (Debian: postgresql-client-15)")
    u = make_url(url.render_as_string(hide_password=False))
    cmd = [pg_dump, "--format=custom", "--no-owner", "--file", str(out), "--dbname", u.database]
    host = u.query.get("host") or u.host
    if host:
        cmd += ["--host", host]
    if u.port:
        cmd += ["--port", str(u.port)]
    if u.username:
        cmd += ["--username", u.username]
    env = {"PGPASSWORD": u.password} if u.password else None
    import os
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise YizhanError(f"pg_dump failed: {r.stderr.strip()[:500]}")
    return out
