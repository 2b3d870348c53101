"""The planners' coverage map: sites, service zones, gaps, hotspots, demand and suggestions.

:func:`coverage_map_from_layers` takes plain data (GeoDataFrames or records, see
:mod:`maps.layers`) and returns a ``folium.Map`` that is already localized (no CDN): save
it with ``m.save(path)`` or render it with ``m.get_root().render()`` (or use
:func:`maps.offline.to_html`, which also checks the result).

Input shapes (all WGS-84; GeoDataFrames in another CRS are converted):

* ``district``: polygon(s) of the district (GeoDataFrame, GeoSeries or shapely geometry).
* ``streets`` / ``communities``: polygons with ``name``, ``code`` and optionally
  ``coverage_rate`` (fraction 0–1, or percent), ``sites``, ``demand``, ``demand_covered``,
  ``area_km2``, ``area_covered_km2`` (the rows of ``GET /api/coverage``).
* ``sites``: points with ``id, code, name, kind, level, status, address, services,
  opening_hours, street, community, phone`` (optional: ``host_org, operator, capacity``).
  Codes or Chinese labels; ``services`` a list or a ``,``/``、``-separated string.
* ``service_zones``: polygons (optional ``name, site_name, mode``); without them, circles
  of ``radius_m`` around open sites are drawn in the browser.
* ``gaps``: polygons with optional ``demand_uncovered, area_km2, street, community``.
* ``hotspots``: polygons with ``demand_uncovered`` and optional ``rank, area_km2, street``.
* ``demand``: points with ``weight`` (number of outdoor workers; default 1).
* ``suggestions``: points with ``rank, gain`` and optional ``cumulative_coverage_rate,
  name, address, source``.
"""
from __future__ import annotations

import folium
import numpy as np
import pandas as pd
from folium.plugins import Fullscreen, HeatMap
from folium.utilities import JsCode

from maps.elements import DomControl, FitView, SearchControl, ServiceCircles, SiteClusterLayer, YizhanAssets
from maps.layers import as_gdf, code_of, label_of, points_xy, shift_gdf, vocab_labels
from maps.offline import DEFAULT_MAX_ZOOM, localize, needs_gcj02, offline_map
from maps.polygons import (COVERAGE_CLASSES, NO_DATA_COLOR, area_features, feature_collection, fmt_number,
                           gap_features, hotspot_features, zone_features)
from maps.safe import display_value, html_text, popup_html
from maps.site_data import site_payload

__all__ = ["coverage_map_from_layers", "DEFAULT_TITLE"]

DEFAULT_TITLE = "爱心驿站与职工之家服务覆盖图"
_BIND = JsCode("YZ.bindFeature")
_KIND_ORDER = ["love_station", "worker_home"]


def _geojson(m, data: dict, name: str, *, show: bool = True, control: bool = True,
             interactive: bool = True) -> folium.GeoJson:
    layer = folium.GeoJson(data, name=html_text(name), show=show, control=control,
                           on_each_feature=_BIND if interactive else None,
                           interactive=interactive)
    layer.add_to(m)
    return layer


def _bounds(*gdfs) -> list[list[float]] | None:
    for gdf in gdfs:
        if gdf is not None and len(gdf):
            x0, y0, x1, y1 = (float(v) for v in gdf.total_bounds)
            return [[y0, x0], [y1, x1]]
    return None


def _swatch(color: str, label: str, cls: str = "") -> str:
    return (f'<div class="yz-lg-row"><span class="yz-sw {cls}" style="background:{html_text(color)}">'
            f"</span>{html_text(label)}</div>")


def _legend_html(payloads: list[dict], present: dict, radius_m: float) -> str:
    parts: list[str] = []
    if present.get("district"):
        parts.append('<div class="yz-lg-row"><span class="yz-sw yz-sw-line"></span>区界</div>')
    hollow = False
    for p in payloads:
        by = "级别" if p["kind"] == "love_station" else "建设阶段"
        parts.append(f'<div class="yz-lg-h">{html_text(p["label"])}（按{by}）</div>')
        parts.extend(_swatch(s["color"], s["label"], f"yz-sw-{p['shape']}") for s in p["styles"])
        hollow = hollow or p["nOpen"] < p["n"]
    if hollow:
        parts.append('<div class="yz-lg-row"><span class="yz-sw yz-sw-hollow"></span>未运营（规划、建设中、暂停等）</div>')
    extra = [("zones", "#74a9cf", f"服务范围（{radius_m:,.0f} 米）"), ("gaps", "#ef8a62", "未覆盖区域"),
             ("hotspots", "#d94801", "未覆盖需求热点"), ("demand", "#fd8d3c", "需求热力（户外劳动者）"),
             ("suggestions", "#6a3d9a", "建议新建站点（数字为排名）")]
    rows = [_swatch(c, t, "yz-sw-circle" if key == "suggestions" else "") for key, c, t in extra if present.get(key)]
    if present.get("zones_note"):
        rows.append('<div class="yz-note">运营站点过多，未逐个绘制服务范围</div>')
    if rows:
        parts.append('<div class="yz-lg-h">覆盖分析</div>')
        parts.extend(rows)
    if present.get("rates"):
        parts.append('<div class="yz-lg-h">覆盖率（需求人数）</div>')
        parts.extend(_swatch(color, label) for _, color, label in COVERAGE_CLASSES)
        parts.append(_swatch(NO_DATA_COLOR, "无数据"))
    return "".join(parts)


