"""Reading the files people bring: CSV (encoding detected), XLSX, GeoJSON, GeoPackage, Shapefile.

Private module: :mod:`geo.ingest.import_sites` is the public face. Every failure here is an
:class:`~geo.errors.InputError` naming the file (and row/field where there is one).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geo.errors import InputError, Problem
from geo.engine.text_rules import CONTROL_RE, control_character

#: Canonical column → accepted headers (compared after :func:`_norm_header`).
HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("code", "编号", "站点编号", "代码", "编码", "区划代码", "id"),
    "name": ("name", "名称", "站点名称", "名字"),
    "lon": ("lon", "lng", "longitude", "经度", "x坐标"),
    "lat": ("lat", "latitude", "纬度", "y坐标"),
    "kind": ("kind", "类型", "站点类型"),
    "level": ("level", "级别", "等级", "建设级别"),
    "status": ("status", "状态", "建设状态"),
    "address": ("address", "地址", "详细地址"),
    "street": ("street", "街道", "所属街道", "街道(乡镇)"),
    "community": ("community", "社区", "所属社区"),
    "services": ("services", "服务", "服务项目", "服务内容"),
    "opening_hours": ("opening_hours", "开放时间", "营业时间", "服务时间"),
    "opened_on": ("opened_on", "建成日期", "建成时间", "启用日期"),
    "closed_on": ("closed_on", "撤销日期", "撤销时间", "关闭日期"),
    "host_org": ("host_org", "依托单位", "承建单位"),
    "operator": ("operator", "运营方", "运营单位", "管理单位"),
    "phone": ("phone", "联系电话", "电话", "联系方式"),
    "capacity": ("capacity", "容量", "可容纳人数"),
    "weight": ("weight", "人数", "户外劳动者人数", "权重"),
    "category": ("category", "类别", "分类"),
    "parent": ("parent", "上级", "所属街道代码", "上级代码"),
}

TABULAR = {".csv", ".txt", ".tsv"}
EXCEL = {".xlsx", ".xlsm"}
GEO = {".geojson", ".json", ".gpkg", ".shp", ".zip"}


def _norm_header(h) -> str:
    s = str(h).replace("\ufeff", "").strip().lower()
    s = re.sub(r"[（(\[【].*?[)）\]】]", "", s)  # 经度(GCJ02) → 经度
    return re.sub(r"[\s_\-]+", "_", s).strip("_")


_LOOKUP = {_norm_header(a): canon for canon, aliases in HEADERS.items() for a in aliases}


@dataclass
class Table:
    """A file read into text cells with canonical column names."""

    path: Path
    frame: pd.DataFrame          # str cells ('' for empty), canonical column names
    geometry: object = None      # GeoSeries for geo files
    file_crs: str | None = None  # the CRS the file declares (geo files)
    row_label: str = "row"       # "row" (header is row 1) or "feature"
    encoding: str | None = None

    def cell(self, i: int, column: str) -> str:
        """Text of one cell ('' when the column is absent) — fast, unlike ``DataFrame.at``."""
        col = self._columns.get(column)
        return "" if col is None else col[i]

    @property
    def _columns(self) -> dict[str, list[str]]:
        cache = self.__dict__.get("_colcache")
        if cache is None:
            cache = {c: self.frame[c].tolist() for c in self.frame.columns}
            self.__dict__["_colcache"] = cache
        return cache

    def row_number(self, i: int) -> int:
        return i + 2 if self.row_label == "row" else i + 1

    def problem(self, i: int | None, field: str | None, message: str, severity="error") -> Problem:
        row = None if i is None else self.row_number(i)
        src = self.path.name if self.row_label == "row" else f"{self.path.name} (feature numbers)"
        return Problem(src, row, field, message, severity)


def _fail(path: Path, message: str, field: str | None = None) -> InputError:
    return InputError([Problem(path.name, None, field, message)])


def detect_encoding(data: bytes, path: Path) -> str:
    """Tell UTF-8 (with or without BOM), UTF-16 and GBK/GB18030 apart; refuse broken text."""
    if data.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16"
    else:
        try:
            data.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError as e:
            text = data.decode("utf-8", errors="replace")
            bad = text.count("\ufffd")
            valid_multibyte = sum(1 for ch in text if ord(ch) > 0x7F) - bad
            if 0 < bad <= 3 and valid_multibyte >= 2 * bad:
                line = data[:e.start].count(b"\n") + 1
                raise _fail(path, f"the file is UTF-8 but has a broken byte at line {line} "
                                  f"(byte {e.start}); fix or re-save it as UTF-8") from None
            try:
                data.decode("gb18030")
                return "gb18030"
            except UnicodeDecodeError:
                raise _fail(path, "cannot tell the text encoding (tried UTF-8, UTF-16 and "
                                  "GBK/GB18030); save the file as UTF-8") from None
    try:
        data.decode(enc)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise _fail(path, f"the file starts as {enc} but has a broken byte at line {line}") from None
    return enc


def _canonical(frame: pd.DataFrame, path: Path, *, unescape: bool = False) -> pd.DataFrame:
    mapping, seen = {}, {}
    for col in frame.columns:
        canon = _LOOKUP.get(_norm_header(col))
        if canon is None:
            continue
        if canon in seen:
            raise _fail(path, f"columns {seen[canon]!r} and {col!r} both mean {canon!r}", canon)
        seen[canon] = col
        mapping[col] = canon
    out = frame[list(mapping)].rename(columns=mapping).fillna("").astype(str)
    return out.apply(lambda s: _strip(s, unescape))


def _strip(s: pd.Series, unescape: bool) -> pd.Series:
    """Trim each cell; a CSV cell loses the ``'`` an export put before a formula-like text.

    Trimming never turns text into a formula: ``"\t=x"`` stays ``"\t=x"`` (only trailing
    space goes), where trimming would give ``"=x"``."""
    if unescape:
        s = s.str.replace(_ESCAPE_RE, "", n=1, regex=True)
    stripped = s.str.strip()
    keep = s.str.match(r"\s") & stripped.str.match(_FORMULA_RE)
    return stripped.where(~keep, s.str.rstrip())


_ESCAPE_RE = r"^'(?=[=+\-@\t\r'])"
_FORMULA_RE = r"[=+\-@\t\r]"


def _sniff_delimiter(text: str) -> str:
    """The delimiter of the first non-blank line, as pandas' ``sep=None`` would sniff it.

    Sniffing here lets the C parser read the file (the Python parser that ``sep=None``
    needs took seconds for 200,000 rows). Raises ``csv.Error`` when it cannot tell.
    """
    first = re.search(r"\S", text)
    if first is None:
        raise pd.errors.EmptyDataError("No columns to parse from file")
    start = text.rfind("\n", 0, first.start()) + 1
    end = text.find("\n", first.start())
    return csv.Sniffer().sniff(text[start:] if end < 0 else text[start:end + 1]).delimiter


def _read_csv(path: Path, data: bytes) -> Table:
    enc = detect_encoding(data, path)
    try:  # the header is in the first 64 KiB; the parser decodes the bytes itself (faster)
        sep = "\t" if path.suffix.lower() == ".tsv" else \
            _sniff_delimiter(data[:1 << 16].decode(enc, errors="ignore"))
        _check_csv_bounds(path, data, enc, sep)
        frame = pd.read_csv(io.BytesIO(data), encoding=enc, dtype=str, keep_default_na=False,
                            sep=sep, engine="c", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as e:
        raise _fail(path, f"not a readable CSV table: {e}") from None
    _check_rows(path, len(frame))
    return Table(path, _canonical(frame, path, unescape=True), encoding=enc)


def _check_csv_bounds(path: Path, data: bytes, enc: str, sep: str) -> None:
    """Refuse a header wider than the column limit before the parser builds the columns."""
    from geo.ingest.read_xlsx import limits

    head = data[:1 << 20].decode(enc, errors="ignore").lstrip("\ufeff\r\n")
    line = head.split("\n", 1)[0]
    width = line.count(sep) + 1
    if width > limits()[1]:
        raise _fail(path, f"the header has {width:,} columns, over the limit of {limits()[1]:,} "
                          "columns (delete the unused columns, or raise YIZHAN_MAX_IMPORT_COLUMNS)")


def _check_rows(path: Path, n: int) -> None:
    from geo.ingest.read_xlsx import limits

    if n > limits()[0]:
        raise _fail(path, f"the file has {n:,} rows, over the limit of {limits()[0]:,} rows "
                          "(split the file, or raise YIZHAN_MAX_IMPORT_ROWS)")


def _read_xlsx(path: Path) -> Table:
    from geo.ingest.read_xlsx import read_rows

    header, body = read_rows(path)
    frame = pd.DataFrame(body, columns=header) if body else pd.DataFrame(columns=header)
    return Table(path, _canonical(frame, path))


def _read_geo(path: Path) -> Table:
    import geopandas as gpd
    import pyogrio

    _check_layers(path)
    try:
        try:
            gdf = gpd.read_file(path, engine="pyogrio")
        except UnicodeDecodeError:
            if path.suffix.lower() not in (".shp", ".zip"):
                raise
            gdf = gpd.read_file(path, engine="pyogrio", encoding="gb18030")  # DBF without .cpg
    except UnicodeDecodeError as e:
        raise _fail(path, f"cannot decode the attribute text ({e.reason}); save it as UTF-8") from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.GeometryError, pyogrio.errors.FieldError, ValueError, OSError) as e:
        kind = "GeoJSON" if path.suffix.lower() in (".geojson", ".json") else path.suffix[1:]
        raise _fail(path, f"not a readable {kind} file: {str(e).splitlines()[0][:200]}") from None
    _check_rows(path, len(gdf))
    file_crs = gdf.crs.to_string() if gdf.crs is not None else None
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for c in attrs.columns:  # dates and numbers → text, as in CSV
        attrs[c] = attrs[c].map(_geo_cell)
    return Table(path, _canonical(attrs, path), geometry=gdf.geometry.reset_index(drop=True),
                 file_crs=file_crs, row_label="feature")


def _check_layers(path: Path) -> None:
    """A file with several layers is refused (which one was meant?) instead of reading the first;
    a layer with more features than the row limit is refused before it is read."""
    import pyogrio

    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
        features = pyogrio.read_info(path)["features"] if len(layers) == 1 else 0
    except Exception:  # noqa: BLE001 - unreadable files get read_file's clear message
        return
    if len(layers) > 1:
        raise _fail(path, f"the file has {len(layers)} layers ({', '.join(layers[:5])}); "
                          "save the one to import as its own file")
    _check_rows(path, features)


def _geo_cell(v) -> str:
    if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)):
        return ""
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10] if getattr(v, "hour", 0) == 0 and getattr(v, "minute", 0) == 0 \
            else v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def refuse_control_characters(table: Table) -> None:
    """Refuse every cell holding a control character, naming its row and field."""
    problems = []
    for col in table.frame.columns:
        values = table.frame[col]
        bad = values.str.contains(CONTROL_RE, regex=True).to_numpy().nonzero()[0]
        for i in bad[:20]:
            problems.append(table.problem(int(i), col, control_character(values.iat[i])))
    if problems:
        raise InputError(problems[:20])


def _max_import_bytes() -> int:
    from geo.settings import get_settings
    return int(get_settings().max_import_mb * 1e6)


_READERS = {**{s: lambda p: _read_csv(p, p.read_bytes()) for s in TABULAR},
            **{s: _read_xlsx for s in EXCEL}, **{s: _read_geo for s in GEO}}


def read_table(path: str | Path, *, max_bytes: int | None = None) -> Table:
    """Read any supported file into a :class:`Table` (raises :class:`InputError`)."""
    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a folder, not a file")
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size == 0:
        raise _fail(path, "the file is empty (0 bytes)")
    limit = max_bytes if max_bytes is not None else _max_import_bytes()
    if size > limit:
        raise _fail(path, f"the file is {size / 1e6:.0f} MB, over the import limit of {limit / 1e6:.0f} MB "
                          "(split it, or raise YIZHAN_MAX_IMPORT_MB)")
    reader = _READERS.get(suffix)
    if reader is not None:
        table = reader(path)
        refuse_control_characters(table)
        return table
    if suffix == ".xls":
        raise _fail(path, "old .xls workbooks are not read: save it as .xlsx or .csv")
    raise _fail(path, f"unsupported file type {suffix or '(none)'}: use CSV, XLSX, GeoJSON, "
                      "GeoPackage or Shapefile")
