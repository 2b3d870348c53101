"""GeoJSON building and fast JSON responses (orjson; never FastAPI's default encoder)."""
from __future__ import annotations

import datetime as dt

import orjson
from starlette.responses import JSONResponse

from geo.engine import crs_gcj02_bd09 as crsmod
from geo.engine.clock import stamp


class JSON(JSONResponse):
    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


class GeoJSON(JSON):
    media_type = "application/geo+json"


def _default(o):
    if isinstance(o, dt.datetime):  # a timestamp always carries the service zone's offset
        return stamp(o)
    if isinstance(o, dt.date):
        return o.isoformat()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def point(lon: float, lat: float, out_crs=None) -> dict:
    if out_crs is not None and out_crs.name != "wgs84":
        lon, lat = crsmod.point_from_wgs84(lon, lat, out_crs)
    return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}


def feature(geometry: dict | None, properties: dict, fid=None) -> dict:
    f = {"type": "Feature", "geometry": geometry, "properties": properties}
    if fid is not None:
        f["id"] = fid
    return f


def collection(features: list[dict], **extra) -> dict:
    return {"type": "FeatureCollection", "features": features, **extra}


def gaps_collection(gaps, hotspots, *, type: str = "all", limit: int | None = None, **extra) -> dict:
    """Uncovered polygons (``type`` "area") and H3 hotspots ("hotspot") as one FeatureCollection,
    ranked by ``demand_uncovered``; ``gaps`` / ``hotspots`` are :func:`geo.services.coverage_planning.coverage_gaps`'s
    GeoDataFrames (either may be None), ``type`` "all", "areas" or "hotspots"."""
    import json

    feats = []
    for kind, gdf in (("area", gaps if type in ("all", "areas") else None),
                      ("hotspot", hotspots if type in ("all", "hotspots") else None)):
        if gdf is None or gdf.empty:
            continue
        for rec in json.loads((gdf if limit is None else gdf.head(limit)).to_json(drop_id=True))["features"]:
            rec["properties"]["type"] = kind
            feats.append(rec)
    feats.sort(key=lambda f: -(f["properties"].get("demand_uncovered") or 0))
    return collection(feats if limit is None else feats[:limit], **extra)
