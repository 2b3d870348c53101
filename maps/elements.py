"""Folium elements for yizhan's maps, driven by ``maps/static/yizhan/yizhan-map.js``.

Nothing here puts a data value into JavaScript source or HTML unescaped:

* site data travels as JSON in a ``<script type="application/json">`` block (written with
  :func:`maps.safe.json_for_script`, see :mod:`maps.site_data`) and the browser builds
  popups from it with ``YZ.esc``;
* HTML fragments (title, legend) are built by the caller with :mod:`maps.safe` and placed
  in the page body, never in a script;
* every name and option reaches scripts through ``tojson`` / ``tojavascript``.

Data and HTML go into the page through :class:`RawElement`, never through a Folium macro:
branca compiles the output of every macro again as a Jinja template, so ``{{ … }}`` in a
value would be evaluated on the server (and 10 MB of site data would be compiled).
"""
from __future__ import annotations

import re

from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from maps.safe import json_for_script

__all__ = ["RawElement", "YizhanAssets", "SiteClusterLayer", "FitView", "ServiceCircles", "DomControl",
           "SearchControl"]

_SC_JS = [("supercluster", "/static/supercluster/supercluster.min.js")]
_SITES_JS = [("yizhan_sites_js", "/static/yizhan/yizhan-sites.js")]
_MC_CSS = [("markerclustercss", "/static/leaflet.markercluster/MarkerCluster.css"),
           ("markerclusterdefaultcss", "/static/leaflet.markercluster/MarkerCluster.Default.css")]
_YZ_JS = [("yizhan_map_js", "/static/yizhan/yizhan-map.js")]
_YZ_CSS = [("yizhan_map_css", "/static/yizhan/yizhan-map.css")]


class RawElement(Element):
    """Text placed in the page verbatim (no Jinja): the caller guarantees it is safe HTML."""

    def __init__(self, text: str):
        super().__init__()
        self._name = "RawElement"
        self.text = text

    def render(self, **kwargs) -> str:  # noqa: D102 - branca API
        return self.text


class YizhanAssets(JSCSSMixin, MacroElement):
    """Loads ``yizhan-map.js`` / ``.css`` (add it to the map before the other yizhan elements)."""

    _template = Template("{% macro script(this, kwargs) %}{% endmacro %}")
    default_js = _YZ_JS
    default_css = _YZ_CSS

    def __init__(self):
        super().__init__()
        self._name = "YizhanAssets"


class SiteClusterLayer(JSCSSMixin, Layer):
    """Sites of one kind, clustered in the browser (Supercluster) from compact JSON.

    Only the clusters and sites of the current view are drawn (``YZ.SiteCluster`` in
    ``yizhan-sites.js``), so the layer stays fast with hundreds of thousands of sites.

    Parameters
    ----------
    payload : dict
        Site data as made by :func:`maps.site_data.site_payload`.
    name : str
        Layer name shown in the layer control (HTML-escaped by the caller).
    show : bool, default True
        Whether the layer is on when the map opens.
    radius : int, default 80
        Cluster radius in screen pixels.
    max_cluster_zoom : int, default 16
        Last zoom with clusters: from the next zoom on every site is drawn (sites in one
        place are spread out on click at this zoom instead).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = YZ.addSiteLayer({{ this._parent.get_name() }}, {{ this.data_id|tojson }},
            {{ this.show|tojson }}, {{ this.options|tojson }}).cluster;
        {% endmacro %}
    """)
    default_js = _SC_JS + _YZ_JS + _SITES_JS
    default_css = _MC_CSS + _YZ_CSS

    def __init__(self, payload: dict, name: str, *, show: bool = True, radius: int = 80,
                 max_cluster_zoom: int = 16):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "SiteClusterLayer"
        self.data_id = self.get_name() + "_data"
        self.payload_json = json_for_script(payload)
        self.count = int(payload.get("n", 0))
        self.options = {"radius": int(radius), "maxZoom": int(max_cluster_zoom)}

    def render(self, **kwargs):
        """Put the JSON data in the page body, then render the layer's script."""
        self.get_root().html.add_child(RawElement(
            f'<script type="application/json" id="{self.data_id}">{self.payload_json}</script>'),
            name=self.data_id)
        super().render(**kwargs)


