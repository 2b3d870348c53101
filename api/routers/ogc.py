"""OGC API – Features Part 1 (Core + GeoJSON) under ``/ogc``, for QGIS and OWSLib.

Collections: one per site kind (kinds are data: a new kind is a new collection) plus
``streets`` and ``communities``. Items take ``bbox``, ``limit`` and ``offset`` and link to
the next page.
"""
from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request

from api.deps import ConnDep
from api.geojson import JSON, GeoJSON
from api.routers.areas import area_features
from api.routers.sites import filtered_sites, parse_bbox, site_feature
from geo.engine.clock import now, stamp
from geo.errors import NotFound
from geo.store.tables import sites
from geo.store.vocab import Vocabulary

router = APIRouter(prefix="/ogc", tags=["ogc"])
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
AREA_COLLECTIONS = {"streets": ("street", "街道 streets"), "communities": ("community", "社区 communities")}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _collections(conn) -> dict[str, dict]:
    v = Vocabulary.load(conn)
    out = {}
    for code in v.codes("kind"):
        out[code] = {"title": f"{v.label('kind', code)} {v.label('kind', code, 'en')}s", "kind": code}
    for cid, (level, title) in AREA_COLLECTIONS.items():
        out[cid] = {"title": title, "level": level}
    return out


def _collection_doc(base: str, cid: str, meta: dict, bbox) -> dict:
    return {
        "id": cid, "title": meta["title"], "itemType": "feature", "crs": [CRS84],
        "extent": {"spatial": {"bbox": [bbox], "crs": CRS84}},
        "links": [
            {"href": f"{base}/collections/{cid}", "rel": "self", "type": "application/json", "title": meta["title"]},
            {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": "application/geo+json",
             "title": "items"},
        ],
    }


def _extent(conn, meta) -> list[float]:
    if "kind" in meta:
        r = conn.execute(sa.select(sa.func.min(sites.c.lon), sa.func.min(sites.c.lat), sa.func.max(sites.c.lon),
                                   sa.func.max(sites.c.lat)).where(sites.c.kind == meta["kind"])).one()
        if r[0] is not None:
            return [float(x) for x in r]
    return [73.4, 3.8, 135.1, 53.6]


@router.get("")
def landing(request: Request):
    """Landing page."""
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return JSON({"title": "驿站 yizhan — OGC API Features", "description": "爱心驿站、职工之家与街道社区",
                 "links": [
                     {"href": base, "rel": "self", "type": "application/json", "title": "this document"},
                     {"href": f"{root}/openapi.json", "rel": "service-desc",
                      "type": "application/vnd.oai.openapi+json;version=3.0", "title": "OpenAPI"},
                     {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html", "title": "docs"},
                     {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json",
                      "title": "conformance"},
                     {"href": f"{base}/collections", "rel": "data", "type": "application/json",
                      "title": "collections"}]})


@router.get("/conformance")
def conformance():
    """Conformance classes."""
    return JSON({"conformsTo": CONFORMANCE})


@router.get("/collections")
def collections(request: Request, conn: ConnDep):
    """Every collection."""
    base = _base(request)
    cols = [_collection_doc(base, cid, m, _extent(conn, m)) for cid, m in _collections(conn).items()]
    return JSON({"collections": cols, "links": [
        {"href": f"{base}/collections", "rel": "self", "type": "application/json", "title": "collections"}]})


def _meta(conn, cid: str) -> dict:
    m = _collections(conn).get(cid)
    if m is None:
        raise NotFound(f"no collection {cid!r}")
    return m


@router.get("/collections/{collection_id}")
def collection(request: Request, collection_id: str, conn: ConnDep):
    """One collection."""
    m = _meta(conn, collection_id)
    return JSON(_collection_doc(_base(request), collection_id, m, _extent(conn, m)))


@router.get("/collections/{collection_id}/items", response_class=GeoJSON)
def items(request: Request, collection_id: str, conn: ConnDep,
          bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (CRS84)")] = None,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    """Features of a collection, paged, with ``next`` links."""
    m = _meta(conn, collection_id)
    base = _base(request)
    if "kind" in m:
        q = filtered_sites(conn, Vocabulary.load(conn), kind=m["kind"], bbox=bbox)
        matched = conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
        rows = conn.execute(q.order_by(sites.c.id).limit(limit).offset(offset)).all()
        feats = [site_feature(r) for r in rows]
    else:
        feats, matched = area_features(conn, m["level"], limit=limit, offset=offset,
                                       bbox=parse_bbox(bbox) if bbox else None)
    url = f"{base}/collections/{collection_id}/items"
    extra = f"&bbox={bbox}" if bbox else ""
    links = [{"href": f"{url}?limit={limit}&offset={offset}{extra}", "rel": "self", "type": "application/geo+json"},
             {"href": f"{base}/collections/{collection_id}", "rel": "collection", "type": "application/json"}]
    if offset + len(feats) < matched:
        links.append({"href": f"{url}?limit={limit}&offset={offset + limit}{extra}", "rel": "next",
                      "type": "application/geo+json"})
    if offset > 0:
        links.append({"href": f"{url}?limit={limit}&offset={max(0, offset - limit)}{extra}", "rel": "prev",
                      "type": "application/geo+json"})
    return GeoJSON({"type": "FeatureCollection", "features": feats, "numberMatched": matched,
                    "numberReturned": len(feats), "links": links,
                    "timeStamp": stamp(now())})


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=GeoJSON)
def item(request: Request, collection_id: str, feature_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
         conn: ConnDep):
    """One feature."""
    m = _meta(conn, collection_id)
    base = _base(request)
    if "kind" in m:
        from geo.store.sites import get_site
        r = get_site(conn, feature_id)
        if r.kind != m["kind"]:
            raise NotFound(f"no feature {feature_id} in {collection_id}")
        f = site_feature(r)
    else:
        feats, _ = area_features(conn, m["level"])
        f = next((x for x in feats if x["id"] == feature_id), None)
        if f is None:
            raise NotFound(f"no feature {feature_id} in {collection_id}")
    f["links"] = [{"href": f"{base}/collections/{collection_id}/items/{feature_id}", "rel": "self",
                   "type": "application/geo+json"},
                  {"href": f"{base}/collections/{collection_id}", "rel": "collection", "type": "application/json"}]
    return GeoJSON(f)
