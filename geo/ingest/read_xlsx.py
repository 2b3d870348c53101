"""Bounded XLSX reading: whatever a workbook says about itself, an import never exhausts memory.

Before anything is unpacked, the archive's total unpacked size is checked; the first sheet's
declared dimension is checked against the row and column limits; then the sheet is streamed
row by row (openpyxl read-only parser), refusing at the first row or column beyond a limit.
Private module: :func:`geo.ingest.read_files.read_table` is the public face.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from geo.errors import InputError, Problem


def _fail(path: Path, message: str) -> InputError:
    return InputError([Problem(path.name, None, None, message)])


def limits() -> tuple[int, int, int]:
    """(rows, columns, unpacked bytes) from the settings."""
    from geo.settings import get_settings

    s = get_settings()
    return s.max_import_rows, s.max_import_columns, int(s.max_unpacked_mb * 1e6)


def check_archive(path: Path, max_unpacked: int) -> None:
    """Refuse a workbook whose members unpack to more than ``max_unpacked`` bytes.

    Python's zip reader never yields more than a member's declared size, so the declared
    sizes bound what is read."""
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise _fail(path, f"not a readable XLSX workbook: {e}") from None
    if total > max_unpacked:
        raise _fail(path, f"the workbook unpacks to {total / 1e6:.0f} MB, over the limit of "
                          f"{max_unpacked / 1e6:.0f} MB (split it, save it as CSV, or raise "
                          "YIZHAN_MAX_UNPACKED_MB)")


def _too_many_rows(path: Path, what: str, limit: int) -> InputError:
    return _fail(path, f"the first sheet {what}, over the limit of {limit:,} rows "
                       "(split the file, or raise YIZHAN_MAX_IMPORT_ROWS)")


def _too_many_columns(path: Path, what: str, limit: int) -> InputError:
    return _fail(path, f"the first sheet {what}, over the limit of {limit:,} columns "
                       "(delete the unused columns, or raise YIZHAN_MAX_IMPORT_COLUMNS)")


def _cell(v) -> str:
    if v is None:
        return ""
    if hasattr(v, "date") and hasattr(v, "hour"):
        return v.date().isoformat() if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _stream(path: Path, wb, ws, max_rows: int, max_cols: int):
    """Rows of values (header first; empty rows dropped) and the merged ranges."""
    from openpyxl.worksheet._reader import WorkSheetParser

    rows: list[list] = []
    with ws._get_source() as src:
        parser = WorkSheetParser(src, ws._shared_strings, data_only=True, epoch=wb.epoch,
                                 date_formats=wb._date_formats,
                                 timedelta_formats=wb._timedelta_formats)
        for idx, cells in parser.parse():
            cells = [c for c in cells if c["value"] is not None]
            if not cells:
                continue
            if idx > max_rows + 1:
                raise _too_many_rows(path, f"has data in row {idx:,}", max_rows)
            width = max(c["column"] for c in cells)
            if width > max_cols:
                raise _too_many_columns(path, f"has data in column {width:,} (row {idx:,})", max_cols)
            values = [None] * width
            for c in cells:
                values[c["column"] - 1] = c["value"]
            rows.append(values)
        merged = [m.ref for m in getattr(parser.merged_cells, "mergeCell", None) or []]
    return rows, merged


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and body (text cells) of the first sheet of an XLSX workbook, read with bounds."""
    import openpyxl

    max_rows, max_cols, max_unpacked = limits()
    check_archive(path, max_unpacked)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds
        raise _fail(path, f"not a readable XLSX workbook: {e}") from None
    try:
        ws = wb.worksheets[0]
        if (ws.max_row or 0) > max_rows + 1:
            raise _too_many_rows(path, f"declares {ws.max_row:,} rows ({ws.calculate_dimension()})",
                                 max_rows)
        if (ws.max_column or 0) > max_cols:
            raise _too_many_columns(path, f"declares {ws.max_column:,} columns "
                                          f"({ws.calculate_dimension()})", max_cols)
        try:
            rows, merged = _stream(path, wb, ws, max_rows, max_cols)
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001 - malformed sheet XML
            raise _fail(path, f"not a readable XLSX workbook: {str(e)[:200]}") from None
    finally:
        wb.close()
    for ref in merged:
        if re.match(r"[A-Z]+1(:|$)", ref):
            raise _fail(path, f"the header row has merged cells ({ref}); "
                              "unmerge them so each column has its own header")
    if not rows:
        raise _fail(path, "the first sheet is empty")
    width = max(len(r) for r in rows)
    header = ["" if h is None else str(h) for h in rows[0]] + [""] * (width - len(rows[0]))
    body = [[_cell(v) for v in r] + [""] * (width - len(r)) for r in rows[1:]]
    return header, body
