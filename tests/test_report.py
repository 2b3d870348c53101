"""Annual report on both backends: exact counts as of several dates from a hand-built history.

The history (love stations A–G, S, P; worker homes W1–W4):

- A 市总工会级, open since 2019-03-01, upgraded to 省总工会级 effective 2021-06-15;
- B 区总工会级, open since 2019-05-01, closed 2021-09-01;
- C 市总工会级, open since 2019-06-01, closed 2020-05-01, reopened 2021-03-01 (counts once);
- D 省政府级 opened 2021-12-31; E 区总工会级 opened 2022-01-01;
- F 区总工会级, building from 2020-01-01, opened 2021-08-01; a back-dated change recorded
  afterwards makes it 市总工会级 from 2021-04-01 (an upgrade while building);
- G 其他, building from 2020-01-01, recorded as opened 2021-10-01, then corrected by a
  back-dated record: opened 2021-02-01;
- S 市总工会级, open since 2019-01-01, suspended 2021-05-01 (still built), no opening hours;
- P planned from 2021-01-01, 3 m from A with a similar name (a suspected duplicate);
- W1 open since 2020-06-01; W2 building from 2021-01-10; W3 surveyed from 2020-03-01, outside
  every street; W4 planned from 2021-07-01, building from 2021-11-01.
"""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest

from geo.store import sites as sitesmod
from geo.errors import InputError
from geo.ingest.import_areas import import_areas
from geo.ingest.import_points import import_demand
from geo.ingest.import_sites import import_sites
from geo.services.annual_report import annual_report, states_as_of
from geo.services.report_render import (charts_png, csv_rows, render, report_to_csv, report_to_html,
                               report_to_json, report_to_markdown, report_to_xlsx, tables)

D = dt.date
HEAD = "code,name,kind,level,status,lon,lat,opening_hours,opened_on"
#: code: (name, kind, level, status, lon, lat, opening_hours, opened_on, import effective_on)
SITES = {
    "A": ("柳巷爱心驿站", "love_station", "city_union", "open", 112.567873, 37.866731, "08:00-20:00", "2019-03-01", D(2020, 1, 1)),
    "B": ("朝阳街环卫驿站", "love_station", "district_union", "open", 112.587536, 37.855008, "24/7", "2019-05-01", D(2020, 1, 1)),
    "C": ("开化寺银行网点", "love_station", "city_union", "open", 112.561896, 37.858674, "09:00-17:00", "2019-06-01", D(2020, 1, 1)),
    "D": ("迎泽公园邮政所", "love_station", "provincial_gov", "open", 112.542383, 37.857634, "24/7", "2021-12-31", D(2020, 1, 1)),
    "E": ("桥东加油站", "love_station", "district_union", "open", 112.586019, 37.856902, "24/7", "2022-01-01", D(2020, 1, 1)),
    "F": ("新建路党群服务中心", "love_station", "district_union", "building", 112.538708, 37.842326, "08:00-18:00", "", D(2020, 1, 1)),
    "G": ("庙前超市", "love_station", "other", "building", 112.583694, 37.846851, "08:00-22:00", "", D(2020, 1, 1)),
    "S": ("双塔环卫所", "love_station", "city_union", "open", 112.571305, 37.856244, "", "2019-01-01", D(2020, 1, 1)),
    "P": ("柳巷爱心驿站（新）", "love_station", "city_union", "planned", 112.567900, 37.866750, "", "", D(2021, 1, 1)),
    "W1": ("文庙供电所职工之家", "worker_home", "", "open", 112.554432, 37.861100, "09:00-17:00", "2020-06-01", D(2020, 1, 1)),
    "W2": ("公交三公司职工之家", "worker_home", "", "building", 112.548986, 37.866368, "", "", D(2021, 1, 10)),
    "W3": ("城外物流园职工之家", "worker_home", "", "surveyed", 112.450000, 37.800000, "", "", D(2020, 3, 1)),
    "W4": ("郝庄环卫职工之家", "worker_home", "", "planned", 112.631643, 37.816251, "", "", D(2021, 7, 1)),
}
#: (code, changes, effective_on) in the order they are recorded; the last two are back-dated.
CHANGES = [
    ("A", {"level": "provincial_union"}, D(2021, 6, 15)),
    ("B", "close", D(2021, 9, 1)),
    ("C", "close", D(2020, 5, 1)),
    ("C", {"status": "open", "closed_on": None}, D(2021, 3, 1)),
    ("F", {"status": "open"}, D(2021, 8, 1)),
    ("G", {"status": "open"}, D(2021, 10, 1)),
    ("S", {"status": "suspended"}, D(2021, 5, 1)),
    ("W4", {"status": "building"}, D(2021, 11, 1)),
    ("F", {"level": "city_union"}, D(2021, 4, 1)),
    ("G", {"status": "open"}, D(2021, 2, 1)),
]

