"""Turning rows of a :class:`~geo.ingest.read_files.Table` into checked records, one problem per bad value.

Used by :mod:`geo.ingest.import_sites`; also by the API (a JSON body is a one-row table).
"""
from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd

from geo.engine import crs_gcj02_bd09 as crsmod
from geo.errors import Problem
from geo.engine.opening_hours import parse_hours
from geo.store.vocab import Vocabulary

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
    CRS is ``crs_name`` when given, else the file's declared CRS, else WGS-84. The work is
    column-wise; only rows that fail a check are looked at one by one, for their message.

    Parameters
    ----------
    table : geo.ingest.read_files.Table
        The file's cells.
    crs_name : str or None
        ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:NNNN``.
    problems : list of Problem
        Receives one problem per bad row (or one for the file).

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS-84 degrees, NaN where the row is bad.
    spec : geo.engine.crs_gcj02_bd09.CrsSpec
        The coordinate system the input was read in.
    """
    n = len(table.frame)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    try:
        spec = crsmod.parse_crs(crs_name or crs_of_file(table))
    except ValueError as e:
        problems.append(table.problem(None, "crs", str(e)))
        return x, y, crsmod.WGS84
    f = table.frame
    if "lon" in f.columns and "lat" in f.columns:
        found: list[tuple[int, Problem]] = []
        x = _coordinate_column(table, "lon", found)
        y = _coordinate_column(table, "lat", found)
        problems += [p for _, p in sorted(found, key=lambda f: f[0])]  # row by row, lon before lat
        x[np.isnan(y)] = np.nan
        y[np.isnan(x)] = np.nan
    elif table.geometry is not None:
        x, y = _point_geometries(table, problems)
    else:
        problems.append(table.problem(None, "lon", "the file has no lon/经度 and lat/纬度 columns"))
        return x, y, spec
    ok = np.isfinite(x) & np.isfinite(y)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    geographic = spec.epsg is None or _is_geographic(spec.epsg)
    # Range-check the raw values first: prcoords and PROJ accept nonsense silently.
    in_range = ok & (np.abs(x) <= 180) & (np.abs(y) <= 90) if geographic else ok
    if in_range.any():
        lon[in_range], lat[in_range] = crsmod.to_wgs84(x[in_range], y[in_range], spec)
    x0, y0, x1, y1 = crsmod.CHINA_BOUNDS
    with np.errstate(invalid="ignore"):
        fine = in_range & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    for i in np.flatnonzero(ok & ~fine):  # the same test as lonlat_problem, for its message
        reason = crsmod.lonlat_problem(lon[i], lat[i], crs=spec, raw=(x[i], y[i])) \
            if np.isfinite(lon[i]) else crsmod.lonlat_problem(x[i], y[i], crs=spec)
        problems.append(table.problem(int(i), "lon/lat", reason or "coordinates cannot be converted"))
    lon[~fine] = lat[~fine] = np.nan
    return lon, lat, spec


def _coordinate_column(table, field: str, found: list[tuple[int, Problem]]) -> np.ndarray:
    """Floats of a ``lon``/``lat`` column, NaN (and a ``(row, problem)``) where empty or bad.

    ``float()`` per cell through NumPy's object cast: exactly what :func:`parse_float`
    accepts, so an exported coordinate re-imports bit for bit. Only columns with a bad
    cell are parsed cell by cell, for the messages.
    """
    cells = table.frame[field].to_numpy(dtype=object)
    try:
        x = cells.astype("float64")
        redo = np.flatnonzero(~np.isfinite(x))
    except ValueError:
        x = np.full(len(cells), np.nan)
        redo = range(len(cells))
    for i in redo:
        try:
            v = parse_float(cells[i], name=field)
            if v is None:
                found.append((int(i), table.problem(int(i), field, "coordinate is empty")))
            else:
                x[i] = v
        except ValueError as e:
            found.append((int(i), table.problem(int(i), field, str(e))))
    return x


def _point_geometries(table, problems: list[Problem]) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of point geometries (geo files), NaN and a problem for anything else."""
    import shapely

    geoms = np.asarray(table.geometry.values, dtype=object)
    point = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    x = np.where(point, shapely.get_x(geoms), np.nan)
    y = np.where(point, shapely.get_y(geoms), np.nan)
    for i in np.flatnonzero(~point):
        problems.append(table.problem(int(i), "geometry", "not a point geometry"))
    return x, y


def crs_of_file(table) -> str | None:
    if not table.file_crs:
        return None
    from pyproj import CRS
    code = CRS.from_user_input(table.file_crs).to_epsg()
    return f"EPSG:{code}" if code else None


def _is_geographic(epsg: int) -> bool:
    from pyproj import CRS
    return CRS.from_epsg(epsg).is_geographic


