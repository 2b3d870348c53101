"""Schemathesis against the running server's /openapi.json: reads and writes, with and
without a token. No 5xx, and every response matches the schema it claims."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from geo.ingest.demo import build_demo
from geo.store.tokens import create_token

ST = str(Path(sys.executable).with_name("st"))


@pytest.mark.slow
@pytest.mark.parametrize("auth", ["planner", "none"])
def test_schemathesis_finds_no_server_error(engine, db_url, server_factory, tmp_path, auth):
    build_demo(engine)
    args = []
    if auth == "planner":
        with engine.begin() as conn:
            args = ["-H", f"Authorization: Bearer {create_token(conn, role='planner', name='fuzz')[1]}"]
    with server_factory(db_url) as srv:
        r = subprocess.run([ST, "run", f"{srv.url}/openapi.json",
                            "-c", "not_a_server_error,response_schema_conformance,content_type_conformance",
                            "-n", "30", "--seed", "20261124", "--report-dir", str(tmp_path), *args],
                           capture_output=True, text=True, timeout=900, cwd=tmp_path)
    tail = r.stdout[-6000:]
    assert r.returncode == 0, tail
    assert "Server error" not in tail