def _split_kinds(sites, labels: dict) -> list[tuple[str, object]]:
    if sites is None or len(sites) == 0:
        return []
    if "kind" not in sites.columns:
        return [("love_station", sites)]
    codes, uniques = pd.factorize(sites["kind"], use_na_sentinel=True)  # label lookups once per value
    kinds = np.array([code_of(labels, "kind", u) or "love_station" for u in uniques.tolist()]
                     + ["love_station"], dtype=object)[codes]
    found = set(kinds.tolist())
    order = [k for k in _KIND_ORDER if k in found] + sorted(k for k in found if k not in _KIND_ORDER)
    return [(k, sites.loc[kinds == k]) for k in order]


def _add_suggestions(m, sugg, labels: dict) -> None:
    group = folium.FeatureGroup(name=html_text("建议新建站点"), show=True)
    sugg = sugg.sort_values("rank") if "rank" in sugg.columns else sugg
    lon, lat = points_xy(sugg)
    for k, (_, row) in enumerate(sugg.iterrows()):
        rank = fmt_number(row.get("rank"), ".0f") or str(k + 1)
        rate = row.get("cumulative_coverage_rate")
        rate_f = pd.to_numeric(pd.Series([rate]), errors="coerce").iloc[0]
        if pd.notna(rate_f) and rate_f <= 1.0001:
            rate_f = rate_f * 100
        title = display_value(row.get("name")).strip() or f"建议站点 #{rank}"
        rows = [("排名", rank), ("新增覆盖人数", fmt_number(row.get("gain"))),
                ("累计覆盖率", fmt_number(rate_f, ".1f", "%")), ("地址", row.get("address")),
                ("候选来源", row.get("source")), ("街道", row.get("street"))]
        folium.Marker(
            [float(lat[k]), float(lon[k])],
            icon=folium.DivIcon(html=f"<div>{html_text(rank)}</div>", class_name="yz-rank",
                                icon_size=(24, 24), icon_anchor=(12, 12)),
            tooltip=folium.Tooltip(f"{html_text(title)} · 新增覆盖 {html_text(fmt_number(row.get('gain')) or '—')} 人"),
            popup=folium.Popup(popup_html(title, rows), max_width=320),
        ).add_to(group)
    group.add_to(m)