#: Columns of a site frame (:func:`site_records`), after which ``lon``, ``lat`` and
#: ``src_crs`` are added by the caller.
RECORD_FIELDS = ("code", "name", "kind", "level", "status", "services", "opening_hours", "opened_on",
                 "closed_on", "capacity", "address", "phone", "host_org", "operator",
                 "declared_street", "declared_community")


#: The error of a new row with neither a status nor an opening date (nor ``--status``).
NO_STATUS = ("no status: the row has no status/状态 and no opened_on/建成日期; fill them in, "
             "or give --status (e.g. --status open) for rows without a status")


def site_records(table, vocab: Vocabulary, *, kind: str | None, problems: list[Problem],
                 status: str | None = None, opened_on: dt.date | None = None, updating=None,
                 no_status: str = NO_STATUS) -> pd.DataFrame:
    """Check every row's attributes (not its point), column by column.

    Each distinct value of a column is resolved once (vocabulary, dates, hours, capacity)
    and the results are spread back over the rows, so a 200,000-row file costs a few
    hundred checks rather than millions. Problems come out row by row, in the order a
    row-by-row check would report them.

    Parameters
    ----------
    table : geo.ingest.read_files.Table
        The file's cells.
    vocab : Vocabulary
        Kinds, levels, statuses and services.
    kind : str or None
        The ``--kind`` code, used where a row has no kind of its own.
    problems : list of Problem
        Receives one problem per bad value.
    status, opened_on : optional
        ``--status`` (a code) and ``--opened-on``: fill the empty status / opening-date
        cells of rows that create sites. A new row without a status is ``open`` when it
        has an opening date (its own or ``opened_on``), else ``status``; with neither it
        is an error (``no_status``). ``opened_on`` fills only rows whose status is empty or
        built/closed (a planned site has no opening date).
    updating : numpy.ndarray of bool, optional
        Rows that update existing sites: their empty cells stay empty (``None``: keep the
        stored value), no default fills them and they need no kind.

    Returns
    -------
    pandas.DataFrame
        One row per table row, columns :data:`RECORD_FIELDS`: text (``None`` when empty;
        ``name`` stays text), ``services`` as comma-joined codes, dates as
        :class:`datetime.date` or ``None``, ``capacity`` as int or ``None``.
    """
    n = len(table.frame)
    cell = (lambda c: table.frame[c].to_numpy(dtype=object) if c in table.frame.columns
            else np.full(n, "", dtype=object))
    found = _RowProblems()
    out: dict[str, np.ndarray] = {}

    code = cell("code")
    out["code"] = _or_none(code)
    if "code" in table.frame.columns:
        found.add(np.flatnonzero(code == ""), "code", "the code/编号 is empty")
    out["name"] = cell("name")
    found.add(np.flatnonzero(out["name"] == ""), "name", "the name/名称 is empty")
    new = np.ones(n, dtype=bool) if updating is None else ~np.asarray(updating, dtype=bool)
    out["kind"] = _kinds(cell("kind"), vocab, kind, found, new)
    for field in ("level", "status"):
        out[field] = found.each(cell(field), field, lambda v, f=field: vocab.resolve(f, v) if v else None)
    opened_text = cell("opened_on")
    out["opened_on"] = found.each(opened_text, "opened_on", parse_date)
    _fill_status(out, opened_text, new, status, opened_on, found, no_status)
    out["services"] = found.each(cell("services"), "services",
                                 lambda v: ",".join(vocab.resolve_services(v)))
    hours = cell("opening_hours")
    found.each(hours, "opening_hours", parse_hours)
    out["opening_hours"] = _or_none(hours)
    out["closed_on"] = found.each(cell("closed_on"), "closed_on", parse_date)
    _check_dates(out["status"], out["opened_on"], out["closed_on"], found)
    out["capacity"] = found.each(cell("capacity"), "capacity", _parse_capacity)
    for field, col in (("address", "address"), ("phone", "phone"), ("host_org", "host_org"),
                       ("operator", "operator"), ("declared_street", "street"),
                       ("declared_community", "community")):
        out[field] = _or_none(cell(col))
    found.report(table, problems)
    return pd.DataFrame({f: out[f] for f in RECORD_FIELDS}, dtype=object)  # None stays None


def records_at(frame: pd.DataFrame, rows) -> list[dict]:
    """Rows of a site frame as record dicts (``services`` as a list of codes), in one pass."""
    out = frame.iloc[list(rows)].to_dict("records")
    for rec in out:
        rec["services"] = [s for s in (rec.get("services") or "").split(",") if s]
    return out


def record_at(frame: pd.DataFrame, i: int) -> dict:
    """Row ``i`` of a site frame as a record dict (:func:`records_at` of one row)."""
    return records_at(frame, [i])[0]


