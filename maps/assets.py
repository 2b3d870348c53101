"""The vendored front-end assets (``maps/static``) by the names Folium gives them.

:data:`ASSETS` maps every ``default_js``/``default_css`` name used by folium 0.20's ``Map``
and by the plugins yizhan uses (plus yizhan's own files) to its vendored file.
:class:`InlineAsset` embeds one of them in a page: scripts with ``</script`` neutralised,
style sheets with every ``url(…)`` turned into a ``data:`` URI, so the page needs no
other file.
"""
from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from branca.element import Element

__all__ = ["STATIC_DIR", "ASSETS", "ICON_ONLY", "Asset", "InlineAsset", "UnknownAssetError", "OfflineError",
           "asset_path", "inline_text"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


class UnknownAssetError(ValueError):
    """A map element names a JS/CSS asset that is not vendored in ``maps/static``."""


class OfflineError(ValueError):
    """Rendered HTML would load something from another host."""


@dataclass(frozen=True)
class Asset:
    """One vendored file: its type, its path under ``maps/static`` and accepted URL names."""

    kind: str  # "js" or "css"
    path: str
    filenames: tuple[str, ...]


def _a(kind: str, path: str, *extra: str) -> Asset:
    return Asset(kind, path, (path.rsplit("/", 1)[-1], *extra))


#: Every asset name used by folium 0.20's ``Map`` and the plugins yizhan uses, plus ours.
ASSETS: dict[str, Asset] = {
    "leaflet": _a("js", "leaflet/leaflet.js"),
    "leaflet_css": _a("css", "leaflet/leaflet.css"),
    "jquery": _a("js", "jquery/jquery.min.js", "jquery-3.7.1.min.js"),
    "bootstrap": _a("js", "bootstrap/bootstrap.bundle.min.js"),
    "bootstrap_css": _a("css", "bootstrap/bootstrap.min.css"),
    "glyphicons_css": _a("css", "glyphicons/bootstrap-glyphicons.css"),
    "awesome_markers": _a("js", "leaflet.awesome-markers/leaflet.awesome-markers.js"),
    "awesome_markers_css": _a("css", "leaflet.awesome-markers/leaflet.awesome-markers.css"),
    "awesome_markers_font_css": _a("css", "fontawesome/css/all.min.css"),
    "awesome_rotate_css": _a("css", "folium/leaflet.awesome.rotate.min.css"),
    "markerclusterjs": _a("js", "leaflet.markercluster/leaflet.markercluster.js"),
    "markerclustercss": _a("css", "leaflet.markercluster/MarkerCluster.css"),
    "markerclusterdefaultcss": _a("css", "leaflet.markercluster/MarkerCluster.Default.css"),
    "leaflet-heat.js": _a("js", "leaflet.heat/leaflet-heat.js", "leaflet_heat.min.js"),
    "Leaflet.Search.js": _a("js", "leaflet-search/leaflet-search.min.js"),
    "Leaflet.Search.css": _a("css", "leaflet-search/leaflet-search.min.css"),
    "Control.Fullscreen.js": _a("js", "leaflet.fullscreen/Control.FullScreen.js",
                                "Control.FullScreen.min.js"),
    "Control.FullScreen.css": _a("css", "leaflet.fullscreen/Control.FullScreen.css"),
    "supercluster": _a("js", "supercluster/supercluster.min.js"),
    "yizhan_map_js": _a("js", "yizhan/yizhan-map.js"),
    "yizhan_sites_js": _a("js", "yizhan/yizhan-sites.js"),
    "yizhan_map_css": _a("css", "yizhan/yizhan-map.css"),
}

#: Folium ``Map`` defaults that only ``folium.Icon`` (awesome markers) needs.
ICON_ONLY = {"bootstrap", "bootstrap_css", "glyphicons_css", "awesome_markers",
             "awesome_markers_css", "awesome_markers_font_css", "awesome_rotate_css"}

def asset_path(name: str) -> Path:
    """Absolute path of the vendored file of an asset.

    Parameters
    ----------
    name : str
        Asset name as Folium uses it (``"leaflet"``, ``"markerclusterjs"``, …).

    Returns
    -------
    pathlib.Path
        The file under ``maps/static``.

    Raises
    ------
    UnknownAssetError
        If ``name`` is not in :data:`ASSETS`.
    """
    try:
        return STATIC_DIR / ASSETS[name].path
    except KeyError:
        raise UnknownAssetError(f"unknown asset {name!r}") from None


class InlineAsset(Element):
    """A vendored asset embedded as ``<script>…</script>`` or ``<style>…</style>``."""

    def __init__(self, name: str):
        super().__init__()
        self._name = "InlineAsset"
        self.asset_name = name

    def render(self, **kwargs) -> str:  # noqa: D102 - branca API
        asset = ASSETS[self.asset_name]
        text = inline_text(self.asset_name)
        if asset.kind == "js":
            return f"<script>/* {asset.path} */\n{text}\n</script>"
        return f"<style>/* {asset.path} */\n{text}\n</style>"


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or {
        ".woff2": "font/woff2", ".woff": "font/woff"}.get(path.suffix, "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")


@lru_cache(maxsize=None)
def inline_text(name: str) -> str:
    """Text of asset ``name`` ready to sit inside ``<script>``/``<style>`` in any page."""
    asset = ASSETS[name]
    path = STATIC_DIR / asset.path
    text = path.read_text(encoding="utf-8")
    if asset.kind == "js":
        text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.I).replace("<!--", "<\\!--")
        if name == "leaflet":  # the default icon's path cannot be detected from data: URIs
            img = path.parent / "images"
            text += ("\nL.Icon.Default.imagePath='';L.Icon.Default.mergeOptions({"
                     f"iconUrl:'{_data_uri(img / 'marker-icon.png')}',"
                     f"iconRetinaUrl:'{_data_uri(img / 'marker-icon-2x.png')}',"
                     f"shadowUrl:'{_data_uri(img / 'marker-shadow.png')}'}});")
        return text

    def repl(m: re.Match) -> str:
        ref = m.group(2).strip()
        if ref.startswith(("data:", "#")):
            return m.group(0)
        if re.match(r"(?:[a-z]+:)?//", ref, re.I):
            raise OfflineError(f"{asset.path} refers to the external {ref!r}")
        target = (path.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()
        if not target.is_file() or STATIC_DIR not in target.parents:
            raise OfflineError(f"{asset.path} refers to {ref!r}, which is not vendored")
        return f'url("{_data_uri(target)}")'

    return re.sub(r"</(style)", r"<\\/\1", _CSS_URL.sub(repl, text), flags=re.I)
