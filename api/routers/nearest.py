"""``GET /api/nearest``: the nearest open stations to a worker."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api import params
from api.geojson import GeoJSON, collection, feature, point
from geo.errors import InputError
from geo.finder import navigation_links, parse_when

router = APIRouter(tags=["nearest"])


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
    holder = request.app.state.holder
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
        r["links"] = navigation_links(slon, slat, r["name"])
        feats.append(feature(point(slon, slat, out), r, r["id"]))
    return GeoJSON(collection(feats, query={"lon": wlon, "lat": wlat, "crs": "wgs84",
                                            "out_crs": str(out), "open_at": when}))
