"""The stand-alone coverage map in headless Chromium, with every non-local request blocked.

Debian's ``/usr/bin/chromium`` is driven by Playwright's Python client (no browser
download). Every request that is not ``file:`` or ``data:`` is aborted and recorded.
"""
from __future__ import annotations

from pathlib import Path

import pytest

# one browser page for the whole module: keep its tests on one xdist worker
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("maps_browser")]

ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "反引号`名称",
    "${alert(1)}",
    "</script><script>alert(1)</script>",
    "\"'><svg onload=alert(1)>",
    "${window.__pwned=1}",
    "<img src=x onerror=\"window.__pwned=1\">",
    "`;window.__pwned=1;`",
    "{{ 'SSTI' ~ '-HIT' }}",
]
N_SITES = 80


@pytest.fixture(scope="module")
def browser():
    from conftest import chromium
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def map_file(tmp_path_factory) -> Path:
    from maps.coverage_map import coverage_map_from_layers
    from maps.offline import save_html
    from maps.samples import synthetic_layers

    lay = synthetic_layers(N_SITES, seed=7, names=PAYLOADS)
    lay["sites"].loc[1, "address"] = PAYLOADS[6]
    same = lay["sites"].geometry.iloc[20]  # three stations in one building: spiderfied
    for k in (20, 21, 22):
        lay["sites"].loc[k, ["kind", "name"]] = ["love_station", f"同址站{k}"]
        lay["sites"].loc[k, "geometry"] = same
    lay["streets"].loc[1, "name"] = PAYLOADS[0]
    lay["suggestions"].loc[0, "name"] = PAYLOADS[5]
    lay["suggestions"].loc[1, "name"] = PAYLOADS[6]
    path = tmp_path_factory.mktemp("map") / "coverage.html"
    save_html(coverage_map_from_layers(**lay, title="覆盖图 ${window.__pwned=1}"), path)
    return path


@pytest.fixture(scope="module")
def page(browser, map_file):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    state = {"blocked": [], "errors": [], "dialogs": []}

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            state["blocked"].append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("console", lambda m: state["errors"].append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: state["errors"].append(f"pageerror: {e}"))
    pg.on("requestfailed", lambda r: state["errors"].append(f"requestfailed: {r.url}"))

    def on_dialog(d):
        state["dialogs"].append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.add_init_script(_SHOWN_FN)
    pg.goto(map_file.as_uri())
    pg.wait_for_function("window.YZ && YZ.siteLayers.length > 0 && YZ.sitesReady()", timeout=20_000)
    pg.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')", timeout=10_000)
    pg.wait_for_timeout(300)
    state["view"] = pg.evaluate("""() => { const m = YZ.siteLayers[0].map, b = m.getBounds();
        window.__yzStart = [m.getCenter(), m.getZoom()];
        return {bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()],
                clusters: document.querySelectorAll('.marker-cluster').length, shown: _shownCount()}; }""")
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "coverage_map.png"))
    pg.state = state
    yield pg
    context.close()


_SHOWN_JS = """() => _shownCount()"""
_SHOWN_FN = """window._shownCount = () => {
    let clusters = 0, sites = 0;
    document.querySelectorAll('.marker-cluster span').forEach(s => { clusters++; sites += Number(s.textContent); });
    sites += document.querySelectorAll('.leaflet-marker-icon.yz-m').length;
    return {clusters, sites}; };"""


def _reset(page) -> None:
    """Back to the opening view: no popup, nothing spiderfied (tests may run in any order)."""
    page.evaluate("""() => { const m = YZ.siteLayers[0].map; m.closePopup();
        YZ.siteLayers.forEach(e => e.cluster.unspiderfy());
        m.setView(window.__yzStart[0], window.__yzStart[1], {animate: false}); }""")
    page.wait_for_timeout(100)


