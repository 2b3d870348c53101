"""Coverage map built in pure Python: offline assets, escaping, input shapes, tiles."""
from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess

import folium
import numpy as np
import pytest
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import HeatMap, MarkerCluster, MeasureControl
from folium.template import Template
from shapely.geometry import box

from maps.coverage_map import coverage_map_from_layers
from maps.offline import (ASSETS, STATIC_DIR, OfflineError, UnknownAssetError, check_offline, localize,
                          needs_gcj02, offline_map, to_html)
from maps.safe import html_text, js_template_safe, json_for_script, popup_html
from maps.samples import synthetic_layers
from maps.site_data import ALPHABET, decode_site_payload, pack_ints, unpack_ints

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "反引号`名称",
    "${alert(1)}",
    "</script><script>alert(1)</script>",
    "\"'><svg onload=alert(1)>",
    "{{ 'SSTI' ~ '-HIT' }}",
    "反斜杠\\`${window.__pwned=1}",
]
CDN_HOSTS = ["cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "netdna.bootstrapcdn.com",
             "unpkg.com", "maxcdn.bootstrapcdn.com", "stackpath.bootstrapcdn.com", "rawcdn.githack.com",
             "rawgit.com", "leaflet.github.io", "fonts.googleapis.com"]
NODE = shutil.which("node") or "node"  # installed by `make` (SYS_PKGS); never skipped


@pytest.fixture(scope="module")
def layers():
    lay = synthetic_layers(40, seed=3, names=PAYLOADS)
    lay["sites"].loc[0, "address"] = PAYLOADS[4]
    lay["streets"].loc[0, "name"] = PAYLOADS[0]
    lay["communities"].loc[1, "name"] = PAYLOADS[5]
    lay["suggestions"].loc[2, "name"] = PAYLOADS[3]
    lay["suggestions"].loc[0, "name"] = PAYLOADS[5]
    return lay


@pytest.fixture(scope="module")
def page_html(layers) -> str:
    return to_html(coverage_map_from_layers(**layers, title="测试<b>覆盖</b>图 {{ 7*7 }}"))


@pytest.fixture(scope="module")
def url_html(layers) -> str:
    return to_html(coverage_map_from_layers(**layers, mode="url"), mode="url")


def _raw_site_data(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    return [json.loads(b) for b in blocks]


def _site_data(html: str) -> list[dict]:
    return [decode_site_payload(d) for d in _raw_site_data(html)]


# ----------------------------------------------------------------------------- offline


_VENDORED = re.compile(r"<(script|style)>/\* [\w./@-]+ \*/\n.*?</\1>", re.S)


@pytest.mark.parametrize("fixture", ["page_html", "url_html"])
def test_page_loads_nothing_from_a_cdn(fixture, request):
    html = request.getfixturevalue(fixture)
    check_offline(html)  # no script/link/img/… and no CSS url() pointing at a host
    for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html):
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", tag), tag
    # outside the vendored libraries (whose comments cite their homepages) no URL at all:
    # no CDN, and no tiles with tiles="none"
    ours = _VENDORED.sub("", html)
    assert ours != html or fixture == "url_html"
    for host in CDN_HOSTS:
        assert host not in ours
    assert re.findall(r"https?://", ours) == []


def test_inline_page_embeds_everything(page_html):
    assert "<script src=" not in page_html and "<link rel=\"stylesheet\"" not in page_html
    assert "YZ.addSiteLayer" in page_html and "Supercluster" in page_html and "YZ.SiteCluster" in page_html
    assert "L.markerClusterGroup(" not in page_html  # clustered by Supercluster, view by view
    # images and fonts referenced by vendored CSS are data: URIs
    for ref in re.findall(r"url\(\s*[\"']?([^\"')]+)", page_html):
        assert ref.startswith(("data:", "#")), ref
    # without folium.Icon, bootstrap and font-awesome are left out
    assert "Font Awesome" not in page_html and "Bootstrap v5" not in page_html


