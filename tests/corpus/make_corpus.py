"""Writes the bad-input corpus (committed; re-run only to change it): python tests/corpus/make_corpus.py"""
from pathlib import Path

import openpyxl
import prcoords

HERE = Path(__file__).parent
H_EN = "code,name,lon,lat,level,status,services,opening_hours,opened_on\n"
OK_ROW = "{code},{name},{lon},{lat},city_union,open,\"water,charging\",08:00-20:00,2021-05-01\n"


def csv(name, rows, header=H_EN, enc="utf-8"):
    (HERE / name).write_bytes((header + "".join(rows)).encode(enc))


def ok(code, lon=112.5650, lat=37.8610, name=None):
    return OK_ROW.format(code=code, name=name or f"站点{code}", lon=lon, lat=lat)


# A GBK file with Chinese headers and GCJ-02 coordinates (as copied from 高德).
wgs = [(112.5650, 37.8610), (112.5801, 37.8502), (112.5902, 37.8420)]
gcj = [prcoords.wgs_gcj((lat, lon)) for lon, lat in wgs]
rows = "".join(f"GBK-{i},柳巷{i}号爱心驿站,{c.lon:.8f},{c.lat:.8f},市总工会级,已建成,饮水、充电、热饭,周一至周五 9:00-17:00,2020年3月{i + 1}日,迎泽区总工会\n"
               for i, c in enumerate(gcj))
csv("sites_gbk_gcj02_zh.csv", [rows], header="编号,名称,经度,纬度,级别,状态,服务,开放时间,建成日期,运营方\n", enc="gbk")
csv("sites_utf8_bom.csv", [ok("BOM-1"), ok("BOM-2", 112.57, 37.85)], enc="utf-8-sig")
csv("sites_utf16.csv", [ok("U16-1"), ok("U16-2", 112.57, 37.85)], enc="utf-16")
good = (H_EN + ok("BRK-1", name="解放路驿站") + ok("BRK-2", 112.57, 37.85, name="建设路驿站")).encode()
(HERE / "sites_broken_byte.csv").write_bytes(good.replace("建设路".encode(), "建设路".encode()[:-1] + b"\xff", 1))
csv("sites_swapped.csv", [ok("SW-1", lon=37.8610, lat=112.5650)])
csv("sites_bad_coords.csv", [ok("NC-1", lon="NaN"), ok("NC-2", lon=""), ok("NC-3", lat="北纬37度"),
                             ok("NC-4", lon="inf")])
csv("sites_outside_china.csv", [ok("OUT-1", lon=2.3522, lat=48.8566)])
csv("sites_duplicate_codes.csv", [ok("DUP-1"), ok("DUP-1", 112.57, 37.85), ok("DUP-2", 112.58, 37.84)])
csv("sites_unknown_level.csv", ["LV-1,站点,112.565,37.861,县总工会级,open,water,08:00-20:00,2021-05-01\n"])
csv("sites_unknown_service.csv", ["SV-1,站点,112.565,37.861,city_union,open,\"water,按摩\",08:00-20:00,2021-05-01\n"])
csv("sites_bad_hours.csv", ["HR-1,站点,112.565,37.861,city_union,open,water,看情况,2021-05-01\n"])
csv("sites_bad_dates.csv", ["DT-1,站点,112.565,37.861,city_union,open,water,08:00-20:00,2021-13-45\n",
                            "DT-2,站点二,112.575,37.851,city_union,open,water,08:00-20:00,去年\n"])
csv("sites_one_bad_row.csv", [ok("ONE-1"), ok("ONE-2", 112.57, 37.85), ok("ONE-3", 112.58, "abc")])
(HERE / "empty.csv").write_bytes(b"")
(HERE / "not_geojson.geojson").write_text("this is not GeoJSON {", encoding="utf-8")
(HERE / "header_only.csv").write_text(H_EN, encoding="utf-8")

sq = [[112.55, 37.85], [112.56, 37.85], [112.56, 37.86], [112.55, 37.86], [112.55, 37.85]]
bowtie = [[112.55, 37.85], [112.56, 37.86], [112.56, 37.85], [112.55, 37.86], [112.55, 37.85]]


def fc(features):
    import json
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def feat(code, name, ring, parent=None):
    props = {"code": code, "name": name}
    if parent:
        props["parent"] = parent
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring]} if ring else None}


(HERE / "areas_self_intersecting.geojson").write_text(fc([feat("S1", "蝴蝶街道", bowtie)]), encoding="utf-8")
(HERE / "areas_empty_polygon.geojson").write_text(
    fc([feat("S1", "好街道", sq), {"type": "Feature", "properties": {"code": "S2", "name": "空街道"},
                                   "geometry": {"type": "Polygon", "coordinates": []}}]), encoding="utf-8")

wb = openpyxl.Workbook()
ws = wb.active
ws.append(["坐标", None, "名称"])
ws.merge_cells("A1:B1")
ws.append([112.565, 37.861, "合并表头驿站"])
wb.save(HERE / "sites_merged_header.xlsx")

# ---- hostile input (issue 20) ----------------------------------------------------------------
# names Excel/WPS would evaluate; "'=quoted" and "''twice" are written as an export writes them
# ("'" doubled), since the CSV importer removes exactly the export's "'" prefix
HOSTILE = ['=HYPERLINK("http://evil.example/x","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
           "-2+3", "\t=tab", "'=quoted", "''twice", "=1+1"]


def hostile_csv():
    import csv as _csv
    import io as _io
    buf = _io.StringIO()
    w = _csv.writer(buf, lineterminator="\n")
    w.writerow(["code", "name", "lon", "lat", "kind", "level", "status", "services", "opening_hours",
                "opened_on", "phone"])
    for i, name in enumerate(HOSTILE):
        w.writerow(["=FX5" if i == 0 else f"H{i}", "'" + name if name.startswith("'") else name,
                    f"{112.56 + i * 0.002:.4f}", "37.8600", "love_station", "city_union", "open", "water",
                    "24小时", "2021-01-01", "+86 351 1234567"])
    return buf.getvalue()


(HERE / "sites_formula_names.csv").write_text(hostile_csv(), encoding="utf-8")
(HERE / "sites_control_chars.csv").write_text(
    H_EN + ok("CC-1") + ok("CC-2", 112.57, 37.85, name="坏\x01名字") + ok("CC-3", 112.58, 37.84, name="竖\x0b表"),
    encoding="utf-8")


def sparse_xlsx(path):
    """4.7 KB that declares A1:XFD1048576: one header cell and one cell at XFD1048576."""
    import io as _io
    import zipfile
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData>'
             '<row r="1"><c r="A1" t="inlineStr"><is><t>code</t></is></c></row><row r="1048576">'
             '<c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>')
    wb = openpyxl.Workbook()
    buf = _io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, sheet if item.filename == "xl/worksheets/sheet1.xml" else src.read(item))


sparse_xlsx(HERE / "sites_sparse.xlsx")