# Expected replayed (status, level) of every existing site; None = not yet created.
OP, CL, BU, SU, PL, SV = "open", "closed", "building", "suspended", "planned", "surveyed"
CU, PU, PG, DU, OT = "city_union", "provincial_union", "provincial_gov", "district_union", "other"
STATES = {
    D(2020, 12, 31): {"A": (OP, CU), "B": (OP, DU), "C": (CL, CU), "F": (BU, DU), "G": (BU, OT),
                      "S": (OP, CU), "W1": (OP, None), "W3": (SV, None)},
    D(2021, 6, 14): {"A": (OP, CU), "B": (OP, DU), "C": (OP, CU), "F": (BU, CU), "G": (OP, OT),
                     "S": (SU, CU), "P": (PL, CU), "W1": (OP, None), "W2": (BU, None), "W3": (SV, None)},
    D(2021, 6, 15): {"A": (OP, PU), "B": (OP, DU), "C": (OP, CU), "F": (BU, CU), "G": (OP, OT),
                     "S": (SU, CU), "P": (PL, CU), "W1": (OP, None), "W2": (BU, None), "W3": (SV, None)},
    D(2021, 12, 31): {"A": (OP, PU), "B": (CL, DU), "C": (OP, CU), "D": (OP, PG), "F": (OP, CU),
                      "G": (OP, OT), "S": (SU, CU), "P": (PL, CU), "W1": (OP, None), "W2": (BU, None),
                      "W3": (SV, None), "W4": (BU, None)},
}
STATES[D(2022, 1, 1)] = dict(STATES[D(2021, 12, 31)], E=(OP, DU))

# W3 lies outside every street: listed, never counted (so no worker home is 已调研).
# (year, as_of, built love stations per level, worker homes (built, planning, surveyed),
#  opened, upgraded, closed in the year (codes), sentence)
CASES = [
    (2020, None, {PG: 0, PU: 0, CU: 2, DU: 1, OT: 0}, (1, 0, 0), ["W1"], [], ["C"],
     "截至2020年底，全区已建成爱心驿站3个，其中省政府级0个、省总工会级0个、市总工会级2个、区总工会级1个；"
     "建成新时代职工之家1个，在建0个，已调研0个。"),
    (2021, D(2021, 6, 14), {PG: 0, PU: 0, CU: 3, DU: 1, OT: 1}, (1, 1, 0), ["G"], ["F"], [],
     "截至2021年6月14日，全区已建成爱心驿站5个，其中省政府级0个、省总工会级0个、市总工会级3个、区总工会级1个、"
     "其他1个；建成新时代职工之家1个，在建1个，已调研0个。"),
    (2021, D(2021, 6, 15), {PG: 0, PU: 1, CU: 2, DU: 1, OT: 1}, (1, 1, 0), ["G"], ["F", "A"], [],
     "截至2021年6月15日，全区已建成爱心驿站5个，其中省政府级0个、省总工会级1个、市总工会级2个、区总工会级1个、"
     "其他1个；建成新时代职工之家1个，在建1个，已调研0个。"),
    (2021, None, {PG: 1, PU: 1, CU: 3, DU: 0, OT: 1}, (1, 2, 0), ["G", "F", "D"], ["F", "A"], ["B"],
     "截至2021年底，全区已建成爱心驿站6个，其中省政府级1个、省总工会级1个、市总工会级3个、其他1个；"
     "建成新时代职工之家1个，在建2个，已调研0个。"),
    (2022, D(2022, 1, 1), {PG: 1, PU: 1, CU: 3, DU: 1, OT: 1}, (1, 2, 0), ["E"], [], [],
     "截至2022年1月1日，全区已建成爱心驿站7个，其中省政府级1个、省总工会级1个、市总工会级3个、区总工会级1个、"
     "其他1个；建成新时代职工之家1个，在建2个，已调研0个。"),
]