def test_url_page_links_vendored_files(url_html):
    links = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', url_html)
    assert links, "no asset links"
    for link in links:
        assert link.startswith("/static/"), link
        assert (STATIC_DIR / link[len("/static/"):]).is_file(), link
    for url in re.findall(r"https?://[^\s\"'<>)]+", url_html):  # only Leaflet's credit link
        assert url.startswith("https://leafletjs.com"), url


def test_every_asset_is_vendored_with_a_licence():
    for name, asset in ASSETS.items():
        path = STATIC_DIR / asset.path
        assert path.is_file(), name
        top = STATIC_DIR / asset.path.split("/")[0]
        if top.name != "yizhan":
            assert any(p.name.lower().startswith(("licen", "mit-licen")) for p in top.iterdir()), top
    manifest = (STATIC_DIR / "MANIFEST.md").read_text(encoding="utf-8")
    for pkg in ("leaflet | 1.9.4", "leaflet.markercluster | 1.5.3", "jquery | 3.7.1", "leaflet.heat",
                "supercluster | 8.0.1", "kdbush | 4.0.2"):
        assert pkg in manifest
    assert not list(STATIC_DIR.rglob("*.map"))


def test_localize_covers_folium_defaults_and_plugins():
    m = offline_map(location=[22.5, 114.0])
    MarkerCluster().add_to(m)
    HeatMap([[22.5, 114.0, 1.0]]).add_to(m)
    folium.Marker([22.5, 114.0], icon=folium.Icon(color="red")).add_to(m)  # needs bootstrap etc.
    html = to_html(m, mode="url")
    for name in ("leaflet/leaflet.js", "jquery/jquery.min.js", "leaflet.markercluster/leaflet.markercluster.js",
                 "leaflet.heat/leaflet-heat.js", "leaflet.awesome-markers/leaflet.awesome-markers.js",
                 "fontawesome/css/all.min.css", "glyphicons/bootstrap-glyphicons.css"):
        assert f'"/static/{name}"' in html
    inline = to_html(m)
    check_offline(inline)
    assert "fa-solid-900.woff2" not in inline and "data:font/woff2;base64," in inline
    # folium's class-level lists are untouched (only instances were rewritten)
    assert folium.Map.default_js[0][1].startswith("https://")


def test_localize_raises_on_unknown_asset():
    m = offline_map()
    MeasureControl().add_to(m)
    with pytest.raises(UnknownAssetError, match="leaflet_measure"):
        localize(m)

    class Sneaky(JSCSSMixin, MacroElement):
        _template = Template("")
        default_js = [("leaflet", "https://evil.example/other.js")]

    m2 = offline_map()
    Sneaky().add_to(m2)
    with pytest.raises(UnknownAssetError):
        localize(m2, mode="url")


def test_check_offline_rejects_external_loads():
    with pytest.raises(OfflineError):
        check_offline('<script src="https://cdn.example.com/x.js"></script>')
    with pytest.raises(OfflineError):
        check_offline("<style>@import url(//fonts.example.com/a.css);</style>")
    check_offline('<a href="https://leafletjs.com">Leaflet</a><script>var t="https://tiles/{z}";</script>')


# ----------------------------------------------------------------------------- tiles


def test_tiles_choices(monkeypatch):
    m = offline_map()
    assert m.options["max_zoom"] == 18 and not any(
        isinstance(c, folium.TileLayer) for c in m._children.values())
    assert needs_gcj02("amap") and needs_gcj02("高德") and not needs_gcj02("osm")
    assert not needs_gcj02("tianditu") and not needs_gcj02(None)
    monkeypatch.delenv("YIZHAN_TIANDITU_KEY", raising=False)
    with pytest.raises(ValueError, match="天地图"):
        offline_map("tianditu")
    html = to_html(offline_map("tianditu", tianditu_key="abc123"))
    assert "vec_w/wmts" in html and "cva_w/wmts" in html and "tk=abc123" in html
    assert "tile.openstreetmap.org" in to_html(offline_map("osm"))
    with pytest.raises(ValueError):
        offline_map("google")


