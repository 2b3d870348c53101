"""Data-quality sections of the annual report, and the sites it lists but does not count.

- :func:`outside_streets`: with streets loaded, sites outside every street are listed with
  why (the nearest street and how far) and left out of every district figure.
- :func:`data_quality`: those sites, built sites without opening hours or without an
  opening date (counted from their import day), suspected duplicates.
- :func:`notes`: the lines printed under the union's sentence saying what it leaves out
  or dates by guess.
"""
from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from geo.store.tables import areas

LIST_LIMIT = 200


def _streets(conn) -> tuple[list[str], np.ndarray]:
    rows = conn.execute(sa.select(areas.c.name, areas.c.geom).where(areas.c.level == "street")
                        .order_by(areas.c.code)).all()
    return [r.name for r in rows], np.array([to_shape(r.geom) for r in rows], dtype=object)


def outside_streets(conn, full: pd.DataFrame) -> dict:
    """Sites (existing on the date, not closed) in no street: ``ids`` (all such sites),
    ``sites`` (entries with ``why``), ``excluded`` (True when streets are loaded)."""
    from geo.engine.geodesy import distance_m

    names, geoms = _streets(conn)
    out = full[full.street_code.isna().to_numpy()]
    if not len(geoms):
        why = "尚未导入街道区划，计入全区合计"
        return {"excluded": False, "ids": [], "sites": _listed(out[out.status != "closed"], [why] * len(out))}
    pts = shapely.points(out.lon.to_numpy(dtype="float64"), out.lat.to_numpy(dtype="float64"))
    whys = []
    for p in pts:
        d = shapely.distance(p, geoms)
        k = int(np.argmin(d))
        q = shapely.get_coordinates(shapely.shortest_line(p, geoms[k]))[1]
        km = float(distance_m(shapely.get_x(p), shapely.get_y(p), q[0], q[1])) / 1000
        whys.append(f"不在任何已导入街道内（距最近的{names[k]}约{km:.1f}公里），不计入全区合计")
    return {"excluded": True, "ids": [int(i) for i in out.id], "sites": _listed(out, whys, open_only=True)}


def _listed(df: pd.DataFrame, whys: list[str], open_only: bool = False) -> list[dict]:
    keep = (df.status != "closed").to_numpy() if open_only else np.ones(len(df), dtype=bool)
    return [{"id": int(r.id), "code": r.code, "name": r["name"], "kind": r.kind,
             "level": r.level if isinstance(r.level, str) else None, "status": r.status, "why": w}
            for (_, r), w, k in zip(df.iterrows(), whys, keep) if k]


def duplicates(df: pd.DataFrame, within_m: float) -> list[dict]:
    """Pairs of sites within ``within_m`` metres with similar names."""
    from scipy.spatial import cKDTree

    from geo.engine.geodesy import distance_m, ecef
    df = df[np.isfinite(df.lon.to_numpy())]
    lon, lat = df.lon.to_numpy(), df.lat.to_numpy()
    pairs = (cKDTree(ecef(lon, lat)).query_pairs(within_m, output_type="ndarray") if len(df) > 1
             else np.empty((0, 2), dtype="int64"))
    d = distance_m(lon[pairs[:, 0]], lat[pairs[:, 0]], lon[pairs[:, 1]], lat[pairs[:, 1]])
    names, codes = df["name"].to_numpy(), df["code"].to_numpy()
    out = []
    for (a, b), m in zip(pairs, d):
        sm = difflib.SequenceMatcher(None, names[a], names[b])
        if m <= within_m and sm.real_quick_ratio() >= 0.6 and sm.quick_ratio() >= 0.6 and sm.ratio() >= 0.6:
            out.append({"code": codes[a], "name": names[a], "other_code": codes[b],
                        "other_name": names[b], "distance_m": round(float(m), 1)})
    return sorted(out, key=lambda e: (e["code"], e["other_code"]))


def data_quality(ids: pd.DataFrame, built: pd.Series, outside: dict, duplicate_m: float, entries) -> dict:
    """The ``data_quality`` section; ``ids`` are the counted sites indexed by id."""
    b = built.to_numpy()
    no_hours = b & ids.opening_hours.fillna("").astype(str).str.strip().eq("").to_numpy()
    undated = b & pd.isna(ids.opened_on).to_numpy()
    dups = duplicates(ids[ids.status != "closed"], duplicate_m)
    return {"without_street": {"count": len(outside["sites"]), "sites": outside["sites"][:LIST_LIMIT]},
            "missing_opening_hours": {"count": int(no_hours.sum()), "sites": entries(ids, ids.index[no_hours])},
            "undated_built": {"count": int(undated.sum()), "sites": entries(ids, ids.index[undated])},
            "suspected_duplicates": {"count": len(dups), "within_m": duplicate_m, "pairs": dups[:LIST_LIMIT]}}


def notes(dq: dict, outside: dict) -> list[str]:
    """What the sentence's figures leave out or date by guess (empty when nothing)."""
    out = []
    if dq["undated_built"]["count"]:
        out.append(f"其中{dq['undated_built']['count']}个站点未填建成日期，按导入日期计（名单见数据质量明细）")
    if outside["excluded"] and dq["without_street"]["count"]:
        out.append(f"另有{dq['without_street']['count']}个站点不在任何已导入街道内，未计入全区合计（名单见数据质量明细）")
    return out
