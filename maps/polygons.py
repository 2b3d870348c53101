"""Polygon layers of the coverage map as GeoJSON with escaped popups.

Each feature keeps only a ``style`` (read by Folium's ``GeoJson``) and two HTML strings
built with :mod:`maps.safe`: ``_tip`` (tooltip) and ``_pop`` (popup), bound in the browser
by ``YZ.bindFeature``. No raw text value reaches the page.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from maps.safe import display_value, html_text, popup_html

__all__ = ["COVERAGE_CLASSES", "NO_DATA_COLOR", "coverage_class", "feature_collection", "area_features",
           "gap_features", "hotspot_features", "zone_features", "fmt_number"]

#: Coverage-rate classes: (upper bound, colour, label).
COVERAGE_CLASSES = [(0.2, "#d73027", "< 20%"), (0.4, "#fc8d59", "20%–40%"), (0.6, "#fee08b", "40%–60%"),
                    (0.8, "#91cf60", "60%–80%"), (1.0000001, "#1a9850", "≥ 80%")]
NO_DATA_COLOR = "#d9d9d9"


def _round(geom_array, ndigits: int = 6):
    return shapely.transform(geom_array, lambda c: np.round(c, ndigits))


def _num(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


def fmt_number(value, spec: str = ",.0f", suffix: str = "") -> str:
    """Format a number for a popup (``""`` when missing), e.g. ``1,234`` or ``61.5%``."""
    f = _num(value)
    return "" if f is None else f"{f:{spec}}{suffix}"


def coverage_class(rate) -> tuple[str, str]:
    """Class of a coverage rate for the choropleth.

    Parameters
    ----------
    rate : float or None
        Fraction 0–1.

    Returns
    -------
    (str, str)
        Fill colour and legend label (grey, ``无数据`` when missing).
    """
    r = _num(rate)
    if r is None:
        return NO_DATA_COLOR, "无数据"
    for upper, color, label in COVERAGE_CLASSES:
        if r < upper:
            return color, label
    return COVERAGE_CLASSES[-1][1], COVERAGE_CLASSES[-1][2]


def feature_collection(gdf: gpd.GeoDataFrame, props) -> dict:
    """GeoJSON FeatureCollection of a layer with computed properties.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer (coordinates are rounded to 1e-6°, about 0.1 m).
    props : callable
        ``props(row) -> dict``: the feature's properties (only safe values: a ``style``
        and HTML built with :mod:`maps.safe`).

    Returns
    -------
    dict
        The FeatureCollection.
    """
    geoms = _round(np.asarray(gdf.geometry.values))
    feats = []
    for geom, (_, row) in zip(geoms, gdf.iterrows()):
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props(row)})
    return {"type": "FeatureCollection", "features": feats}


def _rates(gdf: gpd.GeoDataFrame) -> pd.Series:
    if "coverage_rate" not in gdf.columns:
        return pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    rates = pd.to_numeric(gdf["coverage_rate"], errors="coerce")
    return rates / 100.0 if rates.max(skipna=True) > 1.0001 else rates


def area_features(gdf: gpd.GeoDataFrame, *, level_zh: str, weight: float) -> dict:
    """Choropleth GeoJSON of streets or communities by ``coverage_rate``.

    Parameters
    ----------
    gdf : GeoDataFrame
        Areas with ``name``, ``code`` and optionally ``coverage_rate`` (0–1 or percent),
        ``sites``, ``demand``, ``demand_covered``, ``area_km2``, ``area_covered_km2``.
    level_zh : str
        ``街道`` or ``社区`` (shown in the popup).
    weight : float
        Outline width in pixels.

    Returns
    -------
    dict
        FeatureCollection with ``style``, ``_tip`` and ``_pop`` properties.
    """
    rates = _rates(gdf)

    def props(row):
        rate = rates.loc[row.name]
        color, _ = coverage_class(rate)
        name = row.get("name")
        pct = fmt_number(None if rate is None else rate * 100, ".1f", "%")
        rows = [("级别", level_zh), ("代码", row.get("code")), ("覆盖率", pct or "无数据"),
                ("站点数", fmt_number(row.get("sites"))), ("需求人数", fmt_number(row.get("demand"))),
                ("已覆盖人数", fmt_number(row.get("demand_covered"))),
                ("面积", fmt_number(row.get("area_km2"), ".2f", " km²")),
                ("已覆盖面积", fmt_number(row.get("area_covered_km2"), ".2f", " km²"))]
        return {"style": {"color": "#555555", "weight": weight, "opacity": 0.8, "fillColor": color,
                          "fillOpacity": 0.35},
                "_tip": f"{html_text(name)} · 覆盖率 {html_text(pct or '无数据')}",
                "_pop": popup_html(name, rows)}
    return feature_collection(gdf, props)


def gap_features(gdf: gpd.GeoDataFrame) -> dict:
    """GeoJSON of uncovered areas (red, dashed outline).

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons with optional ``name, demand_uncovered, area_km2, street, community``.

    Returns
    -------
    dict
        FeatureCollection with ``style``, ``_tip`` and ``_pop`` properties.
    """
    def props(row):
        rows = [("未覆盖人数", fmt_number(row.get("demand_uncovered"))),
                ("面积", fmt_number(row.get("area_km2"), ".2f", " km²")),
                ("街道", row.get("street")), ("社区", row.get("community"))]
        title = display_value(row.get("name")).strip() or "未覆盖区域"
        return {"style": {"color": "#b2182b", "weight": 1, "dashArray": "4 3", "fillColor": "#ef8a62",
                          "fillOpacity": 0.30},
                "_tip": html_text(title), "_pop": popup_html(title, rows)}
    return feature_collection(gdf, props)


def hotspot_features(gdf: gpd.GeoDataFrame) -> dict:
    """GeoJSON of uncovered-demand hotspots, shaded by ``demand_uncovered``.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons with ``demand_uncovered`` and optional ``rank, area_km2, street``.

    Returns
    -------
    dict
        FeatureCollection with ``style``, ``_tip`` and ``_pop`` properties.
    """
    demand = pd.to_numeric(gdf.get("demand_uncovered", pd.Series(index=gdf.index, dtype=float)),
                           errors="coerce")
    top = float(demand.max()) if demand.notna().any() and demand.max() > 0 else 1.0
    ranks = gdf["rank"] if "rank" in gdf.columns else demand.rank(ascending=False, method="first")

    def props(row):
        d = demand.loc[row.name]
        share = 0.0 if pd.isna(d) else float(d) / top
        rank = fmt_number(ranks.loc[row.name], ".0f")
        title = f"未覆盖需求热点 #{rank}" if rank else "未覆盖需求热点"
        rows = [("排名", rank), ("未覆盖人数", fmt_number(d)), ("面积", fmt_number(row.get("area_km2"), ".2f", " km²")),
                ("街道", row.get("street"))]
        return {"style": {"color": "#7f2704", "weight": 1.5, "fillColor": "#d94801",
                          "fillOpacity": round(0.15 + 0.5 * share, 3)},
                "_tip": f"{html_text(title)} · 未覆盖 {html_text(fmt_number(d) or '—')} 人",
                "_pop": popup_html(title, rows)}
    return feature_collection(gdf, props)


def zone_features(gdf: gpd.GeoDataFrame, radius_m: float) -> dict:
    """GeoJSON of service zones (precomputed polygons: radius discs or walking isochrones).

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons with optional ``name, site_name, mode``.
    radius_m : float
        Service radius shown in the popup.

    Returns
    -------
    dict
        FeatureCollection with ``style``, ``_tip`` and ``_pop`` properties.
    """
    def props(row):
        title = display_value(row.get("name")).strip() or "服务范围"
        rows = [("站点", row.get("site_name")), ("方式", row.get("mode")), ("半径", fmt_number(radius_m, ",.0f", " 米"))]
        return {"style": {"color": "#2b8cbe", "weight": 1, "opacity": 0.7, "fillColor": "#74a9cf",
                          "fillOpacity": 0.15},
                "_tip": html_text(title), "_pop": popup_html(title, rows)}
    return feature_collection(gdf, props)