def test_amap_tiles_shift_every_geometry(layers):
    from geo.engine.crs_gcj02_bd09 import from_wgs84

    html = to_html(coverage_map_from_layers(**layers, tiles="amap"))
    assert "autonavi.com" in html
    data = {d["kind"]: d for d in _site_data(html)}["love_station"]
    sites = layers["sites"]
    first = sites.iloc[0]
    gx, gy = from_wgs84([first.geometry.x], [first.geometry.y], "gcj02")
    assert data["lon"][0] == pytest.approx(gx[0], abs=2e-6) and data["lat"][0] == pytest.approx(gy[0], abs=2e-6)
    assert abs(data["lon"][0] - first.geometry.x) > 1e-3  # ~500 m shift
    x0, y0, _, _ = layers["district"].total_bounds
    dx, dy = from_wgs84([x0], [y0], "gcj02")
    assert f"{round(float(dx[0]), 6)}" in html and f"{round(float(dy[0]), 6)}" in html


# ----------------------------------------------------------------------------- escaping


def _tojson(text: str) -> str:
    """``text`` as Jinja's ``tojson`` writes it inside a JSON string (Folium's GeoJSON data)."""
    return (json.dumps(text)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("'", "\\u0027"))


def test_payloads_are_escaped_everywhere(page_html):
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page_html, re.S)
    for block in blocks:  # data blocks cannot end early or open a tag
        assert "<" not in block and ">" not in block
    executable = re.sub(r'<script type="application/json".*?</script>', "", page_html, flags=re.S)
    for p in PAYLOADS:
        assert p not in executable, p
    assert "SSTI-HIT" not in page_html and "49" not in re.findall(r"<title>(.*?)</title>", page_html)[0]
    # Folium paths carry HTML-escaped text: GeoJSON popups (areas) ...
    assert _tojson(html_text(PAYLOADS[0])) in page_html
    assert _tojson(html_text(PAYLOADS[5])) in page_html
    # ... Folium popups/tooltips in template literals (suggestions) and the title
    assert html_text(PAYLOADS[3]) in page_html and html_text(PAYLOADS[6]) not in page_html
    assert "&lt;b&gt;覆盖&lt;/b&gt;" in page_html
    # site data travels as JSON, intact, and is escaped in the browser (YZ.esc)
    names = [n for d in _site_data(page_html) for n in d["name"]]
    for p in PAYLOADS:
        assert p in names


def test_jinja_is_never_evaluated(layers):
    lay = dict(layers)
    sites = lay["sites"].copy()
    hostile = ["{{ cycler.__init__.__globals__.os.getpid() }}", "{% if true %}SSTI-IF{% endif %}"]
    sites.loc[5, "name"], sites.loc[6, "name"] = hostile
    lay["sites"] = sites
    sugg = lay["suggestions"].copy()
    sugg.loc[0, "name"] = hostile[1]
    lay["suggestions"] = sugg
    html = to_html(coverage_map_from_layers(**lay, subtitle="{{ 6*7 }}"), mode="url")
    names = [n for d in _site_data(html) for n in d["name"]]
    assert hostile[0] in names and hostile[1] in names
    hits = [m.start() for m in re.finditer("SSTI-IF", html)]
    assert len(hits) >= 2  # in the site data and in the suggestion's popup and tooltip
    for at in hits:  # each one still inside its (escaped) {% … %} tags: Jinja never ran
        assert html[:at].endswith(("%\\u007d", "%&#125;")), html[at - 40:at + 10]
    assert "&#123;&#123; 6*7 &#125;&#125;" in html


