"""``GET /api/nearest``: the nearest open stations to a worker.

The hot path is a plain Starlette route (:func:`nearest_fast`, mounted ahead of the
FastAPI routes by :func:`install_fast_path`) that checks the query with the same rules;
FastAPI's per-parameter validation cost more than the search itself. The FastAPI route
below documents the endpoint in OpenAPI and answers identically.
"""
from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.routing import Route

from api import params
from api.geojson import GeoJSON, collection, feature, point
from geo.errors import InputError
from geo.finder import parse_when

router = APIRouter(tags=["nearest"])


def answer(holder, *, lon: float, lat: float, k: int = 3, kind=None, services=None, open_at=None,
           max_distance=None, crs=None, out_crs=None) -> GeoJSON:
    """The response for checked-typed parameters (shared by both routes)."""
    vocab, snap = holder.vocab, holder.snap
    spec, out = params.crs_param(crs), params.crs_param(out_crs, "out_crs")
    wlon, wlat = params.lonlat_param(lon, lat, spec)
    kind_code = params.vocab_param(vocab, "kind", kind, "kind")
    svc = params.services_param(vocab, services)
    dmax = params.positive_param(max_distance, "max_distance", maximum=20_000_000)
    try:
        when = parse_when(open_at)
    except ValueError as e:
        raise InputError(str(e), field="open_at") from None
    feats = []
    for r in snap.nearest(wlon, wlat, k=k, kind=kind_code, services=svc, open_at=when, max_distance=dmax):
        slon, slat = r.pop("lon"), r.pop("lat")
        feats.append(feature(point(slon, slat, out), r, r["id"]))
    return GeoJSON(collection(feats, query={"lon": wlon, "lat": wlat, "crs": "wgs84",
                                            "out_crs": str(out), "open_at": when}))


@router.get("/api/nearest", response_class=GeoJSON)
async def nearest(request: Request,
                  lon: Annotated[float, Query(description="longitude (in `crs`)")],
                  lat: Annotated[float, Query(description="latitude (in `crs`)")],
                  k: Annotated[int, Query(ge=1, le=50)] = 3,
                  kind: Annotated[str | None, Query(description="love_station, worker_home, …")] = None,
                  services: Annotated[str | None, Query(description="all must be offered: water,charging")] = None,
                  open_at: Annotated[str | None, Query(description="'now' or ISO time (Asia/Shanghai)")] = None,
                  max_distance: Annotated[float | None, Query(description="metres")] = None,
                  crs: Annotated[str | None, Query(description="wgs84, gcj02, bd09, EPSG:NNNN")] = None,
                  out_crs: Annotated[str | None, Query()] = None):
    """Open sites sorted by geodesic distance, with 高德/百度 navigation links."""
    return answer(request.app.state.holder, lon=lon, lat=lat, k=k, kind=kind, services=services,
                  open_at=open_at, max_distance=max_distance, crs=crs, out_crs=out_crs)


def _number(q, name: str, *, required: bool = False, integer: bool = False):
    raw = q.get(name)
    if raw is None or (raw == "" and not required):
        if required:
            raise InputError("this query parameter is required", field=name)
        return None
    try:
        v = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise InputError(f"{raw!r} is not {kind}", field=name) from None
    if not integer and math.isnan(v) and name not in ("lon", "lat"):
        raise InputError(f"{raw!r} is not a number", field=name)
    return v


async def nearest_fast(request):
    """Same contract as :func:`nearest`, without FastAPI's per-parameter machinery."""
    q = request.query_params
    k = _number(q, "k", integer=True)
    if k is not None and not 1 <= k <= 50:
        raise InputError(f"{k} is out of range (1 ≤ k ≤ 50)", field="k")
    return answer(request.app.state.holder, lon=_number(q, "lon", required=True),
                  lat=_number(q, "lat", required=True), k=3 if k is None else k,
                  kind=q.get("kind") or None, services=q.get("services") or None,
                  open_at=q.get("open_at") or None, max_distance=_number(q, "max_distance"),
                  crs=q.get("crs") or None, out_crs=q.get("out_crs") or None)


def install_fast_path(app) -> None:
    """Put the Starlette route for ``GET /api/nearest`` ahead of the FastAPI one."""
    app.router.routes.insert(0, Route("/api/nearest", nearest_fast, methods=["GET"], include_in_schema=False))
