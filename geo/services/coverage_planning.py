"""Coverage, gaps and suggestions from the database: the glue between the stored sites,
demand, candidates and areas and the pure engines (:mod:`geo.engine.coverage`,
:mod:`geo.engine.walk_network`, :mod:`geo.engine.siting`). The CLI and the API both call these."""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.engine.area_sums import AreaSums
from geo.engine.coverage import covered_from_sites
from geo.engine.coverage_gaps import area_figures_from_sites, gaps_from_sites, hotspots_from_demand
from geo.errors import InputError
from geo.store.analysis_inputs import (Inputs, demand_count, load_areas,
                                       load_demand, load_inputs, load_sites)
from geo.store.tables import candidates

MODES = ("straight", "walk")
#: Beyond this many demand points coverage runs on Dask (a LocalCluster unless a scheduler is given);
#: straight-line summaries then read the demand chunk by chunk on the workers. ``YIZHAN_DASK_THRESHOLD``
#: sets it for the CLI and the service (:class:`geo.settings.Settings`).
DASK_THRESHOLD = 20_000_000
#: Demand rows each Dask task reads from the database.
CHUNK_ROWS = 1_000_000


@lru_cache(maxsize=4)
def _network(path: str, mtime: float):
    from geo.engine.walk_network import network_from_pbf
    return network_from_pbf(path, as_arrays=True)


def street_network(network: str | None, *, max_snap_m: float = 100.0):
    """The street network of an .osm.pbf file (cached per path and mtime), or a clear
    :class:`~geo.errors.InputError` for a missing or unreadable file or a bad snap distance."""
    if not (math.isfinite(max_snap_m) and 0 < max_snap_m <= 5000):
        raise InputError("max_snap (--max-snap) must be a distance above 0 and at most 5000 m", field="max_snap")
    if not network:
        raise InputError("walking coverage needs --network FILE.osm.pbf", field="network")
    p = Path(network)
    if not p.is_file():
        raise InputError(f"no such network file {network}", field="network")
    try:
        return _network(str(p.resolve()), p.stat().st_mtime)
    except Exception as e:  # noqa: BLE001 - whatever pyrosm makes of a file that is not an extract
        raise InputError(f"could not read {p.name} as an OpenStreetMap .osm.pbf extract "
                         f"({type(e).__name__}: {e})"[:400], field="network") from None


