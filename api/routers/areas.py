"""``GET /api/areas``: streets and communities as GeoJSON."""
from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping

from api import params
from api.deps import ConnDep
from api.geojson import GeoJSON, collection, feature
from geo.engine import crs_gcj02_bd09 as crsmod
from geo.store.tables import areas

router = APIRouter(tags=["areas"])


def area_features(conn, level: str | None, out_crs=None, *, limit=None, offset=0, bbox=None):
    parent = areas.alias("parent")
    q = (sa.select(areas.c.id, areas.c.level, areas.c.code, areas.c.name, areas.c.geom,
                   parent.c.code.label("parent_code"), parent.c.name.label("parent_name"))
         .select_from(areas.outerjoin(parent, parent.c.id == areas.c.parent_id)).order_by(areas.c.id))
    if level:
        q = q.where(areas.c.level == level)
    rows = conn.execute(q).all()
    feats = []
    for r in rows:
        g = to_shape(r.geom)
        if bbox is not None:
            x0, y0, x1, y1 = g.bounds
            if x1 < bbox[0] or x0 > bbox[2] or y1 < bbox[1] or y0 > bbox[3]:
                continue
        if out_crs is not None and out_crs.name != "wgs84":
            import numpy as np
            import shapely
            g = shapely.transform(g, lambda xy: np.column_stack(crsmod.from_wgs84(xy[:, 0], xy[:, 1], out_crs)))
        props = {"id": r.id, "level": r.level, "code": r.code, "name": r.name,
                 "parent_code": r.parent_code, "parent_name": r.parent_name}
        feats.append(feature(mapping(g), props, r.id))
    matched = len(feats)
    if limit is not None:
        feats = feats[offset:offset + limit]
    return feats, matched


@router.get("/api/areas", response_class=GeoJSON)
def list_areas(conn: ConnDep, level: Literal["district", "street", "community"] | None = None,
               out_crs: str | None = None):
    """Areas of one level (or all), polygons in WGS-84 unless ``out_crs``."""
    feats, matched = area_features(conn, level, params.crs_param(out_crs, "out_crs"))
    return GeoJSON(collection(feats, numberMatched=matched, numberReturned=len(feats)))
