"""Bulk imports (issue 3) on both backends: the column-wise checks and the bulk write keep
every rule of the row-by-row import — dated history, exact values, spatial index, order
of messages, all or nothing."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from geo.store import sites as sitesmod
from geo.store.db import is_sqlite
from geo.errors import InputError
from geo.ingest.import_sites import import_sites
from geo.store.tables import site_history, sites

EFFECTIVE = dt.date(2024, 7, 1)
HEADER = "code,name,lon,lat,level,status,services,opening_hours,opened_on,closed_on,capacity\n"
#: Rows whose history the test spells out; filler rows push the import over the bulk size.
SPECIAL = [
    'A,"引号""与\\反斜杠",112.5650001,37.8610001,市总工会级,open,"饮水、充电",24小时,2021-05-01,,12\n',
    "B,关了的站,112.57,37.85,city_union,closed,,,2020-01-01,2022-03-01,\n",
    "C,暂停的站,112.58,37.84,other,suspended,rest,08:00-20:00,2021-01-01,,\n",
    "D,规划的站,112.59,37.83,,planned,,,,,\n",
    'E,"两行\n名称\t制表",112.60,37.82,,closed,,,2020-01-01,,\n',
]
FILLER = 1200  # > geo.store.bulk_write.BULK_INDEX_ROWS


def _filler(n: int, start: int = 0) -> str:
    return "".join(f"F{i:05d},站{i},{112.4 + i * 1e-4:.7f},{37.7 + (i % 97) * 1e-3:.7f},district_union,"
                   f"open,water,08:00-20:00,2022-02-02,,\n" for i in range(start, start + n))


def _history(conn, code: str):
    sid = conn.execute(sa.select(sites.c.id).where(sites.c.code == code)).scalar_one()
    return sid, conn.execute(sa.select(site_history).where(site_history.c.site_id == sid)
                             .order_by(site_history.c.effective_on, site_history.c.id)).all()


def _spatial_count(conn, box) -> int:
    """Sites inside ``box`` found through the spatial index."""
    x0, y0, x1, y1 = box
    if is_sqlite(conn):
        return conn.exec_driver_sql(
            "SELECT count(*) FROM SpatialIndex WHERE f_table_name = 'sites' AND "
            f"search_frame = BuildMbr({x0}, {y0}, {x1}, {y1}, 4326)").scalar()
    return conn.exec_driver_sql(
        f"SELECT count(*) FROM sites WHERE geom && ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4326)").scalar()


def test_bulk_import_keeps_values_and_dated_history(engine, tmp_path):
    f = tmp_path / "bulk.csv"
    f.write_text(HEADER + "".join(SPECIAL) + _filler(FILLER), encoding="utf-8")
    rep = import_sites(engine, f, kind="love_station", effective_on=EFFECTIVE)
    assert rep.created == len(SPECIAL) + FILLER
    with engine.connect() as conn:
        a = conn.execute(sa.select(sites).where(sites.c.code == "A")).one()
        assert (a.name, a.level, a.status, a.services, a.capacity) == (
            '引号"与\\反斜杠', "city_union", "open", "water,charging", 12)
        assert (a.lon, a.lat, a.opened_on, a.closed_on) == (112.5650001, 37.8610001, dt.date(2021, 5, 1), None)
        assert a.version == 1 and a.created_at == a.updated_at

        # every site: the row is the state replayed from its history, value for value
        for code in ("A", "B", "C", "D", "E", "F00007"):
            sid, hist = _history(conn, code)
            state = sitesmod.replay(hist)
            row = conn.execute(sa.select(sites).where(sites.c.id == sid)).one()
            want = sitesmod.row_values(state)
            assert {k: getattr(row, k) for k in want if k != "geom"} == \
                   {k: v for k, v in want.items() if k != "geom"}, code
            created = hist[0]
            assert created.field == sitesmod.CREATED and created.outcome == "applied"
            assert created.new_value == sitesmod.dumps(json.loads(created.new_value))  # dumps' format

        _, hist = _history(conn, "B")
        assert [(h.field, h.old_value, h.new_value, h.effective_on) for h in hist[1:]] == [
            ("status", '"open"', '"closed"', dt.date(2022, 3, 1)),
            ("closed_on", "null", '"2022-03-01"', dt.date(2022, 3, 1))]
        assert json.loads(hist[0].new_value)["status"] == "open" and hist[0].effective_on == dt.date(2020, 1, 1)
        assert sitesmod.replay(hist, dt.date(2021, 12, 31))["status"] == "open"
        _, hist = _history(conn, "C")
        assert [(h.field, h.new_value, h.effective_on) for h in hist[1:]] == [
            ("status", '"suspended"', EFFECTIVE)]
        _, hist = _history(conn, "D")
        assert len(hist) == 1 and hist[0].effective_on == EFFECTIVE
        assert json.loads(hist[0].new_value)["status"] == "planned"
        sid, hist = _history(conn, "E")
        assert [(h.field, h.effective_on) for h in hist[1:]] == [("status", EFFECTIVE)]
        assert sitesmod.replay(hist)["name"] == "两行\n名称\t制表"
        assert conn.execute(sa.select(sites.c.name).where(sites.c.id == sid)).scalar() == "两行\n名称\t制表"
        assert conn.execute(sa.select(sa.func.count()).select_from(site_history)).scalar() == \
            len(SPECIAL) + FILLER + 4

        # the spatial index holds every new point
        assert _spatial_count(conn, (112.0, 37.0, 113.0, 38.0)) == len(SPECIAL) + FILLER
        assert _spatial_count(conn, (112.56, 37.86, 112.57, 37.87)) >= 1


def test_snapshot_json_is_dumps_of_the_state(engine):
    """States given as dicts (the API, benchmarks): the snapshot is the state, in dumps' format."""
    state = {"kind": "love_station", "level": None, "status": "planned", "name": 'a"b\\c\n中',
             "address": "路1号", "services": ["water", "charging"], "opening_hours": None,
             "phone": "0351", "capacity": 3, "host_org": None, "operator": None, "opened_on": None,
             "closed_on": None, "location": [112.5, 37.8], "src_crs": "gcj02",
             "declared_street": "柳巷", "declared_community": None, "code": "J1"}
    with engine.begin() as conn:
        (sid,) = sitesmod.create_sites(conn, [state], effective_on=EFFECTIVE, actor="t", source="t")
    with engine.connect() as conn:
        _, hist = _history(conn, "J1")
        row = conn.execute(sa.select(sites).where(sites.c.id == sid)).one()
    assert json.loads(hist[0].new_value) == state
    assert hist[0].new_value == sitesmod.dumps(json.loads(hist[0].new_value))
    assert (row.services, row.capacity, row.declared_street, row.src_crs) == ("water,charging", 3, "柳巷", "gcj02")


