"""Turning rows of a :class:`~geo._io.Table` into checked records, one problem per bad value.

Used by :mod:`geo.imports`; also by the API (a JSON body is a one-row table).
"""
from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np

from geo import crs as crsmod
from geo.errors import Problem
from geo.hours import HoursError, parse_hours
from geo.vocab import Vocabulary

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value) -> dt.date | None:
    """Parse ``2021-05-01``, ``2021/5/1``, ``2021.5.1``, ``2021年5月1日`` or ``20210501``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = str(value).strip()
    if not s:
        return None
    for pat in _DATE_PATTERNS:
        m = pat.match(s)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return dt.date(y, mo, d)
            except ValueError:
                break
    raise ValueError(f"{s!r} is not a date (write it as 2021-05-01)")


def parse_float(value, *, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        x = float(str(value).strip().replace("，", "."))
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{value!r} is not a finite number")
    return x


def convert_points(table, crs_name: str | None, problems: list[Problem]):
    """WGS-84 lon/lat for every row (NaN where bad), with a problem per bad row.

    Points come from ``lon``/``lat`` columns, or from point geometries in geo files. The
    CRS is ``crs_name`` when given, else the file's declared CRS, else WGS-84.
    """
    n = len(table.frame)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    try:
        spec = crsmod.parse_crs(crs_name or _file_crs(table))
    except ValueError as e:
        problems.append(table.problem(None, "crs", str(e)))
        return x, y, crsmod.WGS84
    f = table.frame
    has_cols = "lon" in f.columns and "lat" in f.columns
    if not has_cols and table.geometry is None:
        problems.append(table.problem(None, "lon", "the file has no lon/经度 and lat/纬度 columns"))
        return x, y, spec
    for i in range(n):
        if has_cols:
            vals = []
            for field in ("lon", "lat"):
                try:
                    v = parse_float(table.cell(i, field), name=field)
                    if v is None:
                        problems.append(table.problem(i, field, "coordinate is empty"))
                    vals.append(v)
                except ValueError as e:
                    problems.append(table.problem(i, field, str(e)))
                    vals.append(None)
            if None not in vals:
                x[i], y[i] = vals
        else:
            g = table.geometry.iloc[i]
            if g is None or g.is_empty or g.geom_type != "Point":
                problems.append(table.problem(i, "geometry", "not a point geometry"))
            else:
                x[i], y[i] = g.x, g.y
    ok = np.isfinite(x) & np.isfinite(y)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if ok.any():
        # Range-check the raw values first: prcoords and PROJ accept nonsense silently.
        geographic = spec.epsg is None or _is_geographic(spec.epsg)
        in_range = ok & ((np.abs(x) <= 180) & (np.abs(y) <= 90)) if geographic else ok
        lo, la = crsmod.to_wgs84(x[in_range], y[in_range], spec)
        lon[in_range], lat[in_range] = lo, la
    for i in np.flatnonzero(ok):
        reason = crsmod.lonlat_problem(lon[i], lat[i], crs=spec, raw=(x[i], y[i])) \
            if np.isfinite(lon[i]) else crsmod.lonlat_problem(x[i], y[i], crs=spec)
        if reason is None and not np.isfinite(lon[i]):
            reason = "coordinates cannot be converted"
        if reason:
            lon[i] = lat[i] = np.nan
            problems.append(table.problem(int(i), "lon/lat", reason))
    return lon, lat, spec


def _file_crs(table) -> str | None:
    if not table.file_crs:
        return None
    from pyproj import CRS
    code = CRS.from_user_input(table.file_crs).to_epsg()
    return f"EPSG:{code}" if code else None


def _is_geographic(epsg: int) -> bool:
    from pyproj import CRS
    return CRS.from_epsg(epsg).is_geographic


def site_record(table, i: int, vocab: Vocabulary, *, kind: str | None,
                problems: list[Problem]) -> dict:
    """Check one row's attributes (not its point) and return the record."""
    f = table.frame
    get = (lambda c: table.cell(i, c))
    rec: dict = {}

    def bad(field, msg):
        problems.append(table.problem(i, field, msg))

    rec["code"] = get("code") or None
    if "code" in f.columns and not rec["code"]:
        bad("code", "the code/编号 is empty")
    rec["name"] = get("name")
    if not rec["name"]:
        bad("name", "the name/名称 is empty")
    row_kind = get("kind")
    try:
        rec["kind"] = vocab.resolve("kind", row_kind) if row_kind else kind
        if kind and rec["kind"] != kind:
            bad("kind", f"row kind {rec['kind']} disagrees with --kind {kind}")
        if rec["kind"] is None:
            bad("kind", "no kind: give --kind or a kind/类型 column")
    except ValueError as e:
        bad("kind", str(e))
    for field in ("level", "status"):
        v = get(field)
        try:
            rec[field] = vocab.resolve(field, v) if v else None
        except ValueError as e:
            bad(field, str(e))
    rec["status"] = rec.get("status") or ("open" if get("opened_on") else "planned")
    try:
        rec["services"] = vocab.resolve_services(get("services"))
    except ValueError as e:
        bad("services", str(e))
    hours = get("opening_hours") or None
    if hours:
        try:
            parse_hours(hours)
        except HoursError as e:
            bad("opening_hours", str(e))
    rec["opening_hours"] = hours
    for field in ("opened_on", "closed_on"):
        try:
            rec[field] = parse_date(get(field))
        except ValueError as e:
            bad(field, str(e))
    if rec.get("opened_on") and rec.get("closed_on") and rec["closed_on"] < rec["opened_on"]:
        bad("closed_on", f"closed on {rec['closed_on']} before it opened ({rec['opened_on']})")
    today = dt.date.today()
    if rec.get("status") in ("open", "suspended") and rec.get("opened_on") and rec["opened_on"] > today:
        bad("opened_on", f"status is {rec['status']} but opened_on {rec['opened_on']} is in the future")
    if rec.get("closed_on") and rec["closed_on"] > today:
        bad("closed_on", f"closed_on {rec['closed_on']} is in the future")
    if rec.get("closed_on") and rec.get("status") not in (None, "closed"):
        bad("status", f"closed_on is set but status is {rec['status']}")
    cap = get("capacity")
    try:
        c = parse_float(cap, name="capacity")
        if c is not None and (c < 0 or not float(c).is_integer()):
            raise ValueError(f"capacity {cap!r} is not a whole number ≥ 0")
        rec["capacity"] = None if c is None else int(c)
    except ValueError as e:
        bad("capacity", str(e))
    for field in ("address", "phone", "host_org", "operator"):
        rec[field] = get(field) or None
    rec["declared_street"] = get("street") or None
    rec["declared_community"] = get("community") or None
    return rec
