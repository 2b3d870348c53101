"""The README is code: every shell command in README.md runs as written, in order.

The commands of every ```sh block run in one bash session (so ``. .venv/bin/activate`` and
``TOKEN=…`` carry over, as they do for a reader typing them) from the root of a copy of the
repository's files (so the files the README writes, ``sites.xlsx`` and the like, do not
litter the checkout), on the README's own default database: a new ``yizhan.db`` there.
A command ending in ``&`` (``yizhan serve``) is left running and waited for; curl commands'
answers are checked (JSON, and an error ``detail`` only where the README says so). A block
after ``<!-- readme-test: postgis -->`` is run with ``YIZHAN_DATABASE_URL`` set to a fresh
PostGIS database, as its text says. The first block is the two set-up commands, which are
what runs this test (``make test``) and the demo (``make demo``), so they are checked, not run.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, _drop_db, _pg_admin, pg_url_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("readme")]

PORT = 8000  # the README's port


def readme_blocks(text: str) -> list[dict]:
    """``[{"line", "marker", "commands": [(line, command)]}]`` of README's ```sh blocks."""
    blocks, marker, block, pending = [], None, None, None
    for no, line in enumerate(text.splitlines(), 1):
        if block is None:
            m = re.match(r"<!--\s*readme-test:\s*(\S+)\s*-->", line.strip())
            if m:
                marker = m.group(1)
            elif line.strip() == "```sh":
                block = {"line": no, "marker": marker, "commands": []}
                marker = None
            elif line.strip():
                marker = None if not line.startswith("<!--") else marker
            continue
        if line.strip() == "```":
            blocks.append(block)
            block = None
            continue
        if pending is not None:
            pending[1] += "\n" + line
        elif line.strip() and not line.lstrip().startswith("#"):
            pending = [no, line]
        if pending is not None and not line.rstrip().endswith("\\"):
            block["commands"].append(tuple(pending))
            pending = None
    return blocks


def without_comment(command: str) -> str:
    """The command without its trailing ``# …`` remark (README remarks follow two spaces)."""
    return re.sub(r"\s{2,}#[^'\"]*$", "", command)


BLOCKS = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def test_setup_block_is_exactly_make_demo_and_make_test():
    first = [without_comment(c) for _, c in BLOCKS[0]["commands"]]
    assert first == ["make demo", "make test"]


def test_readme_parser_sees_every_block():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(BLOCKS) == text.count("```sh") >= 6
    commands = [c for b in BLOCKS for _, c in b["commands"]]
    assert any(c.startswith("yizhan import sites data/站点.csv") for c in commands)
    assert sum(c.startswith("curl") for c in commands) >= 3


def _repo_copy(dest: Path) -> Path:
    """The repository's files (as git tracks them, else all but caches) with ``.venv`` linked."""
    try:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
                               ).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not {".git", ".venv", "__pycache__"} & set(p.relative_to(ROOT).parts)]
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def _script(blocks: list[dict], out_dir: Path) -> tuple[str, dict]:
    """A bash script of the blocks' commands, each announced by its README line; curl answers
    go to ``out_dir/LINE.out``. Returns the script and ``{line: command}`` of the curls."""
    lines = ["set -eo pipefail",
             "trap 'echo \"README line $README_LINE failed (exit $?): $README_CMD\" >&2' ERR",
             # on exit stop the README's background server, if it started one; an empty
             # `kill` would fail and, under -e, turn a passing walkthrough into exit 2
             "trap 'trap - ERR; jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null || true' EXIT",
             f"wait_for_server() {{ for i in $(seq 1 300); do curl -sf http://127.0.0.1:{PORT}/healthz "
             ">/dev/null && return 0; sleep 0.1; done; echo 'server did not start' >&2; return 1; }"]
    curls = {}
    for block in blocks:
        for no, command in block["commands"]:
            lines.append(f"README_LINE={no}; README_CMD={shlex.quote(command.splitlines()[0])}")
            if command.startswith("curl"):
                curls[no] = command
                lines.append(f"{without_comment(command)} > {out_dir}/{no}.out")
            else:
                lines.append(command)
            if without_comment(command).endswith("&"):
                lines.append("wait_for_server")
    return "\n".join(lines) + "\n", curls


