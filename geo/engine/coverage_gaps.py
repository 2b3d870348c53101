"""Service areas as polygons: geodesic discs, covered km², per-area statistics, gaps, hotspots.

Coverage of *demand* is decided exactly by :mod:`geo.engine.coverage` (no buffers); polygons
here are for what must be drawn or measured: the area a district's stations serve and the
area they leave uncovered. Discs have their vertices exactly on the geodesic circle and are
unioned in a local Lambert azimuthal equal-area projection centred on the area, so km² are
true areas wherever in China the district is.
"""
from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.engine.coverage import GEOD, float_array

__all__ = ["discs_from_sites", "area_coverage_from_sites", "area_figures_from_sites", "coverage_by_area",
           "gaps_from_sites", "hotspots_from_demand"]

def laea_transformer(lon0, lat0):
    crs = f"+proj=laea +lat_0={lat0:.9f} +lon_0={lon0:.9f} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def transform_geometry(geom, tr, *, inverse=False):
    direction = "INVERSE" if inverse else "FORWARD"
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1], direction=direction)))


def discs_from_sites(site_lon, site_lat, *, radius_m, n_vertices=256, transformer=None):
    """Service discs as polygons whose vertices lie exactly on the geodesic circle.

    Parameters
    ----------
    site_lon, site_lat : array_like
        Disc centres, WGS-84 degrees.
    radius_m : float
        Geodesic radius.
    n_vertices : int, optional
        Vertices per disc (``Geod.fwd``).  The polygon is inscribed in the true disc;
        its area is short by at most a relative ``(2 pi / n)^2 / 6`` (1.0e-4 for 256).
    transformer : pyproj.Transformer, optional
        When given, the polygons are returned in its target (local metric) CRS.

    Returns
    -------
    numpy.ndarray of shapely.Polygon
    """
    sx, sy = float_array(site_lon), float_array(site_lat)
    if sx.size == 0:
        return np.empty(0, dtype=object)
    az = np.linspace(0.0, 360.0, int(n_vertices), endpoint=False)
    lon, lat = np.repeat(sx, az.size), np.repeat(sy, az.size)
    vx, vy, _ = (np.asarray(v) for v in GEOD.fwd(lon, lat, np.tile(az, sx.size), np.full(lon.size, float(radius_m))))
    if transformer is not None:
        vx, vy = transformer.transform(vx, vy)
    coords = np.stack((vx, vy), axis=-1).reshape(sx.size, az.size, 2)
    return shapely.polygons(shapely.linearrings(coords))


def _local_union(area, sx, sy, radius_m, n_vertices):
    """Area and union of relevant discs in an equal-area projection centred on the area."""
    area = shapely.segmentize(shapely.make_valid(area), 0.001)
    tr = laea_transformer(area.centroid.x, area.centroid.y)
    local = shapely.make_valid(transform_geometry(area, tr))
    if sx.size:
        px, py = tr.transform(sx, sy)
        near = shapely.dwithin(local, shapely.points(px, py), 1.01 * radius_m + 10.0)
        sx, sy = sx[near], sy[near]
    discs = discs_from_sites(sx, sy, radius_m=radius_m, n_vertices=n_vertices, transformer=tr)
    union = shapely.union_all(discs) if len(discs) else shapely.Polygon()
    return tr, local, union


def area_coverage_from_sites(area_polygon, site_lon, site_lat, *, radius_m, n_vertices=256):
    """Area of a polygon and of its part within ``radius_m`` of some site, in km².

    The polygon (edges straight in lon/lat, densified to 0.001°) and geodesic
    service discs (:func:`discs_from_sites`) are projected to a Lambert azimuthal
    equal-area projection centred on that polygon, so areas are ellipsoidal areas
    anywhere in China.  Error bound: the covered area is an underestimate by at
    most ``(2 pi / n)^2 / 6`` of the area of the discs (1e-4 for ``n = 256``) plus
    the error of treating the ~100 m densified edges as straight (< 1e-7).

    Returns
    -------
    tuple of float
        ``(area_km2, area_covered_km2)``.
    """
    _, local, union = _local_union(area_polygon, float_array(site_lon), float_array(site_lat), float(radius_m), n_vertices)
    return local.area / 1e6, shapely.intersection(local, union).area / 1e6


def coverage_by_area(
    covered, weights, area_index, n_areas, *, areas=None, site_lon=None, site_lat=None, radius_m=None,
    n_vertices=256,
):
    """Per-area demand, covered demand, coverage rate and optionally km² figures.

    Parameters
    ----------
    covered, weights : array_like
        Coverage flags (straight or walking) and demand weights (``None``: 1 each).
    area_index : array_like of int
        Area position (``0 .. n_areas - 1``) of each demand point, -1 when outside.
    areas : sequence of shapely geometry, optional
        WGS-84 polygons, one per area; with ``site_lon``, ``site_lat`` and
        ``radius_m`` adds ``sites``, ``area_km2`` and ``area_covered_km2``
        (see :func:`area_coverage_from_sites`).

    Returns
    -------
    pandas.DataFrame
        One row per area position; ``coverage_rate`` is NaN where demand is 0.
    """
    covered = np.asarray(covered, dtype=bool).ravel()
    w = np.ones(covered.size) if weights is None else float_array(weights)
    ai = np.asarray(area_index, dtype=np.int64).ravel()
    inside = (ai >= 0) & (ai < n_areas)
    demand = np.bincount(ai[inside], weights=w[inside], minlength=n_areas)
    dcov = np.bincount(ai[inside], weights=(w * covered)[inside], minlength=n_areas)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(demand > 0, dcov / np.where(demand > 0, demand, 1), np.nan)
    df = pd.DataFrame({"demand": demand, "demand_covered": dcov, "coverage_rate": rate})
    if areas is not None:
        if radius_m is None or site_lon is None or site_lat is None:
            raise ValueError("areas needs site_lon, site_lat and radius_m")
        fig = area_figures_from_sites(areas, site_lon, site_lat, radius_m=radius_m, n_vertices=n_vertices)
        df[fig.columns] = fig.to_numpy()
    return df