class FitView(MacroElement):
    """Fit the map to bounds at once, without the zoom animation of ``Map.fit_bounds``.

    Add it before the layers, so that they draw the final view only.

    Parameters
    ----------
    bounds : [[south, west], [north, east]]
        The area to show.
    padding : int, default 20
        Pixels kept free on every side.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }},
            {padding: [{{ this.padding }}, {{ this.padding }}], animate: false});
        {% endmacro %}
    """)

    def __init__(self, bounds, *, padding: int = 20):
        super().__init__()
        self._name = "FitView"
        self.bounds = [[float(v) for v in corner] for corner in bounds]
        self.padding = int(padding)


class ServiceCircles(JSCSSMixin, Layer):
    """A circle of ``radius_m`` around every open site, drawn on canvas when first shown.

    Parameters
    ----------
    radius_m : float
        Radius in metres.
    name : str
        Layer name (HTML-escaped by the caller).
    kinds : list of str, optional
        Site kinds to draw circles for (default: all site layers).
    limit : int, default 20000
        At most this many circles (beyond that, pass precomputed service-zone polygons).
    show : bool, default True
        Whether the layer is on when the map opens.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = YZ.serviceCircles(
            L.featureGroup(), {{ this.radius_m|tojson }}, {{ this.kinds|tojson }}, {{ this.limit|tojson }});
        {% endmacro %}
    """)
    default_js = _YZ_JS
    default_css = _YZ_CSS

    def __init__(self, radius_m: float, name: str, *, kinds: list[str] | None = None,
                 limit: int = 20000, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "ServiceCircles"
        self.radius_m = float(radius_m)
        self.kinds = list(kinds) if kinds else None
        self.limit = int(limit)


_POSITIONS = {"topleft", "topright", "bottomleft", "bottomright", "topcenter"}


class DomControl(JSCSSMixin, MacroElement):
    """A piece of trusted HTML (title, legend) shown as a map control.

    Parameters
    ----------
    html : str
        Inner HTML. It must be built with :mod:`maps.safe` (every value escaped); it is
        placed in the page body as is.
    position : {"topleft", "topright", "bottomleft", "bottomright", "topcenter"}
        Where on the map; ``topcenter`` is an overlay centred at the top.
    css_class : str
        Class of the wrapping ``div``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        YZ.domControl({{ this._parent.get_name() }}, {{ this.get_name()|tojson }}, {{ this.position|tojson }});
        {% endmacro %}
    """)
    default_js = _YZ_JS
    default_css = _YZ_CSS

    def __init__(self, html: str, *, position: str = "bottomright", css_class: str = "yz-box"):
        super().__init__()
        self._name = "DomControl"
        if position not in _POSITIONS:
            raise ValueError(f"position must be one of {sorted(_POSITIONS)}")
        if not re.fullmatch(r"[A-Za-z0-9_\- ]+", css_class):
            raise ValueError(f"bad css_class {css_class!r}")
        self.inner_html = html
        self.position = position
        self.css_class = css_class

    def render(self, **kwargs):
        """Put the HTML in the page body, then render the script that moves it into the map."""
        self.get_root().html.add_child(RawElement(
            f'<div id="{self.get_name()}" class="{self.css_class}">{self.inner_html}</div>'),
            name=self.get_name() + "_html")
        super().render(**kwargs)


class SearchControl(JSCSSMixin, MacroElement):
    """Search box: finds sites by name in every :class:`SiteClusterLayer` and opens one.

    Parameters
    ----------
    placeholder : str, default "搜索站点名称…"
        Hint shown in the empty box.
    position : str, default "topleft"
        Leaflet control position.
    max_results : int, default 10
        Matches listed at most.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        YZ.searchControl({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = _YZ_JS
    default_css = _YZ_CSS

    def __init__(self, *, placeholder: str = "搜索站点名称…", position: str = "topleft",
                 max_results: int = 10):
        super().__init__()
        self._name = "SearchControl"
        self.options = {"placeholder": placeholder, "position": position, "maxResults": int(max_results)}
