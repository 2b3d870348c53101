"""Held-out data for the nearest bench: distributions the project was not tuned on.

Stations: ``n`` around ``centres`` random centres over China's land, each centre with its
own spread (0.03°–0.5°). Query sets (each printed separately by ``nearest_bench.py``):

- ``around``: scattered around the stations' centres (1.5 × the centre's spread);
- ``land``: uniform over China's land;
- ``cities``: 40 random cities (90 %, σ 0.08°) with sparse countryside (10 % uniform on land);
- ``national``: the bench's own earlier points (half uniform over the bounding box, half
  around 8 fixed cities; see ``_load.national``).

"Land" is a coarse outline of mainland China (about 60 vertices, ±50–100 km at the border,
Hainan as a box), good enough to keep points off the sea and out of neighbouring countries'
interiors; it is not a boundary.
"""
from __future__ import annotations

import numpy as np
import shapely

OUTLINE = [
    (73.6, 39.4), (75.0, 40.6), (76.8, 41.0), (78.6, 41.6), (80.2, 42.2), (80.5, 44.8), (82.6, 45.3),
    (82.5, 46.9), (85.6, 47.1), (87.3, 49.0), (88.9, 48.1), (90.6, 46.0), (91.0, 45.1), (93.5, 44.9),
    (95.4, 44.3), (96.4, 42.7), (100.8, 42.6), (105.0, 41.6), (107.5, 42.4), (110.4, 42.7), (111.8, 43.7),
    (111.6, 44.5), (113.6, 44.8), (116.6, 46.3), (118.3, 46.7), (119.7, 47.2), (117.8, 49.5),
    (119.2, 50.3), (120.1, 51.9), (121.6, 53.3), (123.5, 53.5), (125.7, 52.9), (127.3, 50.7),
    (127.6, 49.8), (130.6, 48.9), (131.0, 47.7), (133.0, 48.1), (134.7, 48.3), (133.9, 46.0),
    (131.9, 45.3), (131.0, 43.0), (129.8, 42.4), (128.0, 42.0), (126.6, 41.7), (124.4, 40.0),
    (121.6, 38.9), (121.2, 40.5), (119.0, 39.2), (118.0, 38.3), (119.3, 37.1), (122.5, 37.4),
    (120.3, 35.9), (119.2, 34.6), (120.9, 32.6), (121.9, 30.9), (121.8, 29.2), (120.5, 27.2),
    (119.4, 25.4), (117.2, 23.6), (114.2, 22.3), (112.0, 21.8), (110.3, 20.3), (109.7, 21.5),
    (108.1, 21.6), (106.7, 22.8), (105.3, 23.3), (103.9, 22.6), (102.1, 22.4), (101.6, 21.2),
    (100.1, 21.6), (99.2, 22.1), (98.7, 24.0), (97.5, 23.9), (98.0, 25.3), (98.7, 27.5), (97.5, 28.3),
    (96.2, 29.4), (94.6, 29.3), (92.0, 27.8), (89.6, 28.2), (88.0, 27.9), (86.0, 27.9), (84.2, 28.6),
    (82.0, 30.1), (81.1, 30.2), (79.0, 30.9), (78.7, 32.0), (78.4, 32.6), (79.4, 33.0), (78.9, 34.4),
    (79.9, 35.6), (77.8, 35.5), (76.0, 36.6), (75.0, 37.3), (74.6, 38.5),
]
LAND = shapely.union(shapely.Polygon(OUTLINE), shapely.box(108.6, 18.2, 111.0, 20.1))  # + Hainan
shapely.prepare(LAND)


def land_uniform(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform (in degrees) over the land outline, by rejection."""
    lon, lat = np.empty(0), np.empty(0)
    x0, y0, x1, y1 = LAND.bounds
    while lon.size < n:
        x, y = rng.uniform(x0, x1, 2 * n), rng.uniform(y0, y1, 2 * n)
        keep = shapely.contains_xy(LAND, x, y)
        lon, lat = np.concatenate([lon, x[keep]]), np.concatenate([lat, y[keep]])
    return lon[:n], lat[:n]


def _around(rng, clon, clat, sigma, which):
    return (np.clip(clon[which] + rng.normal(0, 1, which.size) * sigma[which], 73.5, 135.0),
            np.clip(clat[which] + rng.normal(0, 1, which.size) * sigma[which], 18.2, 53.5))


class HeldOut:
    """Stations around random centres, and the query distributions over them."""

    def __init__(self, seed: int = 20261203, centres: int = 300):
        self.rng = np.random.default_rng(seed)
        self.clon, self.clat = land_uniform(self.rng, centres)
        self.sigma = self.rng.uniform(0.03, 0.5, centres)

    def sites(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return _around(self.rng, self.clon, self.clat, self.sigma, self.rng.integers(0, self.clon.size, n))

    def queries(self, name: str, n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        if name == "around":
            return _around(rng, self.clon, self.clat, 1.5 * self.sigma, rng.integers(0, self.clon.size, n))
        if name == "land":
            return land_uniform(rng, n)
        if name == "cities":
            clon, clat = land_uniform(rng, 40)
            m = int(n * 0.9)
            lon, lat = _around(rng, clon, clat, np.full(40, 0.08), rng.integers(0, 40, m))
            ulon, ulat = land_uniform(rng, n - m)
            return np.concatenate([lon, ulon]), np.concatenate([lat, ulat])
        if name == "national":
            import _load
            return _load.national(rng, n)
        raise ValueError(name)


QUERY_SETS = ("around", "land", "cities", "national")
