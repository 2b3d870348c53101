"""The finder page in headless Chromium (Debian's), served by the real server, with every
request leaving 127.0.0.1 blocked."""
from __future__ import annotations

import pytest

from geo.ingest.import_sites import import_sites

PAYLOADS = ["<img src=x onerror=window.__pwned=1>", "`${window.__pwned=1}`",
            "</script><script>window.__pwned=1</script>", "\"'><svg onload=window.__pwned=1>"]


@pytest.fixture
def browser():
    from conftest import chromium
    with chromium() as b:
        yield b


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)  # for wait_for_function
    blocked, errors, dialogs = [], [], []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("http://127.0.0.1", "data:")) else (blocked.append(route.request.url), route.abort()))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    return page, blocked, errors, dialogs


@pytest.mark.browser
def test_finder_lists_nearest_in_api_order_and_escapes(engine, db_url, server_factory, client_factory,
                                                       browser, tmp_path):
    rows = ["code,name,lon,lat,kind,status,services,opening_hours,opened_on"]
    for i, name in enumerate(["甲驿站", "乙驿站", "丙驿站"] + PAYLOADS):
        rows.append(f'F{i},"{name.replace(chr(34), chr(34) * 2)}",{112.570 + 0.0011 * (i + 1)},37.86,'
                    f'love_station,open,"water,charging",24小时,2022-01-01')
    f = tmp_path / "f.csv"
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_sites(engine, f)
    with server_factory(db_url) as srv:
        api = client_factory(srv.url).get("/api/nearest", params={"lon": 112.570, "lat": 37.86, "k": 5}).json()
        want = [str(x["properties"]["id"]) for x in api["features"]]
        page, blocked, errors, dialogs = open_page(browser, f"{srv.url}/maps/finder?lon=112.570&lat=37.86")
        page.wait_for_function("document.querySelectorAll('#results li').length === 5")
        got = page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.id)")
        assert got == want
        names = page.eval_on_selector_all("#results li .name span:nth-child(2)", "els => els.map(e => e.textContent)")
        assert names == [x["properties"]["name"] for x in api["features"]]
        page.check("text=充电")
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "finder.png"))
        # a station named with each payload: shown literally, nothing runs
        page2, blocked2, errors2, dialogs2 = open_page(browser, f"{srv.url}/maps/finder?lon=112.5785&lat=37.86")
        page2.wait_for_function("document.querySelectorAll('#results li').length === 5")
        texts = page2.eval_on_selector_all("#results li .name", "els => els.map(e => e.textContent)")
        for p in PAYLOADS:
            assert any(p in t for t in texts), (p, texts)
        assert page2.evaluate("window.__pwned") is None
        sid = [x["properties"]["id"] for x in api["features"]][0]
        page3, *_ = open_page(browser, f"{srv.url}/maps/finder?site={sid}")
        page3.wait_for_function("document.querySelectorAll('#results li').length === 1")
        assert page3.eval_on_selector("#results li", "e => e.dataset.id") == str(sid)
    assert not blocked and not blocked2
    assert not errors and not errors2, errors + errors2
    assert not dialogs and not dialogs2


@pytest.mark.browser
def test_api_docs_render_offline(engine, db_url, server_factory, browser):
    with server_factory(db_url) as srv:
        page, blocked, errors, dialogs = open_page(browser, f"{srv.url}/docs")
        page.wait_for_selector("[data-path='/api/nearest']", timeout=30_000)
    assert not blocked and not errors, blocked + errors
