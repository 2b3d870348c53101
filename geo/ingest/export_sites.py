"""``yizhan export sites``: GeoJSON, CSV, XLSX and GeoPackage that re-import to the same sites."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from geo.errors import InputError
from geo.store.tables import sites
from geo.store.sites import site_select
from geo.ingest.spreadsheet import atomic_path, frame_rows, write_table

#: Exported columns, in order (the import understands every one of them).
COLUMNS = ["code", "name", "kind", "level", "status", "lon", "lat", "address", "street",
           "community", "services", "opening_hours", "opened_on", "closed_on", "host_org",
           "operator", "phone", "capacity"]
FORMATS = {"geojson": ".geojson", "csv": ".csv", "xlsx": ".xlsx", "gpkg": ".gpkg"}


def sites_frame(conn: sa.Connection, *, kind: str | None = None) -> gpd.GeoDataFrame:
    """Current sites as a GeoDataFrame (WGS-84) with the export columns."""
    q = site_select().order_by(sites.c.code)
    if kind:
        q = q.where(sites.c.kind == kind)
    df = pd.DataFrame([r._asdict() for r in conn.execute(q)], columns=None)
    if df.empty:
        df = pd.DataFrame(columns=COLUMNS)
    df = df.reindex(columns=COLUMNS)
    df["capacity"] = df["capacity"].astype("Int64")
    for c in ("opened_on", "closed_on"):
        df[c] = df[c].map(lambda d: d.isoformat() if d is not None and d == d else None)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)


def export_sites(conn: sa.Connection, out: str | Path, *, fmt: str | None = None,
                 kind: str | None = None) -> int:
    """Write current sites to ``out``; return how many were written."""
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt == "json":
        fmt = "geojson"
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: use {', '.join(FORMATS)}", field="format")
    gdf = sites_frame(conn, kind=kind)
    if fmt in ("csv", "xlsx"):  # the one spreadsheet writer: no formula, written atomically
        header, rows = frame_rows(pd.DataFrame(gdf.drop(columns="geometry")))
        write_table(out, header, rows, sheet="sites", fmt=fmt)
        return len(gdf)
    with atomic_path(out) as tmp:
        if fmt == "geojson":
            gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=9)
        else:
            gdf.to_file(tmp, driver="GPKG", engine="pyogrio", layer="sites")
    return len(gdf)