def test_html_text_and_popup():
    assert html_text("<a href='x'>&`${}\\") == "&lt;a href=&#39;x&#39;&gt;&amp;&#96;&#36;&#123;&#125;&#92;"
    assert html_text(None) == "" and html_text(float("nan")) == "" and html_text(3.0) == "3"
    assert html_text(["饮水", "热饭"]) == "饮水、热饭"
    out = popup_html("站<名>", [("地址", PAYLOADS[0]), ("电话", None), ("服务", ["饮水", "<b>"])])
    assert "电话" not in out and "饮水、&lt;b&gt;" in out and "<img" not in out
    assert not set("`$\\{}\n") & set(out)
    assert htmllib.unescape(re.sub(r"<[^>]+>", "|", out)).split("|").count(PAYLOADS[0]) == 1
    with pytest.raises(ValueError):
        popup_html("x", [], css_class='a" onclick="x')


def test_json_for_script_is_inert():
    text = json_for_script({"a": PAYLOADS[3], "b": "{{x}}", "c": "\u2028"})
    assert "</script" not in text and "<" not in text and "{{" not in text
    assert json.loads(text) == {"a": PAYLOADS[3], "b": "{{x}}", "c": "\u2028"}


def test_js_escapes_match_python():
    """YZ.esc (browser) gives exactly html_text (Python); js_template_safe round-trips."""
    js = (STATIC_DIR / "yizhan" / "yizhan-map.js").read_text(encoding="utf-8")
    values = PAYLOADS + ["普通文字", "a&b", "x\u2028y", ""]
    literals = ",".join("`" + js_template_safe(v) + "`" for v in values)
    script = js + f"\nconst vs=[{literals}];process.stdout.write(JSON.stringify({{raw: vs, esc: vs.map(YZ.esc)}}));"
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    got = json.loads(out)
    assert got["raw"] == values
    assert got["esc"] == [html_text(v) for v in values]


# ----------------------------------------------------------------------------- shapes & scale


def test_records_and_plain_geometries_are_accepted():
    sites = [{"name": "记录站", "lon": 113.95, "lat": 22.54, "kind": "爱心驿站", "level": "市总工会级",
              "status": "已建成", "services": "饮水，热饭、wifi"},
             {"name": "托管班", "lon": 113.96, "lat": 22.55, "kind": "childcare", "status": "open"}]
    m = coverage_map_from_layers(district=box(113.9, 22.5, 114.0, 22.58), streets=None, communities=None,
                                 sites=sites, labels={"kind": {"childcare": "爱心托管班"}})
    html = to_html(m)
    data = {d["kind"]: d for d in _site_data(html)}
    assert set(data) == {"love_station", "childcare"}
    love = data["love_station"]
    assert love["styles"][0]["label"] == "市总工会级" and love["styles"][0]["color"].startswith("#")
    assert love["cols"]["services"] == ["饮水、热饭、无线网络"]
    assert love["name"] == ["记录站"] and data["childcare"]["cols"]["status"] == ["已建成"]
    assert "爱心托管班（按建设阶段）" in html


def test_many_sites_come_from_compact_data():
    lay = synthetic_layers(20_000, seed=1, n_demand=50)
    m = coverage_map_from_layers(**lay)
    html = to_html(m)
    assert html.count("L.marker(") < 10  # sites are not Folium markers
    total = sum(d["n"] for d in _site_data(html))
    assert total == 20_000
    assert len(html) < 4_000_000
    assert not np.isnan(np.asarray(_site_data(html)[0]["lat"], dtype=float)).any()
    assert len(html) < 2_000_000  # about 50 bytes a site: packed coordinates and codes


def test_packed_integers_round_trip():
    rng = np.random.default_rng(5)
    for values in ([0], [7, 7, 7], [-1, 0, 5], rng.integers(-10**9, 10**9, 1000), rng.integers(0, 82, 500)):
        packed = pack_ints(values)
        assert unpack_ints(packed).tolist() == np.asarray(values).tolist()
        assert len(packed["s"]) == packed["w"] * len(values)
    lon = rng.uniform(73.5, 135.1, 1000)
    packed = pack_ints(lon, decimals=6)
    assert np.abs(unpack_ints(packed) - lon).max() <= 5e-7 and packed["w"] == 5
    district = pack_ints(rng.uniform(113.90, 114.00, 1000), decimals=6)
    assert district["w"] == 3  # 3 characters a coordinate instead of "113.912345,"
    # no character that means anything in HTML, JSON, JavaScript or Jinja
    assert len(ALPHABET) == 81 and not set(ALPHABET) & set("\"'\\<>&{}$`%# \n")
    assert json_for_script(packed) == json.dumps(packed, separators=(",", ":"))


