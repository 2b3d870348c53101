"""Synthetic layers for tests and benchmarks of the maps (no database needed).

:func:`synthetic_layers` returns keyword arguments for
:func:`maps.coverage_map.coverage_map_from_layers`: a rectangular district split into
streets and communities, ``n_sites`` sites of both kinds with every column the map
shows, demand points, gaps, hotspots and suggestions — all reproducible from ``seed``.
"""
from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
from shapely.geometry import Point, box

__all__ = ["synthetic_layers", "DEFAULT_BBOX"]

#: A district-sized box in Shenzhen (lon/lat): about 10 km × 9 km.
DEFAULT_BBOX = (113.90, 22.50, 114.00, 22.58)
_LEVELS = ["provincial_gov", "provincial_union", "city_union", "district_union", "other"]
_STATUSES = ["open", "open", "open", "building", "planned", "surveyed"]
_SERVICES = ["water", "hot_meal", "charging", "toilet", "rest", "first_aid", "wifi"]


def synthetic_layers(n_sites: int = 60, *, seed: int = 0, names: Sequence[str] = (),
                     bbox: tuple[float, float, float, float] = DEFAULT_BBOX,
                     n_demand: int = 300) -> dict:
    """Build a complete, reproducible set of coverage-map layers.

    Parameters
    ----------
    n_sites : int, default 60
        Number of sites (about 2/3 love stations, 1/3 worker homes).
    seed : int, default 0
        Random seed.
    names : sequence of str
        Names given to the first sites (e.g. hostile strings); the others are
        ``站点N``. The first ``len(names)`` sites are open love stations.
    bbox : (minlon, minlat, maxlon, maxlat)
        The district's extent.
    n_demand : int, default 300
        Number of demand points.

    Returns
    -------
    dict
        ``district, streets, communities, sites, gaps, hotspots, demand, suggestions``
        (WGS-84 GeoDataFrames).
    """
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bbox
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    district = gpd.GeoDataFrame({"name": ["示例区"], "code": ["440300"]}, geometry=[box(*bbox)], crs=4326)
    streets = gpd.GeoDataFrame(
        {"name": ["东街道", "西街道"], "code": ["440300001", "440300002"],
         "coverage_rate": [0.82, 0.31], "sites": [n_sites // 2, n_sites - n_sites // 2],
         "demand": [5200, 4100], "demand_covered": [4264, 1271]},
        geometry=[box(xm, y0, x1, y1), box(x0, y0, xm, y1)], crs=4326)
    cells = [box(a, b, a + (x1 - x0) / 2, b + (y1 - y0) / 2) for a in (x0, xm) for b in (y0, ym)]
    communities = gpd.GeoDataFrame(
        {"name": ["一社区", "二社区", "三社区", "四社区"], "code": ["c1", "c2", "c3", "c4"],
         "coverage_rate": [0.1, 0.45, 0.65, None]}, geometry=cells, crs=4326)
    lon = rng.uniform(x0 + 0.002, x1 - 0.002, n_sites)
    lat = rng.uniform(y0 + 0.002, y1 - 0.002, n_sites)
    kind = np.where(rng.random(n_sites) < 0.67, "love_station", "worker_home").astype(object)
    level = rng.choice(_LEVELS, n_sites).astype(object)
    status = rng.choice(_STATUSES, n_sites).astype(object)
    site_names = [f"站点{i}" for i in range(n_sites)]
    for i, name in enumerate(list(names)[:n_sites]):
        site_names[i], kind[i], status[i] = name, "love_station", "open"
    level[kind == "worker_home"] = None
    services = [list(rng.choice(_SERVICES, rng.integers(1, 4), replace=False)) for _ in range(n_sites)]
    sites = gpd.GeoDataFrame({
        "id": np.arange(1, n_sites + 1), "code": [f"YZ{i:06d}" for i in range(n_sites)], "name": site_names,
        "kind": kind, "level": level, "status": status,
        "address": [f"示例路{i % 500 + 1}号" for i in range(n_sites)], "services": services,
        "opening_hours": rng.choice(["Mo-Su 00:00-24:00", "Mo-Fr 08:00-20:00"], n_sites),
        "street": np.where(lon >= xm, "东街道", "西街道"), "community": "一社区",
        "phone": [f"0755-{8000000 + i}" for i in range(n_sites)],
    }, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    dx, dy = (x1 - x0) / 10, (y1 - y0) / 10
    demand = gpd.GeoDataFrame({"weight": rng.integers(1, 60, n_demand)},
                              geometry=gpd.points_from_xy(rng.uniform(x0, x1, n_demand),
                                                          rng.uniform(y0, y1, n_demand)), crs=4326)
    gaps = gpd.GeoDataFrame({"demand_uncovered": [120, 40], "area_km2": [1.2, 0.6]},
                            geometry=[box(x0 + dx, y0 + dy, x0 + 2 * dx, y0 + 2 * dy),
                                      box(x1 - 2 * dx, y1 - 2 * dy, x1 - dx, y1 - dy)], crs=4326)
    hotspots = gpd.GeoDataFrame({"demand_uncovered": [300, 90], "rank": [1, 2]},
                                geometry=[box(x0 + 4 * dx, y0 + 4 * dy, x0 + 5 * dx, y0 + 5 * dy),
                                          box(x0 + 6 * dx, y0 + 2 * dy, x0 + 7 * dx, y0 + 3 * dy)], crs=4326)
    suggestions = gpd.GeoDataFrame(
        {"rank": [1, 2, 3], "gain": [300, 120, 90], "cumulative_coverage_rate": [0.62, 0.7, 0.75],
         "name": ["候选：示例加油站", "候选：示例银行网点", None]},
        geometry=[Point(x0 + 4.5 * dx, y0 + 4.5 * dy), Point(x0 + 1.5 * dx, y0 + 1.5 * dy),
                  Point(x0 + 6.5 * dx, y0 + 2.5 * dy)], crs=4326)
    return {"district": district, "streets": streets, "communities": communities, "sites": sites,
            "gaps": gaps, "hotspots": hotspots, "demand": demand, "suggestions": suggestions}
