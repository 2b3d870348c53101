"""A baseline for ``bench/nearest_bench.py``: nearest sites answered by PostGIS.

``GET /api/nearest_pg?lon=&lat=&k=`` runs a geography KNN query (``ORDER BY
geom::geography <-> q LIMIT k``, served by a GiST index on ``(geom::geography)``)
through a SQLAlchemy pool of 10 connections and returns a GeoJSON FeatureCollection
rendered with orjson. The database URL comes from ``YIZHAN_BENCH_PG_URL``.

Run: ``python -m uvicorn _pg_nearest_app:create_app --factory --app-dir bench``.
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Annotated

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Query
from starlette.responses import Response

SQL = sa.text("""
SELECT id, code, name, kind, lon, lat,
       ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d
FROM sites
WHERE status = 'open'
ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography
LIMIT :k
""")


class GeoJSON(Response):
    media_type = "application/geo+json"


def create_app() -> FastAPI:
    url = os.environ["YIZHAN_BENCH_PG_URL"]

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = sa.create_engine(url, pool_size=10, max_overflow=0, pool_pre_ping=False)
        try:
            yield
        finally:
            app.state.engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    def healthz():
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/api/nearest_pg")
    def nearest_pg(lon: Annotated[float, Query(ge=-180, le=180)],
                   lat: Annotated[float, Query(ge=-90, le=90)],
                   k: Annotated[int, Query(ge=1, le=50)] = 3):
        with app.state.engine.connect() as conn:
            rows = conn.execute(SQL, {"lon": lon, "lat": lat, "k": k}).all()
        feats = [{"type": "Feature", "id": r.id,
                  "geometry": {"type": "Point", "coordinates": [round(r.lon, 7), round(r.lat, 7)]},
                  "properties": {"id": r.id, "code": r.code, "name": r.name, "kind": r.kind,
                                 "distance_m": round(r.d, 1)}} for r in rows]
        return GeoJSON(orjson.dumps({"type": "FeatureCollection", "features": feats,
                                     "query": {"lon": lon, "lat": lat, "k": k}}))

    return app
