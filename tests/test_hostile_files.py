"""Hostile input (issue 20): no formula from outside in any spreadsheet, bounded reads."""
from __future__ import annotations

import csv
import io
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from geo.store.db import engine_from_url, upgrade
from geo.errors import InputError
from geo.ingest.export_sites import COLUMNS, export_sites, sites_frame
from geo.ingest.import_sites import import_sites
from geo.services.annual_report import annual_report
from geo.services.report_render import render

#: the names of tests/corpus/sites_formula_names.csv (one code is "=FX5"): Excel/WPS would
#: evaluate each of them if written raw
HOSTILE = ['=HYPERLINK("http://evil.example/x","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
           "-2+3", "\t=tab", "'=quoted", "''twice", "=1+1"]


def _names(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT code, name FROM sites")).all())


def _formula_cells(path_or_bytes) -> list[str]:
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    wb = openpyxl.load_workbook(src)
    return [f"{ws.title}!{c.coordinate}={c.value!r}" for ws in wb.worksheets
            for row in ws.iter_rows() for c in row if c.data_type == "f"]


@pytest.fixture
def hostile(engine, corpus):
    import_sites(engine, corpus / "sites_formula_names.csv")
    return engine


def test_hostile_names_are_stored_as_given(hostile):
    names = _names(hostile)
    assert sorted(names.values()) == sorted(HOSTILE)
    assert names["=FX5"] == HOSTILE[0] and names["H4"] == "\t=tab"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson", "gpkg"])
def test_exports_hold_no_formula_and_reimport_to_the_same_text(hostile, tmp_path, fmt):
    out = tmp_path / f"sites.{fmt}"
    with hostile.connect() as conn:
        assert export_sites(conn, out, fmt=fmt) == len(HOSTILE)
    if fmt == "xlsx":
        assert _formula_cells(out) == []
        ws = openpyxl.load_workbook(out).worksheets[0]
        assert ws["A2"].value == "=FX5" and ws["A2"].data_type == "s"
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        cells = {r[0]: r[1] for r in rows[1:]}
        assert cells["'=FX5"] == "'" + HOSTILE[0]
        assert sorted(cells.values()) == sorted("'" + n for n in HOSTILE)
        assert {r[COLUMNS.index("phone")] for r in rows[1:]} == {"'+86 351 1234567"}
        assert rows[1][COLUMNS.index("lon")] == "112.56"  # numbers stay numbers
    other = engine_from_url(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    import_sites(other, out)
    assert _names(other) == _names(hostile)
    with hostile.connect() as a, other.connect() as b:
        fa, fb = (sites_frame(c)[COLUMNS].astype(str).reset_index(drop=True) for c in (a, b))
    assert fa.equals(fb), fa.compare(fb)
    other.dispose()


def test_report_xlsx_and_csv_hold_no_formula(hostile):
    with hostile.begin() as conn:
        conn.execute(sa.text("UPDATE vocab SET label_zh = '=1+2' WHERE domain = 'level' AND code = 'city_union'"))
    with hostile.connect() as conn:
        r = annual_report(conn, year=2024)
    assert "=1+2" in r["sentence"]
    assert _formula_cells(render(r, "xlsx")) == []
    rows = list(csv.reader(io.StringIO(render(r, "csv").decode("utf-8-sig"))))
    assert not [c for row in rows for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_control_characters_are_refused_naming_row_and_field(engine, tmp_path, fp):
    f = tmp_path / "ctl.csv"
    f.write_text("code,name,lon,lat,kind,status\nC1,ok,112.56,37.86,love_station,open\n"
                 "C2,bad\x01name,112.57,37.86,love_station,open\nC3,tab\x0bbad,112.58,37.86,love_station,open\n",
                 encoding="utf-8")
    before = fp(engine)
    with pytest.raises(InputError) as e:
        import_sites(engine, f)
    assert [str(p) for p in e.value.problems] == [
        "ctl.csv, row 3, field name: contains the control character U+0001; remove it",
        "ctl.csv, row 4, field name: contains the control character U+000B; remove it"]
    assert fp(engine) == before


# ---- bounded reads: files built here, small on disk -------------------------------------------

def _xlsx_with_sheet(path: Path, sheet_xml: bytes | None = None, pad_mb: int = 0) -> None:
    """A valid workbook (openpyxl) whose first sheet's XML is replaced (and optionally padded)."""
    wb = openpyxl.Workbook()
    wb.active.append(["code", "name", "lon", "lat"])
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml" and sheet_xml is not None:
                data = sheet_xml
            if item.filename == "xl/worksheets/sheet1.xml" and pad_mb:
                with dst.open(item.filename, "w", force_zip64=True) as out:
                    out.write(data.replace(b"</worksheet>", b""))
                    for _ in range(pad_mb):
                        out.write(b" " * 1_000_000)
                    out.write(b"</worksheet>")
                continue
            dst.writestr(item, data)


NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _sheet(dimension: str | None, cells: list[tuple[str, str]]) -> bytes:
    rows: dict[int, list] = {}
    for ref, v in cells:
        rows.setdefault(int("".join(ch for ch in ref if ch.isdigit())), []).append(
            f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>')
    body = "".join(f'<row r="{r}">{"".join(c)}</row>' for r, c in sorted(rows.items()))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS.decode()}>{dim}'
            f"<sheetData>{body}</sheetData></worksheet>").encode()


def _yizhan(*args, cwd, env=None, limit_mb=1500):
    """Run the CLI in a process whose address space is capped (no timing asserts)."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    exe = str(Path(sys.executable).with_name("yizhan"))
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, preexec_fn=cap,
                          env=dict(os.environ, **(env or {})), timeout=600)


@pytest.mark.parametrize("name,sheet,message", [
    ("sparse.xlsx", _sheet("A1:XFD1048576", [("A1", "code"), ("XFD1048576", "x")]),
     "the first sheet declares 1,048,576 rows (A1:XFD1048576), over the limit of 1,000,000 rows "
     "(split the file, or raise YIZHAN_MAX_IMPORT_ROWS)"),
    ("undeclared.xlsx", _sheet(None, [("A1", "code"), ("A1048576", "x")]),
     "the first sheet has data in row 1,048,576, over the limit of 1,000,000 rows "
     "(split the file, or raise YIZHAN_MAX_IMPORT_ROWS)"),
    ("wide.xlsx", _sheet(None, [("A1", "code"), ("XFD2", "x")]),
     "the first sheet has data in column 16,384 (row 2), over the limit of 200 columns "
     "(delete the unused columns, or raise YIZHAN_MAX_IMPORT_COLUMNS)"),
])
@pytest.mark.parametrize("command", [["import", "sites", "--kind", "love_station", "--dry-run"],
                                     ["import", "demand"]])
def test_sparse_and_oversized_workbooks_are_refused_in_bounded_memory(tmp_path, name, sheet, message,
                                                                      command):
    f = tmp_path / name
    _xlsx_with_sheet(f, sheet)
    assert f.stat().st_size < 10_000
    r = _yizhan(*command, str(f), cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    assert f"{name}: {message}" in " ".join(r.stderr.split()), r.stderr


def test_zip_bomb_workbook_is_refused_before_unpacking(tmp_path):
    f = tmp_path / "bomb.xlsx"
    _xlsx_with_sheet(f, pad_mb=260)
    assert f.stat().st_size < 2_000_000
    r = _yizhan("import", "sites", str(f), "--kind", "love_station", cwd=tmp_path, limit_mb=1200)
    assert r.returncode == 1, r.stderr[-2000:]
    assert ("bomb.xlsx: the workbook unpacks to 260 MB, over the limit of 250 MB (split it, save it "
            "as CSV, or raise YIZHAN_MAX_UNPACKED_MB)") in " ".join(r.stderr.split()), r.stderr


def test_csv_wider_than_the_column_limit_is_refused(tmp_path):
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n1\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        import_sites(engine_from_url(f"sqlite:///{tmp_path / 'x.db'}"), f, kind="love_station")
    assert str(e.value) == ("wide.csv: the header has 100,000 columns, over the limit of 200 columns "
                            "(delete the unused columns, or raise YIZHAN_MAX_IMPORT_COLUMNS)")


def test_geopackage_with_two_layers_is_refused(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    f = tmp_path / "two.gpkg"
    for layer in ("a", "b"):
        gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(112.56, 37.86)], crs=4326).to_file(
            f, layer=layer, driver="GPKG", engine="pyogrio")
    with pytest.raises(InputError) as e:
        import_sites(engine_from_url(f"sqlite:///{tmp_path / 'x.db'}"), f, kind="love_station")
    assert str(e.value) == "two.gpkg: the file has 2 layers (a, b); save the one to import as its own file"
