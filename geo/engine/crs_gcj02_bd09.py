"""Coordinate systems at the edges: WGS-84, GCJ-02 (高德/腾讯), BD-09 (百度) and EPSG codes.

Everything is stored as WGS-84 lon/lat. Inputs name their system with ``crs`` and are
converted here; outputs that take ``out_crs`` are converted back here. GCJ-02 and BD-09
use ``prcoords`` (with its iterative inverse, precise to ~1e-8°) rather than hand-written
formulas; EPSG codes go through pyproj with ``always_xy`` so that latitude-first systems
such as EPSG:4490 (CGCS2000) still take ``lon``/``lat`` in that order.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import prcoords
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

#: China's extent, including the South China Sea islands (lon/lat bounding box).
CHINA_BOUNDS = (73.4, 3.8, 135.1, 53.6)

ALIASES = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84", "gps": "wgs84",
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "amap": "gcj02", "高德": "gcj02", "火星": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "bd09ll": "bd09", "baidu": "bd09", "百度": "bd09",
}


@dataclass(frozen=True)
class CrsSpec:
    """A parsed ``crs`` parameter: ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:NNNN``."""

    name: str
    epsg: int | None = None

    def __str__(self) -> str:
        return self.name


WGS84 = CrsSpec("wgs84")


def parse_crs(value: str | None) -> CrsSpec:
    """Parse a ``crs`` / ``out_crs`` value; raise ``ValueError`` with a clear message."""
    if value is None or str(value).strip() == "":
        return WGS84
    key = str(value).strip().lower()
    if key in ALIASES:
        return CrsSpec(ALIASES[key])
    m = re.fullmatch(r"(?:epsg:)?(\d{4,6})", key)
    if not m:
        raise ValueError(f"unknown coordinate system {value!r}: use wgs84, gcj02, bd09 or EPSG:NNNN")
    code = int(m.group(1))
    try:
        crs = CRS.from_epsg(code)
    except CRSError:
        raise ValueError(f"unknown coordinate system EPSG:{code}") from None
    if crs.is_geocentric or not (crs.is_geographic or crs.is_projected):
        raise ValueError(f"EPSG:{code} is not a 2D geographic or projected system")
    return CrsSpec(f"EPSG:{code}", code)


@lru_cache(maxsize=64)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def _scalar_map(fn, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out_lon = np.array(lon, dtype="float64", copy=True)
    out_lat = np.array(lat, dtype="float64", copy=True)
    for i in range(out_lon.size):
        x, y = out_lon.flat[i], out_lat.flat[i]
        if math.isfinite(x) and math.isfinite(y):
            c = fn(prcoords.Coords(y, x))
            out_lon.flat[i], out_lat.flat[i] = c.lon, c.lat
    return out_lon, out_lat


def to_wgs84(x, y, crs: CrsSpec | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates given as (lon-like, lat-like) in ``crs`` to WGS-84 lon/lat.

    Parameters
    ----------
    x, y : array-like
        Longitude/easting and latitude/northing, in that order whatever the axis order
        of the EPSG definition.
    crs : CrsSpec or str
        ``wgs84`` (default), ``gcj02``, ``bd09`` or ``EPSG:NNNN``.
    """
    spec = crs if isinstance(crs, CrsSpec) else parse_crs(crs)
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if spec.name == "wgs84":
        return x.copy(), y.copy()
    if spec.name == "gcj02":
        return _scalar_map(prcoords.gcj_wgs_bored, x, y)
    if spec.name == "bd09":
        return _scalar_map(prcoords.bd_wgs_bored, x, y)
    lon, lat = _transformer(spec.epsg, 4326).transform(x, y)
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def from_wgs84(lon, lat, crs: CrsSpec | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 lon/lat to ``crs`` (returned as lon-like, lat-like)."""
    spec = crs if isinstance(crs, CrsSpec) else parse_crs(crs)
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    if spec.name == "wgs84":
        return lon.copy(), lat.copy()
    if spec.name == "gcj02":
        return _scalar_map(prcoords.wgs_gcj, lon, lat)
    if spec.name == "bd09":
        return _scalar_map(prcoords.wgs_bd, lon, lat)
    x, y = _transformer(4326, spec.epsg).transform(lon, lat)
    return np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")


def point_to_wgs84(x: float, y: float, crs: CrsSpec | str | None = None) -> tuple[float, float]:
    """Scalar form of :func:`to_wgs84`."""
    lon, lat = to_wgs84([x], [y], crs)
    return float(lon[0]), float(lat[0])


def point_from_wgs84(lon: float, lat: float, crs: CrsSpec | str | None = None) -> tuple[float, float]:
    """Scalar form of :func:`from_wgs84`."""
    x, y = from_wgs84([lon], [lat], crs)
    return float(x[0]), float(y[0])


def in_china(lon: float, lat: float) -> bool:
    """Whether a WGS-84 point lies in China's extent (bounding box incl. 南海诸岛)."""
    x0, y0, x1, y1 = CHINA_BOUNDS
    return x0 <= lon <= x1 and y0 <= lat <= y1


def lonlat_problem(lon: float, lat: float, *, crs: CrsSpec | None = None, raw=None) -> str | None:
    """Why a point cannot be accepted, or ``None`` when it is fine.

    ``lon``/``lat`` are WGS-84 (after conversion); ``raw`` is the pair as given (to test
    the swapped-axes hint in the input's own terms).
    """
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)):
        return "coordinates are missing or not finite numbers"
    rx, ry = raw if raw is not None else (lon, lat)
    geographic = crs is None or crs.epsg is None or CRS.from_epsg(crs.epsg).is_geographic
    if geographic and not (-180 <= rx <= 180 and -90 <= ry <= 90):
        if -90 <= rx <= 90 and -180 <= ry <= 180 and in_china(ry, rx):
            return (f"lon={rx}, lat={ry} is out of range (-180..180, -90..90); "
                    "latitude and longitude look swapped")
        return f"lon={rx}, lat={ry} is out of range (lon -180..180, lat -90..90)"
    if not in_china(lon, lat):
        msg = f"lon={rx}, lat={ry} is outside China's extent"
        if geographic and in_china(ry, rx):
            msg += "; latitude and longitude look swapped"
        return msg
    return None
