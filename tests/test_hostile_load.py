"""Hostile load (issue 20): SpatiaLite writes wait their turn and answer as PostGIS does."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from geo.ingest.import_sites import import_sites
from geo.store.tokens import create_token

N = 20
ROWS = "".join(f"R{i:02d},驿站{i},{112.56 + i * 0.001:.4f},37.8600,love_station,city_union,open,water,"
               f"24小时,2021-01-01\n" for i in range(N))
HEADER = "code,name,lon,lat,kind,level,status,services,opening_hours,opened_on\n"


@pytest.fixture
def race_server(engine, db_url, tmp_path, server_factory):
    f = tmp_path / "race.csv"
    f.write_text(HEADER + ROWS, encoding="utf-8")
    import_sites(engine, f)
    with engine.begin() as conn:
        token = create_token(conn, role="planner", name="racer")[1]
        ids = dict(conn.execute(sa.text("SELECT code, id FROM sites")).all())
    with server_factory(db_url) as srv:
        srv.token, srv.ids = token, [ids[f"R{i:02d}"] for i in range(N)]
        yield srv


def _fire(client_factory, srv, requests):
    clients = [client_factory(srv.url, srv.token) for _ in requests]
    with ThreadPoolExecutor(len(requests)) as pool:
        out = list(pool.map(lambda a: a[0].patch(a[1][0], json=a[1][1], headers={"If-Match": '"1"'}),
                            zip(clients, requests)))
    for c in clients:
        c.close()
    return sorted(r.status_code for r in out)


def test_parallel_patches_with_one_version_give_one_200_and_409s(race_server, client_factory):
    sid = race_server.ids[0]
    codes = _fire(client_factory, race_server,
                  [(f"/api/sites/{sid}", {"name": f"改名{i}"}) for i in range(N)])
    assert codes == [200] + [409] * (N - 1)


def test_parallel_patches_to_different_sites_all_succeed(race_server, client_factory):
    codes = _fire(client_factory, race_server,
                  [(f"/api/sites/{sid}", {"name": f"改名{i}"}) for i, sid in enumerate(race_server.ids)])
    assert codes == [200] * N


# ---- bad input is 4xx / exit 1, never 5xx or a traceback -------------------------------------

@pytest.mark.parametrize("path,params,detail", [
    ("/api/coverage", {"mode": "walk", "radius": 1200, "network": "\x00"},
     "network: contains the control character U+0000; remove it"),
    ("/api/coverage/gaps", {"mode": "walk", "radius": 1200, "network": "streets.osm.pbf\x00.txt"},
     "network: contains the control character U+0000; remove it"),
    ("/api/nearest", {"lon": 112.56, "lat": 37.86, "open_at": "9999-12-31T23:59:59-23:59"},
     "open_at: '9999-12-31T23:59:59-23:59' is out of the range of dates this service handles"),
])
def test_hostile_parameters_are_422(race_server, client_factory, path, params, detail):
    r = client_factory(race_server.url).get(path, params=params)
    assert r.status_code == 422 and r.json()["detail"] == detail, r.text


def test_control_characters_in_a_body_are_422_and_nothing_is_written(race_server, client_factory,
                                                                     engine, fp):
    before = fp(engine)
    body = {"code": "N0", "name": "n\u0000", "kind": "love_station", "lon": 112.5699, "lat": 37.86}
    r = client_factory(race_server.url, race_server.token).post("/api/sites", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == "Value error, contains the control character U+0000; remove it"
    assert r.json()["detail"][0]["loc"] == ["body", "name"]
    assert fp(engine) == before


def test_chunked_body_over_the_limit_is_413(race_server, client_factory):
    def chunks():
        for _ in range(3):
            yield b" " * 600_000
    r = client_factory(race_server.url, race_server.token).post(
        "/api/sites", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"] == "request body over 1000000 bytes", r.text


def test_a_lost_unique_race_is_a_clear_conflict(engine):
    from geo.store.db import unique_conflicts
    from geo.errors import Conflict

    with pytest.raises(Conflict) as e, unique_conflicts("sites.csv"), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO counters (name, value) VALUES ('sites_seq', 1)"))
    assert str(e.value).startswith("sites.csv: a record with the same code already exists — written "
                                   "by another import or edit at the same time (")
    assert str(e.value).endswith("); nothing was written: run it again to see which rows, or use --upsert")


def test_cli_refuses_hostile_options_with_exit_1(engine, db_url, tmp_path):
    from tests.test_hostile_files import _yizhan

    env = {"YIZHAN_DATABASE_URL": db_url}
    r = _yizhan("nearest", "--lon", "112.56", "--lat", "37.86", "--open-at", "9999-12-31T23:59:59-23:59",
                cwd=tmp_path, env=env)
    assert r.returncode == 1 and "out of the range of dates" in r.stderr and "Traceback" not in r.stderr
    r = _yizhan("export", "sites", "--format", "csv", "--out", "/proc/nope/x.csv", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "cannot write /proc/nope/x.csv: " in r.stderr
    r = _yizhan("vocab", "add", "level", "<svg/onload=alert(1)>", "坏", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert ("code: '<svg/onload=alert(1)>' is not a valid code: use 1 to 32 lower-case letters, digits "
            "and _, starting with a letter") in " ".join(r.stderr.split())


def test_tokens_never_reach_the_access_log(race_server, client_factory):
    import logging

    from api.limits import RedactTokens

    r = client_factory(race_server.url).get("/api/sites", params={"token": race_server.token})
    assert r.status_code in (200, 401, 422)
    logger = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactTokens) for f in logger.filters)
    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:1", "GET", f"/api/sites?token={race_server.token}&x=1", "1.1", 200),
                            None)
    for f in logger.filters:
        f.filter(rec)
    assert rec.getMessage() == '127.0.0.1:1 - "GET /api/sites?token=[redacted]&x=1 HTTP/1.1" 200'
    assert race_server.token not in rec.getMessage()


def test_coverage_map_is_built_once_per_data_state(race_server, client_factory):
    anon = client_factory(race_server.url)
    cache = race_server.app.state.map_pages
    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda _: anon.get("/maps/coverage", params={"radius": 800}), range(4)))
    assert [p.status_code for p in pages] == [200] * 4 and len({p.text for p in pages}) == 1
    assert (cache.builds, cache.hits) == (1, 3)
    r = client_factory(race_server.url, race_server.token).patch(
        f"/api/sites/{race_server.ids[0]}", json={"name": "新名字"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200
    assert "新名字" in anon.get("/maps/coverage", params={"radius": 800}).text
    assert cache.builds == 2