@pytest.fixture
def spatialite_engine(spatialite_template, tmp_path):
    """SpatiaLite only: its per-row index triggers are what the bulk path replaces."""
    import shutil

    from geo.store.db import engine_from_url
    path = tmp_path / "yizhan.db"
    shutil.copy(spatialite_template, path)
    eng = engine_from_url(f"sqlite:///{path}")
    yield eng
    eng.dispose()


def test_spatialite_triggers_come_back_and_later_writes_are_indexed(spatialite_engine, tmp_path):
    engine = spatialite_engine
    q = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sites' ORDER BY name"
    stamp = "SELECT last_insert FROM geometry_columns_time WHERE f_table_name = 'sites'"
    with engine.connect() as conn:
        before = conn.exec_driver_sql(q).all()
        stamped = conn.exec_driver_sql(stamp).scalar()
    f = tmp_path / "bulk.csv"
    f.write_text(HEADER + _filler(FILLER), encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(q).all() == before
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
        assert conn.exec_driver_sql(stamp).scalar() > stamped
        # the rounded R*Tree boxes are the ones the trigger writes (float32, rounded outwards)
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM sites s JOIN idx_sites_geom i ON i.pkid = s.id WHERE i.xmin <= s.lon "
            "AND i.xmax >= s.lon AND i.ymin <= s.lat AND i.ymax >= s.lat").scalar() == FILLER
    g = tmp_path / "one.csv"
    g.write_text(HEADER + "ONE,单个站,120.5,30.5,,planned,,,,,\n", encoding="utf-8")
    import_sites(engine, g, kind="love_station")  # below the bulk size: the triggers index it
    with engine.connect() as conn:
        assert _spatial_count(conn, (120.4, 30.4, 120.6, 30.6)) == 1


