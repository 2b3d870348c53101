"""The HTTP API through a real uvicorn server, on both backends."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import prcoords
import pytest

from geo.engine import clock
from geo.engine.geodesy import distance_m
from geo.ingest.import_sites import import_sites
from geo.store.tokens import create_token

HAND = """code,name,lon,lat,kind,level,status,services,opening_hours,opened_on
N1,夜间驿站,112.5700,37.8600,love_station,city_union,open,"water,charging",20:00-02:00,2021-01-01
D1,白天驿站,112.5710,37.8600,love_station,city_union,open,"water,hot_meal",08:00-18:00,2021-01-01
W1,工作日驿站,112.5720,37.8600,love_station,provincial_union,open,"water,charging,toilet",周一至周五 9:00-17:00,2021-01-01
A1,全天驿站,112.5800,37.8600,love_station,district_union,open,water,24小时,2021-01-01
H1,职工之家,112.5705,37.8601,worker_home,,open,rest,24小时,2021-01-01
C1,已撤销驿站,112.5701,37.8600,love_station,city_union,closed,water,24小时,2020-01-01
"""


@pytest.fixture
def hand_server(engine, db_url, tmp_path, server_factory):
    f = tmp_path / "hand.csv"
    f.write_text(HAND, encoding="utf-8")
    import_sites(engine, f)
    with engine.begin() as conn:
        tokens = {r: create_token(conn, role=r, name=f"{r}-user")[1] for r in ("planner", "reader")}
    with server_factory(db_url) as srv:
        srv.tokens = tokens
        yield srv


def codes(fc):
    return [f["properties"]["code"] for f in fc["features"]]


def test_nearest_order_distance_and_links(hand_server, client_factory):
    c = client_factory(hand_server.url)
    r = c.get("/api/nearest", params={"lon": 112.5700, "lat": 37.8600, "k": 5})
    assert r.status_code == 200
    fc = r.json()
    assert codes(fc) == ["N1", "H1", "D1", "W1", "A1"]  # C1 is closed: never offered
    p = fc["features"][2]["properties"]
    assert abs(p["distance_m"] - distance_m(112.57, 37.86, 112.571, 37.86)) < 0.1
    assert 89 < p["bearing_deg"] < 91
    for key in ("id", "name", "kind", "level", "status", "address", "street", "community",
                "services", "opening_hours", "open_now", "distance_m", "bearing_deg", "links"):
        assert key in p
    g = prcoords.wgs_gcj((37.86, 112.571))
    assert f"to={g.lon:.6f},{g.lat:.6f}" in p["links"]["amap"]
    b = prcoords.wgs_bd((37.86, 112.571))
    assert f"latlng:{b.lat:.6f},{b.lon:.6f}" in p["links"]["baidu"]


def test_nearest_fast_path_and_documented_route_give_the_same_answer(hand_server, client_factory):
    """The ASGI fast path answers on the wire; the FastAPI route (OpenAPI) must render the same."""
    import datetime as dt

    from api.routers.nearest import render, render_query

    c = client_factory(hand_server.url)
    assert c.head("/api/nearest", params={"lon": 112.57, "lat": 37.86}).status_code == 200
    assert c.head("/api/nearest", params={"lon": "x", "lat": 37.86}).status_code == 422
    r = c.get("/api/nearest", params={"lon": 112.57, "lat": 37.86, "k": 4, "out_crs": "gcj02",
                                      "open_at": "2024-07-01T10:00"})
    assert r.headers["content-type"] == "application/geo+json"
    holder = hand_server.app.state.holder  # the server runs in this process
    kw = dict(lon=112.57, lat=37.86, k=4, out_crs="gcj02", open_at="2024-07-01T10:00")
    assert render(holder, **kw) == r.content
    assert render_query(holder, b"lon=112.57&lat=37.86&k=4&out_crs=gcj02&open_at=2024-07-01T10:00") == r.content
    night = render(holder, lon=112.57, lat=37.86, k=5, now=dt.datetime(2024, 7, 1, 23, 30))
    day = render(holder, lon=112.57, lat=37.86, k=5, now=dt.datetime(2024, 7, 1, 10, 0))
    assert night != day and b'"open_at":null' in night  # open_now follows "now" when open_at is absent


@pytest.mark.parametrize("when,expected", [
    ("2024-07-01T23:30", ["N1", "H1", "A1"]),      # Monday night
    ("2024-07-02T01:59", ["N1", "H1", "A1"]),      # after midnight, still the Monday rule
    ("2024-07-02T02:00", ["H1", "A1"]),            # closes at 02:00
    ("2024-07-01T10:00", ["H1", "D1", "W1"]),      # Monday morning
    ("2024-07-06T10:00", ["H1", "D1", "A1"]),      # Saturday: the weekday-only station is shut
    ("2024-07-01T15:30:00Z", ["N1", "H1", "A1"]),  # 23:30 in Shanghai
])
def test_open_at(hand_server, client_factory, when, expected):
    c = client_factory(hand_server.url)
    fc = c.get("/api/nearest", params={"lon": 112.57, "lat": 37.86, "k": 3, "open_at": when}).json()
    assert codes(fc) == expected
    assert all(f["properties"]["open_now"] for f in fc["features"])


def test_filters_kind_services_max_distance(hand_server, client_factory):
    c = client_factory(hand_server.url)
    q = {"lon": 112.57, "lat": 37.86, "k": 10}
    assert codes(c.get("/api/nearest", params=q | {"kind": "worker_home"}).json()) == ["H1"]
    assert codes(c.get("/api/nearest", params=q | {"kind": "职工之家"}).json()) == ["H1"]
    assert codes(c.get("/api/nearest", params=q | {"services": "water,charging"}).json()) == ["N1", "W1"]
    assert codes(c.get("/api/nearest", params=q | {"services": "充电、如厕"}).json()) == ["W1"]
    assert codes(c.get("/api/nearest", params=q | {"max_distance": 150}).json()) == ["N1", "H1", "D1"]


def test_gcj02_in_and_out(hand_server, client_factory):
    c = client_factory(hand_server.url)
    g = prcoords.wgs_gcj((37.86, 112.57))
    fc = c.get("/api/nearest", params={"lon": g.lon, "lat": g.lat, "crs": "gcj02", "k": 1,
                                       "out_crs": "gcj02"}).json()
    f = fc["features"][0]
    assert f["properties"]["code"] == "N1" and f["properties"]["distance_m"] < 0.01
    x, y = f["geometry"]["coordinates"]
    assert abs(x - g.lon) < 1e-6 and abs(y - g.lat) < 1e-6
    bd = prcoords.wgs_bd((37.86, 112.571))
    fc = c.get("/api/nearest", params={"lon": bd.lon, "lat": bd.lat, "crs": "bd09", "k": 1}).json()
    assert fc["features"][0]["properties"]["code"] == "D1"


BAD = [
    {"lon": "nan", "lat": 37.86}, {"lon": "inf", "lat": 37.86}, {"lon": 112.57, "lat": "abc"},
    {"lon": 200, "lat": 37.86}, {"lon": 37.86, "lat": 112.57}, {"lon": 2.35, "lat": 48.85},
    {"lon": 112.57, "lat": 37.86, "k": 0}, {"lon": 112.57, "lat": 37.86, "k": 51},
    {"lon": 112.57, "lat": 37.86, "kind": "spaceport"}, {"lon": 112.57, "lat": 37.86, "services": "sauna"},
    {"lon": 112.57, "lat": 37.86, "open_at": "tomorrowish"}, {"lon": 112.57, "lat": 37.86, "crs": "EPSG:99999"},
    {"lon": 112.57, "lat": 37.86, "max_distance": -5}, {"lat": 37.86},
]


@pytest.mark.parametrize("params", BAD, ids=[str(b) for b in BAD])
def test_bad_nearest_params_are_4xx_with_detail(hand_server, client_factory, params):
    r = client_factory(hand_server.url).get("/api/nearest", params=params)
    assert 400 <= r.status_code < 500 and r.json()["detail"]


def test_swapped_and_outside_messages(hand_server, client_factory):
    c = client_factory(hand_server.url)
    assert "look swapped" in c.get("/api/nearest", params={"lon": 37.86, "lat": 112.57}).json()["detail"]
    d = c.get("/api/nearest", params={"lon": 2.35, "lat": 48.85}).json()["detail"]
    assert "outside China" in d and "swapped" not in d


@pytest.mark.parametrize("params", [{"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "120,40,110,30"},
                                    {"limit": 0}, {"offset": -1}, {"kind": "x"}, {"service": "sauna"}])
def test_bad_site_list_params(hand_server, client_factory, params):
    r = client_factory(hand_server.url).get("/api/sites", params=params)
    assert r.status_code == 422 and r.json()["detail"]


def test_sites_list_filters_and_paging(hand_server, client_factory):
    c = client_factory(hand_server.url)
    fc = c.get("/api/sites", params={"kind": "love_station", "limit": 2}).json()
    assert (fc["numberMatched"], fc["numberReturned"]) == (5, 2)
    fc = c.get("/api/sites", params={"service": "charging"}).json()
    assert sorted(codes(fc)) == ["N1", "W1"]
    fc = c.get("/api/sites", params={"bbox": "112.5695,37.8595,112.5703,37.8605"}).json()
    assert sorted(codes(fc)) == ["C1", "N1"]
    fc = c.get("/api/sites", params={"status": "已撤销"}).json()
    assert codes(fc) == ["C1"]


def test_write_auth_crud_history_and_conflict(hand_server, client_factory):
    anon = client_factory(hand_server.url)
    reader = client_factory(hand_server.url, hand_server.tokens["reader"])
    planner = client_factory(hand_server.url, hand_server.tokens["planner"])
    body = {"code": "NEW1", "name": "新驿站", "kind": "love_station", "lon": 112.5699, "lat": 37.8600,
            "level": "市总工会级", "status": "open", "services": ["饮水", "charging"],
            "opening_hours": "24小时", "opened_on": "2024-05-01"}
    assert anon.post("/api/sites", json=body).status_code == 401
    assert client_factory(hand_server.url, "yz_wrong").post("/api/sites", json=body).status_code == 401
    assert reader.post("/api/sites", json=body).status_code == 403
    r = planner.post("/api/sites", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["properties"]["services"] == ["water", "charging"]
    # visible to nearest at once in this process
    near = anon.get("/api/nearest", params={"lon": 112.5699, "lat": 37.86, "k": 1}).json()
    assert codes(near) == ["NEW1"]
    assert planner.post("/api/sites", json=body).status_code == 409  # same code
    bad = dict(body, code="NEW2", opening_hours="看情况")
    r = planner.post("/api/sites", json=bad)
    assert r.status_code == 422 and "opening_hours" in r.text
    r = planner.patch(f"/api/sites/{sid}", json={"level": "provincial_union", "effective_on": "2024-08-01"},
                      headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["properties"]["version"] == 2
    r = planner.patch(f"/api/sites/{sid}", json={"level": "provincial_gov"}, headers={"If-Match": '"1"'})
    assert r.status_code == 409
    r = planner.delete(f"/api/sites/{sid}", headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["properties"]["status"] == "closed"
    assert r.json()["properties"]["closed_on"] == clock.today().isoformat()  # the district's today
    assert codes(anon.get("/api/nearest", params={"lon": 112.5699, "lat": 37.86, "k": 1}).json()) == ["N1"]
    h = anon.get(f"/api/sites/{sid}/history").json()["history"]
    fields = [(e["field"], e["outcome"]) for e in h]
    assert ("_created", "applied") in fields and ("level", "applied") in fields
    assert ("level", "rejected: stale version") in fields and ("status", "applied") in fields
    lvl = next(e for e in h if e["field"] == "level" and e["outcome"] == "applied")
    assert (lvl["old"], lvl["new"], lvl["effective_on"], lvl["actor"]) == \
        ("city_union", "provincial_union", "2024-08-01", "planner-user")
    assert anon.get(f"/api/sites/{sid}").json()["properties"]["status"] == "closed"
    assert anon.get("/api/sites/999999").status_code == 404


def test_oversize_body_is_413(engine, db_url, server_factory, client_factory):
    with engine.begin() as conn:
        _, tok = create_token(conn, role="planner")
    with server_factory(db_url, max_body_bytes=2000) as srv:
        r = client_factory(srv.url, tok).post("/api/sites", content=b"{" + b" " * 5000 + b"}",
                                              headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["detail"]


def test_areas(engine, db_url, data_dir, server_factory, client_factory):
    from geo.ingest.import_areas import import_areas
    import_areas(engine, data_dir / "streets.geojson", level="street")
    with server_factory(db_url) as srv:
        fc = client_factory(srv.url).get("/api/areas", params={"level": "street"}).json()
        assert fc["numberMatched"] == 7 and fc["features"][0]["geometry"]["type"] == "MultiPolygon"
        assert client_factory(srv.url).get("/api/areas", params={"level": "city"}).status_code == 422


def test_other_process_sees_writes_within_a_second(hand_server, db_url, client_factory, tmp_path):
    """A second worker process (``yizhan serve``) picks up a write made through the first."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, YIZHAN_DATABASE_URL=db_url)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("yizhan")), "serve", "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        other = client_factory(f"http://127.0.0.1:{port}")
        for _ in range(200):
            try:
                if other.get("/healthz").status_code == 200:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        planner = client_factory(hand_server.url, hand_server.tokens["planner"])
        body = {"code": "X9", "name": "远端驿站", "kind": "love_station", "lon": 112.5698, "lat": 37.86,
                "status": "open", "opening_hours": "24小时", "opened_on": "2024-01-01"}
        assert planner.post("/api/sites", json=body).status_code == 201
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            fc = other.get("/api/nearest", params={"lon": 112.5698, "lat": 37.86, "k": 1}).json()
            if codes(fc) == ["X9"]:
                break
            time.sleep(0.05)
        assert codes(fc) == ["X9"]
        assert time.monotonic() - t0 < 1.5  # refresh interval is 0.5 s
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ogc_api_features_with_owslib(hand_server):
    from owslib.ogcapi.features import Features
    w = Features(hand_server.url + "/ogc")
    ids = [c["id"] for c in w.collections()["collections"]]
    assert {"love_station", "worker_home", "streets", "communities"} <= set(ids)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in w.conformance()["conformsTo"]
    items = w.collection_items("love_station", limit=2)
    assert items["numberMatched"] == 5 and len(items["features"]) == 2
    assert any(link["rel"] == "next" for link in items["links"])
    items = w.collection_items("love_station", bbox=[112.5695, 37.8595, 112.5703, 37.8605])
    assert sorted(f["properties"]["code"] for f in items["features"]) == ["C1", "N1"]
    fid = items["features"][0]["id"]
    assert w.collection_item("love_station", fid)["id"] == fid


def test_refused_writes_change_nothing(hand_server, engine, client_factory, fp):
    """No token, a wrong one, a revoked one or a read-only role: 401/403 and nothing written."""
    from geo.store.tables import tokens
    from geo.store.tokens import revoke_token
    import sqlalchemy as sa
    with engine.begin() as conn:
        tid, revoked = create_token(conn, role="planner", name="gone")
        revoke_token(conn, tid)
    before = fp(engine)
    body = {"code": "Z1", "name": "不该写入", "kind": "love_station", "lon": 112.57, "lat": 37.86}
    for tok, status in ((None, 401), ("yz_not_a_token", 401), (revoked, 401),
                        (hand_server.tokens["reader"], 403)):
        c = client_factory(hand_server.url, tok)
        assert c.post("/api/sites", json=body).status_code == status
        assert c.patch("/api/sites/1", json={"name": "改名"}).status_code == status
        assert c.delete("/api/sites/1").status_code == status
    with engine.connect() as conn:
        assert conn.execute(sa.select(tokens.c.secret_hash).where(tokens.c.id == tid)).scalar() != revoked
    assert fp(engine) == before
