"""The QR page of a station (``/maps/finder?site=ID``) in headless Chromium, on both backends:
a station that is not open says so with its status and date and offers the nearest open
stations; the page zooms to its station; no distance before the user gives a position; an
unknown id says so."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from geo.services import site_edits
from geo.engine.geodesy import distance_m
from geo.ingest.import_sites import import_sites
from geo.store.tables import sites
from test_finder_browser import browser, open_page  # noqa: F401  (fixture)

SITES = """code,name,lon,lat,kind,status,services,opening_hours,opened_on,closed_on
Q1,撤销驿站,112.5700,37.8600,love_station,closed,water,24小时,2020-01-01,2024-06-15
Q2,甲驿站,112.5712,37.8600,love_station,open,water,24小时,2021-01-01,
Q3,乙驿站,112.5700,37.8618,love_station,open,water,24小时,2021-01-01,
Q4,丙驿站,112.5760,37.8600,love_station,open,water,24小时,2021-01-01,
Q5,暂停驿站,112.5800,37.8700,love_station,open,water,24小时,2021-01-01,
Q6,规划驿站,112.5900,37.8800,love_station,planned,,,,
"""
#: district-wide area far larger than a street view: the page must not zoom out to it
AREA = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"S1",'
        '"name":"大街道"},"geometry":{"type":"Polygon","coordinates":[[[112.3,37.6],[112.9,37.6],'
        '[112.9,38.1],[112.3,38.1],[112.3,37.6]]]}}]}')


def _load(engine, tmp_path) -> dict[str, int]:
    from geo.ingest.import_areas import import_areas
    (tmp_path / "a.geojson").write_text(AREA, encoding="utf-8")
    import_areas(engine, tmp_path / "a.geojson", level="street")
    (tmp_path / "s.csv").write_text(SITES, encoding="utf-8")
    import_sites(engine, tmp_path / "s.csv", effective_on=dt.date(2022, 1, 1))
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.select(sites.c.code, sites.c.id)).all())
    site_edits.patch_site(engine, ids["Q5"], {"status": "suspended"}, crs=None, actor="t",
                          expected_version=None, effective_on=dt.date(2025, 3, 1))
    return ids


def _wait_list(page, n):
    page.wait_for_function(f"document.querySelectorAll('#results li').length === {n}")
    page.wait_for_function("window.yizhanFinder.areasShown === true")  # streets drawn: map did not move


def _view(page):
    return page.evaluate("(() => { const m = window.yizhanFinder.map, c = m.getCenter();"
                         " return [m.getZoom(), c.lng, c.lat]; })()")


def test_qr_page_of_closed_suspended_planned_open_and_unknown(engine, db_url, server_factory,
                                                              client_factory, browser, tmp_path):
    ids = _load(engine, tmp_path)
    with server_factory(db_url) as srv:
        api = client_factory(srv.url)
        near = api.get("/api/nearest", params={"lon": 112.57, "lat": 37.86, "k": 5}).json()["features"]
        page, blocked, errors, dialogs = open_page(browser, f"{srv.url}/maps/finder?site={ids['Q1']}")
        _wait_list(page, len(near))
        assert page.text_content("#notice") == "撤销驿站：该站点已于2024-06-15撤销。"
        assert page.text_content("#status") == "离该站最近的开放站点："
        got = page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.id)")
        assert got == [str(f["properties"]["id"]) for f in near]
        assert str(ids["Q1"]) not in got and str(ids["Q5"]) not in got and str(ids["Q6"]) not in got
        dists = page.eval_on_selector_all("#results li .dist", "els => els.map(e => e.textContent)")
        assert dists[:3] == [f"距该站 {round(float(distance_m(112.57, 37.86, lon, lat)))} 米 · "
                             for lon, lat in ((112.5712, 37.86), (112.57, 37.8618), (112.576, 37.86))]
        links = page.eval_on_selector_all("#results li .nav a", "els => els.map(e => e.textContent)")
        assert links[:2] == ["高德导航", "百度导航"]
        zoom, lon, lat = _view(page)
        assert zoom == 16 and distance_m(lon, lat, 112.57, 37.86) < 5
        page.screenshot(path=str(tmp_path / "qr-closed.png"))

        page, *more = open_page(browser, f"{srv.url}/maps/finder?site={ids['Q5']}")
        _wait_list(page, 3)
        assert page.text_content("#notice") == "暂停驿站：该站点自2025-03-01起暂停开放。"
        errors += more[1]
        page, *more = open_page(browser, f"{srv.url}/maps/finder?site={ids['Q6']}")
        _wait_list(page, 3)
        assert page.text_content("#notice") == "规划驿站：该站点2022-01-01起在规划中，尚未开放。"
        errors += more[1]

        page, *more = open_page(browser, f"{srv.url}/maps/finder?site={ids['Q2']}")
        _wait_list(page, 1)
        assert page.is_hidden("#notice")
        assert page.text_content("#status") == "站点详情："
        assert page.eval_on_selector("#results li", "e => e.dataset.id") == str(ids["Q2"])
        meta = page.text_content("#results li")
        assert "米" not in meta and "公里" not in meta and "开放中" in meta, meta  # no position: no distance
        zoom, lon, lat = _view(page)
        assert zoom == 16 and distance_m(lon, lat, 112.5712, 37.86) < 5
        page.evaluate("window.yizhanFinder.setHere(37.8600, 112.5700)")  # now the user says where
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('离你最近')")
        assert page.text_content("#results li .dist") == \
            f"{round(float(distance_m(112.57, 37.86, 112.5712, 37.86)))} 米 · "
        errors += more[1]

        for bad in ("999999", "abc"):
            page, *more = open_page(browser, f"{srv.url}/maps/finder?site={bad}")
            page.wait_for_selector("#notice:not([hidden])")
            assert page.text_content("#notice") == f"找不到编号为 {bad} 的站点，二维码或链接可能有误。"
            assert page.text_content("#status") == "点“定位我”，或在地图上点一下你的位置，查找附近的站点。"
            blocked += more[0]
    assert not blocked and not dialogs
    assert not [e for e in errors if "404" not in e and "422" not in e], errors


def test_site_status_since_in_the_api(engine, db_url, server_factory, client_factory, tmp_path):
    ids = _load(engine, tmp_path)
    with server_factory(db_url) as srv:
        api = client_factory(srv.url)
        since = {c: api.get(f"/api/sites/{ids[c]}").json()["properties"]["status_since"]
                 for c in ("Q1", "Q2", "Q5", "Q6")}
    assert since == {"Q1": "2024-06-15", "Q2": "2021-01-01", "Q5": "2025-03-01", "Q6": "2022-01-01"}
