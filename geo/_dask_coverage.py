"""Scale-out of :func:`geo.coverage.covered_from_sites` on a Dask cluster.

Demand is partitioned by space (``spatial_shuffle`` along a Hilbert curve); the
site arrays are sent once to each worker; every partition keeps only the sites
that can reach its bounding box and runs the exact in-process computation, so the
result equals :func:`~geo.coverage.covered_from_sites` bit for bit.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd

from .coverage import _arr, covered_from_sites

__all__ = ["covered_from_sites_dask", "sites_near_bbox"]

_M_DEG_LAT = 110574.0  # shortest metres per degree of latitude (meridional radius at the equator)
_M_DEG_LON = 111319.49  # metres per degree of longitude on the equator (a * pi / 180)


def sites_near_bbox(site_lon, site_lat, bbox, *, radius_m):
    """Mask of sites that may lie within ``radius_m`` (geodesic) of a lon/lat box.

    Conservative: a geodesic of length ``R`` changes latitude by at most
    ``R / 110574`` degrees and, staying within the widened latitude band, longitude
    by at most ``R / (111319.49 cos(phi_max))`` degrees.  Boxes crossing the
    antimeridian are not handled (not needed in China).

    Parameters
    ----------
    site_lon, site_lat : array_like
        Sites.
    bbox : tuple of float
        ``(minlon, minlat, maxlon, maxlat)``.
    radius_m : float
        Radius.

    Returns
    -------
    numpy.ndarray of bool
    """
    x0, y0, x1, y1 = bbox
    dlat = 1.001 * radius_m / _M_DEG_LAT + 1e-9
    phi = min(max(abs(y0), abs(y1)) + dlat, 90.0)
    cos = math.cos(math.radians(phi))
    dlon = 360.0 if cos < 1e-6 else 1.001 * radius_m / (_M_DEG_LON * cos) + 1e-9
    sx, sy = _arr(site_lon), _arr(site_lat)
    return (sx >= x0 - dlon) & (sx <= x1 + dlon) & (sy >= y0 - dlat) & (sy <= y1 + dlat)


def _partition_covered(part, sites, radius_m, key):
    """Coverage of one partition (runs on a worker)."""
    x = part.geometry.x.to_numpy()
    y = part.geometry.y.to_numpy()
    out = pd.DataFrame({key: part[key].to_numpy(), "covered": np.zeros(x.size, dtype=bool)})
    if x.size and sites.shape[0]:
        near = sites_near_bbox(sites[:, 0], sites[:, 1], (x.min(), y.min(), x.max(), y.max()), radius_m=radius_m)
        out["covered"] = covered_from_sites(x, y, sites[near, 0], sites[near, 1], radius_m=radius_m, workers=1)
    return out


@contextlib.contextmanager
def _client(scheduler):
    import distributed

    if isinstance(scheduler, distributed.Client):
        yield scheduler
    elif scheduler:
        with distributed.Client(scheduler) as client:
            yield client
    else:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster, distributed.Client(cluster) as client:
            yield client


def covered_from_sites_dask(
    demand_ddf_or_gdf, site_lon, site_lat, *, radius_m, scheduler=None, npartitions=None, progress=False
):
    """Exact coverage flags of (possibly larger-than-memory) demand on a Dask cluster.

    Parameters
    ----------
    demand_ddf_or_gdf : geopandas.GeoDataFrame, geopandas.GeoSeries or dask_geopandas.GeoDataFrame
        Demand points (any CRS; reprojected to EPSG:4326 when it is set and differs).
    site_lon, site_lat : array_like
        Sites (WGS-84), broadcast to every worker.
    radius_m : float
        Service radius in geodesic metres.
    scheduler : str or distributed.Client, optional
        Address of a running scheduler (``tcp://host:8786``) or a client.  ``None``
        starts ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``.
    npartitions : int, optional
        Spatial partitions (default: 4 per worker for in-memory input, else unchanged).
    progress : bool, optional
        Show a progress bar (``distributed.progress``).

    Returns
    -------
    numpy.ndarray of bool or pandas.Series
        For in-memory input, flags in row order; for a dask input, a boolean Series
        indexed by the input index (sorted).
    """
    import dask
    import dask_geopandas
    import distributed
    import geopandas as gpd

    is_dask = isinstance(demand_ddf_or_gdf, dask_geopandas.GeoDataFrame)
    sites = np.column_stack((_arr(site_lon), _arr(site_lat)))
    with _client(scheduler) as client:
        if is_dask:
            ddf = demand_ddf_or_gdf[[demand_ddf_or_gdf.geometry.name]]
            if ddf.crs is not None and not ddf.crs.equals("EPSG:4326"):
                ddf = ddf.to_crs("EPSG:4326")
            index_name = ddf.index.name or "index"
            ddf = ddf.reset_index()
            key = index_name
            ddf = ddf.spatial_shuffle(by="hilbert", npartitions=npartitions, shuffle_method="tasks")
        else:
            gdf = demand_ddf_or_gdf
            if isinstance(gdf, gpd.GeoSeries):
                gdf = gdf.to_frame("geometry")
            if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
                gdf = gdf.to_crs("EPSG:4326")
            key = "_yizhan_pos"
            gdf = gpd.GeoDataFrame({key: np.arange(len(gdf))}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
            workers = max(len(client.scheduler_info().get("workers", {})), 1)
            # in memory: sort along the Hilbert curve here instead of a cluster shuffle
            gdf = gdf.set_index(gdf.hilbert_distance(total_bounds=gdf.total_bounds, level=16)).sort_index()
            parts = max(1, min(len(gdf), npartitions or 4 * workers))
            ddf = dask_geopandas.from_geopandas(gdf, npartitions=parts, sort=True)
        meta = pd.DataFrame({key: pd.Series(dtype=ddf[key].dtype), "covered": pd.Series(dtype=bool)})
        out = ddf.map_partitions(_partition_covered, dask.delayed(sites), float(radius_m), key, meta=meta)
        future = client.compute(out)
        if progress:
            distributed.progress(future)
        res = future.result()
    if is_dask:
        return res.set_index(key)["covered"].sort_index()
    covered = np.zeros(len(gdf), dtype=bool)
    covered[res[key].to_numpy()] = res["covered"].to_numpy()
    return covered
