"""Imports on both backends: encodings, headers, coordinate systems, all-or-nothing."""
from __future__ import annotations

import datetime as dt

import prcoords
import pytest
import sqlalchemy as sa

from geo.errors import InputError
from geo.engine.geodesy import distance_m
from geo.ingest.import_areas import import_areas
from geo.ingest.import_sites import import_sites
from geo.store.tables import site_history, sites


def _sites(engine):
    with engine.connect() as conn:
        return {r.code: r for r in conn.execute(sa.select(sites))}


def test_spatialite_functions_run(engine, backend):
    """The DBAPI really has the spatial extension loaded (the pyenv trap)."""
    with engine.connect() as conn:
        wkt = conn.execute(sa.text("SELECT ST_AsText(ST_Buffer(ST_GeomFromText('POINT(1 2)', 4326), 1))")).scalar()
    assert wkt.startswith("POLYGON")


def test_gbk_chinese_headers_gcj02(engine, corpus):
    rep = import_sites(engine, corpus / "sites_gbk_gcj02_zh.csv", kind="love_station", crs="gcj02")
    assert (rep.rows, rep.created) == (3, 3)
    got = _sites(engine)
    truth = [(112.5650, 37.8610), (112.5801, 37.8502), (112.5902, 37.8420)]
    for i, (lon, lat) in enumerate(truth):
        s = got[f"GBK-{i}"]
        assert distance_m(s.lon, s.lat, lon, lat) < 1.0
        assert s.level == "city_union" and s.status == "open" and s.src_crs == "gcj02"
        assert s.services == "water,hot_meal,charging"
        assert s.opened_on == dt.date(2020, 3, i + 1)
        assert s.name == f"柳巷{i}号爱心驿站" and s.operator == "迎泽区总工会"


@pytest.mark.parametrize("name", ["sites_utf8_bom.csv", "sites_utf16.csv"])
def test_other_encodings(engine, corpus, name):
    rep = import_sites(engine, corpus / name, kind="love_station")
    assert rep.created == 2


BAD = [
    ("sites_broken_byte.csv", None, None, "broken byte at line 3"),
    ("sites_swapped.csv", 2, "lon/lat", "latitude and longitude look swapped"),
    ("sites_bad_coords.csv", 2, "lon", "not a finite number"),
    ("sites_bad_coords.csv", 3, "lon", "coordinate is empty"),
    ("sites_bad_coords.csv", 4, "lat", "'北纬37度' is not a number"),
    ("sites_outside_china.csv", 2, "lon/lat", "outside China"),
    ("sites_duplicate_codes.csv", 3, "code", "duplicate code 'DUP-1' (also row 2)"),
    ("sites_unknown_level.csv", 2, "level", "unknown level '县总工会级'"),
    ("sites_unknown_service.csv", 2, "services", "unknown service '按摩'"),
    ("sites_bad_hours.csv", 2, "opening_hours", "看情况"),
    ("sites_bad_dates.csv", 2, "opened_on", "is not a date"),
    ("sites_bad_dates.csv", 3, "opened_on", "'去年' is not a date"),
    ("sites_one_bad_row.csv", 4, "lat", "'abc' is not a number"),
    ("empty.csv", None, None, "empty (0 bytes)"),
    ("header_only.csv", None, None, "no data rows"),
    ("not_geojson.geojson", None, None, "not a readable GeoJSON"),
    ("sites_merged_header.xlsx", None, None, "merged cells (A1:B1)"),
    ("sites_control_chars.csv", 3, "name", "contains the control character U+0001; remove it"),
    ("sites_control_chars.csv", 4, "name", "contains the control character U+000B; remove it"),
    ("sites_sparse.xlsx", None, None, "the first sheet declares 1,048,576 rows (A1:XFD1048576)"),
]


@pytest.mark.parametrize("name,row,field,text", BAD, ids=[f"{b[0]}:{b[1]}" for b in BAD])
def test_bad_input_names_file_row_field_and_writes_nothing(engine, corpus, fp, name, row, field, text):
    import_sites(engine, corpus / "sites_utf8_bom.csv", kind="love_station")  # something to keep
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        import_sites(engine, corpus / name, kind="love_station")
    hits = [p for p in ei.value.problems if text in p.message]
    assert hits, [str(p) for p in ei.value.problems]
    p = hits[0]
    assert p.source.startswith(name) and p.row == row and p.field == field
    assert fp(engine) == before


def test_outside_china_without_swap_says_only_outside(engine, corpus):
    with pytest.raises(InputError) as ei:
        import_sites(engine, corpus / "sites_outside_china.csv", kind="love_station")
    assert "swapped" not in str(ei.value)


def test_existing_code_needs_upsert_and_upsert_records_history(engine, corpus, tmp_path, fp):
    import_sites(engine, corpus / "sites_utf8_bom.csv", kind="love_station")
    before = fp(engine)
    with pytest.raises(InputError, match="already exists"):
        import_sites(engine, corpus / "sites_utf8_bom.csv", kind="love_station")
    assert fp(engine) == before
    changed = tmp_path / "changed.csv"
    text = (corpus / "sites_utf8_bom.csv").read_text(encoding="utf-8-sig")
    changed.write_text(text.replace("city_union", "provincial_union", 1), encoding="utf-8")
    rep = import_sites(engine, changed, kind="love_station", upsert=True,
                       effective_on=dt.date(2023, 7, 1))
    assert (rep.updated, rep.unchanged) == (1, 1)
    s = _sites(engine)["BOM-1"]
    assert s.level == "provincial_union" and s.version == 2
    with engine.connect() as conn:
        h = conn.execute(sa.select(site_history).where(site_history.c.site_id == s.id,
                                                      site_history.c.field == "level")).one()
    assert (h.old_value, h.new_value, h.effective_on) == ('"city_union"', '"provincial_union"',
                                                          dt.date(2023, 7, 1))