def _show_site(page, name: str) -> None:
    """Zoom or spiderfy to the named station, as a user would, and click its marker."""
    _reset(page)
    page.evaluate("""name => {
        window.__yzShown = false;
        YZ.siteLayers.forEach((e, k) => { for (let i = 0; i < e.data.n; i++) {
            if (YZ.val(e.data, 'name', i) !== name) continue;
            window.__yzTarget = [k, i];
            YZ.revealSite(e, i, () => { window.__yzShown = true; });
        } });
    }""", name)
    page.wait_for_function("""() => { if (!window.__yzShown) return false;
        const [k, i] = window.__yzTarget, e = YZ.siteLayers[k];
        return !!e.markers[i] && !!e.markers[i]._icon && !e.map._animatingZoom; }""",
                           timeout=10_000)
    page.wait_for_timeout(300)  # spiderfy legs settle
    x, y = page.evaluate("""() => { const [k, i] = window.__yzTarget, e = YZ.siteLayers[k], icon = e.markers[i]._icon;
        let r = icon.getBoundingClientRect();
        if (!icon.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2))) {
            e.map.panTo(e.markers[i].getLatLng(), {animate: false});
            r = e.markers[i]._icon.getBoundingClientRect();
        }
        return [r.x + r.width / 2, r.y + r.height / 2]; }""")
    page.mouse.click(x, y)
    page.wait_for_function("name => { const p = YZ.siteLayers[0].map._popup; return p && p.isOpen() && "
                           "p.getElement().querySelector('.yz-popup-title').textContent === name; }",
                           arg=name, timeout=5_000)


def _popup(page) -> dict | None:
    """The open popup: its title, its text and how many img/svg/script elements it holds."""
    return page.evaluate("""() => {
        const p = YZ.siteLayers[0].map._popup;
        if (!p || !p.isOpen()) return null;
        const c = p.getElement().querySelector('.leaflet-popup-content');
        const t = c.querySelector('.yz-popup-title');
        return {title: t ? t.textContent : null, text: c.innerText,
                tags: c.querySelectorAll('img, svg, script, iframe').length};
    }""")


def test_opens_with_no_network_and_no_errors(page):
    assert page.state["blocked"] == []
    assert page.state["errors"] == []
    assert page.evaluate("typeof Supercluster") == "function" and page.evaluate("typeof YZ.SiteCluster") == "function"
    assert page.evaluate("document.title").startswith("覆盖图")
    # fitted to the district on open (synthetic district: 113.90–114.00 E, 22.50–22.58 N)
    b = page.state["view"]["bounds"]
    assert b[0] <= 113.90 and b[1] <= 22.50 and b[2] >= 114.00 and b[3] >= 22.58
    assert b[2] - b[0] < 0.5
    assert (ARTIFACTS / "coverage_map.png").stat().st_size > 10_000


def test_counts_every_station_inside_clusters(page):
    assert page.evaluate("YZ.countSites()") == N_SITES
    by_kind = page.evaluate("Object.fromEntries(YZ.siteLayers.map(e => [e.kind, e.cluster.count()]))")
    assert set(by_kind) == {"love_station", "worker_home"} and sum(by_kind.values()) == N_SITES
    assert page.state["view"]["clusters"] > 0  # clustered at the district view
    # what is drawn: the numbers on the cluster icons plus the single markers are every site
    assert page.state["view"]["shown"] == {"clusters": page.state["view"]["clusters"], "sites": N_SITES}
    _reset(page)
    assert page.evaluate(_SHOWN_JS) == page.state["view"]["shown"]


def test_click_on_a_cluster_zooms_in_or_spreads_it(page):
    _reset(page)
    start = page.evaluate("YZ.siteLayers[0].map.getZoom()")
    x, y = page.evaluate("""() => {  // the cluster nearest the centre that nothing covers
        const c = YZ.siteLayers[0].map.getContainer().getBoundingClientRect();
        const mid = [c.x + c.width / 2, c.y + c.height / 2];
        const pts = [...document.querySelectorAll('.marker-cluster.yz-cl-circle')].map(el => {
            const r = el.getBoundingClientRect(), p = [r.x + r.width / 2, r.y + r.height / 2];
            return el.contains(document.elementFromPoint(p[0], p[1])) ? p : null; }).filter(Boolean);
        pts.sort((a, b) => Math.hypot(a[0] - mid[0], a[1] - mid[1]) - Math.hypot(b[0] - mid[0], b[1] - mid[1]));
        return pts[0]; }""")
    page.mouse.click(x, y)
    page.wait_for_function(f"() => YZ.siteLayers[0].map.getZoom() > {start} || "
                           "YZ.siteLayers[0].cluster.spiderfied() !== null", timeout=5_000)
    page.wait_for_function("() => YZ.sitesReady() && !YZ.siteLayers[0].map._animatingZoom", timeout=5_000)
    zoomed = page.evaluate("YZ.siteLayers[0].map.getZoom()") > start
    spread = page.evaluate("YZ.siteLayers[0].cluster.spiderfied() !== null")
    assert zoomed or spread
    assert page.evaluate("YZ.countSites()") == N_SITES  # at the new zoom too
    _reset(page)


