"""``/api/sites``: list, read, create, update, close, history."""
from __future__ import annotations

import json
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, Path, Query, Request

from api import params
from api.deps import ConnDep, EngineDep, WriterDep
from api.geojson import GeoJSON, collection, feature, point
from api.schemas import SiteCreate, SiteUpdate
from geo.services import site_edits
from geo.engine.clock import stamp
from geo.errors import Conflict, InputError
from geo.store.tables import areas, sites
from geo.store.sites import get_site as fetch_site
from geo.store.sites import history_rows, site_select, status_since
from geo.store.vocab import Vocabulary

router = APIRouter(tags=["sites"])
SiteId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def site_properties(r) -> dict:
    d = r._asdict() if hasattr(r, "_asdict") else dict(r)
    props = {k: d.get(k) for k in ("id", "code", "name", "kind", "level", "status", "address",
                                   "street", "community", "opening_hours", "phone", "capacity",
                                   "host_org", "operator", "opened_on", "closed_on", "version",
                                   "src_crs", "updated_at")}
    props["services"] = [s for s in (d.get("services") or "").split(",") if s]
    props["updated_at"] = stamp(props["updated_at"])
    return props


def site_feature(r, out_crs=None) -> dict:
    return feature(point(r.lon, r.lat, out_crs), site_properties(r), r.id)


def filtered_sites(conn, vocab, *, kind=None, level=None, status=None, street=None, community=None,
                   service=None, bbox=None):
    """SELECT of sites matching the list filters (shared with OGC items)."""
    q = site_select()
    if kind:
        q = q.where(sites.c.kind == params.vocab_param(vocab, "kind", kind, "kind"))
    if level:
        q = q.where(sites.c.level == params.vocab_param(vocab, "level", level, "level"))
    if status:
        q = q.where(sites.c.status == params.vocab_param(vocab, "status", status, "status"))
    for name, value, col in (("street", street, sites.c.street_id), ("community", community, sites.c.community_id)):
        if value:
            ids = sa.select(areas.c.id).where(sa.or_(areas.c.name == value, areas.c.code == value))
            q = q.where(col.in_(ids))
    for s in params.services_param(vocab, service, "service"):
        q = q.where(sa.literal(",").concat(sites.c.services).concat(",").like(f"%,{s},%"))
    if bbox:
        x0, y0, x1, y1 = parse_bbox(bbox)
        q = q.where(sites.c.lon.between(x0, x1), sites.c.lat.between(y0, y1))
    return q


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"bbox {text!r} must be minlon,minlat,maxlon,maxlat numbers", field="bbox") from None
    if len(v) != 4 or not all(abs(x) < 1e9 and x == x for x in v):
        raise InputError("bbox must be 4 finite numbers: minlon,minlat,maxlon,maxlat", field="bbox")
    x0, y0, x1, y1 = v
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InputError("bbox must have minlon ≤ maxlon within -180..180 and minlat ≤ maxlat "
                         "within -90..90", field="bbox")
    return x0, y0, x1, y1


@router.get("/api/sites", response_class=GeoJSON)
def list_sites(request: Request, conn: ConnDep,
               kind: str | None = None, level: str | None = None, status: str | None = None,
               street: str | None = None, community: str | None = None, service: str | None = None,
               bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
               out_crs: str | None = None):
    """Sites matching every filter given, as a FeatureCollection with paging counts."""
    vocab = Vocabulary.load(conn)
    out = params.crs_param(out_crs, "out_crs")
    q = filtered_sites(conn, vocab, kind=kind, level=level, status=status, street=street,
                       community=community, service=service, bbox=bbox)
    matched = conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = conn.execute(q.order_by(sites.c.id).limit(limit).offset(offset)).all()
    return GeoJSON(collection([site_feature(r, out) for r in rows], numberMatched=matched,
                              numberReturned=len(rows)))