def coverage_map_from_layers(*, district, streets=None, communities=None, sites=None,
                             service_zones=None, gaps=None, hotspots=None, demand=None,
                             suggestions=None, tiles: str = "none", title: str = DEFAULT_TITLE,
                             subtitle: str | None = None, radius_m: float = 1000,
                             mode: str = "inline", base_url: str = "/static",
                             tianditu_key: str | None = None, labels: dict | None = None,
                             max_circles: int = 20000,
                             max_zoom: int = DEFAULT_MAX_ZOOM) -> folium.Map:
    """Build the interactive coverage map.

    Parameters
    ----------
    district, streets, communities, sites, service_zones, gaps, hotspots, demand, suggestions
        The layers; see the module docstring for their shapes. Only ``district`` is
        required; missing layers are left out (with their legend entries).
    tiles : {"none", "osm", "amap", "tianditu"}, default "none"
        Base tiles. With ``amap`` every geometry is shifted to GCJ-02.
    title, subtitle : str
        Shown at the top (escaped). ``subtitle`` defaults to radius and site count.
    radius_m : float, default 1000
        Service radius (for the circles drawn when ``service_zones`` is None, and labels).
    mode : {"inline", "url"}, default "inline"
        ``inline`` for a stand-alone file, ``url`` for a page served with ``/static``.
    base_url : str, default "/static"
        Where ``maps/static`` is served (``url`` mode).
    tianditu_key : str, optional
        天地图 key for ``tiles="tianditu"``.
    labels : dict, optional
        Extra Chinese labels by domain (``{"kind": {"childcare": "爱心托管班"}}``).
    max_circles : int, default 20000
        Most service circles drawn in the browser.
    max_zoom : int, default 18
        Map's maximum zoom.

    Returns
    -------
    folium.Map
        Localized: it loads nothing from outside the page (``inline``) or the service.
    """
    gcj = needs_gcj02(tiles)
    lab = vocab_labels(labels)
    district_g = shift_gdf(as_gdf(district, what="district"), gcj)
    streets_g = shift_gdf(as_gdf(streets, what="streets"), gcj)
    communities_g = shift_gdf(as_gdf(communities, what="communities"), gcj)
    zones_g = shift_gdf(as_gdf(service_zones, what="service_zones"), gcj)
    gaps_g = shift_gdf(as_gdf(gaps, what="gaps"), gcj)
    hot_g = shift_gdf(as_gdf(hotspots, what="hotspots"), gcj)
    sugg_g = shift_gdf(as_gdf(suggestions, what="suggestions"), gcj)
    demand_g = shift_gdf(as_gdf(demand, what="demand"), gcj)
    sites_g = as_gdf(sites, what="sites")  # shifted column-wise in site_payload

    bounds = _bounds(district_g, streets_g, communities_g, sites_g) or [[22.5, 113.9], [22.6, 114.1]]
    center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = offline_map(tiles, tianditu_key=tianditu_key, max_zoom=max_zoom, location=center,
                    zoom_start=12, control_scale=True, font_size="14px")
    YizhanAssets().add_to(m)
    FitView(bounds, padding=20).add_to(m)  # before the layers: they draw the final view once
    present: dict[str, bool] = {}

    if district_g is not None and len(district_g):
        fill = 0.6 if str(tiles or "none").lower() == "none" else 0.0
        style = {"color": "#333333", "weight": 3, "opacity": 0.9, "fill": True,
                 "fillColor": "#ffffff", "fillOpacity": fill}
        data = feature_collection(district_g, lambda row: {"style": style})
        _geojson(m, data, "区界", control=False, interactive=False)
        present["district"] = True
    for gdf, name, level_zh, weight, show in ((streets_g, "街道覆盖率", "街道", 2.0, True),
                                               (communities_g, "社区覆盖率", "社区", 1.0, False)):
        if gdf is not None and len(gdf):
            _geojson(m, area_features(gdf, level_zh=level_zh, weight=weight), name, show=show)
            present["rates"] = True
    if zones_g is not None and len(zones_g):
        _geojson(m, zone_features(zones_g, radius_m), f"服务范围（{radius_m:,.0f} 米）")
        present["zones"] = True
    if gaps_g is not None and len(gaps_g):
        _geojson(m, gap_features(gaps_g), "未覆盖区域")
        present["gaps"] = True
    if hot_g is not None and len(hot_g):
        _geojson(m, hotspot_features(hot_g), "未覆盖需求热点")
        present["hotspots"] = True
    if demand_g is not None and len(demand_g):
        lon, lat = points_xy(demand_g)
        w = (pd.to_numeric(demand_g["weight"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
             if "weight" in demand_g.columns else np.ones(len(demand_g)))
        w = np.clip(w / (w.max() if w.max() > 0 else 1.0), 0.05, 1.0)
        pts = np.round(np.column_stack([lat, lon, w]), 6).tolist()
        HeatMap(pts, name=html_text("需求热力（户外劳动者）"), show=False, radius=18, blur=14,
                min_opacity=0.3, max_zoom=max_zoom).add_to(m)
        present["demand"] = True

    payloads = []
    for kind, group in _split_kinds(sites_g, lab):
        payload = site_payload(group, kind, lab, gcj02=gcj)
        by = "级别" if kind == "love_station" else "建设阶段"
        SiteClusterLayer(payload, html_text(f"{label_of(lab, 'kind', kind)}（按{by}）")).add_to(m)
        payloads.append(payload)
    n_open = sum(p["nOpen"] for p in payloads)
    if (zones_g is None or not len(zones_g)) and 0 < n_open <= max_circles:
        ServiceCircles(radius_m, html_text(f"服务范围（{radius_m:,.0f} 米）"), limit=max_circles).add_to(m)
        present["zones"] = True
    elif (zones_g is None or not len(zones_g)) and n_open > max_circles:
        present["zones_note"] = True  # too many circles to draw one by one: pass service_zones
    if sugg_g is not None and len(sugg_g):
        _add_suggestions(m, sugg_g, lab)
        present["suggestions"] = True

    n_sites = sum(p["n"] for p in payloads)
    sub = subtitle if subtitle is not None else f"服务半径 {radius_m:,.0f} 米 · 共 {n_sites:,} 个站点"
    DomControl(f"<div>{html_text(title)}</div><span class=\"yz-sub\">{html_text(sub)}</span>",
               position="topcenter", css_class="yz-box yz-title").add_to(m)
    DomControl(_legend_html(payloads, present, radius_m), position="bottomright",
               css_class="yz-box yz-legend").add_to(m)
    if payloads:
        SearchControl().add_to(m)
    Fullscreen(position="topleft", title="全屏", title_cancel="退出全屏").add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    m.get_root().title = html_text(title)
    localize(m, mode=mode, base_url=base_url)
    return m