def _import(engine, tmp_path, codes, when):
    path = tmp_path / f"sites_{when}.csv"
    rows = [",".join(map(str, (c,) + SITES[c][:8])) for c in codes]
    path.write_text(HEAD + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    import_sites(engine, path, effective_on=when, actor="test")


@pytest.fixture
def hist(engine, data_dir, tmp_path):
    """The hand-built history on a fresh database (streets loaded, two demand points)."""
    import_areas(engine, data_dir / "streets.geojson", level="street")
    for when in sorted({s[8] for s in SITES.values()}):
        _import(engine, tmp_path, [c for c, s in SITES.items() if s[8] == when], when)
    with engine.begin() as conn:
        ids = dict(conn.exec_driver_sql("SELECT code, id FROM sites").all())
        for code, change, when in CHANGES:
            kw = dict(effective_on=when, actor="test", source="test_report")
            if change == "close":
                sitesmod.close_site(conn, ids[code], **kw)
            else:
                assert sitesmod.update_site(conn, ids[code], change, **kw), (code, change)
    demand = tmp_path / "demand.csv"
    demand.write_text("code,name,lon,lat,weight\nd1,柳巷外卖站,112.567873,37.866731,10\n"
                      "d2,城外工地,112.45,37.80,5\n", encoding="utf-8")
    import_demand(engine, demand, replace=True)
    return engine


def _report(engine, year, as_of=None, **kw):
    with engine.connect() as conn:
        return annual_report(conn, year=year, as_of=as_of, **kw)


@pytest.mark.parametrize("as_of", list(STATES), ids=str)
def test_states_as_of_replays_every_change_on_its_date(hist, as_of):
    with hist.connect() as conn:
        df = states_as_of(conn, as_of)
        love = states_as_of(conn, as_of, kind="love_station")
    got = {r.code: (r.status, r.level if isinstance(r.level, str) else None) for r in df.itertuples()}
    assert got == STATES[as_of]
    assert set(love.code) == {c for c in STATES[as_of] if not c.startswith("W")}
    c = df.set_index("code")
    assert c.loc["A", "street"] == "柳巷街道" and c.loc["A", "opening_hours"] == "08:00-20:00"
    assert c.loc["A", "lon"] == pytest.approx(112.567873) and c.loc["A", "lat"] == pytest.approx(37.866731)
    assert c.loc["A", "opened_on"] == D(2019, 3, 1)
    assert not isinstance(c.loc["W3", "street"], str)  # outside every street
    if as_of >= D(2021, 3, 1):  # C reopened: closed_on cleared again
        assert c.loc["C", "closed_on"] is None


@pytest.mark.parametrize("year,as_of,levels,stages,opened,upgraded,closed,sentence", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_counts_as_of_dates(hist, year, as_of, levels, stages, opened, upgraded, closed, sentence):
    r = _report(hist, year, as_of)
    assert r["sentence"] == sentence
    assert {x["level"]: x["built"] for x in r["by_level"]} == levels
    totals = {x["kind"]: x["built"] for x in r["totals"]}
    assert totals == {"love_station": sum(levels.values()), "worker_home": stages[0]}
    assert [s["count"] for s in r["worker_homes_by_stage"]] == [stages[2], stages[1], stages[0]]
    assert [s["code"] for s in r["opened_in_year"]["sites"]] == opened
    assert r["opened_in_year"]["count"] == len(opened)
    assert [s["code"] for s in r["upgraded_in_year"]["sites"]] == upgraded
    assert r["upgraded_in_year"]["count"] == len(upgraded)
    assert [s["code"] for s in r["closed_in_year"]["sites"]] == closed
    # by_status agrees with the replayed states
    states = STATES[as_of or D(year, 12, 31)]
    for row in r["by_status"]:
        kind_codes = [c for c in states if c.startswith("W") == (row["kind"] == "worker_home") and c != "W3"]
        for status, n in row["counts"].items():
            assert n == sum(states[c][0] == status for c in kind_codes), (row["kind"], status)
    # street rows add up to the totals
    assert sum(x["built"]["love_station"] for x in r["by_street"]) == totals["love_station"]


def test_year_details(hist):
    r = _report(hist, 2021)
    up = {s["code"]: (s["from"], s["to"], s["date"]) for s in r["upgraded_in_year"]["sites"]}
    assert up == {"A": (CU, PU, "2021-06-15"), "F": (DU, CU, "2021-04-01")}
    assert sorted((c["from"], c["to"], c["count"]) for c in r["upgraded_in_year"]["by_change"]) == \
        [(CU, PU, 1), (DU, CU, 1)]
    opened = {s["code"]: s["date"] for s in r["opened_in_year"]["sites"]}
    assert opened == {"G": "2021-02-01", "F": "2021-08-01", "D": "2021-12-31"}  # C reopened: not new
    assert r["closed_in_year"]["sites"][0] | {"from_status": OP} == r["closed_in_year"]["sites"][0]
    assert r["closed_in_year"]["sites"][0]["date"] == "2021-09-01"
    prev = {(x["kind"], x["level"], x["stage"]): (x["current"], x["previous"], x["delta"])
            for x in r["previous_year"]["rows"]}
    assert r["previous_year"]["as_of"] == "2020-12-31"
    assert prev[("love_station", None, None)] == (6, 3, 3)
    assert prev[("love_station", PG, None)] == (1, 0, 1)
    assert prev[("love_station", DU, None)] == (0, 1, -1)
    assert prev[("worker_home", None, "planning")] == (2, 0, 2)
    assert [(c["year"], c["built"]) for c in r["cumulative_by_year"]] == [(2019, 4), (2020, 3), (2021, 6)]
    street = {x["street"]: (x["levels"], x["built"]) for x in r["by_street"]}
    assert street["柳巷街道"][0] == {PG: 0, PU: 1, CU: 1, DU: 0, OT: 0}
    assert street["迎泽街道"][0] == {PG: 1, PU: 0, CU: 1, DU: 0, OT: 0}
    assert street["庙前街道"][0] == {PG: 0, PU: 0, CU: 1, DU: 0, OT: 1}
    assert street["桥东街道"][1] == {"love_station": 0, "worker_home": 0}
    assert street["文庙街道"][1] == {"love_station": 0, "worker_home": 1}
    assert "未划分" not in street and r["by_community"] is None
    dq = r["data_quality"]
    assert [s["code"] for s in dq["without_street"]["sites"]] == ["W3"]
    assert [s["code"] for s in dq["missing_opening_hours"]["sites"]] == ["S"]
    assert [(p["code"], p["other_code"]) for p in dq["suspected_duplicates"]["pairs"]] == [("A", "P")]
    assert r["coverage"] is None
    r = _report(hist, 2021, radius_m=100, by_community=True)
    assert r["coverage"]["demand_weight"] == 15 and r["coverage"]["covered_weight"] == 10
    assert r["coverage"]["coverage_rate"] == pytest.approx(0.6667)
    assert sum(x["built"]["love_station"] for x in r["by_community"]) == 6


def test_bad_arguments(hist):
    with pytest.raises(InputError, match="not in 2021"):
        _report(hist, 2021, D(2022, 3, 1))
    with pytest.raises(InputError, match="radius"):
        _report(hist, 2021, radius_m=-5)


def test_empty_database(engine):
    r = _report(engine, 2021)
    assert r["sentence"] == ("截至2021年底，全区已建成爱心驿站0个，其中省政府级0个、省总工会级0个、市总工会级0个；"
                             "建成新时代职工之家0个，在建0个，已调研0个。")
    assert render(r, "xlsx")[:2] == b"PK" and r["cumulative_by_year"] == [
        {"year": 2021, "as_of": "2021-12-31", "built": 0, "by_level": {x["level"]: 0 for x in r["by_level"]},
         "by_kind": {"love_station": 0, "worker_home": 0}}]


def test_formats(hist, tmp_path):
    r = _report(hist, 2021, radius_m=100, by_community=True)
    assert report_to_json(r).decode("utf-8").count(r["sentence"]) == 1
    md = report_to_markdown(r)
    assert r["sentence"] in md and "| 柳巷街道 |" in md
    rows = list(csv_rows(r))
    assert ("totals", "love_station", "", 6) in rows and ("by_level", "love_station", PG, 1) in rows
    assert ("by_street", "迎泽街道", PG, 1) in rows and ("upgraded_in_year", CU, PU, 1) in rows
    text = report_to_csv(r)
    assert text.startswith("section,key,level,value\n") and "by_level,love_station,city_union,3\n" in text
    assert render(r, "csv").startswith("\ufeffsection".encode())
    # XLSX: one sheet per table, Chinese headers, numbers as numbers equal to the JSON's
    path = tmp_path / "r.xlsx"
    report_to_xlsx(r, path)
    wb = openpyxl.load_workbook(path)
    assert wb["摘要"]["B4"].value == r["sentence"]
    got = {row[0]: row[1] for row in wb["按级别"].iter_rows(min_row=2, values_only=True)}
    assert got == {x["level_zh"]: x["built"] for x in r["by_level"]}
    assert all(type(v) is int for v in got.values())
    got = {row[0]: row[1] for row in wb["总量"].iter_rows(min_row=2, values_only=True)}
    assert got == {"爱心驿站": 6, "职工之家": 1}
    for t in tables(r):
        sheet = wb[t.sheet]
        assert [c.value for c in sheet[1]][:len(t.headers)] == t.headers
        for want, row in zip(t.rows, sheet.iter_rows(min_row=2, values_only=True)):
            row = [v.date().isoformat() if isinstance(v, dt.datetime) else v for v in row[:len(want)]]
            assert row == [None if w == "" else w for w in want], t.name
    assert len(wb["图表"]._images) == 2
    # charts and HTML: self-contained
    png = charts_png(r)
    assert set(png) == {"by_street", "cumulative"} and all(p.startswith(b"\x89PNG") for p in png.values())
    html = report_to_html(r)
    assert r["sentence"] in html and html.count('src="data:image/png;base64,') == 2
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "<script" not in html
    assert render(r, "html") == html.encode("utf-8")


def test_demo_2021_sentence_matches_states(engine):
    from geo.ingest.demo import build_demo

    build_demo(engine)
    with engine.connect() as conn:
        r = annual_report(conn, year=2021, radius_m=500)
        df = states_as_of(conn, D(2021, 12, 31))
    built = df[df.status.isin(["open", "suspended"])]
    love = built[built.kind == "love_station"]
    wh = df[df.kind == "worker_home"]
    n = love.level.value_counts()
    names = [("provincial_gov", "省政府级"), ("provincial_union", "省总工会级"), ("city_union", "市总工会级"),
             ("district_union", "区总工会级"), ("other", "其他")]
    parts = [f"{zh}{n.get(c, 0)}个" for i, (c, zh) in enumerate(names) if i < 3 or n.get(c, 0)]
    assert r["sentence"] == (
        f"截至2021年底，全区已建成爱心驿站{len(love)}个，其中{'、'.join(parts)}；"
        f"建成新时代职工之家{int((built.kind == 'worker_home').sum())}个，"
        f"在建{int(wh.status.isin(['planned', 'building']).sum())}个，已调研{int((wh.status == 'surveyed').sum())}个。")
    assert len(love) == r["cumulative_by_year"][-1]["built"] > r["cumulative_by_year"][0]["built"]
    assert 0 < r["coverage"]["coverage_rate"] < 1
    for fmt in ("md", "html", "xlsx", "csv", "json"):
        assert render(r, fmt)


@pytest.mark.browser
def test_html_renders_in_headless_chromium(hist, tmp_path):
    from conftest import chromium
    path = tmp_path / "r.html"
    path.write_text(report_to_html(_report(hist, 2021)), encoding="utf-8")
    errors = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda req: errors.append(req.url) if not req.url.startswith(("file:", "data:")) else None)
        page.goto(path.as_uri())
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth)")
        text = page.inner_text("#sentence")
    assert errors == [] and len(widths) == 2 and all(w and w > 100 for w in widths)
    assert text.startswith("截至2021年底，全区已建成爱心驿站6个")


def test_json_bytes_roundtrip(hist):
    import json

    r = _report(hist, 2021)
    assert json.loads(report_to_json(r)) == r
    assert io.BytesIO(render(r, "xlsx")).read(2) == b"PK"
