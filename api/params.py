"""Checking query parameters the same way everywhere (raises domain InputError → 422)."""
from __future__ import annotations

import math
from pathlib import Path

from geo.engine import crs_gcj02_bd09 as crsmod
from geo.errors import InputError
from geo.store.vocab import Vocabulary


def crs_param(value: str | None, name: str = "crs") -> crsmod.CrsSpec:
    try:
        return crsmod.parse_crs(value)
    except ValueError as e:
        raise InputError(str(e), field=name) from None


def lonlat_param(lon: float, lat: float, spec: crsmod.CrsSpec) -> tuple[float, float]:
    """Input point in ``spec`` → WGS-84, refusing NaN, out of range and outside China."""
    for name, v in (("lon", lon), ("lat", lat)):
        if not math.isfinite(v):
            raise InputError(f"{v} is not a finite number", field=name)
    if spec.name in ("wgs84", "gcj02", "bd09") or (spec.epsg and crsmod.CRS.from_epsg(spec.epsg).is_geographic):
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            reason = crsmod.lonlat_problem(lon, lat)
            raise InputError(reason, field="lon/lat")
    wlon, wlat = crsmod.point_to_wgs84(lon, lat, spec)
    reason = crsmod.lonlat_problem(wlon, wlat, crs=spec, raw=(lon, lat))
    if reason:
        raise InputError(reason, field="lon/lat")
    return wlon, wlat


def positive_param(value: float | None, name: str, *, maximum: float | None = None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0 or (maximum is not None and value > maximum):
        rng = f"0 < {name} ≤ {maximum:g}" if maximum else f"{name} > 0"
        raise InputError(f"{value} is out of range ({rng})", field=name)
    return value


def vocab_param(vocab: Vocabulary, domain: str, value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return vocab.resolve(domain, value)
    except ValueError as e:
        raise InputError(str(e), field=name) from None


def services_param(vocab: Vocabulary, value: str | None, name: str = "services") -> tuple[str, ...]:
    if not value:
        return ()
    try:
        return tuple(vocab.resolve_services(value))
    except ValueError as e:
        raise InputError(str(e), field=name) from None


def network_param(value: str | None, network_dir: str | None, name: str = "network") -> str | None:
    """The street-network file a request names: an ``.osm.pbf`` file inside the server's
    ``YIZHAN_NETWORK_DIR`` (absolute path out), never any other file on the server."""
    if value is None:
        return None
    if not network_dir:
        raise InputError("walking coverage over HTTP reads street networks only from the server's "
                         "YIZHAN_NETWORK_DIR, which is not set", field=name)
    base = Path(network_dir).resolve()
    path = base if "\x00" in value else (base / value).resolve()
    if base not in path.parents or not path.name.endswith(".pbf") or not path.is_file():
        raise InputError(f"no street network {value!r} in the server's network directory "
                         "(give the name of an .osm.pbf file there)", field=name)
    return str(path)