def test_dry_run_writes_nothing(engine, corpus, fp):
    before = fp(engine)
    rep = import_sites(engine, corpus / "sites_utf8_bom.csv", kind="love_station", dry_run=True)
    assert rep.created == 2 and rep.dry_run
    assert fp(engine) == before


def test_near_duplicate_is_a_warning(engine, tmp_path):
    f = tmp_path / "near.csv"
    f.write_text("code,name,lon,lat,status\nA,柳巷爱心驿站,112.565,37.861,open\n"
                 "B,柳巷爱心驿站二,112.56510,37.86105,open\n", encoding="utf-8")
    rep = import_sites(engine, f, kind="love_station")
    assert rep.created == 2
    assert any("duplicate?" in w.message and w.row == 2 for w in rep.warnings)


def test_street_from_point_and_declared_mismatch_reported(engine, data_dir, tmp_path):
    import_areas(engine, data_dir / "streets.geojson", level="street")
    import_areas(engine, data_dir / "communities.geojson", level="community")
    with engine.connect() as conn:
        from geo.store.street_assignment import AreaLookup
        lk = AreaLookup.load(conn)
    lon, lat = 112.5650, 37.8610
    true_street = lk.names[int(lk.locate([lon], [lat], "street")[0])]
    other = next(n for i, n in lk.names.items() if n != true_street and i in set(lk.ids["street"]))
    f = tmp_path / "decl.csv"
    f.write_text(f"code,name,lon,lat,street\nX1,站点,{lon},{lat},{other}\n", encoding="utf-8")
    rep = import_sites(engine, f, kind="love_station", status="planned")
    assert any(w.field == "street" and other in w.message and true_street in w.message for w in rep.warnings)
    with engine.connect() as conn:
        from geo.store.sites import site_select
        row = conn.execute(site_select().where(sites.c.code == "X1")).one()
    assert row.street == true_street and row.community is not None


def test_areas_repair_and_refuse(engine, corpus, fp):
    rep = import_areas(engine, corpus / "areas_self_intersecting.geojson", level="street")
    assert rep.created == 1 and any("make_valid" in w.message for w in rep.warnings)
    before = fp(engine)
    with pytest.raises(InputError) as ei:
        import_areas(engine, corpus / "areas_empty_polygon.geojson", level="street")
    p = ei.value.problems[0]
    assert (p.row, p.field) == (2, "geometry") and "empty" in p.message
    assert fp(engine) == before


@pytest.mark.parametrize("crs,make", [
    ("EPSG:4490", lambda lon, lat: (lon, lat)),  # CGCS2000 is latitude-first in EPSG; columns stay lon/lat
    ("EPSG:4547", None),                          # CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres)
    ("bd09", lambda lon, lat: (prcoords.wgs_bd((lat, lon)).lon, prcoords.wgs_bd((lat, lon)).lat)),
])
def test_epsg_and_bd09_inputs(engine, tmp_path, crs, make):
    from pyproj import Transformer
    lon, lat = 112.5650, 37.8610
    if make is None:
        x, y = Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat)
    else:
        x, y = make(lon, lat)
    f = tmp_path / "p.csv"
    f.write_text(f"code,name,lon,lat\nP1,点,{x!r},{y!r}\n", encoding="utf-8")
    import_sites(engine, f, kind="love_station", crs=crs, status="planned")
    s = _sites(engine)["P1"]
    assert distance_m(s.lon, s.lat, lon, lat) < 0.5


def test_shapefile_and_xlsx_with_chinese_headers(engine, tmp_path):
    import geopandas as gpd
    import pandas as pd
    df = pd.DataFrame({"编号": ["S1", "S2"], "名称": ["甲驿站", "乙驿站"], "级别": ["省总工会级", "区总工会级"],
                       "状态": ["已建成", "规划"], "服务": ["饮水；充电", ""], "建成日期": ["2022/3/5", ""]})
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy([112.56, 112.57], [37.86, 37.85]), crs=4326)
    gdf.to_file(tmp_path / "s.shp", encoding="gbk")  # as Chinese GIS tools write them
    rep = import_sites(engine, tmp_path / "s.shp", kind="爱心驿站")
    assert rep.created == 2
    xl = tmp_path / "s.xlsx"
    df.assign(编号=["X1", "X2"], 经度=[112.58, 112.59], 纬度=[37.84, 37.83]).to_excel(xl, index=False)
    assert import_sites(engine, xl, kind="love_station").created == 2
    got = _sites(engine)
    assert got["S1"].level == "provincial_union" and got["S1"].services == "water,charging"
    assert got["S2"].status == "planned" and got["X1"].opened_on == dt.date(2022, 3, 5)


def test_oversize_file_refused_before_reading(engine, tmp_path, fp):
    """A 200 MB file (sparse, made here: too big to keep in the repository) is refused at once."""
    big = tmp_path / "huge.csv"
    with big.open("wb") as fh:
        fh.write(b"code,name,lon,lat\n")
        fh.truncate(200 * 1024 * 1024)
    before = fp(engine)
    with pytest.raises(InputError, match="over the import limit of 100 MB"):
        import_sites(engine, big, kind="love_station")
    assert fp(engine) == before
