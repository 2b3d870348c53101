"""``GET /api/nearest``: the nearest open stations to a worker.

Workers' phones call this more than anything else, so it has a hot path:
:class:`NearestFastPath`, a pure ASGI middleware that answers ``GET /api/nearest``
before Starlette builds a request, runs its router or FastAPI validates parameters one
by one (that machinery cost more than the search itself). It checks the query with the
same rules, maps errors with :func:`api.errors.domain_status` and renders the same bytes
as the documented FastAPI route below, which stays for OpenAPI (and answers identically
if the fast path is not installed).

Rendering reuses each site's fixed JSON (properties, navigation links, geometry in the
output coordinate system), memoised per snapshot; only ``open_now``, ``distance_m`` and
``bearing_deg`` are written per request.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Annotated
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api import params
from api.errors import domain_status
from api.geojson import point
from geo.errors import InputError, YizhanError
from geo.engine.clock import zone
from geo.services.nearest_snapshot import parse_when

router = APIRouter(tags=["nearest"])
log = logging.getLogger("yizhan.api")
MEDIA_TYPE = "application/geo+json"
_TRUE_FALSE_NULL = {True: b"true", False: b"false", None: b"null"}


def _site_json(snap, p: int, out) -> tuple[bytes, bytes]:
    """``(head, id)`` of a site's feature: ``{"type":"Feature","geometry":…,"properties":{…``.

    Memoised per snapshot and output coordinate system; the caller closes the properties
    with the per-request values.
    """
    key = (p, out.name, out.epsg)
    hit = snap.memo.get(key)
    if hit is None:
        site = snap.site(p)
        props = {k: v for k, v in site.items() if k not in ("lon", "lat")}
        geom = orjson.dumps(point(site["lon"], site["lat"], out))
        head = (b'{"type":"Feature","geometry":' + geom + b',"properties":'
                + orjson.dumps(props)[:-1])
        hit = snap.memo[key] = (head, orjson.dumps(site["id"]))
    return hit


def render(holder, *, lon: float, lat: float, k: int = 3, kind=None, services=None, open_at=None,
           max_distance=None, crs=None, out_crs=None, now: dt.datetime | None = None) -> bytes:
    """The GeoJSON body for checked-typed parameters (shared by both routes)."""
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
    pos, dist, bearing = snap.search(wlon, wlat, k=k, kind=kind_code, services=svc, open_at=when,
                                     max_distance=dmax)
    at = when or now or dt.datetime.now(zone())
    feats = []
    for p, d, b, is_open in zip(pos, dist, bearing, snap.open_flags(pos, at)):
        head, fid = _site_json(snap, p, out)
        feats.append(head + b',"open_now":' + _TRUE_FALSE_NULL[is_open]
                     + b',"distance_m":' + orjson.dumps(round(d, 1))
                     + b',"bearing_deg":' + orjson.dumps(round(b, 1)) + b'},"id":' + fid + b"}")
    query = orjson.dumps({"lon": wlon, "lat": wlat, "crs": "wgs84", "out_crs": str(out),
                          "open_at": when})
    return (b'{"type":"FeatureCollection","features":[' + b",".join(feats)
            + b'],"query":' + query + b"}")


@router.get("/api/nearest", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "a GeoJSON FeatureCollection"}})
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
    body = render(request.app.state.holder, lon=lon, lat=lat, k=k, kind=kind, services=services,
                  open_at=open_at, max_distance=max_distance, crs=crs, out_crs=out_crs)
    return Response(body, media_type=MEDIA_TYPE)


def _number(q: dict, name: str, *, required: bool = False, integer: bool = False):
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


def _query(query_string: bytes) -> dict:
    """The query as a dict (last value wins), like ``parse_qsl``; plain ``k=v&…`` split directly."""
    s = query_string.decode("latin-1")
    if "%" in s or "+" in s:
        return dict(parse_qsl(s, keep_blank_values=True))
    return dict(part.partition("=")[::2] for part in s.split("&") if part)


def render_query(holder, query_string: bytes) -> bytes:
    """:func:`render` for a raw query string (the fast path's parameter checks)."""
    q = _query(query_string)
    k = _number(q, "k", integer=True)
    if k is not None and not 1 <= k <= 50:
        raise InputError(f"{k} is out of range (1 ≤ k ≤ 50)", field="k")
    return render(holder, lon=_number(q, "lon", required=True), lat=_number(q, "lat", required=True),
                  k=3 if k is None else k, kind=q.get("kind") or None,
                  services=q.get("services") or None, open_at=q.get("open_at") or None,
                  max_distance=_number(q, "max_distance"), crs=q.get("crs") or None,
                  out_crs=q.get("out_crs") or None)


def is_nearest(scope) -> bool:
    """Whether an ASGI scope is a ``GET``/``HEAD /api/nearest`` the fast path answers."""
    return scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and (
        scope["path"] == "/api/nearest"
        or scope["path"] == scope.get("root_path", "") + "/api/nearest")  # behind a prefix


async def answer(holder, scope, send) -> None:
    """Send the response to a ``GET``/``HEAD /api/nearest`` scope (body, or error detail)."""
    headers = [(b"content-type", MEDIA_TYPE.encode())]
    try:
        body, status = render_query(holder, scope["query_string"]), 200
    except YizhanError as e:
        status, detail, extra = domain_status(e)
        body, headers = orjson.dumps({"detail": detail}), [(b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    except Exception:  # a bug, not bad input: same answer as the app's handler
        log.exception("unhandled error on GET /api/nearest")
        body, status = orjson.dumps({"detail": "internal error (logged)"}), 500
        headers = [(b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


class NearestFastPath:
    """Pure ASGI middleware answering ``GET``/``HEAD /api/nearest`` directly.

    Every other request passes to the application unchanged. :class:`api.app.YizhanAPI`
    answers these requests even earlier (before FastAPI's per-request telemetry check
    and Starlette's middleware stack); this middleware stays for apps built otherwise.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if not is_nearest(scope):
            return await self.app(scope, receive, send)
        await answer(scope["app"].state.holder, scope, send)


def install_fast_path(app) -> None:
    """Answer ``GET /api/nearest`` in :class:`NearestFastPath`, ahead of the app's routing."""
    app.add_middleware(NearestFastPath)