def test_site_data_round_trip(layers):
    from maps.layers import vocab_labels
    from maps.site_data import site_payload

    sites = layers["sites"]
    love = sites[sites["kind"] == "love_station"]
    payload = site_payload(love, "love_station", vocab_labels())
    d = decode_site_payload(json.loads(json_for_script(payload)))
    assert d["n"] == len(love) and d["name"] == love["name"].tolist()
    assert d["lon"] == pytest.approx(love.geometry.x.round(6).tolist(), abs=1e-9)
    assert d["lat"] == pytest.approx(love.geometry.y.round(6).tolist(), abs=1e-9)
    labels = {"provincial_gov": "省政府级", "provincial_union": "省总工会级", "city_union": "市总工会级",
              "district_union": "区总工会级", "other": "其他"}
    assert [d["styles"][k]["label"] for k in d["style"]] == [labels[v] for v in love["level"]]
    assert d["cols"]["level"] == [labels[v] for v in love["level"]]
    assert d["open"] == [int(v == "open") for v in love["status"]] and payload["nOpen"] == sum(d["open"])
    assert d["cols"]["code"] == love["code"].tolist() and d["cols"]["address"] == love["address"].tolist()
    assert payload["cols"]["kind"] == {"c": "爱心驿站"}  # one value for all rows
    assert isinstance(payload["cols"]["status"], dict) and isinstance(payload["cols"]["phone"], list)


def test_browser_decodes_site_data_like_python(layers):
    """YZ.decodeSites (browser) unpacks the page data exactly as decode_site_payload."""
    from maps.layers import vocab_labels
    from maps.site_data import site_payload

    sites = layers["sites"].copy()
    sites.loc[3, ["street", "phone"]] = [None, ""]
    payload = site_payload(sites[sites["kind"] == "worker_home"], "worker_home", vocab_labels())
    js = (STATIC_DIR / "yizhan" / "yizhan-map.js").read_text(encoding="utf-8")
    cols = ["name"] + list(payload["cols"])
    script = js + f"""
const d = YZ.decodeSites({json_for_script(payload)});
const out = {{lon: Array.from(d.lon), lat: Array.from(d.lat), style: Array.from(d.style), open: Array.from(d.open),
             cols: Object.fromEntries({json.dumps(cols)}.map(
                 c => [c, Array.from({{length: d.n}}, (_, i) => YZ.val(d, c, i))]))}};
process.stdout.write(JSON.stringify(out));"""
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    got, want = json.loads(out), decode_site_payload(payload)
    for key in ("lon", "lat", "style", "open"):
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
    assert got["cols"].pop("name") == want["name"]
    assert got["cols"] == want["cols"]


def test_browser_unpacks_integers_like_python():
    rng = np.random.default_rng(9)
    cases = [pack_ints(v) for v in ([3], [-1, 0, 2], rng.integers(0, 200_000, 300),
                                    rng.integers(-3 * 10**9, 3 * 10**9, 300))]
    cases += [pack_ints(rng.uniform(-180, 180, 300), decimals=6), pack_ints([22.5, 22.500001], decimals=6)]
    js = (STATIC_DIR / "yizhan" / "yizhan-map.js").read_text(encoding="utf-8")
    script = js + f"\nprocess.stdout.write(JSON.stringify({json.dumps(cases)}.map(p => Array.from(YZ.unpack(p)))));"
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    for got, packed in zip(json.loads(out), cases):
        assert got == pytest.approx(unpack_ints(packed).tolist(), abs=1e-9)
