"""Site imports never guess silently (issue 13): status and opening-date defaults, matching on
--upsert, coordinate systems that do not fit, sites outside the streets. Both backends."""
from __future__ import annotations

import datetime as dt

import prcoords
import pytest
import sqlalchemy as sa

from geo.engine import clock
from geo.errors import InputError
from geo.engine.geodesy import distance_m
from geo.ingest.import_areas import import_areas
from geo.ingest.import_sites import import_sites
from geo.store.tables import sites
from geo.ingest.records import NO_STATUS

#: WGS-84 points inside the demo's streets (name, level label, lon, lat).
PLACES = [("柳巷爱心驿站", "市总工会级", 112.567873, 37.866731), ("朝阳街环卫驿站", "区总工会级", 112.587536, 37.855008),
          ("开化寺银行网点", "市总工会级", 112.561896, 37.858674), ("迎泽公园邮政所", "省总工会级", 112.542383, 37.857634)]
TODAY = clock.today()  # the service zone's date (Asia/Shanghai), as the product counts days


def gcj(lon, lat):
    c = prcoords.wgs_gcj((lat, lon))
    return c.lon, c.lat


def bd(lon, lat):
    c = prcoords.wgs_bd((lat, lon))
    return c.lon, c.lat


def office_file(path, shift=gcj):
    """The issue's GBK station list: no 状态, 建成日期 or 编号; 高德 (GCJ-02) coordinates."""
    rows = ["名称,经度,纬度,级别,地址,开放时间,服务"]
    for name, level, lon, lat in PLACES:
        x, y = shift(lon, lat)
        rows.append(f"{name},{x:.6f},{y:.6f},{level},太原市迎泽区,08:00-20:00,饮水、充电")
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    return path


def _sites(engine):
    with engine.connect() as conn:
        return {r.name: r for r in conn.execute(sa.select(sites))}


@pytest.fixture
def streets(engine, data_dir):
    import_areas(engine, data_dir / "streets.geojson", level="street")
    return engine


def test_office_file_scenario(streets, tmp_path, fp):
    engine = streets
    f = office_file(tmp_path / "站点.csv")
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        import_sites(engine, f, kind="love_station")
    assert [str(p) for p in ei.value.problems] == [f"站点.csv, row {i}, field status: {NO_STATUS}" for i in range(2, 6)]
    assert NO_STATUS == ("no status: the row has no status/状态 and no opened_on/建成日期; fill them in, "
                         "or give --status (e.g. --status open) for rows without a status")
    assert fp(engine) == before

    rep = import_sites(engine, f, kind="love_station", status="open", crs="gcj02")
    assert (rep.created, rep.updated) == (4, 0)
    assert [w.message for w in rep.warnings if w.field == "opened_on"] == [
        f"4 new open site(s) have no opening date (rows 2, 3, 4, 5): they count as built from the import "
        f"day, {TODAY}, and every report says so; give --opened-on DATE or an opened_on/建成日期 column to date them"]
    got = _sites(engine)
    for name, _, lon, lat in PLACES:
        assert got[name].status == "open" and got[name].opened_on is None
        assert distance_m(got[name].lon, got[name].lat, lon, lat) < 1

    before = fp(engine)
    with pytest.raises(InputError) as ei:  # the README's re-import, without --crs gcj02
        import_sites(engine, f, upsert=True, effective_on=dt.date(2024, 7, 1))
    d = [float(distance_m(*gcj(lon, lat), got[name].lon, got[name].lat)) for name, _, lon, lat in PLACES]
    assert [str(p) for p in ei.value.problems] == [
        f"站点.csv, field crs: 4 of the 4 rows that match existing sites lie {min(d):.0f}–{max(d):.0f} m from the "
        "stored points when read as wgs84, and on them when read as GCJ-02 (高德/腾讯): the file's coordinates "
        "look like gcj02; import it with --crs gcj02"]
    assert 300 < min(d) < max(d) < 700
    assert fp(engine) == before

    rep = import_sites(engine, f, upsert=True, effective_on=dt.date(2024, 7, 1), crs="gcj02")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 4)
    assert fp(engine) == before  # not doubled, nothing rewritten


