"""Input shapes for the maps, and their conversion to compact, escaped page data.

Inputs may be GeoDataFrames (any CRS; converted to WGS-84), GeoSeries, shapely
geometries, GeoJSON dicts, DataFrames or lists of dicts with ``lon``/``lat``. Sites become
compact column-oriented JSON in :mod:`maps.site_data`, which the browser clusters;
polygons become GeoJSON in :mod:`maps.polygons`. When drawing on 高德 tiles every coordinate is
shifted to GCJ-02 with :func:`geo.engine.crs_gcj02_bd09.from_wgs84` (:func:`shift_gdf`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from maps.safe import display_value

#: Colours of love-station levels (legend order).
LEVEL_COLORS = {"provincial_gov": "#b2182b", "provincial_union": "#e66101", "city_union": "#2166ac",
                "district_union": "#1a9850", "other": "#8c510a"}
#: Colours of stages (status) for worker homes and other kinds (legend order).
STATUS_COLORS = {"open": "#d95f02", "building": "#fdb863", "surveyed": "#8073ac", "planned": "#b2abd2",
                 "suspended": "#737373", "closed": "#252525"}
UNKNOWN_COLOR = "#999999"
SHAPES = {"love_station": "circle", "worker_home": "square"}
#: Popup rows of a site: (column, Chinese label).
SITE_FIELDS = [("code", "编号"), ("kind", "类型"), ("level", "级别"), ("status", "状态"), ("address", "地址"),
               ("street", "街道"), ("community", "社区"), ("services", "服务"), ("opening_hours", "开放时间"),
               ("host_org", "依托单位"), ("operator", "运营方"), ("phone", "联系电话"), ("capacity", "容量")]
_SPLIT = re.compile(r"[,，、;；|]+")


def vocab_labels(extra: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """Chinese labels by domain and code: the seed vocabulary, updated with ``extra``.

    Parameters
    ----------
    extra : mapping, optional
        ``{"kind": {"childcare": "爱心托管班"}, …}`` e.g. read from the ``vocab`` table.

    Returns
    -------
    dict
        ``{domain: {code: Chinese label}}``.
    """
    from geo.store.vocab import SEED

    out: dict[str, dict[str, str]] = {}
    for domain, code, zh, _en, _rank in SEED:
        out.setdefault(domain, {})[code] = zh
    for domain, mapping in (extra or {}).items():
        out.setdefault(domain, {}).update({str(k): str(v) for k, v in mapping.items()})
    return out


def code_of(labels: dict, domain: str, value) -> str | None:
    """Code of a vocabulary value given as a code or a Chinese label (``None`` if missing)."""
    text = display_value(value).strip()
    if not text:
        return None
    table = labels.get(domain, {})
    if text in table:
        return text
    for code, zh in table.items():
        if zh == text:
            return code
    return text


def label_of(labels: dict, domain: str, value) -> str:
    """Chinese label of a vocabulary value.

    Parameters
    ----------
    labels : dict
        From :func:`vocab_labels`.
    domain : str
        ``kind``, ``level``, ``status``, ``service``, …
    value : Any
        A code (``city_union``) or already a label (``市总工会级``).

    Returns
    -------
    str
        The label; the value itself if unknown; ``""`` if missing.
    """
    code = code_of(labels, domain, value)
    return "" if code is None else labels.get(domain, {}).get(code, code)


def services_label(labels: dict, value) -> str:
    """Chinese labels of a services value (a list or a ``,``/``、``/``;``-separated string), joined with ``、``."""
    if isinstance(value, str):
        parts = _SPLIT.split(value)
    elif isinstance(value, (list, tuple, set, np.ndarray)):
        parts = [display_value(v) for v in value]
    else:
        parts = [display_value(value)]
    return "、".join(label_of(labels, "service", p) for p in parts if p and p.strip())


# --------------------------------------------------------------------------- inputs


def as_gdf(obj, *, what: str = "layer") -> gpd.GeoDataFrame | None:
    """Normalise an input layer to a WGS-84 GeoDataFrame without empty geometries.

    Parameters
    ----------
    obj : GeoDataFrame, GeoSeries, shapely geometry, GeoJSON dict, DataFrame, list of dict or None
        DataFrames and dicts without ``geometry`` need ``lon`` and ``lat`` (WGS-84).
        A GeoDataFrame without a CRS is taken to be WGS-84.
    what : str
        Name used in error messages.

    Returns
    -------
    GeoDataFrame or None
        ``None`` when ``obj`` is ``None``.
    """
    if obj is None:
        return None
    if isinstance(obj, gpd.GeoDataFrame):
        gdf = obj
    elif isinstance(obj, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=obj)
    elif isinstance(obj, BaseGeometry):
        gdf = gpd.GeoDataFrame(geometry=[obj], crs=4326)
    elif isinstance(obj, Mapping) and obj.get("type") in ("FeatureCollection", "Feature"):
        feats = obj["features"] if obj["type"] == "FeatureCollection" else [obj]
        gdf = gpd.GeoDataFrame.from_features(feats, crs=4326)
    else:
        df = obj if isinstance(obj, pd.DataFrame) else pd.DataFrame(list(obj))
        if "geometry" in df.columns:
            geoms = [g if isinstance(g, BaseGeometry) or g is None else shapely.geometry.shape(g)
                     for g in df["geometry"]]
            gdf = gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=geoms, crs=4326)
        elif {"lon", "lat"} <= set(df.columns):
            gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
        elif len(df) == 0:
            gdf = gpd.GeoDataFrame(df, geometry=[], crs=4326)
        else:
            raise ValueError(f"{what}: need a geometry column or lon/lat columns")
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    elif gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    keep = gdf.geometry.notna() & ~gdf.geometry.is_empty
    return gdf.loc[keep].reset_index(drop=True)


def _to_gcj(coords: np.ndarray) -> np.ndarray:
    from geo.engine.crs_gcj02_bd09 import from_wgs84

    x, y = from_wgs84(coords[:, 0], coords[:, 1], "gcj02")
    return np.column_stack([x, y])


def shift_gdf(gdf: gpd.GeoDataFrame | None, gcj02: bool) -> gpd.GeoDataFrame | None:
    """Shift every coordinate of a layer from WGS-84 to GCJ-02 (for 高德 tiles).

    Parameters
    ----------
    gdf : GeoDataFrame or None
        WGS-84 layer.
    gcj02 : bool
        Whether to shift; when False ``gdf`` is returned unchanged.

    Returns
    -------
    GeoDataFrame or None
        A shifted copy (points, lines and polygons alike, via :func:`geo.engine.crs_gcj02_bd09.from_wgs84`).
    """
    if gdf is None or not gcj02 or len(gdf) == 0:
        return gdf
    out = gdf.copy()
    out.geometry = shapely.transform(np.asarray(gdf.geometry.values), _to_gcj)
    return out


def points_xy(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of a point layer.

    Parameters
    ----------
    gdf : GeoDataFrame
        Points (other geometries contribute a point on their surface).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Longitudes and latitudes.
    """
    geoms = np.asarray(gdf.geometry.values)
    not_pt = shapely.get_type_id(geoms) != 0
    if not_pt.any():
        geoms = geoms.copy()
        geoms[not_pt] = shapely.point_on_surface(geoms[not_pt])
    return shapely.get_x(geoms), shapely.get_y(geoms)
