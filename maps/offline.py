"""Folium maps that load nothing from the Internet.

Folium and its plugins name their JavaScript/CSS as ``(name, CDN URL)`` pairs in
``default_js`` / ``default_css``. :func:`localize` rewrites every such pair in a map and all
its children to the copies vendored in ``maps/static`` (see ``maps/static/MANIFEST.md``):
either as URLs under the service's ``/static`` (``mode="url"``) or as inline
``<script>``/``<style>`` blocks with images and fonts as ``data:`` URIs
(``mode="inline"``, for stand-alone HTML files). An asset it does not know raises
:class:`UnknownAssetError`, so a new plugin cannot quietly fetch from a CDN.

:func:`offline_map` makes the base map: no tiles by default (a plain light background;
the district outline carries the map), or OpenStreetMap, 高德 (GCJ-02: see
:func:`needs_gcj02`) or 天地图 tiles when asked for.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import folium
from branca.element import CssLink, Element, Figure, JavascriptLink

from maps.assets import ASSETS, ICON_ONLY, STATIC_DIR, InlineAsset, OfflineError, UnknownAssetError, asset_path

__all__ = [
    "STATIC_DIR", "ASSETS", "TILES", "UnknownAssetError", "OfflineError", "offline_map",
    "localize", "to_html", "save_html", "needs_gcj02", "check_offline", "asset_path",
]

TILES = ("none", "osm", "amap", "tianditu")
DEFAULT_MAX_ZOOM = 18


_LOADING_TAG = re.compile(r"<(?:script|link|img|iframe|source|video|audio|embed|object|image|use)\b[^>]*>", re.I)
_EXTERNAL_ATTR = re.compile(r"""\b(?:src|href|data|srcset|poster)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)
_EXTERNAL_CSS = re.compile(r"""(?:@import\s+(?:url\()?|url\()\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)


def needs_gcj02(tiles: str | None) -> bool:
    """Whether geometries must be shifted to GCJ-02 before drawing on ``tiles``.

    Parameters
    ----------
    tiles : str or None
        A tile choice (``none``, ``osm``, ``amap``, ``tianditu``).

    Returns
    -------
    bool
        True only for 高德 (``amap``) tiles, which are drawn in GCJ-02. 天地图 and OSM are
        WGS-84 / CGCS2000 (the same to within centimetres here).
    """
    return _tile_choice(tiles) == "amap"


def _tile_choice(tiles: str | None) -> str:
    key = "none" if tiles is None else str(tiles).strip().lower()
    key = {"": "none", "openstreetmap": "osm", "gaode": "amap", "高德": "amap", "autonavi": "amap",
           "天地图": "tianditu", "tdt": "tianditu"}.get(key, key)
    if key not in TILES:
        raise ValueError(f"unknown tiles {tiles!r}: use one of {', '.join(TILES)}")
    return key


def _tianditu_key(key: str | None) -> str:
    if not key:
        key = os.environ.get("YIZHAN_TIANDITU_KEY")
    if not key:
        try:
            from geo.settings import get_settings

            key = getattr(get_settings(), "tianditu_key", None)
        except Exception:  # noqa: BLE001 - settings are optional here
            key = None
    if not key:
        raise ValueError("tiles='tianditu' needs a 天地图 key (tianditu_key=… or YIZHAN_TIANDITU_KEY)")
    return quote(str(key), safe="")


def _tianditu_url(layer: str, key: str) -> str:
    return (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
            f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")


def offline_map(tiles: str | None = "none", *, tianditu_key: str | None = None,
                max_zoom: int = DEFAULT_MAX_ZOOM, background: str = "#f4f6f8",
                **folium_kwargs) -> folium.Map:
    """Create a ``folium.Map`` whose tiles (if any) are chosen from :data:`TILES`.

    Parameters
    ----------
    tiles : {"none", "osm", "amap", "tianditu"}, default "none"
        Base layer. ``none`` draws no tiles: a plain background colour instead.
        ``amap`` tiles are GCJ-02: shift what you draw (see :func:`needs_gcj02`).
    tianditu_key : str, optional
        天地图 key for ``tiles="tianditu"`` (default: ``YIZHAN_TIANDITU_KEY`` or the
        settings' ``tianditu_key``).
    max_zoom : int, default 18
        Set on the map itself: Folium sets none without tiles, and marker clusters need it.
    background : str, default "#f4f6f8"
        CSS colour of the map background (seen where no tiles are drawn).
    **folium_kwargs
        Passed to ``folium.Map`` (``location``, ``zoom_start``, ``control_scale``, …).

    Returns
    -------
    folium.Map
        Not yet localized: call :func:`localize` (or :func:`to_html`) before rendering.
    """
    choice = _tile_choice(tiles)
    if not re.fullmatch(r"#[0-9A-Fa-f]{3,8}|[a-z]+", background):
        raise ValueError(f"background {background!r} is not a CSS colour")
    folium_kwargs.pop("tiles", None)
    m = folium.Map(tiles=None, **folium_kwargs)
    m.options["max_zoom"] = max_zoom
    m.options.setdefault("min_zoom", 3)
    m.tiles_choice = choice
    if choice == "osm":
        folium.TileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", name="OpenStreetMap",
                         attr="&copy; OpenStreetMap contributors", max_zoom=max_zoom).add_to(m)
    elif choice == "amap":
        folium.TileLayer(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            name="高德地图", attr="&copy; 高德地图 AutoNavi", subdomains="1234", max_zoom=max_zoom).add_to(m)
    elif choice == "tianditu":
        key = _tianditu_key(tianditu_key)
        folium.TileLayer(_tianditu_url("vec", key), name="天地图", attr="&copy; 天地图 国家地理信息公共服务平台",
                         subdomains="01234567", max_zoom=max_zoom).add_to(m)
        folium.TileLayer(_tianditu_url("cva", key), name="天地图注记", attr="天地图", overlay=True,
                         control=False, subdomains="01234567", max_zoom=max_zoom).add_to(m)
    m.get_root().header.add_child(
        Element(f"<style>#{m.get_name()}.leaflet-container{{background:{background};}}</style>"),
        name="yizhan_background")
    return m


# --------------------------------------------------------------------------- localize


def _walk(element):
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


def _resolve(element, name: str, url: str, kind: str) -> str:
    asset = ASSETS.get(name)
    if asset is None:
        raise UnknownAssetError(
            f"{type(element).__name__} wants {kind} asset {name!r} from {url!r}, which is not vendored "
            "in maps/static: add it there (npm pack, with its licence) and to maps.offline.ASSETS")
    if asset.kind != kind:
        raise UnknownAssetError(f"asset {name!r} is {asset.kind}, not {kind}")
    filename = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if filename not in asset.filenames:
        raise UnknownAssetError(
            f"{type(element).__name__} asset {name!r} points at {url!r}, not at one of {asset.filenames}")
    return name


def localize(fig_or_map, *, mode: str = "inline", base_url: str = "/static", lean: bool = True):
    """Point every JS/CSS asset of a map and all its children at the vendored copies.

    Parameters
    ----------
    fig_or_map : folium.Map or branca.element.Figure
        The map (or its figure). Children are visited recursively, plugins included.
    mode : {"inline", "url"}, default "inline"
        ``inline`` embeds each asset once in the page header (images and fonts as
        ``data:`` URIs): the HTML file opens with no network. ``url`` links to
        ``{base_url}/<package>/<file>``, for pages served by yizhan.
    base_url : str, default "/static"
        Where ``maps/static`` is served (``url`` mode).
    lean : bool, default True
        Leave out Folium's bootstrap / font-awesome / awesome-markers assets unless a
        ``folium.Icon`` is on the map (nothing else needs them).

    Returns
    -------
    same type as ``fig_or_map``
        The same object, changed in place.

    Raises
    ------
    UnknownAssetError
        If any element names an asset that is not vendored.
    ValueError
        For an unknown ``mode``.
    """
    if mode not in ("inline", "url"):
        raise ValueError(f"mode must be 'inline' or 'url', not {mode!r}")
    figure = fig_or_map if isinstance(fig_or_map, Figure) else fig_or_map.get_root()
    if not isinstance(figure, Figure):
        raise ValueError("the map is not attached to a Figure")
    for name, child in list(figure.header._children.items()):
        if isinstance(child, (JavascriptLink, CssLink)) and re.match(r"(?:https?:)?//", child.url):
            raise UnknownAssetError(f"the page header links {child.url!r} ({name})")
    elements = list(_walk(figure))
    uses_icon = any(isinstance(e, folium.Icon) for e in elements)
    base = base_url.rstrip("/")
    for element in elements:
        for attr, kind in (("default_js", "js"), ("default_css", "css")):
            pairs = getattr(element, attr, None)
            if not pairs:
                continue
            names = [_resolve(element, name, url, kind) for name, url in pairs]
            if lean and not uses_icon and isinstance(element, folium.Map):
                names = [n for n in names if n not in ICON_ONLY]
            if mode == "url":
                new = [(n, f"{base}/{ASSETS[n].path}") for n in names]
            else:
                new = []
                for n in names:
                    figure.header.add_child(InlineAsset(n), name=n)
            setattr(element, attr, new)  # per instance: never mutate folium's class lists
    return fig_or_map


def check_offline(html: str) -> None:
    """Check that a page loads no script, style, image or font from another host.

    Looks at the attributes of loading tags (``script``, ``link``, ``img``, ``iframe``, …)
    and at CSS ``url(…)``/``@import``. Links a user may click (``<a href>``, e.g.
    Leaflet's attribution) and tile URL templates inside scripts are not loads of the
    page and are allowed.

    Parameters
    ----------
    html : str
        A rendered page.

    Raises
    ------
    OfflineError
        Naming the first offending tag or CSS reference.
    """
    for tag in _LOADING_TAG.finditer(html):
        if _EXTERNAL_ATTR.search(tag.group(0)):
            raise OfflineError(f"page loads from another host: {tag.group(0)[:200]}")
    m = _EXTERNAL_CSS.search(html)
    if m:
        raise OfflineError(f"page loads from another host: …{html[max(0, m.start() - 60):m.end() + 60]}…")


def to_html(m: folium.Map, *, mode: str = "inline", base_url: str = "/static") -> str:
    """Localize ``m``, render its whole page and check that it loads nothing from a host.

    Parameters
    ----------
    m : folium.Map
        The map.
    mode, base_url
        As for :func:`localize`.

    Returns
    -------
    str
        The complete HTML document.
    """
    localize(m, mode=mode, base_url=base_url)
    html = m.get_root().render()
    check_offline(html)
    return html


def save_html(m: folium.Map, path: str | os.PathLike, *, mode: str = "inline",
              base_url: str = "/static") -> Path:
    """Write :func:`to_html` of ``m`` to a file.

    Parameters
    ----------
    m : folium.Map
        The map.
    path : str or os.PathLike
        Output file (UTF-8 HTML).
    mode, base_url
        As for :func:`localize`; ``inline`` makes a file that opens with no network.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    out = Path(path)
    out.write_text(to_html(m, mode=mode, base_url=base_url), encoding="utf-8")
    return out