def covered_flags(inp: Inputs, *, radius_m: float, mode: str = "straight", network: str | None = None,
                  max_snap_m: float = 100.0, scheduler: str | None = None, dask_threshold: int | None = None):
    """Coverage flags of the demand points in memory (and routable flags in walk mode).

    Straight-line flags are computed on Dask when ``scheduler`` is given or there are more
    than ``dask_threshold`` points (default :data:`DASK_THRESHOLD`); the points are in
    memory here all the same (:func:`coverage_summary` reads them chunk by chunk instead)."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}", field="mode")
    if mode == "walk":
        from geo.engine.walk_network import walk_coverage_from_sites
        net = street_network(network, max_snap_m=max_snap_m)
        cov, _, routable = walk_coverage_from_sites(net, inp.d_lon, inp.d_lat, inp.site_lon, inp.site_lat,
                                                    radius_m=radius_m, max_snap_m=max_snap_m)
        return cov, routable
    if scheduler or inp.d_lon.size > (DASK_THRESHOLD if dask_threshold is None else dask_threshold):
        import geopandas as gpd

        from geo.services.dask_coverage import covered_from_sites_dask
        gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(inp.d_lon, inp.d_lat), crs=4326)
        cov = np.asarray(covered_from_sites_dask(gdf, inp.site_lon, inp.site_lat, radius_m=radius_m,
                                                 scheduler=scheduler))
        return cov, np.ones(cov.size, dtype=bool)
    cov = covered_from_sites(inp.d_lon, inp.d_lat, inp.site_lon, inp.site_lat, radius_m=radius_m)
    return cov, np.ones(cov.size, dtype=bool)


def _rate(covered: float, total: float):
    return None if total <= 0 else round(float(covered) / float(total), 6)


def _out_of_core_url(conn: sa.Connection, *, scheduler, dask_threshold: int | None) -> str | None:
    """The URL Dask workers read the demand from, or None to compute in this process."""
    threshold = DASK_THRESHOLD if dask_threshold is None else int(dask_threshold)
    if not scheduler and demand_count(conn) <= threshold:
        return None
    from geo.services.dask_coverage import worker_url
    try:
        return worker_url(conn.engine.url)
    except InputError:
        if scheduler:
            raise
        return None  # in-memory SQLite: this process holds the demand anyway


def coverage_summary(conn: sa.Connection, *, radius_m: float, by: str = "street", mode: str = "straight",
                     network: str | None = None, max_snap_m: float = 100.0, scheduler=None,
                     dask_threshold: int | None = None, chunk_rows: int = CHUNK_ROWS, progress=None,
                     **site_filters) -> dict:
    """``{"radius_m", "mode", "totals", "areas": [...]}`` as the contract fixes it.

    Straight-line coverage runs out of core on Dask when ``scheduler`` (an address or a
    ``distributed.Client``) is given or more than ``dask_threshold`` demand points are
    stored (default :data:`DASK_THRESHOLD`): the workers read the demand in id ranges of
    ``chunk_rows`` rows and return per-area sums
    (:func:`geo.services.dask_coverage.area_totals_from_db_dask`); this process loads only the
    sites and the areas, and calls ``progress(chunks done, chunks)`` if given. The numbers
    are the same as in process (sums are exact, rounded once). Walking coverage always runs
    in this process.
    """
    if by not in ("street", "community"):
        raise InputError("by must be street or community", field="by")
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}", field="mode")
    site_id, site_lon, site_lat = load_sites(conn, **site_filters)
    area_rows, district = load_areas(conn, by=by)
    url = _out_of_core_url(conn, scheduler=scheduler, dask_threshold=dask_threshold) if mode == "straight" else None
    routable = None
    if url:
        from geo.services.dask_coverage import area_totals_from_db_dask
        sums = area_totals_from_db_dask(url, site_lon=site_lon, site_lat=site_lat, radius_m=radius_m,
                                        area_geoms=[a.geom for a in area_rows], scheduler=scheduler,
                                        chunk_rows=chunk_rows, progress=progress)
    else:
        inp = Inputs(site_id, site_lon, site_lat, *load_demand(conn), area_rows, district)
        cov, routable = covered_flags(inp, radius_m=radius_m, mode=mode, network=network, max_snap_m=max_snap_m,
                                      scheduler=scheduler, dask_threshold=dask_threshold)
        from geo.store.street_assignment import AreaLookup
        lookup = AreaLookup.from_rows(area_rows)
        ids = lookup.locate(inp.d_lon, inp.d_lat, by)
        pos = {a.id: i for i, a in enumerate(area_rows)}
        area_index = np.array([pos.get(int(i), -1) for i in ids], dtype="int64")
        sums = AreaSums.of(cov, inp.d_weight, area_index, len(area_rows)).result()
    straight = mode == "straight"
    if straight:
        df = area_figures_from_sites([a.geom for a in area_rows], site_lon, site_lat, radius_m=radius_m)
    else:  # no straight-line discs for walking coverage
        pts = shapely.points(site_lon, site_lat)
        df = pd.DataFrame({"sites": [int(shapely.contains(a.geom, pts).sum()) for a in area_rows],
                           "area_km2": [_km2(a.geom) for a in area_rows], "area_covered_km2": None})
    df["demand"], df["demand_covered"] = sums["areas"]["demand"], sums["areas"]["demand_covered"]
    rows = []
    for i, a in enumerate(area_rows):
        r = df.iloc[i]
        rows.append({"area_id": a.id, "code": a.code, "name": a.name, "level": by, "sites": int(r["sites"]),
                     "demand": float(r["demand"]), "demand_covered": float(r["demand_covered"]),
                     "coverage_rate": _rate(r["demand_covered"], r["demand"]),
                     "area_km2": round(float(r["area_km2"]), 4),
                     "area_covered_km2": None if r["area_covered_km2"] is None or pd.isna(r["area_covered_km2"])
                     else round(float(r["area_covered_km2"]), 4)})
    total_d, total_c = sums["totals"]["demand"], sums["totals"]["demand_covered"]
    totals = {"sites": int(site_id.size), "demand": total_d, "demand_covered": total_c,
              "coverage_rate": _rate(total_c, total_d),
              "area_km2": round(_km2(district), 4) if district is not None else None,
              "area_covered_km2": None}
    if straight and district is not None:
        from geo.engine.coverage_gaps import area_coverage_from_sites
        totals["area_covered_km2"] = round(area_coverage_from_sites(
            district, site_lon, site_lat, radius_m=radius_m)[1], 4)
    if mode == "walk":
        totals["demand_non_routable"] = float(inp.d_weight[~routable].sum())
        totals["points_non_routable"] = int((~routable).sum())
    return {"radius_m": radius_m, "mode": mode, "by": by, "filters": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                                                       for k, v in site_filters.items()},
            "totals": totals, "areas": rows}


def _km2(geom) -> float:
    from geo.engine.geodesy import GEOD
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def coverage_gaps(conn: sa.Connection, *, radius_m: float, h3_res: int = 9, mode: str = "straight",
                  network: str | None = None, max_snap_m: float = 100.0, **site_filters):
    """Uncovered polygons of the district and uncovered-demand H3 hotspots, each ranked.

    With ``mode="walk"`` (and ``network``) the hotspots are of demand not within
    ``radius_m`` on foot (points off the street network count as uncovered), and there
    are no polygons (None): the service zones are not discs then.
    """
    inp = load_inputs(conn, **site_filters)
    cov, _ = covered_flags(inp, radius_m=radius_m, mode=mode, network=network, max_snap_m=max_snap_m)
    gaps = None
    if mode == "straight" and inp.district is not None:
        gaps = gaps_from_sites(inp.district, inp.site_lon, inp.site_lat, radius_m=radius_m,
                               demand_lon=inp.d_lon, demand_lat=inp.d_lat, demand_weight=inp.d_weight,
                               covered=cov)
    hot = hotspots_from_demand(inp.d_lon, inp.d_lat, inp.d_weight, cov, h3_res=h3_res)
    return gaps, hot


def candidate_arrays(conn: sa.Connection, path: str | None = None):
    """Candidate places: from a file (checked like an import, nothing written) or the database."""
    if path:
        from geo.ingest.read_files import read_table
        from geo.ingest.import_sites import raise_if_errors
        from geo.ingest.records import convert_points, parse_float
        table = read_table(path)
        problems = []
        lon, lat, _ = convert_points(table, None, problems)
        cap = []
        for i in range(len(table.frame)):
            try:
                cap.append(parse_float(table.cell(i, "capacity"), name="capacity"))
            except ValueError as e:
                problems.append(table.problem(i, "capacity", str(e)))
        raise_if_errors(problems)
        names = [table.cell(i, "name") or table.cell(i, "code") for i in range(len(table.frame))]
        from geo.ingest.import_points import point_code  # the code the file would get if imported
        codes = [table.cell(i, "code") or point_code(table.cell(i, "name") or None, lon[i], lat[i])
                 for i in range(len(table.frame))]
        cap = np.array([np.nan if c is None else c for c in cap], dtype="float64")
        return lon, lat, codes, names, cap
    rows = conn.execute(sa.select(candidates).order_by(candidates.c.id)).all()
    return (np.array([r.lon for r in rows], dtype="float64"), np.array([r.lat for r in rows], dtype="float64"),
            [r.code for r in rows], [r.name for r in rows],
            np.array([np.nan if r.capacity is None else r.capacity for r in rows], dtype="float64"))


def suggestions(conn: sa.Connection, *, count: int, radius_m: float, candidates_path: str | None = None,
                method: str = "auto", mode: str = "straight", network: str | None = None,
                max_snap_m: float = 100.0, **site_filters):
    """Proposed new sites in pick order with ``gain`` and ``cumulative_coverage_rate``.

    ``mode="walk"`` (with ``network``): coverage and gains by walking distance on the
    street network (:func:`geo.engine.walk_network.pairs_from_network`); it needs candidates."""
    from geo.engine.siting import grid_candidates_from_gaps, suggest_sites
    if not 1 <= count <= 1000:
        raise InputError("count must be between 1 and 1000", field="count")
    inp = load_inputs(conn, **site_filters)
    if inp.d_lon.size == 0:
        raise InputError("no demand points are loaded (yizhan import demand FILE)", field="demand")
    clon, clat, codes, names, cap = candidate_arrays(conn, candidates_path)
    source = "candidates"
    walk = {}
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}", field="mode")
    if mode == "walk":
        from functools import partial

        from geo.engine.walk_network import pairs_from_network
        if clon.size == 0:
            raise InputError("walking suggestions need candidate places: yizhan import candidates FILE "
                             "or --candidates FILE", field="candidates")
        net = street_network(network, max_snap_m=max_snap_m)
        walk = {"pairs": partial(pairs_from_network, net, max_snap_m=max_snap_m),
                "existing_covered": covered_flags(inp, radius_m=radius_m, mode="walk", network=network,
                                                  max_snap_m=max_snap_m)[0]}
    if clon.size == 0:
        if inp.district is None:
            raise InputError("no candidates and no areas to grid: load candidates or areas", field="candidates")
        gaps, _ = coverage_gaps(conn, radius_m=radius_m, **site_filters)
        clon, clat = grid_candidates_from_gaps(list(gaps.geometry), spacing_m=radius_m / 4)
        codes = [None] * len(clon)
        names = [f"网格点{i + 1}" for i in range(len(clon))]
        cap = None
        source = "grid"
    res = suggest_sites(inp.d_lon, inp.d_lat, inp.d_weight, clon, clat, existing_lon=inp.site_lon,
                        existing_lat=inp.site_lat, radius_m=radius_m, count=count,
                        capacity=cap if cap is not None and np.isfinite(cap).any() else None, method=method,
                        **walk)
    picks = []
    for k, c in enumerate(res.chosen.tolist()):
        picks.append({"rank": k + 1, "candidate_code": codes[c], "name": names[c], "lon": float(res.lon[k]),
                      "lat": float(res.lat[k]), "gain": float(res.gain[k]),
                      "cumulative_coverage_rate": round(float(res.cumulative_coverage_rate[k]), 6)})
    return {"method": res.method, "bound": res.bound, "source": source, "radius_m": radius_m, "mode": mode,
            "base_coverage_rate": round(float(res.base_coverage_rate), 6), "total_demand": float(res.total_demand),
            "suggestions": picks}
