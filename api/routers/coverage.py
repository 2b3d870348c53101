"""``/api/coverage``, ``/api/coverage/gaps``, ``/api/coverage/suggestions`` and ``/maps/coverage``."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api import params
from api.deps import ConnDep, SettingsDep
from api.geojson import JSON, GeoJSON, collection, feature, gaps_collection
from api.map_pages import data_version
from geo.errors import InputError
from geo.services.nearest_snapshot import parse_when
from geo.services.coverage_planning import coverage_gaps, coverage_summary, suggestions
from geo.store.vocab import Vocabulary

#: ``mode=walk``: the street network, a file name in the server's ``YIZHAN_NETWORK_DIR``
NetworkName = Annotated[str | None, Query(description="mode=walk: an .osm.pbf file name in the server's "
                                                      "YIZHAN_NETWORK_DIR")]
#: ``mode=walk``: how far a point may lie from the nearest street node and still be routable
MaxSnap = Annotated[float, Query(description="mode=walk: metres from the nearest street node beyond which "
                                             "a point is not routable (at most 5000)")]

router = APIRouter(tags=["coverage"])
Radius = Annotated[float, Query(gt=0, le=50_000, description="service radius, metres (双15: 1000)")]


def _filters(conn, kind, service, at) -> dict:
    vocab = Vocabulary.load(conn)
    try:
        when = parse_when(at)
    except ValueError as e:
        raise InputError(str(e), field="at") from None
    svc = params.services_param(vocab, service, "service")
    if len(svc) > 1:
        raise InputError("give one service", field="service")
    return {"kind": params.vocab_param(vocab, "kind", kind, "kind"), "service": svc[0] if svc else None,
            "at": when}


@router.get("/api/coverage")
def coverage(conn: ConnDep, settings: SettingsDep, radius: Radius = 1000.0, kind: str | None = None,
             service: str | None = None,
             at: Annotated[str | None, Query(description="only sites open at this time (ISO or now)")] = None,
             mode: Literal["straight", "walk"] = "straight", by: Literal["street", "community"] = "street",
             network: NetworkName = None,
             max_snap: MaxSnap = 100.0):
    """Demand covered within ``radius``: totals and one row per street or community; ``mode=walk``
    takes ``network``, an .osm.pbf file in the server's ``YIZHAN_NETWORK_DIR``."""
    network = params.network_param(network, settings.network_dir)
    return JSON(coverage_summary(conn, radius_m=radius, by=by, mode=mode, network=network, max_snap_m=max_snap,
                                 dask_threshold=settings.dask_threshold, **_filters(conn, kind, service, at)))


@router.get("/api/coverage/gaps", response_class=GeoJSON)
def gaps(conn: ConnDep, settings: SettingsDep, radius: Radius = 1000.0, kind: str | None = None,
         service: str | None = None,
         at: str | None = None, type: Literal["all", "areas", "hotspots"] = "all",
         limit: Annotated[int, Query(ge=1, le=5000)] = 200, mode: Literal["straight", "walk"] = "straight",
         network: NetworkName = None,
         max_snap: MaxSnap = 100.0):
    """Uncovered polygons (district minus service zones) and uncovered-demand H3 hotspots,
    ranked by ``demand_uncovered``; ``mode=walk``: hotspots of demand beyond ``radius`` on foot."""
    network = params.network_param(network, settings.network_dir)
    g, h = coverage_gaps(conn, radius_m=radius, mode=mode, network=network, max_snap_m=max_snap,
                         **_filters(conn, kind, service, at))
    return GeoJSON(gaps_collection(g, h, type=type, limit=limit, radius_m=radius, mode=mode))


@router.get("/api/coverage/suggestions", response_class=GeoJSON)
def coverage_suggestions(conn: ConnDep, settings: SettingsDep, count: Annotated[int, Query(ge=1, le=200)] = 5,
                         radius: Radius = 1000.0, kind: str | None = None,
                         method: Literal["auto", "greedy", "exact"] = "auto",
                         mode: Literal["straight", "walk"] = "straight", network: NetworkName = None,
                         max_snap: MaxSnap = 100.0):
    """Proposed sites in order, each with ``gain`` and ``cumulative_coverage_rate``; ``mode=walk``:
    gains by walking distance on ``network``."""
    r = suggestions(conn, count=count, radius_m=radius, method=method, mode=mode,
                    network=params.network_param(network, settings.network_dir), max_snap_m=max_snap,
                    **{"kind": _filters(conn, kind, None, None)["kind"]})
    feats = [feature({"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                     {k: v for k, v in p.items() if k not in ("lon", "lat")}) for p in r["suggestions"]]
    return GeoJSON(collection(feats, method=r["method"], bound=r["bound"], source=r["source"], mode=r["mode"],
                              base_coverage_rate=r["base_coverage_rate"], total_demand=r["total_demand"]))


@router.get("/maps/coverage", response_class=HTMLResponse, tags=["maps"])
async def coverage_map(request: Request, conn: ConnDep, settings: SettingsDep, radius: Radius = 1000.0, kind: str | None = None,
                       tiles: Literal["none", "osm", "amap", "tianditu"] | None = None):
    """The planners' interactive coverage map (Leaflet served by this service).

    Built in a separate process (one build at a time) and cached per data version and
    parameters: ``X-Yizhan-Cache`` says ``hit`` or ``miss``."""
    tiles = tiles or settings.default_tiles
    if tiles == "tianditu" and not settings.tianditu_key:
        raise InputError("天地图 tiles need a key: set YIZHAN_TIANDITU_KEY (or use tiles=none/osm/amap)",
                         field="tiles")

    def checked():
        return data_version(conn), _filters(conn, kind, None, None)["kind"]
    version, kind_code = await run_in_threadpool(checked)
    html, hit = await request.app.state.map_pages.page(
        version, (radius, kind_code, tiles, settings.tianditu_key or None))
    return HTMLResponse(html, headers={"X-Yizhan-Cache": "hit" if hit else "miss"})