@pytest.mark.parametrize("failing", ["sites", "site_history"])
def test_failed_bulk_write_leaves_everything_as_it_was(engine, tmp_path, fp, monkeypatch, failing):
    f = tmp_path / "bulk.csv"
    f.write_text(HEADER + _filler(FILLER), encoding="utf-8")
    import_sites(engine, f, kind="love_station")
    before = fp(engine)
    real = sitesmod.insert_rows

    def fail(conn, table, columns, rows):
        if table.name == failing:
            rows = list(rows)
            real(conn, table, columns, rows[:10])  # part of it written, then
            raise RuntimeError("disk full")
        real(conn, table, columns, rows)

    monkeypatch.setattr(sitesmod, "insert_rows", fail)
    g = tmp_path / "more.csv"
    g.write_text(HEADER + _filler(FILLER, start=FILLER), encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"):
        import_sites(engine, g, kind="love_station")
    assert fp(engine) == before
    with engine.connect() as conn:
        assert _spatial_count(conn, (100, 30, 120, 40)) == FILLER
    monkeypatch.undo()
    assert import_sites(engine, g, kind="love_station").created == FILLER


def test_problems_come_row_by_row_in_field_order(engine, tmp_path, fp):
    f = tmp_path / "bad.csv"
    f.write_text(HEADER +
                 "X1,站,112.56,37.86,县级,open,water,,去年,,\n"      # level, opened_on
                 "X2,,112.56,abc,city_union,open,按摩,,,,-1\n"        # lat, name, services, capacity
                 "X1,站三,112.57,37.85,,closed,,看情况,2021-01-01,2020-01-01,\n",  # hours, closed_on; code
                 encoding="utf-8")
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        import_sites(engine, f, kind="love_station")
    got = [(p.row, p.field) for p in ei.value.problems]
    assert got == [(3, "lat"),                                    # coordinates first, as before
                   (2, "level"), (2, "opened_on"),
                   (3, "name"), (3, "services"), (3, "capacity"),
                   (4, "opening_hours"), (4, "closed_on"),
                   (2, "code"), (4, "code")]                      # then duplicate codes
    assert "also row 4" in ei.value.problems[-2].message
    assert fp(engine) == before


def test_many_duplicate_codes_name_the_first_other_rows(engine, tmp_path):
    f = tmp_path / "dups.csv"
    f.write_text("code,name,lon,lat\n" + "".join(f"D,站{i},112.5{i},37.8\n" for i in range(8)),
                 encoding="utf-8")
    with pytest.raises(InputError) as ei:
        import_sites(engine, f, kind="love_station", status="planned")
    msgs = {p.row: p.message for p in ei.value.problems}
    assert len(msgs) == 8
    assert msgs[2] == "duplicate code 'D' (also row 3, 4, 5, 6, 7)"
    assert msgs[5] == "duplicate code 'D' (also row 2, 3, 4, 6, 7)"


def test_near_duplicate_check_can_be_turned_off(engine, tmp_path):
    f = tmp_path / "near.csv"
    f.write_text("code,name,lon,lat\nA,柳巷爱心驿站,112.565,37.861\nB,柳巷爱心驿站,112.565,37.861\n",
                 encoding="utf-8")
    assert not import_sites(engine, f, kind="love_station", near_duplicate_m=0, dry_run=True,
                            status="planned").warnings
    rep = import_sites(engine, f, kind="love_station", dry_run=True, status="planned")
    assert [w.row for w in rep.warnings if "duplicate?" in w.message] == [2]


def test_api_body_with_both_coordinates_bad_names_both(engine):
    """A request is a one-row table whose problems have no row number."""
    from geo.services.site_edits import create_site

    with pytest.raises(InputError) as ei:
        create_site(engine, {"code": "R1", "name": "站", "kind": "love_station", "lon": "东经",
                             "lat": "北纬", "status": "planned"}, crs=None, actor="t")
    assert [p.field for p in ei.value.problems] == ["lon", "lat"]


def test_bulk_write_still_enforces_the_geometry_column(engine, backend, tmp_path, fp, monkeypatch):
    """A geometry the column refuses (here: a wrong SRID) fails the whole import."""
    f = tmp_path / "bulk.csv"
    f.write_text(HEADER + _filler(FILLER), encoding="utf-8")
    before = fp(engine)
    real = sitesmod.ewkb_points
    monkeypatch.setattr(sitesmod, "ewkb_points", lambda lon, lat: real(lon, lat, srid=4490))
    with pytest.raises(Exception, match="Geometry constraint" if backend == "spatialite" else "SRID"):
        import_sites(engine, f, kind="love_station")
    assert fp(engine) == before
    monkeypatch.undo()
    assert import_sites(engine, f, kind="love_station").created == FILLER