@router.get("/api/sites/{site_id}", response_class=GeoJSON)
def get_site(site_id: SiteId, conn: ConnDep, out_crs: str | None = None):
    """One site; its ``version`` is also the ETag. ``status_since``: the date it took its
    current status (a closed site's ``closed_on``)."""
    r = fetch_site(conn, site_id)
    f = site_feature(r, params.crs_param(out_crs, "out_crs"))
    f["properties"]["status_since"] = status_since(history_rows(conn, site_id))[1]
    return GeoJSON(f, headers={"ETag": f'"{r.version}"'})


def _version(if_match: str | None, body_version: int | None) -> int | None:
    if if_match is None:
        return body_version
    v = if_match.strip().removeprefix("W/").strip('"')
    if not v.isdigit():
        raise InputError("If-Match must be the site's version number, e.g. \"3\"", field="If-Match")
    return int(v)


def _reload(request: Request) -> None:
    request.app.state.holder.reload()


@router.post("/api/sites", status_code=201, response_class=GeoJSON)
def create_site(request: Request, body: SiteCreate, engine: EngineDep, writer: WriterDep):
    """Create a site (needs a planner token)."""
    data = body.model_dump(exclude={"crs", "effective_on"}, exclude_none=True)
    sid = site_edits.create_site(engine, data, crs=body.crs, actor=writer.name, effective_on=body.effective_on)
    _reload(request)
    with engine.connect() as conn:
        r = fetch_site(conn, sid)
    return GeoJSON(site_feature(r), status_code=201, headers={"ETag": f'"{r.version}"',
                                                              "Location": f"/api/sites/{sid}"})


@router.patch("/api/sites/{site_id}", response_class=GeoJSON)
def update_site(request: Request, site_id: SiteId, body: SiteUpdate, engine: EngineDep, writer: WriterDep,
                if_match: Annotated[str | None, Header()] = None):
    """Change fields effective on a date; a stale ``If-Match`` version gets 409."""
    patch = body.model_dump(exclude={"crs", "effective_on", "version"}, exclude_unset=True)
    version = _version(if_match, body.version)
    try:
        changes = site_edits.patch_site(engine, site_id, patch, crs=body.crs, actor=writer.name,
                                        expected_version=version, effective_on=body.effective_on)
    except Conflict as e:
        site_edits.reject(engine, site_id, patch, actor=writer.name, reason="stale version")
        raise e
    _reload(request)
    with engine.connect() as conn:
        r = fetch_site(conn, site_id)
    f = site_feature(r)
    f["changes"] = {k: {"old": o, "new": n} for k, (o, n) in changes.items()}
    return GeoJSON(f, headers={"ETag": f'"{r.version}"'})


@router.delete("/api/sites/{site_id}", response_class=GeoJSON)
def delete_site(request: Request, site_id: SiteId, engine: EngineDep, writer: WriterDep,
                if_match: Annotated[str | None, Header()] = None,
                effective_on: Annotated[str | None, Query(description="default today")] = None):
    """Close the site (status closed, closed_on) and keep its history."""
    from geo.ingest.records import parse_date
    try:
        day = parse_date(effective_on) if effective_on else None
    except ValueError as e:
        raise InputError(str(e), field="effective_on") from None
    try:
        site_edits.patch_site(engine, site_id, {"status": "closed"}, crs=None, actor=writer.name,
                              expected_version=_version(if_match, None), effective_on=day)
    except Conflict as e:
        site_edits.reject(engine, site_id, {"status": "closed"}, actor=writer.name, reason="stale version")
        raise e
    _reload(request)
    with engine.connect() as conn:
        r = fetch_site(conn, site_id)
    return GeoJSON(site_feature(r), headers={"ETag": f'"{r.version}"'})


@router.get("/api/sites/{site_id}/history")
def site_history(site_id: SiteId, conn: ConnDep):
    """Every change: field, old → new, effective date, when recorded, by whom, outcome."""
    fetch_site(conn, site_id)
    out = []
    for h in history_rows(conn, site_id):
        out.append({"field": h.field, "old": json.loads(h.old_value) if h.old_value else None,
                    "new": json.loads(h.new_value) if h.new_value else None,
                    "effective_on": h.effective_on, "recorded_at": stamp(h.recorded_at), "actor": h.actor,
                    "source": h.source, "outcome": h.outcome})
    return {"site_id": site_id, "history": out}