def test_layer_control_switches_layers(page):
    _reset(page)
    label = page.locator(".leaflet-control-layers-overlays label", has_text="爱心驿站")
    visible = "() => document.querySelectorAll('.yz-m-circle, .marker-cluster.yz-cl-circle').length"
    assert page.evaluate(visible) > 0
    label.click()
    page.wait_for_timeout(150)
    assert page.evaluate("YZ.siteLayers[0].map.hasLayer(YZ.siteLayers[0].cluster)") is False
    assert page.evaluate(visible) == 0
    label.click()
    page.wait_for_timeout(150)
    assert page.evaluate(visible) > 0
    heat = page.locator(".leaflet-control-layers-overlays label", has_text="需求热力")
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 0
    heat.click()
    page.wait_for_timeout(150)
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
    heat.click()


def test_click_on_a_station_opens_its_popup(page):
    _show_site(page, "站点42")
    content = _popup(page)["text"]
    assert "站点42" in content and "编号" in content and "YZ000042" in content and "状态" in content


def test_stations_in_one_place_are_spiderfied(page):
    for name in ("同址站21", "同址站22"):
        _show_site(page, name)
        assert _popup(page)["title"] == name
    spread = page.evaluate("""() => { const e = YZ.siteLayers[0];
        return e.cluster.spiderfied() === null ? [] : e.markers.filter(m => m && m._icon && m._yzHome)
            .map(m => YZ.val(e.data, 'name', m._yzIndex)); }""")
    assert {"同址站20", "同址站21", "同址站22"} <= set(spread)
    _reset(page)
    assert page.evaluate("YZ.siteLayers[0].cluster.spiderfied()") is None


def test_hostile_names_show_literally_and_run_nothing(page):
    for name in PAYLOADS:
        _show_site(page, name)
        popup = _popup(page)
        assert popup["title"] == name and popup["tags"] == 0
    _show_site(page, PAYLOADS[1])
    assert PAYLOADS[6] in _popup(page)["text"]  # its address
    assert page.evaluate("YZ.esc('<b>`${x}</b>')") == "&lt;b&gt;&#96;&#36;&#123;x&#125;&lt;/b&gt;"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.state["dialogs"] == []


def test_area_and_suggestion_popups_are_literal(page):
    _reset(page)
    texts = page.evaluate("""() => {
        const map = YZ.siteLayers[0].map, out = [];
        Object.values(map._layers).forEach(l => {
            if (!l.getPopup || !l.getPopup()) return;
            l.openPopup(l.getBounds ? l.getBounds().getCenter() : undefined);
            const c = l.getPopup().getElement().querySelector('.leaflet-popup-content');
            out.push([c.innerText, c.querySelectorAll('img, svg, script').length]);
            l.closePopup();
        });
        return out;
    }""")
    joined = "\n".join(t for t, _ in texts)
    for payload in (PAYLOADS[0], PAYLOADS[5], PAYLOADS[6]):
        assert payload in joined
    assert all(n == 0 for _, n in texts)
    assert "SSTI-HIT" not in page.content()
    assert page.evaluate("typeof window.__pwned") == "undefined" and page.state["dialogs"] == []


def test_search_finds_a_station_by_name(page):
    _reset(page)
    box = page.locator(".yz-search-input")
    box.fill("svg onload")
    hit = page.locator(".yz-search-results li").first
    assert PAYLOADS[4] in hit.inner_text()
    hit.click()
    page.wait_for_function("name => { const p = YZ.siteLayers[0].map._popup; return p && p.isOpen() && "
                           "p.getElement().querySelector('.yz-popup-title').textContent === name; }",
                           arg=PAYLOADS[4], timeout=5_000)
    assert _popup(page)["tags"] == 0
    box.fill("没有这个站")
    assert page.locator(".yz-search-results li").first.inner_text() == "未找到匹配的站点"
    box.fill("")


def test_nothing_went_wrong_at_all(page):
    assert page.state["blocked"] == [] and page.state["errors"] == [] and page.state["dialogs"] == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