def site_record(table, i: int, vocab: Vocabulary, *, kind: str | None,
                problems: list[Problem], **options) -> dict:
    """Check one row's attributes (not its point) and return the record.

    Checks the whole table (see :func:`site_records`); meant for one-row tables such as
    an API request body.
    """
    return record_at(site_records(table, vocab, kind=kind, problems=problems, **options), i)


class _RowProblems:
    """Problems found column by column, reported row by row (then in the order found)."""

    def __init__(self):
        self.items: list[tuple[int, int, str, str]] = []

    def add(self, rows, field: str, message) -> None:
        """One problem per row in ``rows``; ``message`` is text or ``row -> text``."""
        for i in rows:
            i = int(i)
            self.items.append((i, len(self.items), field, message(i) if callable(message) else message))

    def each(self, cells: np.ndarray, field: str, fn) -> np.ndarray:
        """``fn`` applied once per distinct cell; a problem per row whose cell it refuses.

        Returns the per-row results (``None`` where ``fn`` raised ``ValueError``).
        """
        codes, uniques = pd.factorize(cells, use_na_sentinel=False)
        results = np.empty(len(uniques) + 1, dtype=object)  # the last one stays None
        refused: dict[int, str] = {}
        for k, v in enumerate(uniques):
            try:
                results[k] = fn(v)
            except ValueError as e:
                refused[k] = str(e)
        if refused:
            rows = np.flatnonzero(np.isin(codes, list(refused)))
            self.add(rows, field, lambda i: refused[codes[i]])
            codes[rows] = len(uniques)
        return results[codes]

    def report(self, table, problems: list[Problem]) -> None:
        problems.extend(table.problem(i, field, msg) for i, _, field, msg in sorted(self.items))


def _or_none(cells: np.ndarray) -> np.ndarray:
    """Text cells with ``''`` as ``None``."""
    out = cells.copy()
    out[cells == ""] = None
    return out


def _kinds(cells: np.ndarray, vocab: Vocabulary, kind: str | None, found: _RowProblems,
           new: np.ndarray) -> np.ndarray:
    """Each row's kind: its own ``kind`` cell, else ``--kind``; both must agree when given.
    A row that updates a site needs none (``None``: its stored kind is kept)."""
    kinds = found.each(cells, "kind", lambda v: vocab.resolve("kind", v) if v else kind)
    if kind:
        found.add(np.flatnonzero(pd.notna(kinds) & (kinds != kind)), "kind",
                  lambda i: f"row kind {kinds[i]} disagrees with --kind {kind}")
    else:
        found.add(np.flatnonzero((cells == "") & new), "kind", "no kind: give --kind or a kind/类型 column")
    return kinds


def _fill_status(out: dict, opened_text: np.ndarray, new: np.ndarray, status: str | None,
                 opened_on: dt.date | None, found: _RowProblems, no_status: str) -> None:
    """``--opened-on`` and ``--status`` into the empty cells of new rows (see :func:`site_records`)."""
    st, op = out["status"], out["opened_on"]
    if opened_on is not None:
        dated = pd.isna(st) | np.isin(st, ["open", "suspended", "closed"])
        op[new & (opened_text == "") & dated] = opened_on
    unset = new & pd.isna(st)
    st[unset & (opened_text != "")] = "open"  # a bad date is reported as such, not as "no status"
    st[unset & (opened_text == "") & pd.notna(op)] = "open"
    rest = new & pd.isna(st)
    if status is not None:
        st[rest] = status
    else:
        found.add(np.flatnonzero(rest), "status", no_status)


def _check_dates(status, opened, closed, found: _RowProblems) -> None:
    """Opening and closing dates against each other, today and the status."""
    from geo.engine.clock import today as zone_today
    today = zone_today().toordinal()
    day = (lambda d: np.fromiter((-1 if v is None else v.toordinal() for v in d), "int64", len(d)))
    o, c = day(opened), day(closed)
    found.add(np.flatnonzero((o >= 0) & (c >= 0) & (c < o)), "closed_on",
              lambda i: f"closed on {closed[i]} before it opened ({opened[i]})")
    built = np.isin(status, ["open", "suspended"])
    found.add(np.flatnonzero(built & (o > today)), "opened_on",
              lambda i: f"status is {status[i]} but opened_on {opened[i]} is in the future")
    found.add(np.flatnonzero(c > today), "closed_on", lambda i: f"closed_on {closed[i]} is in the future")
    found.add(np.flatnonzero((c >= 0) & pd.notna(status) & (status != "closed")), "status",
              lambda i: f"closed_on is set but status is {status[i]}")


def _parse_capacity(text: str) -> int | None:
    c = parse_float(text, name="capacity")
    if c is not None and (c < 0 or not float(c).is_integer()):
        raise ValueError(f"capacity {text!r} is not a whole number ≥ 0")
    return None if c is None else int(c)