def test_cli_status_flag_and_refusal(db_url, engine, tmp_path, fp):
    from tests.test_cli import run
    f = office_file(tmp_path / "站点.csv")
    before = fp(engine)
    r = run(db_url, "import", "sites", f, "--kind", "love_station", "--crs", "gcj02")
    assert r.returncode == 1
    assert f"  站点.csv, row 2, field status: {NO_STATUS}" in r.stderr.splitlines()
    assert fp(engine) == before
    r = run(db_url, "import", "sites", f, "--kind", "love_station", "--crs", "gcj02", "--status", "open",
            "--opened-on", "2020-05-01")
    assert r.returncode == 0, r.stderr
    assert "站点.csv: imported 4 site rows — 4 new, 0 updated, 0 unchanged" in r.stdout
    assert {(s.status, s.opened_on) for s in _sites(engine).values()} == {("open", dt.date(2020, 5, 1))}
    before = fp(engine)
    r = run(db_url, "import", "sites", f, "--upsert", "--effective-on", "2024-07-01")  # the README's line
    assert r.returncode == 1 and r.stderr.rstrip().endswith("import it with --crs gcj02")
    assert fp(engine) == before
    r = run(db_url, "import", "sites", f, "--upsert", "--effective-on", "2024-07-01", "--crs", "gcj02")
    assert r.returncode == 0 and "0 new, 0 updated, 4 unchanged" in r.stdout
    assert fp(engine) == before
    r = run(db_url, "import", "sites", f, "--kind", "love_station", "--status", "开放中")
    assert r.returncode == 1 and "field --status: unknown status '开放中'" in r.stderr


