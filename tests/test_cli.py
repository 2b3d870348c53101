"""The real ``yizhan`` command in a subprocess, on both backends: exit codes and messages."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from geo.store.tables import site_history, sites, tokens

YIZHAN = str(Path(sys.executable).with_name("yizhan"))


def run(db_url, *args, cwd=None):
    env = dict(os.environ, YIZHAN_DATABASE_URL=db_url, COLUMNS="200")
    return subprocess.run([YIZHAN, *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_help_lists_every_contract_command(db_url):
    r = run(db_url, "--help")
    assert r.returncode == 0
    for c in ("init", "import", "export", "nearest", "coverage", "suggest", "report", "map",
              "token", "serve", "demo"):
        assert f" {c} " in r.stdout


def test_import_ok_bad_and_usage_exit_codes(db_url, engine, corpus, fp):
    assert run(db_url, "init").returncode == 0
    r = run(db_url, "import", "sites", corpus / "sites_gbk_gcj02_zh.csv", "--kind", "love_station",
            "--crs", "gcj02")
    assert r.returncode == 0, r.stderr
    assert "3 new" in r.stdout
    before = fp(engine)
    r = run(db_url, "import", "sites", corpus / "sites_one_bad_row.csv", "--kind", "love_station")
    assert r.returncode == 1
    assert "sites_one_bad_row.csv, row 4, field lat: 'abc' is not a number" in r.stderr
    assert "nothing was written" in r.stderr
    assert fp(engine) == before
    r = run(db_url, "import", "areas", corpus / "areas_self_intersecting.geojson")  # no --level
    assert r.returncode == 2
    r = run(db_url, "import", "sites", corpus / "sites_utf8_bom.csv", "--kind", "love_station", "--dry-run")
    assert r.returncode == 0 and "would import" in r.stdout
    assert fp(engine) == before


def test_export_then_upsert_with_effective_date(db_url, engine, corpus, tmp_path):
    run(db_url, "import", "sites", corpus / "sites_utf8_bom.csv", "--kind", "love_station")
    out = tmp_path / "s.csv"
    r = run(db_url, "export", "sites", "--format", "csv", "--out", out)
    assert r.returncode == 0 and out.exists()
    text = out.read_text(encoding="utf-8-sig").replace("city_union", "provincial_gov")
    out.write_text(text, encoding="utf-8")
    r = run(db_url, "import", "sites", out, "--upsert", "--effective-on", "2024-03-01")
    assert r.returncode == 0, r.stderr
    with engine.connect() as conn:
        levels = conn.execute(sa.select(sites.c.level)).scalars().all()
        n = conn.execute(sa.select(sa.func.count()).select_from(site_history)
                         .where(site_history.c.field == "level")).scalar()
    assert levels == ["provincial_gov"] * 2 and n == 2


def test_token_create_shows_secret_once_and_stores_hash(db_url, engine):
    r = run(db_url, "token", "create", "--role", "planner", "--name", "张三")
    assert r.returncode == 0
    secret = r.stdout.strip().splitlines()[-1]
    assert secret.startswith("yz_")
    with engine.connect() as conn:
        row = conn.execute(sa.select(tokens)).one()
    assert secret not in row.secret_hash and row.name == "张三"
    assert run(db_url, "token", "revoke", str(row.id)).returncode == 0
    assert run(db_url, "token", "revoke", "999").returncode == 1


def test_demo_builds(db_url, engine, tmp_path):
    r = run(db_url, "demo", "--no-serve", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.select(sites.c.kind, sa.func.count()).group_by(sites.c.kind)).all())
    assert kinds["love_station"] >= 75 and kinds["worker_home"] >= 10
    r = run(db_url, "demo", "--no-serve", cwd=tmp_path)
    assert "not rebuilt" in r.stdout


def test_report_annual_cli_and_api_agree(db_url, engine, tmp_path, server_factory, client_factory):
    import json

    import openpyxl
    from geo.ingest.demo import build_demo
    build_demo(engine)
    r = run(db_url, "report", "annual", "--year", "2021", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["sentence"].startswith("截至2021年底，全区已建成爱心驿站")
    r = run(db_url, "report", "annual", "--year", "2021", "--format", "xlsx", "--out", tmp_path / "r.xlsx")
    assert r.returncode == 0 and openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    assert run(db_url, "report", "annual", "--year", "2021", "--format", "xlsx").returncode == 2
    assert run(db_url, "report", "annual", "--year", "2021", "--as-of", "2020-05-01").returncode == 1
    with server_factory(db_url) as srv:
        c = client_factory(srv.url)
        api = c.get("/api/reports/annual", params={"year": 2021}).json()
        assert api["sentence"] == rep["sentence"]
        x = c.get("/api/reports/annual", params={"year": 2021, "format": "xlsx"})
        assert x.status_code == 200 and x.content[:2] == b"PK"
        assert c.get("/api/reports/annual", params={"year": 2021, "as_of": "2021-13-01"}).status_code == 422
        assert c.get("/api/reports/annual", params={"year": 1800}).status_code == 422


def test_many_warnings_are_capped_not_flooded(db_url, tmp_path):
    """300 near-duplicate pairs: 200 warning lines, then one line with the rest; all counted."""
    rows = ["code,name,lon,lat"]
    for k in range(300):
        lon, lat = 112.50 + 0.001 * k, 37.85
        rows += [f"A{k},爱心驿站{k}号,{lon:.6f},{lat:.6f}", f"B{k},爱心驿站{k}号站,{lon + 0.00005:.6f},{lat:.6f}"]
    path = tmp_path / "dups.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = run(db_url, "import", "sites", path, "--kind", "love_station", "--status", "planned")
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("warning:")]
    assert len(lines) == 201 and lines[-1] == "warning: … and 100 more"
    assert "600 new" in r.stdout and "300 warning(s)" in r.stdout