def _run(script: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIZHAN_", "VIRTUAL_ENV"))}
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if ".venv" not in p)
    env["HOME"] = str(home)
    return env


def _port_free() -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", PORT)) != 0


def test_every_readme_command_runs_as_written(tmp_path):
    assert _port_free(), f"port {PORT} is in use: the README's curl commands need it (stop the demo)"
    repo = _repo_copy(tmp_path / "repo")
    out = tmp_path / "out"
    out.mkdir()
    main = [b for b in BLOCKS[1:] if b["marker"] is None]
    script, curls = _script(main, out)
    r = _run(script, repo, _env(tmp_path))
    assert r.returncode == 0, r.stderr[-4000:]
    assert not list(ROOT.glob("sites.xlsx")), "a README command wrote into the checkout"

    # the README's own words about the answers
    for no, command in curls.items():
        answer = json.loads((out / f"{no}.out").read_text(encoding="utf-8"))
        if "→ 409" in command:
            assert "version" in answer["detail"], (no, answer)
        else:
            assert "detail" not in answer, (no, answer)
    nearest = json.loads((out / f"{min(curls)}.out").read_text(encoding="utf-8"))
    assert nearest["type"] == "FeatureCollection" and 1 <= len(nearest["features"]) <= 3

    # what the walkthrough built: the office's 8 stations once, open, dated as the README says
    import sqlalchemy as sa

    from geo.store.db import engine_from_url
    eng = engine_from_url(f"sqlite:///{repo / 'yizhan.db'}")
    try:
        with eng.connect() as conn:
            office = conn.execute(sa.text(
                "SELECT status, opened_on FROM sites WHERE code LIKE 'AUTO-%'")).all()
            demand = conn.execute(sa.text("SELECT count(*), sum(weight) FROM demand")).one()
    finally:
        eng.dispose()
    assert sorted({(s, str(o)) for s, o in office}) == [("open", "2024-05-01")] and len(office) == 8
    data_rows = (ROOT / "data" / "demand.csv").read_text(encoding="utf-8").count("\n") - 1
    assert demand[0] == data_rows  # imported twice (once with --upsert), never doubled
    assert (repo / "sites.xlsx").stat().st_size > 0


def test_postgis_blocks_run_as_written(tmp_path):
    blocks = [b for b in BLOCKS if b["marker"] == "postgis"]
    assert blocks, "README has a PostGIS block (backup and restore)"
    name = f"yizhan_readme_{os.getpid()}"
    with _pg_admin() as conn, conn.cursor() as cur:
        _drop_db(cur, name)
        _drop_db(cur, "yizhan_restored")
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        env = _env(tmp_path) | {"YIZHAN_DATABASE_URL": pg_url_for(name)}
        env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
        prepare = "yizhan init && yizhan import areas data/streets.geojson --level street && " \
                  "yizhan import sites data/love_stations.csv --kind love_station\n"
        script, _ = _script(blocks, tmp_path)
        r = _run(prepare + script, _repo_copy(tmp_path / "repo"), env)
        assert r.returncode == 0, r.stderr[-4000:]
        with _pg_admin() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_database WHERE datname = 'yizhan_restored'")
            assert cur.fetchone()[0] == 1
        import sqlalchemy as sa

        from geo.store.db import engine_from_url
        eng = engine_from_url(pg_url_for("yizhan_restored"))
        try:
            with eng.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM sites")).scalar() == 80
        finally:
            eng.dispose()
    finally:
        with _pg_admin() as conn, conn.cursor() as cur:
            _drop_db(cur, name)
            _drop_db(cur, "yizhan_restored")