def area_figures_from_sites(areas, site_lon, site_lat, *, radius_m, n_vertices=256):
    """Per area: the sites inside it, its km² and the km² within ``radius_m`` of a site.

    Parameters
    ----------
    areas : sequence of shapely geometry
        WGS-84 polygons.
    site_lon, site_lat : array_like
        Sites.
    radius_m : float
        Service radius (m).
    n_vertices : int, optional
        Vertices per service disc (:func:`area_coverage_from_sites`).

    Returns
    -------
    pandas.DataFrame
        Columns ``sites``, ``area_km2``, ``area_covered_km2``, one row per area.
    """
    sx, sy = float_array(site_lon), float_array(site_lat)
    pts = shapely.points(sx, sy)
    km2 = [area_coverage_from_sites(a, sx, sy, radius_m=radius_m, n_vertices=n_vertices) for a in areas]
    return pd.DataFrame({"sites": [int(shapely.contains(a, pts).sum()) for a in areas],
                         "area_km2": [k[0] for k in km2], "area_covered_km2": [k[1] for k in km2]})


def gaps_from_sites(
    area_polygon, site_lon, site_lat, *, radius_m, n_vertices=256, demand_lon=None, demand_lat=None,
    demand_weight=None, covered=None, min_area_m2=1.0,
):
    """Uncovered parts of an area (area minus the union of service discs), ranked.

    Discs are inscribed in the true geodesic discs, so every uncovered demand point
    inside the area lies inside a gap polygon.

    Parameters
    ----------
    area_polygon : shapely geometry
        WGS-84 polygon (e.g. the district or one street).
    site_lon, site_lat, radius_m, n_vertices
        As in :func:`area_coverage_from_sites`.
    demand_lon, demand_lat, demand_weight, covered : array_like, optional
        When given, each gap gets ``demand_uncovered``.  Slivers under
        ``min_area_m2`` without uncovered demand are dropped.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 polygons with ``area_km2`` (and ``demand_uncovered``), ranked by
        uncovered demand then area, descending; column ``rank`` starts at 1.
    """
    tr, local, union = _local_union(area_polygon, float_array(site_lon), float_array(site_lat), float(radius_m), n_vertices)
    parts = shapely.get_parts(shapely.difference(local, union))
    parts = parts[shapely.get_type_id(parts) == 3]
    df = pd.DataFrame({"area_km2": shapely.area(parts) / 1e6})
    keep = df["area_km2"].to_numpy() * 1e6 >= min_area_m2
    if demand_lon is not None:
        dlon, dlat = float_array(demand_lon), float_array(demand_lat)
        w = np.ones(dlon.size) if demand_weight is None else float_array(demand_weight)
        unc = ~np.asarray(covered, dtype=bool).ravel()
        px, py = tr.transform(dlon[unc], dlat[unc])
        shapely.prepare(parts)
        du = np.array([w[unc][shapely.contains_xy(p, px, py)].sum() for p in parts])
        df["demand_uncovered"] = du
        keep |= du > 0
    gdf = gpd.GeoDataFrame(df, geometry=[transform_geometry(p, tr, inverse=True) for p in parts], crs="EPSG:4326")[keep]
    by = ["demand_uncovered", "area_km2"] if demand_lon is not None else ["area_km2"]
    gdf = gdf.sort_values(by, ascending=False, kind="stable").reset_index(drop=True)
    gdf.insert(0, "rank", np.arange(1, len(gdf) + 1))
    return gdf


def hotspots_from_demand(lon, lat, weight, covered, *, h3_res=9):
    """Uncovered demand aggregated to H3 cells, ranked by ``demand_uncovered``.

    Parameters
    ----------
    lon, lat, weight, covered : array_like
        Demand points (WGS-84), weights (``None``: 1 each) and coverage flags.
    h3_res : int, optional
        H3 resolution (9: cells of ~0.1 km²).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``rank``, ``h3``, ``demand_uncovered``, ``points`` and the cell polygon.
    """
    x, y, unc = float_array(lon), float_array(lat), ~np.asarray(covered, dtype=bool).ravel()
    w = np.ones(x.size) if weight is None else float_array(weight)
    cells = [h3.latlng_to_cell(b, a, h3_res) for a, b in zip(x[unc].tolist(), y[unc].tolist())]
    df = pd.DataFrame({"h3": cells, "demand_uncovered": w[unc], "points": 1}).groupby("h3", as_index=False).sum()
    df = df.sort_values(["demand_uncovered", "points", "h3"], ascending=[False, False, True], kind="stable")
    geom = [shapely.Polygon([(lng, lat_) for lat_, lng in h3.cell_to_boundary(c)]) for c in df["h3"]]
    gdf = gpd.GeoDataFrame(df.reset_index(drop=True), geometry=geom, crs="EPSG:4326")
    gdf.insert(0, "rank", np.arange(1, len(gdf) + 1))
    return gdf
