"""The annual report says what it does not count and what it dates by guess (issue 13), in
every format, on both backends."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from geo.engine import clock
from geo.ingest.import_areas import import_areas
from geo.ingest.import_points import import_demand
from geo.ingest.import_sites import import_sites
from geo.services.annual_report import annual_report
from geo.services.report_render import csv_rows, render, report_to_html, report_to_markdown

TODAY = clock.today()  # the service zone's date (Asia/Shanghai), as the product counts days
NOTES = ["其中1个站点未填建成日期，按导入日期计（名单见数据质量明细）",
         "另有1个站点不在任何已导入街道内，未计入全区合计（名单见数据质量明细）"]


def _load(engine, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("code,name,lon,lat,level,status,opened_on\n"
                 "IN1,柳巷爱心驿站,112.567873,37.866731,city_union,open,2020-01-01\n"
                 "IN2,朝阳街环卫驿站,112.587536,37.855008,district_union,open,\n"
                 "BJ,天安门驿站,116.397,39.909,city_union,open,2020-01-01\n", encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    d = tmp_path / "d.csv"
    d.write_text("code,name,lon,lat,weight\nd1,外卖站,112.567873,37.866731,10\nd2,北京工地,116.397,39.9091,5\n",
                 encoding="utf-8")
    import_demand(engine, d)


def _report(engine, **kw):
    with engine.connect() as conn:
        return annual_report(conn, year=TODAY.year, as_of=TODAY, **kw)


def test_outside_sites_listed_not_counted_and_undated_noted(engine, data_dir, tmp_path):
    import_areas(engine, data_dir / "streets.geojson", level="street")
    _load(engine, tmp_path)
    r = _report(engine, radius_m=100)
    when = f"{TODAY.year}年底" if (TODAY.month, TODAY.day) == (12, 31) else f"{TODAY.year}年{TODAY.month}月{TODAY.day}日"
    assert r["sentence"] == (f"截至{when}，全区已建成爱心驿站2个，其中省政府级0个、省总工会级0个、市总工会级1个、"
                             "区总工会级1个；建成新时代职工之家0个，在建0个，已调研0个。")
    assert {x["kind"]: x["built"] for x in r["totals"]}["love_station"] == 2
    assert sum(x["built"]["love_station"] for x in r["by_street"]) == 2
    assert "未划分" not in [x["street"] for x in r["by_street"]]
    assert r["by_status"][0]["total"] == 2
    assert r["notes"] == NOTES
    out = r["data_quality"]["without_street"]
    assert out["count"] == 1 and [s["code"] for s in out["sites"]] == ["BJ"]
    m = re.fullmatch(r"不在任何已导入街道内（距最近的(\S+?)约(\d+\.\d)公里），不计入全区合计", out["sites"][0]["why"])
    assert m and 350 < float(m.group(2)) < 450, out["sites"][0]["why"]
    und = r["data_quality"]["undated_built"]
    assert und["count"] == 1 and [s["code"] for s in und["sites"]] == ["IN2"]
    cov = r["coverage"]  # the outside station still covers the demand next to it
    assert (cov["sites"], cov["demand_weight"], cov["covered_weight"]) == (3, 15.0, 15.0)

    md = report_to_markdown(r)
    assert "；".join(NOTES) in md and "| 未落入任何街道 | BJ | 天安门驿站 | " + out["sites"][0]["why"] + " |" in md
    assert "| 已建成但未填建成日期（按导入日期计） | IN2 | 朝阳街环卫驿站 |  |" in md
    html = report_to_html(r)
    assert "；".join(NOTES) in html and out["sites"][0]["why"] in html
    rows = csv_rows(r)
    assert ("data_quality", "undated_built", "", 1) in rows and ("data_quality", "without_street", "", 1) in rows
    assert "data_quality,undated_built,,1" in render(r, "csv").decode("utf-8-sig")
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(render(r, "xlsx")))
    assert "；".join(NOTES) in [c.value for c in wb["总量"][1]]
    detail = [tuple(c.value for c in row) for row in wb["质量明细"].iter_rows(min_row=2)]
    assert ("未落入任何街道", "BJ", "天安门驿站", out["sites"][0]["why"]) in detail
    assert ("已建成但未填建成日期（按导入日期计）", "IN2", "朝阳街环卫驿站", None) in detail
    assert dict((row[0], row[1]) for row in wb["数据质量"].iter_rows(min_row=2, values_only=True))[
        "已建成但未填建成日期（按导入日期计）"] == 1


def test_without_streets_everything_counts_and_says_so(engine, tmp_path):
    _load(engine, tmp_path)
    r = _report(engine)
    assert {x["kind"]: x["built"] for x in r["totals"]}["love_station"] == 3
    assert r["notes"] == NOTES[:1]
    assert {s["code"]: s["why"] for s in r["data_quality"]["without_street"]["sites"]} == dict.fromkeys(
        ["IN1", "IN2", "BJ"], "尚未导入街道区划，计入全区合计")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_no_notes_when_nothing_is_guessed(engine, tmp_path, fmt):
    f = tmp_path / "s.csv"
    f.write_text("code,name,lon,lat,level,status,opened_on\nA,甲,112.56,37.86,city_union,open,2020-01-01\n",
                 encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    r = _report(engine)
    assert r["notes"] == [] and "未填建成日期，按导入日期计（" not in render(r, fmt).decode("utf-8")
