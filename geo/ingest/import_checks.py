"""Checks of a site file against what is already loaded, so that no guess stays silent.

- :func:`crs_offset_problem`: the rows that match stored sites lie a consistent GCJ-02 or
  BD-09 offset away from them (the file's ``--crs`` is wrong): an error naming the ``--crs``
  that fits.
- :func:`area_fit_warning`: a first import without ``--crs`` whose points fall inside the
  loaded streets clearly more often when read as GCJ-02 or BD-09.
- :func:`outside_streets`: sites outside every loaded street (not counted in the report's
  district totals).
- :func:`default_warnings`: open sites without an opening date, built love stations without a level.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.engine import crs_gcj02_bd09 as crsmod
from geo.errors import Problem
from geo.engine.geodesy import distance_m

#: Points within this distance of their stored point are "the same point".
SAME_M = 5.0
LABELS = {"wgs84": "WGS-84 (GPS)", "gcj02": "GCJ-02 (高德/腾讯)", "bd09": "BD-09 (百度)"}


def _raw(lon: np.ndarray, lat: np.ndarray, spec) -> tuple[np.ndarray, np.ndarray] | None:
    """The file's own (geographic) numbers back from WGS-84; ``None`` for projected input."""
    if spec.epsg is not None and not crsmod.CRS.from_epsg(spec.epsg).is_geographic:
        return None
    return crsmod.from_wgs84(lon, lat, spec)


def _sample(rows: np.ndarray, most: int) -> np.ndarray:
    """At most ``most`` of ``rows``, evenly spread (GCJ-02/BD-09 conversions are per point)."""
    return rows if rows.size <= most else rows[np.linspace(0, rows.size - 1, most).astype("int64")]


def crs_offset_problem(table, lon, lat, spec, ids: np.ndarray, existing: pd.DataFrame) -> Problem | None:
    """An error when the matched rows fit their stored points better in another system
    (checked on up to 2,000 of them)."""
    rows = _sample(np.flatnonzero((ids >= 0) & np.isfinite(lon)), 2000)
    raw = _raw(lon[rows], lat[rows], spec) if rows.size else None
    if raw is None:
        return None
    at = existing.set_index("id").loc[ids[rows], ["lon", "lat"]].to_numpy(dtype="float64")
    declared = distance_m(lon[rows], lat[rows], at[:, 0], at[:, 1])
    for alt in ("wgs84", "gcj02", "bd09"):
        if alt == spec.name:
            continue
        d = distance_m(*crsmod.to_wgs84(*raw, alt), at[:, 0], at[:, 1])
        fit = d < SAME_M
        if fit.sum() > (declared < SAME_M).sum() and 2 * fit.sum() >= rows.size:
            off = declared[fit]
            return table.problem(None, "crs", (
                f"{fit.sum()} of the {rows.size} rows that match existing sites lie {off.min():.0f}–"
                f"{off.max():.0f} m from the stored points when read as {spec}, and on them when read as "
                f"{LABELS[alt]}: the file's coordinates look like {alt}; import it with --crs {alt}"))
    return None


def area_fit_warning(table, lon, lat, spec, lookup, *, crs_given: bool) -> Problem | None:
    """A warning when, without ``--crs``, the points lie inside loaded streets clearly more
    often read as GCJ-02 or BD-09 than as WGS-84 (counted on up to 5,000 of them)."""
    ok = np.zeros(len(lon), dtype=bool)
    ok[_sample(np.flatnonzero(np.isfinite(lon)), 5000)] = True
    if crs_given or spec.name != "wgs84" or lookup.ids.get("street") is None or not ok.any():
        return None
    x, y = lon[ok], lat[ok]
    inside = int((lookup.locate(x, y, "street") >= 0).sum())
    for alt in ("gcj02", "bd09"):
        alt_in = int((lookup.locate(*crsmod.to_wgs84(x, y, alt), "street") >= 0).sum())
        if alt_in > inside and alt_in - inside >= max(1, 0.1 * ok.sum()):
            return table.problem(None, "crs", (
                f"no --crs given, so the points were read as WGS-84 (GPS): {ok.sum() - inside} of {ok.sum()} "
                f"lie outside every loaded street; read as {LABELS[alt]} {ok.sum() - alt_in} would. "
                f"If the coordinates come from {LABELS[alt].split(' ')[1][1:-1]}, import with --crs {alt}"),
                "warning")
    return None


def outside_streets(table, frame: pd.DataFrame, street_ids: np.ndarray, lookup, problems) -> None:
    """A warning per row whose point lies in no loaded street (when streets are loaded)."""
    if lookup.ids.get("street") is None:
        return
    names = frame["name"].to_numpy(dtype=object)
    lon = frame["lon"].to_numpy(dtype="float64")
    for i in np.flatnonzero((street_ids < 0) & np.isfinite(lon)):
        problems.append(table.problem(int(i), "lon/lat", (
            f"{names[i]!r} lies outside every loaded street: the annual report lists it but does not "
            "count it in the district's totals (coverage still counts it)"), "warning"))


def _rows(table, rows: np.ndarray) -> str:
    shown = ", ".join(str(table.row_number(int(i))) for i in rows[:10])
    return shown + (f" … ({rows.size} rows)" if rows.size > 10 else "")


def default_warnings(table, frame: pd.DataFrame, new: np.ndarray, day: str, problems) -> None:
    """File-level warnings for the defaults new rows get: the import day for open sites without
    an opening date, no level (未定级) for built love stations without one."""
    status = frame["status"].to_numpy(dtype=object)
    undated = new & np.isin(status, ["open", "suspended"]) & pd.isna(frame["opened_on"]).to_numpy()
    if undated.any():
        problems.append(table.problem(None, "opened_on", (
            f"{undated.sum()} new open site(s) have no opening date (rows {_rows(table, np.flatnonzero(undated))}): "
            f"they count as built from {day}, and every report says so; "
            "give --opened-on DATE or an opened_on/建成日期 column to date them"), "warning"))
    love = new & (frame["kind"].to_numpy(dtype=object) == "love_station") & np.isin(status, ["open", "suspended"])
    unlevelled = love & pd.isna(frame["level"]).to_numpy()
    if unlevelled.any():
        problems.append(table.problem(None, "level", (
            f"{unlevelled.sum()} new built love station(s) have no level/级别 (rows "
            f"{_rows(table, np.flatnonzero(unlevelled))}): the report counts them as 未定级 (no level)"),
            "warning"))
