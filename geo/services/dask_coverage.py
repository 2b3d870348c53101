"""Scale-out of :func:`geo.engine.coverage.covered_from_sites` on a Dask cluster.

Demand is partitioned by space (``spatial_shuffle`` along a Hilbert curve); the
site arrays are sent once to each worker; every partition keeps only the sites
that can reach its bounding box and runs the exact in-process computation, so the
result equals :func:`~geo.engine.coverage.covered_from_sites` bit for bit.

Demand larger than memory stays in the database: :func:`area_totals_from_db_dask`
splits the ``demand`` table into id ranges, each worker reads one range with its own
connection, decides coverage and the area of its points and returns only per-area sums
(:class:`geo.engine.area_sums.AreaSums`, exact whatever the split), added up as they arrive.
"""
from __future__ import annotations

import contextlib
import math
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.engine.area_sums import AreaSums
from geo.engine.coverage import float_array, covered_from_sites
from geo.errors import InputError
from geo.store.tables import demand

__all__ = ["area_totals_from_db_dask", "covered_from_sites_dask", "sites_near_bbox", "worker_url"]

CONNECT_TIMEOUT_S = 10  #: seconds to reach a scheduler given by address
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
    sx, sy = float_array(site_lon), float_array(site_lat)
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
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError, TypeError) as e:  # unreachable or not an address
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {e}", field="scheduler") from None
        with client:
            yield client
    else:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
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
    sites = np.column_stack((float_array(site_lon), float_array(site_lat)))
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


# -- out of core: the workers read the demand from the database, chunk by chunk -----------


def worker_url(url) -> str:
    """The database URL as Dask workers must see it.

    SQLite paths are made absolute (workers do not share this process's working
    directory); an in-memory SQLite database, which no other process can read, is refused.

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL
        ``sqlite:///FILE`` or ``postgresql+psycopg://…``.

    Returns
    -------
    str
        The URL with its password (workers must log in).

    Raises
    ------
    geo.errors.InputError
        For an in-memory SQLite database.
    """
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database or ""
        if db in ("", ":memory:") or db.startswith("file::memory:") or u.query.get("mode") == "memory":
            raise InputError("an in-memory SQLite database cannot be read by Dask workers: use a SpatiaLite "
                             "file (sqlite:///FILE) on a disk the workers share, or PostGIS", field="scheduler")
        if not db.startswith("file:"):
            u = u.set(database=str(Path(db).expanduser().resolve()))
    return u.render_as_string(hide_password=False)


def _open(url) -> sa.Engine:
    """An engine from the project's factory (SpatiaLite loaded); never creates a SQLite file."""
    from geo.store.db import engine_from_url

    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite" and not u.database.startswith("file:") and not Path(u.database).is_file():
        raise FileNotFoundError(f"SpatiaLite file {u.database} not found on {socket.gethostname()}: "
                                "Dask workers need it on a disk they share")
    return engine_from_url(url, pool_size=1)


def _id_span(url):
    """``(min id, max id, rows)`` of the demand table."""
    eng = _open(url)
    try:
        with eng.connect() as conn:
            return tuple(conn.execute(sa.select(sa.func.min(demand.c.id), sa.func.max(demand.c.id),
                                                sa.func.count()).select_from(demand)).one())
    finally:
        eng.dispose()


