"""Demand points and candidates keyed by code (issue 13, point 3), on both backends: a file
imported twice is refused, ``--upsert`` / ``--replace``, generated codes, migration 0002;
an unchanged area file re-imports as unchanged."""
from __future__ import annotations

import csv

import pytest
import sqlalchemy as sa

from geo.services import coverage_planning as planning
from geo.store.db import upgrade
from geo.errors import InputError
from geo.ingest.import_areas import import_areas
from geo.ingest.import_points import import_candidates, import_demand, point_code
from geo.ingest.import_sites import import_sites
from geo.store.tables import candidates, demand
from tests.test_cli import run

REFUSED = "code {!r} already exists (use --upsert to update existing {} or --replace to replace them all)"


def _rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path, rows, fields=None):
    fields = fields or list(rows[0])
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def _demand_state(engine):
    """Rows, weight sum and code → weight of the stored demand."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(demand.c.code, demand.c.weight)).all()
    return len(rows), sum(w for _, w in rows), dict(rows)


def _coverage_demand(engine):
    with engine.connect() as conn:
        return planning.coverage_summary(conn, radius_m=1000)["totals"]["demand"]


def test_demand_imported_twice_is_refused_and_nothing_changes(engine, data_dir, fp):
    rep = import_demand(engine, data_dir / "demand.csv")
    assert (rep.created, rep.updated, rep.unchanged, rep.removed) == (3000, 0, 0, 0)
    assert rep.summary() == "demand.csv: imported 3000 demand rows — 3000 new, 0 updated, 0 unchanged, 0 removed"
    before, state = fp(engine), _demand_state(engine)
    total = sum(float(r["weight"]) for r in _rows(data_dir / "demand.csv"))
    assert state[:2] == (3000, total)
    with pytest.raises(InputError) as e:
        import_demand(engine, data_dir / "demand.csv")
    assert len(e.value.problems) == 3000
    p = e.value.problems[0]
    assert (p.source, p.row, p.field) == ("demand.csv", 2, "code")
    assert p.message == REFUSED.format("YZ-DM-0001", "demand points")
    assert str(e.value.problems[-1]) == ("demand.csv, row 3001, field code: "
                                         + REFUSED.format("YZ-DM-3000", "demand points"))
    assert fp(engine) == before and _demand_state(engine) == state
    assert _coverage_demand(engine) == total


def test_cli_refuses_a_second_import_and_names_the_flags(db_url, engine, data_dir, tmp_path, fp):
    small = _write(tmp_path / "d.csv", _rows(data_dir / "demand.csv")[:3])
    r = run(db_url, "import", "demand", small)
    assert r.returncode == 0, r.stderr
    assert "d.csv: imported 3 demand rows — 3 new, 0 updated, 0 unchanged, 0 removed" in r.stdout
    before = fp(engine)
    r = run(db_url, "import", "demand", small)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: 3 problem(s); nothing was written",
        *(f"  d.csv, row {i + 2}, field code: " + REFUSED.format(f"YZ-DM-000{i + 1}", "demand points")
          for i in range(3))]
    assert fp(engine) == before
    r = run(db_url, "import", "demand", small, "--upsert")
    assert r.returncode == 0, r.stderr
    assert "d.csv: imported 3 demand rows — 0 new, 0 updated, 3 unchanged, 0 removed" in r.stdout
    r = run(db_url, "import", "demand", small, "--upsert", "--replace")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: 1 problem(s); nothing was written",
        "  d.csv, field --replace: --upsert updates matching codes and adds the rest; --replace makes "
        "the file the whole set: give one of them"]
    r = run(db_url, "import", "candidates", data_dir / "candidates.csv")
    assert r.returncode == 0, r.stderr
    r = run(db_url, "import", "candidates", data_dir / "candidates.csv")
    assert r.returncode == 1
    assert "  candidates.csv, row 2, field code: " + REFUSED.format("YZ-CA-0001", "candidates") in r.stderr
    r = run(db_url, "import", "candidates", data_dir / "candidates.csv", "--replace")
    assert r.returncode == 0, r.stderr
    assert "imported 300 candidates rows — 0 new, 0 updated, 300 unchanged, 0 removed" in r.stdout
    assert fp(engine)["demand"] == before["demand"]


def test_upsert_updates_one_weight_and_adds_new_codes(engine, data_dir, tmp_path):
    rows = _rows(data_dir / "demand.csv")
    import_demand(engine, data_dir / "demand.csv")
    rows[10]["weight"] = str(float(rows[10]["weight"]) + 5)
    rep = import_demand(engine, _write(tmp_path / "d.csv", rows), upsert=True)
    assert (rep.created, rep.updated, rep.unchanged, rep.removed) == (0, 1, 2999, 0)
    total = sum(float(r["weight"]) for r in rows)
    n, weights, by_code = _demand_state(engine)
    assert (n, weights, by_code[rows[10]["code"]]) == (3000, total, float(rows[10]["weight"]))
    assert _coverage_demand(engine) == total
    extra = dict(rows[0], code="NEW-1", weight="7")
    rep = import_demand(engine, _write(tmp_path / "e.csv", [rows[0], extra]), upsert=True)
    assert (rep.created, rep.updated, rep.unchanged) == (1, 0, 1)
    assert _demand_state(engine)[:2] == (3001, total + 7) and _coverage_demand(engine) == total + 7


def test_replace_with_a_smaller_file_keeps_only_the_new_set(engine, data_dir, tmp_path):
    rows = _rows(data_dir / "demand.csv")
    import_demand(engine, data_dir / "demand.csv")
    keep = rows[:20] + [dict(rows[20], code="NEW-1")]
    keep[0]["weight"] = "99"
    rep = import_demand(engine, _write(tmp_path / "d.csv", keep), replace=True)
    assert (rep.created, rep.updated, rep.unchanged, rep.removed) == (1, 1, 19, 2980)
    assert rep.summary() == "d.csv: imported 21 demand rows — 1 new, 1 updated, 19 unchanged, 2980 removed"
    n, weights, by_code = _demand_state(engine)
    assert (n, set(by_code)) == (21, {r["code"] for r in keep})
    assert weights == sum(float(r["weight"]) for r in keep) == _coverage_demand(engine)


def test_duplicate_codes_in_one_file_name_both_rows(engine, data_dir, tmp_path, fp):
    rows = _rows(data_dir / "demand.csv")[:4]
    rows[3]["code"] = rows[1]["code"]
    rows[2]["code"] = ""
    before = fp(engine)
    with pytest.raises(InputError) as e:
        import_demand(engine, _write(tmp_path / "d.csv", rows))
    assert [str(p) for p in e.value.problems] == [
        "d.csv, row 3, field code: duplicate code 'YZ-DM-0002' (also row 5)",
        "d.csv, row 4, field code: the code/编号 is empty",
        "d.csv, row 5, field code: duplicate code 'YZ-DM-0002' (also row 3)"]
    assert fp(engine) == before


def test_generated_codes_are_stable_and_announced(engine, data_dir, tmp_path, fp):
    rows = _rows(data_dir / "candidates.csv")[:5]
    fields = ["name", "lon", "lat", "capacity"]
    path = _write(tmp_path / "c.csv", rows, fields)
    rep = import_candidates(engine, path)
    assert [str(w) for w in rep.warnings] == [
        "c.csv, field code: no code/编号 column: codes were generated from name and point"]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(candidates.c.code).order_by(candidates.c.id)).scalars().all()
    assert stored == [point_code(r["name"], float(r["lon"]), float(r["lat"])) for r in rows]
    before = fp(engine)
    with pytest.raises(InputError) as e:
        import_candidates(engine, path)
    assert [p.message for p in e.value.problems] == [REFUSED.format(c, "candidates") for c in stored]
    assert fp(engine) == before
    # the same points with trailing zeros and a new capacity: same codes, one update
    again = [dict(r, lon=r["lon"] + "00", lat=r["lat"] + "0") for r in rows]
    again[2]["capacity"] = "1"
    rep = import_candidates(engine, _write(tmp_path / "c2.csv", again, fields), upsert=True)
    assert (rep.created, rep.updated, rep.unchanged) == (0, 1, 4)
    # two rows without codes at the same point under the same name: an error naming both
    twin = _write(tmp_path / "twin.csv", [rows[0], rows[1], rows[0]], fields)
    with pytest.raises(InputError) as e:
        import_candidates(engine, twin, replace=True)
    assert [str(p) for p in e.value.problems] == [
        "twin.csv, row 2, field code: same name and point as row 4 and no code/编号: merge the rows or "
        "give each a code",
        "twin.csv, row 4, field code: same name and point as row 2 and no code/编号: merge the rows or "
        "give each a code"]


def test_suggestions_list_the_candidate_codes(engine, data_dir, tmp_path):
    import_areas(engine, data_dir / "streets.geojson", level="street")
    import_sites(engine, data_dir / "love_stations.csv", kind="love_station")
    import_demand(engine, data_dir / "demand.csv")
    rows = _rows(data_dir / "candidates.csv")
    path = _write(tmp_path / "c.csv", rows, ["name", "lon", "lat", "capacity"])
    import_candidates(engine, path)
    codes = {point_code(r["name"], float(r["lon"]), float(r["lat"])) for r in rows}
    with engine.connect() as conn:
        from_db = planning.suggestions(conn, count=3, radius_m=1000)
        from_file = planning.suggestions(conn, count=3, radius_m=1000, candidates_path=str(path))
    picked = [s["candidate_code"] for s in from_db["suggestions"]]
    assert len(picked) == 3 and set(picked) <= codes
    assert [s["candidate_code"] for s in from_file["suggestions"]] == picked


def _downgrade(engine, revision):
    from alembic import command

    from geo.store.db import _alembic_config

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _insert_0001(conn, rows):
    """Demand rows as revision 0001 stored them (code may be NULL, repeats allowed)."""
    sqlite = conn.dialect.name == "sqlite"
    geom = "GeomFromText(:g, 4326)" if sqlite else "ST_GeomFromText(:g, 4326)"
    for code, name, w, x, y in rows:
        conn.execute(sa.text(f"INSERT INTO demand (code, name, category, weight, lon, lat, geom) "
                             f"VALUES (:c, :n, 'other', :w, :x, :y, {geom})"),
                     dict(c=code, n=name, w=w, x=x, y=y, g=f"POINT({x!r} {y!r})"))


def test_migration_0002_fills_codes_and_removes_exact_repeats(engine, tmp_path, capfd):
    _downgrade(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM demand")
        _insert_0001(conn, [("A", "甲", 3.0, 112.55, 37.85), ("A", "甲", 3.0, 112.55, 37.85),
                            ("A", "甲", 4.0, 112.55, 37.85), (None, "乙", 2.0, 112.56, 37.86),
                            (None, "乙", 2.0, 112.56, 37.86), (None, None, 1.0, 112.57, 37.87)])
    upgrade(engine)
    with engine.connect() as conn:
        got = conn.execute(sa.select(demand.c.code, demand.c.name, demand.c.weight).order_by(demand.c.id)).all()
    assert [tuple(r) for r in got] == [("A", "甲", 3.0), ("A-2", "甲", 4.0),
                                       (point_code("乙", 112.56, 37.86), "乙", 2.0),
                                       (point_code(None, 112.57, 37.87), None, 1.0)]
    assert capfd.readouterr().err.splitlines() == [
        "migration 0002, demand: row id 3 shared code 'A' with a different row: now A-2",
        "migration 0002, demand: deleted 1 exact repeat(s) of code 'A'",
        f"migration 0002, demand: deleted 1 exact repeat(s) of code {point_code('乙', 112.56, 37.86)!r}"]
    # the file those code-less rows came from is now recognised
    path = _write(tmp_path / "d.csv", [dict(name="乙", lon="112.56", lat="37.86", weight="2")])
    with pytest.raises(InputError, match="already exists"):
        import_demand(engine, path)
    assert import_demand(engine, path, upsert=True).unchanged == 1
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        _insert_0001(conn, [("A", "丙", 1.0, 112.5, 37.8)])


def test_unchanged_area_file_reports_unchanged(engine, data_dir, tmp_path):
    rep = import_areas(engine, data_dir / "streets.geojson", level="street")
    assert (rep.created, rep.updated, rep.unchanged) == (7, 0, 0)
    rep = import_areas(engine, data_dir / "communities.geojson", level="community")
    assert (rep.created, rep.updated, rep.unchanged) == (41, 0, 0)
    rep = import_areas(engine, data_dir / "streets.geojson", level="street")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 7)
    assert rep.summary() == "streets.geojson: imported 7 street area rows — 0 new, 0 updated, 7 unchanged"
    rep = import_areas(engine, data_dir / "communities.geojson", level="community")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 41)
    text = (data_dir / "communities.geojson").read_text(encoding="utf-8")
    first = text.index('"name"')
    name_end = text.index('"', text.index('"', text.index(":", first) + 1) + 1)
    (tmp_path / "c.geojson").write_text(text[:name_end] + "（新）" + text[name_end:], encoding="utf-8")
    rep = import_areas(engine, tmp_path / "c.geojson", level="community")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 1, 40)
