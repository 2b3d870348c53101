"""The one writer path for every spreadsheet the project produces (CSV and XLSX).

No value from outside ever becomes a formula (CWE-1236). A text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written as text: in XLSX as a string cell
(never through a formula-guessing API), in CSV prefixed with ``'``. A text cell that itself
starts with ``'`` is prefixed too, so that :func:`csv_unescape` — which removes exactly one
leading ``'`` before a trigger or a ``'`` — gives back the original text. Numbers stay numbers.

Every file is written to a temporary file next to the target and renamed over it only when
complete: a failed export never deletes or truncates the previous one.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from geo.errors import InputError

#: First characters that make Excel, WPS or LibreOffice read a cell as a formula.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED = TRIGGERS + ("'",)


def csv_escape(v):
    """``v`` as a CSV cell: text that would be a formula gets a leading ``'``."""
    if isinstance(v, str) and v.startswith(_ESCAPED):
        return "'" + v
    return v


def csv_unescape(text: str) -> str:
    """Undo :func:`csv_escape` exactly (and nothing else): ``'=x`` → ``=x``, ``''x`` → ``'x``."""
    if len(text) > 1 and text[0] == "'" and text[1] in _ESCAPED:
        return text[1:]
    return text


def is_formula_like(text: str) -> bool:
    return text.startswith(TRIGGERS)


def csv_text(header: Sequence[str] | None, rows: Iterable[Sequence], *, bom: bool = False) -> str:
    """CSV text of ``rows`` (with ``header`` first when given), every cell escaped."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header is not None:
        w.writerow([csv_escape(h) for h in header])
    for row in rows:
        w.writerow([csv_escape(_csv_plain(v)) for v in row])
    return ("\ufeff" if bom else "") + buf.getvalue()


def _csv_plain(v):
    """Missing values (None, NaN, pd.NA, NaT) as ''; numpy scalars as Python values."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars
        v = v.item()
    if v is None or type(v).__name__ in ("NAType", "NaTType") or (isinstance(v, float) and v != v):
        return ""
    return v


def xlsx_cell(ws, value, row: int | None = None, column: int | None = None):
    """An openpyxl cell holding ``value``: text is always a string cell, never a formula."""
    from openpyxl.cell.cell import Cell

    cell = Cell(ws, row=row, column=column)
    v = _csv_plain(value)
    if isinstance(v, str) and not isinstance(value, str):  # None, NaN, pd.NA: an empty cell
        v = None
    if isinstance(v, str):
        cell._value, cell.data_type = _xlsx_safe_text(v), "s"
    else:
        cell.value = v  # numbers, dates, booleans, None: openpyxl types them
    return cell


def _xlsx_safe_text(v: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)


def put_cell(ws, row: int, column: int, value) -> None:
    """Set one cell (see :func:`xlsx_cell`); ``ws.cell(..., value)`` would guess formulas."""
    ws._cells[(row, column)] = xlsx_cell(ws, value, row, column)


def append_row(ws, values: Sequence) -> None:
    """Append a row to a worksheet; text goes in as string cells (see :func:`xlsx_cell`)."""
    ws.append([xlsx_cell(ws, v) for v in values])


def new_sheet(wb, title: str, header: Sequence[str], rows: Iterable[Sequence]):
    ws = wb.create_sheet(title)
    append_row(ws, header)
    for row in rows:
        append_row(ws, row)
    return ws


def xlsx_bytes(sheets: dict[str, tuple[Sequence[str], Iterable[Sequence]]]) -> bytes:
    """A workbook with one sheet per ``title: (header, rows)``."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, (header, rows) in sheets.items():
        new_sheet(wb, title, header, rows)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cannot_write(out: Path, e: OSError) -> InputError:
    return InputError(f"cannot write {out}: {e.strerror or e}", field="out")


@contextlib.contextmanager
def atomic_path(out: str | Path):
    """Yield a temporary path next to ``out``; rename it over ``out`` only on success.

    A folder that cannot be created or written is an :class:`InputError` naming ``out``."""
    out = Path(out)
    try:
        if out.is_dir():
            raise IsADirectoryError(21, "is a folder", str(out))
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
        os.close(fd)
        os.unlink(tmp)  # writers (GDAL among them) want to create the file themselves
    except OSError as e:
        raise _cannot_write(out, e) from None
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, out)
        except OSError as e:
            raise _cannot_write(out, e) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes_atomic(out: str | Path, data: bytes) -> None:
    with atomic_path(out) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as e:
            raise _cannot_write(Path(out), e) from None


def write_table(out: str | Path, header: Sequence[str], rows: Iterable[Sequence], *,
                sheet: str = "Sheet1", fmt: str | None = None) -> None:
    """Write a table as XLSX or UTF-8 CSV with a BOM, atomically.

    ``fmt`` is ``"xlsx"`` or ``"csv"``; by default the suffix of ``out`` decides (``.xlsx``
    is XLSX, anything else CSV)."""
    rows = list(rows)
    if (fmt or Path(out).suffix.lower().lstrip(".")) == "xlsx":
        write_bytes_atomic(out, xlsx_bytes({sheet: (header, rows)}))
    else:
        write_bytes_atomic(out, csv_text(header, rows, bom=True).encode("utf-8"))


def frame_rows(df) -> tuple[list[str], list[list]]:
    """Header and rows of a pandas DataFrame, ready for :func:`write_table`."""
    return [str(c) for c in df.columns], df.astype(object).values.tolist()


__all__ = ["TRIGGERS", "csv_escape", "csv_unescape", "csv_text", "xlsx_cell", "append_row",
           "xlsx_bytes", "put_cell", "atomic_path", "write_bytes_atomic", "write_table", "frame_rows",
           "is_formula_like"]