def _id_ranges(lo, hi, rows, chunk_rows):
    """Half-open id ranges over ``lo .. hi``, one per ``chunk_rows`` rows: as many rows each
    when the ids are dense (as imports leave them), fewer where ids are missing."""
    if not rows:
        return []
    k, span = -(-int(rows) // int(chunk_rows)), int(hi) - int(lo) + 1
    edges = [int(lo) + span * i // k for i in range(k + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _read_range(url, lo, hi):
    """``lon, lat, weight`` of the demand with ``lo <= id < hi`` (its own connection)."""
    from geo.store.analysis_inputs import demand_arrays

    eng = _open(url)
    try:
        with eng.connect() as conn:
            return demand_arrays(conn, id_range=(lo, hi))
    finally:
        eng.dispose()


class _Shared:
    """Sites and areas, sent once to each worker; the area index is built there, once."""

    def __init__(self, sites, area_geoms):
        self.sites, self.area_geoms, self._lookup = sites, list(area_geoms), None

    def __getstate__(self):
        return {"sites": self.sites, "area_geoms": self.area_geoms, "_lookup": None}

    def area_index(self, lon, lat):
        """Area position of each point (-1: none; a boundary point goes to the first area)."""
        if self._lookup is None:
            from geo.store.analysis_inputs import Area
            from geo.store.street_assignment import AreaLookup
            self._lookup = AreaLookup.from_rows([Area(i, "", "", "area", g) for i, g in enumerate(self.area_geoms)])
        return self._lookup.locate(lon, lat, "area")


def _chunk_sums(url, lo, hi, shared, radius_m):
    """Per-area sums of one id range (runs on a worker)."""
    lon, lat, weight = _read_range(url, lo, hi)
    sites = shared.sites
    covered = np.zeros(lon.size, dtype=bool)
    if lon.size and sites.shape[0]:
        near = sites_near_bbox(sites[:, 0], sites[:, 1], (lon.min(), lat.min(), lon.max(), lat.max()),
                               radius_m=radius_m)
        covered = covered_from_sites(lon, lat, sites[near, 0], sites[near, 1], radius_m=radius_m, workers=1)
    return AreaSums.of(covered, weight, shared.area_index(lon, lat), len(shared.area_geoms))


def area_totals_from_db_dask(
    db_url, *, site_lon, site_lat, radius_m, area_geoms=(), scheduler=None, chunk_rows=1_000_000, progress=False
):
    """Demand, covered demand and points per area, with the demand read by the workers.

    The ``demand`` table is split into id ranges of about ``chunk_rows`` rows (one
    ``min``/``max``/``count`` query here); each range is one task that opens its own
    connection (:func:`geo.store.db.engine_from_url`), reads ``lon, lat, weight`` of its rows
    into arrays, flags them with :func:`~geo.engine.coverage.covered_from_sites` against the
    sites that can reach its bounding box, finds their areas and returns sums only
    (:class:`~geo.engine.area_sums.AreaSums`); this process adds them as they arrive.  A worker holds
    one chunk at a time and this process none, and the numbers equal those of the
    same computation in one process to the bit (the sums are exact, then rounded once).

    Parameters
    ----------
    db_url : str or sqlalchemy.engine.URL
        The database, as the workers can reach it (a SpatiaLite file on a disk they
        share, or PostGIS); see :func:`worker_url`.
    site_lon, site_lat : array_like
        Sites (WGS-84), sent once to each worker.
    radius_m : float
        Service radius in geodesic metres.
    area_geoms : sequence of shapely geometry, optional
        WGS-84 polygons of the areas to sum by, sent once to each worker.  A point on
        the boundary of several goes to the first of them (give them in id order to
        match :meth:`geo.store.street_assignment.AreaLookup.locate`).
    scheduler : str or distributed.Client, optional
        Address of a running scheduler (``tcp://host:8786``) or a client.  ``None``
        starts ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``.
    chunk_rows : int, optional
        Demand rows per task.
    progress : bool or callable, optional
        ``True``: Dask's progress bar (``distributed.progress``); a callable is called
        with ``(chunks done, chunks)`` as each chunk's sums arrive.

    Returns
    -------
    dict
        ``areas``: :class:`pandas.DataFrame` with one row per area position and columns
        ``demand``, ``demand_covered``, ``points``; ``outside`` (points in no area) and
        ``totals``: dicts with the same keys; ``chunks``: the number of reading tasks.

    Raises
    ------
    geo.errors.InputError
        For an in-memory SQLite database, or a SpatiaLite file this process or a worker
        cannot find.
    """
    if int(chunk_rows) < 1:
        raise ValueError("chunk_rows must be at least 1")
    url = worker_url(db_url)
    area_geoms = list(area_geoms)
    try:
        ranges = _id_ranges(*_id_span(url), int(chunk_rows))
    except FileNotFoundError as e:
        raise InputError(str(e), field="scheduler") from None
    if not ranges:
        return AreaSums.of([], [], [], len(area_geoms)).result() | {"chunks": 0}
    import dask
    import distributed

    shared = dask.delayed(_Shared(np.column_stack((float_array(site_lon), float_array(site_lat))), area_geoms), traverse=False)
    parts = [dask.delayed(_chunk_sums)(url, a, b, shared, float(radius_m)) for a, b in ranges]
    sums = None
    with _client(scheduler) as client:
        futures = client.compute(parts)  # one small AreaSums per chunk, added here as each arrives
        if progress is True:
            distributed.progress(futures)
        try:
            for done, future in enumerate(distributed.as_completed(futures), 1):
                part = future.result()
                sums = part if sums is None else sums + part
                if callable(progress):
                    progress(done, len(futures))
        except FileNotFoundError as e:  # a worker without the SpatiaLite file
            raise InputError(str(e), field="scheduler") from None
    return sums.result() | {"chunks": len(ranges)}
