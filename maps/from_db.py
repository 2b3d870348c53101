"""The coverage map from what is in the database (used by ``yizhan map coverage`` and
``GET /maps/coverage``)."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from geo.ingest.export_sites import sites_frame
from geo.store.tables import areas
from geo.services.coverage_planning import coverage_gaps, coverage_summary, suggestions
from geo.store.analysis_inputs import demand_read_once, load_demand
from geo.store.vocab import Vocabulary
from maps.coverage_map import coverage_map_from_layers


def _areas(conn, level: str, rates: dict | None = None) -> gpd.GeoDataFrame | None:
    rows = conn.execute(sa.select(areas.c.id, areas.c.code, areas.c.name, areas.c.geom)
                        .where(areas.c.level == level).order_by(areas.c.id)).all()
    if not rows:
        return None
    recs = []
    for r in rows:
        d = {"name": r.name, "code": r.code}
        d.update({k: v for k, v in (rates or {}).get(r.id, {}).items()
                  if k in ("coverage_rate", "sites", "demand", "demand_covered", "area_km2", "area_covered_km2")})
        recs.append(d)
    return gpd.GeoDataFrame(pd.DataFrame(recs), geometry=[to_shape(r.geom) for r in rows], crs=4326)


def coverage_map_from_db(conn: sa.Connection, *, radius_m: float = 1000.0, kind: str | None = None,
                         tiles: str = "none", mode: str = "inline", suggest: int = 5,
                         tianditu_key: str | None = None):
    """Every layer of the planners' map, computed from the stored data (demand read once)."""
    with demand_read_once():
        return _map(conn, radius_m=radius_m, kind=kind, tiles=tiles, mode=mode, suggest=suggest,
                    tianditu_key=tianditu_key)


def _map(conn, *, radius_m, kind, tiles, mode, suggest, tianditu_key):
    by_street = {a["area_id"]: a for a in coverage_summary(conn, radius_m=radius_m, kind=kind, by="street")["areas"]}
    by_comm = {a["area_id"]: a for a in coverage_summary(conn, radius_m=radius_m, kind=kind, by="community")["areas"]}
    district = _areas(conn, "district")
    streets = _areas(conn, "street", by_street)
    communities = _areas(conn, "community", by_comm)
    if district is None:
        district = streets.dissolve() if streets is not None else None
    s = sites_frame(conn)
    s.insert(0, "id", range(len(s)))
    gaps, hot = coverage_gaps(conn, radius_m=radius_m, kind=kind)
    dlon, dlat, dw = load_demand(conn)
    dem = pd.DataFrame({"lon": dlon, "lat": dlat, "weight": dw}) if dlon.size else None
    sugg = None
    if suggest and dem is not None:
        sugg = pd.DataFrame(suggestions(conn, count=suggest, radius_m=radius_m, kind=kind)["suggestions"])
    labels = {dom: {c: t["zh"] for c, t in terms.items()} for dom, terms in Vocabulary.load(conn).terms.items()}
    return coverage_map_from_layers(
        district=district, streets=streets, communities=communities, sites=s, gaps=gaps,
        hotspots=hot.head(50) if hot is not None else None, demand=dem, suggestions=sugg, tiles=tiles,
        radius_m=radius_m, mode=mode, labels=labels, tianditu_key=tianditu_key)