def test_opened_on_and_status_defaults_fill_only_empty_cells(engine, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("code,name,lon,lat,status,opened_on\nA,甲,112.56,37.86,,\nB,乙,112.57,37.86,planned,\n"
                 "C,丙,112.58,37.86,,2019-03-01\nD,丁,112.59,37.86,open,\n", encoding="utf-8")
    rep = import_sites(engine, f, kind="worker_home", status="surveyed", opened_on=dt.date(2021, 1, 2))
    got = {s.code: (s.status, s.opened_on) for s in _sites(engine).values()}
    assert got == {"A": ("open", dt.date(2021, 1, 2)), "B": ("planned", None),
                   "C": ("open", dt.date(2019, 3, 1)), "D": ("open", dt.date(2021, 1, 2))}
    assert not [w for w in rep.warnings if w.field == "opened_on"]
    g = tmp_path / "g.csv"
    g.write_text("code,name,lon,lat,status\nE,戊,112.56,37.85,\nF,己,112.57,37.85,building\n", encoding="utf-8")
    import_sites(engine, g, kind="worker_home", status="planned")
    assert {s.code: s.status for s in _sites(engine).values()}.items() >= {"E": "planned", "F": "building"}.items()


def test_upsert_keeps_empty_cells_and_absent_columns(engine, tmp_path):
    f = tmp_path / "full.csv"
    f.write_text("code,name,lon,lat,level,status,services,opening_hours,opened_on,phone\n"
                 "K1,甲站,112.56,37.86,city_union,open,\"water,charging\",08:00-20:00,2020-01-01,123\n"
                 "K2,乙站,112.57,37.86,district_union,open,water,24小时,2020-02-01,456\n", encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    before = {c: tuple(getattr(s, c) for c in ("level", "status", "services", "opening_hours", "opened_on",
                                                "phone", "kind", "version")) for c, s in
              ((s.code, s) for s in _sites(engine).values())}
    g = tmp_path / "partial.csv"  # no kind, no status column; K1's level cell empty, K2's level changes
    g.write_text("code,name,lon,lat,level,services\nK1,甲站,112.56,37.86,,\nK2,乙站,112.57,37.86,provincial_union,\n",
                 encoding="utf-8")
    rep = import_sites(engine, g, upsert=True, effective_on=dt.date(2024, 7, 1))
    assert (rep.created, rep.updated, rep.unchanged) == (0, 1, 1)
    after = {s.code: s for s in _sites(engine).values()}
    k1 = after["K1"]
    assert tuple(getattr(k1, c) for c in ("level", "status", "services", "opening_hours", "opened_on", "phone",
                                          "kind", "version")) == before["K1"]
    k2 = after["K2"]
    assert (k2.level, k2.status, k2.services, k2.phone, k2.version) == ("provincial_union", "open", "water", "456", 2)


def test_upsert_new_row_without_kind_names_the_row(engine, tmp_path, fp):
    f = tmp_path / "a.csv"
    f.write_text("code,name,lon,lat,status\nK1,甲站,112.56,37.86,open\n", encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    g = tmp_path / "b.csv"
    g.write_text("code,name,lon,lat,status\nK1,甲站,112.56,37.86,open\nK9,新站,112.58,37.86,open\n", encoding="utf-8")
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        import_sites(engine, g, upsert=True)
    assert [str(p) for p in ei.value.problems] == ["b.csv, row 3, field kind: no kind: give --kind or a kind/类型 column"]
    assert fp(engine) == before
    with pytest.raises(InputError) as ei:
        import_sites(engine, g, upsert=True, kind="worker_home")
    assert [str(p) for p in ei.value.problems] == [
        "b.csv, row 2, field kind: the row updates K1, a love_station: --kind worker_home does not change "
        "kinds (give a kind/类型 column)"]
    assert fp(engine) == before
    rep = import_sites(engine, g, upsert=True, kind="love_station")
    assert (rep.created, rep.unchanged) == (1, 1)


def test_match_by_name_ambiguous_and_without_upsert(engine, tmp_path, fp):
    f = tmp_path / "coded.csv"
    f.write_text("code,name,lon,lat,status\nA1,双塔驿站,112.56,37.86,open\nA2,双塔驿站,112.59,37.84,open\n"
                 "A3,柳巷驿站,112.57,37.86,open\n", encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    g = tmp_path / "names.csv"
    g.write_text("name,lon,lat,status\n双塔驿站,112.56,37.86,open\n", encoding="utf-8")
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        import_sites(engine, g, kind="love_station", upsert=True)
    assert [str(p) for p in ei.value.problems] == [
        "names.csv, row 2, field name: '双塔驿站' matches 2 existing sites (A1, A2): give a code/编号 column to say which"]
    h = tmp_path / "again.csv"
    h.write_text("name,lon,lat,status\n柳巷驿站,112.5701,37.8601,open\n", encoding="utf-8")
    with pytest.raises(InputError) as ei:
        import_sites(engine, h, kind="love_station")
    assert [str(p) for p in ei.value.problems] == [
        "again.csv, row 2, field name: a love_station named '柳巷驿站' exists already (code A3): "
        "use --upsert to update it"]
    d = tmp_path / "dup.csv"
    d.write_text("name,lon,lat,status\n新驿站,112.55,37.86,open\n新驿站,112.58,37.85,open\n", encoding="utf-8")
    with pytest.raises(InputError) as ei:
        import_sites(engine, d, kind="love_station")
    assert [str(p) for p in ei.value.problems] == [
        "dup.csv, row 3, field name: love_station '新驿站' is also in row 2: without a code/编号 column, "
        "sites are told apart by kind and name"]
    assert fp(engine) == before
    rep = import_sites(engine, h, kind="love_station", upsert=True, effective_on=TODAY)
    assert (rep.created, rep.updated) == (0, 1)
    assert _sites(engine)["柳巷驿站"].code == "A3" and _sites(engine)["柳巷驿站"].lon == 112.5701


def test_bd09_offset_of_matched_sites_is_refused(engine, tmp_path, fp):
    f = tmp_path / "w.csv"
    rows = [f"B{i},{name},{lon},{lat},open" for i, (name, _, lon, lat) in enumerate(PLACES)]
    f.write_text("code,name,lon,lat,status\n" + "\n".join(rows) + "\n", encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    g = tmp_path / "b.csv"
    rows = [f"B{i},{name},{bd(lon, lat)[0]:.6f},{bd(lon, lat)[1]:.6f}" for i, (name, _, lon, lat) in enumerate(PLACES)]
    g.write_text("code,name,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        import_sites(engine, g, upsert=True)
    d = [float(distance_m(*bd(lon, lat), lon, lat)) for _, _, lon, lat in PLACES]
    assert [str(p) for p in ei.value.problems] == [
        f"b.csv, field crs: 4 of the 4 rows that match existing sites lie {min(d):.0f}–{max(d):.0f} m from the "
        "stored points when read as wgs84, and on them when read as BD-09 (百度): the file's coordinates look like "
        "bd09; import it with --crs bd09"]
    assert fp(engine) == before
    rep = import_sites(engine, g, upsert=True, crs="bd09")  # millimetres of rounding: moved, not new
    assert (rep.created, rep.updated) == (0, 4)
    got = _sites(engine)
    assert all(distance_m(got[name].lon, got[name].lat, lon, lat) < 0.5 for name, _, lon, lat in PLACES)


def test_first_import_that_fits_the_streets_as_gcj02_is_loud(engine, tmp_path):
    """A street square; stations 100 m inside its east edge given in GCJ-02 but without --crs."""
    import json
    x0, y0, x1, y1 = 112.50, 37.80, 112.60, 37.90
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    a = tmp_path / "street.geojson"
    a.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "code": "S1", "name": "方块街道"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}), encoding="utf-8")
    import_areas(engine, a, level="street")
    f = tmp_path / "east.csv"
    pts = [gcj(x1 - 0.0012, 37.82 + 0.02 * k) for k in range(4)] + [gcj(112.55, 37.85)]
    f.write_text("code,name,lon,lat,status\n" + "".join(f"E{k},东{k}站,{x:.6f},{y:.6f},planned\n"
                                                         for k, (x, y) in enumerate(pts)), encoding="utf-8")
    rep = import_sites(engine, f, kind="love_station", dry_run=True)
    assert [str(w) for w in rep.warnings if w.field == "crs"] == [
        "east.csv, field crs: no --crs given, so the points were read as WGS-84 (GPS): 4 of 5 lie outside every "
        "loaded street; read as GCJ-02 (高德/腾讯) 0 would. If the coordinates come from 高德/腾讯, import with --crs gcj02"]
    assert [w.row for w in rep.warnings if w.field == "lon/lat"] == [2, 3, 4, 5]
    rep = import_sites(engine, f, kind="love_station", crs="gcj02", dry_run=True)
    assert not [w for w in rep.warnings if w.field in ("crs", "lon/lat")]


def test_outside_every_street_is_reported_at_import(streets, tmp_path):
    f = tmp_path / "far.csv"
    f.write_text("code,name,lon,lat,status,level\nIN,柳巷驿站,112.567873,37.866731,planned,\n"
                 "BJ,天安门驿站,116.397,39.909,planned,\n", encoding="utf-8")
    rep = import_sites(streets, f, kind="love_station")
    assert [str(w) for w in rep.warnings if w.field == "lon/lat"] == [
        "far.csv, row 3, field lon/lat: '天安门驿站' lies outside every loaded street: the annual report lists it "
        "but does not count it in the district's totals (coverage still counts it)"]


def test_other_defaults_are_loud(engine, tmp_path, corpus):
    f = tmp_path / "k.csv"
    f.write_text("code,name,lon,lat,status,level\nL1,双塔驿站,112.56,37.86,open,\nL2,文庙驿站,112.57,37.86,open,市总工会级\n",
                 encoding="utf-8")
    rep = import_sites(engine, f, kind="love_station", opened_on=dt.date(2020, 1, 1))
    assert [str(w) for w in rep.warnings] == [
        "k.csv, field level: 1 new built love station(s) have no level/级别 (rows 2): the report counts them "
        "as 未定级 (no level)"]
    g = tmp_path / "h.csv"
    g.write_text("name,lon,lat,status\n双塔驿站,112.59,37.84,planned\n", encoding="utf-8")
    rep = import_sites(engine, g, kind="worker_home")
    assert [str(w) for w in rep.warnings if w.field == "name"] == [
        "h.csv, row 2, field name: '双塔驿站' is also the name of love_station L1: two sites, or a wrong kind?"]
    assert [str(w) for w in rep.warnings if w.field == "code"] == [
        "h.csv, field code: no code/编号 column: codes were generated for 1 new site(s) from kind, name and "
        "point; a later --upsert of this file finds them by kind and name"]
    with pytest.raises(InputError) as ei:  # hours that do not parse are an error, never "unknown"
        import_sites(engine, corpus / "sites_bad_hours.csv", kind="love_station")
    assert [(p.row, p.field) for p in ei.value.problems] == [(2, "opening_hours")]


def test_api_create_without_status_is_refused(engine, fp):
    from geo.services.site_edits import create_site
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        create_site(engine, {"code": "R1", "name": "站", "kind": "love_station", "lon": 112.56, "lat": 37.86},
                    crs=None, actor="t")
    assert ei.value.message == 'status: no status: give status (e.g. "open") or opened_on (which means open)'
    assert fp(engine) == before
