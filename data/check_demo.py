"""Sanity checks for the demo data written by ``make_demo.py``.

Run ``python data/check_demo.py``; it exits non-zero with a message on the first failed
check. It also regenerates the data twice and compares SHA-256 digests (determinism).
"""
import csv
import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import shapely
from shapely.geometry import Point, shape

HERE = Path(__file__).resolve().parent
FILES = ["district.geojson", "streets.geojson", "communities.geojson", "love_stations.csv",
         "site_events.csv", "worker_homes.csv", "demand.csv", "candidates.csv"]
TOL = 1e-12  # square degrees (~0.01 m²)
LEVELS = {"", "provincial_gov", "provincial_union", "city_union", "district_union", "other"}
HOURS = {"24小时", "08:00-20:00", "07:30-21:30", "周一至周五 9:00-17:00", "Mo-Fr 08:00-18:00; Sa 09:00-12:00",
         "20:00-02:00"}
SERVICES = {"water", "hot_meal", "charging", "toilet", "rest", "first_aid", "wifi", "umbrella", "cooling", "heating"}
DEMAND_CATS = {"delivery", "courier", "sanitation", "taxi", "construction", "other"}


def features(name):
    """Return ``(properties, geometry)`` pairs of a GeoJSON file."""
    data = json.loads((HERE / name).read_text(encoding="utf-8"))
    return [(f["properties"], shape(f["geometry"])) for f in data["features"]]


def rows(name):
    """Return the rows of a CSV file as dicts."""
    with (HERE / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def check_partition(whole, parts, label):
    """Check that ``parts`` are valid and tile ``whole`` without gaps or overlaps."""
    assert all(g.is_valid and g.geom_type in ("Polygon", "MultiPolygon") for g in parts), label
    union = shapely.union_all(parts)
    assert abs(sum(g.area for g in parts) - whole.area) < TOL, f"{label}: overlaps"
    assert union.symmetric_difference(whole).area < TOL, f"{label}: gaps"


def digest():
    """SHA-256 of every output file."""
    return {f: hashlib.sha256((HERE / f).read_bytes()).hexdigest() for f in FILES}


def main():
    """Run all checks."""
    (props, district), = features("district.geojson")
    assert district.is_valid and props["code"] == "140106", props
    streets, comms = features("streets.geojson"), features("communities.geojson")
    check_partition(district, [g for _, g in streets], "streets")
    for sp, sg in streets:
        check_partition(sg, [g for p, g in comms if p["parent"] == sp["code"]], sp["name"])
    assert len({p["name"] for p, _ in comms}) == len(comms), "community names not unique"
    counts = {}
    for name in FILES[3:]:
        data = rows(name)
        counts[name] = len(data)
        codes = [r["code"] for r in data]
        assert name == "site_events.csv" or len(set(codes)) == len(codes), f"{name}: duplicate codes"
        for r in data:
            if "lon" in r:
                assert district.contains(Point(float(r["lon"]), float(r["lat"]))), (name, r["code"])
    sites = {r["code"]: r for r in rows("love_stations.csv") + rows("worker_homes.csv")}
    assert len({r["name"] for r in sites.values()}) == len(sites), "site names not unique"
    for r in sites.values():
        assert (r["status"] == "closed") == bool(r["closed_on"]), r["code"]
        assert bool(r["opened_on"]) == (r["status"] in ("open", "closed", "suspended")), r["code"]
        assert not r["closed_on"] or r["opened_on"] < r["closed_on"], r["code"]
        assert not r["opened_on"] or "2018-01-01" <= r["opened_on"] <= "2024-12-31", r["code"]
    for e in rows("site_events.csv"):
        s = sites[e["code"]]
        dt.date.fromisoformat(e["effective_on"])
        assert s["opened_on"] < e["effective_on"] < (s["closed_on"] or "9999"), e
    assert 75 <= counts["love_stations.csv"] <= 85 and counts["worker_homes.csv"] == 12
    for r in sites.values():
        assert r["level"] in LEVELS and r["opening_hours"] in HOURS, r["code"]
        assert set(r["services"].split(",")) <= SERVICES and 4 <= int(r["capacity"]) <= 30, r["code"]
        assert len(r["phone"]) == 12 and r["phone"].startswith("0351-"), r["code"]
    ls = rows("love_stations.csv")
    assert 3 <= sum(r["status"] == "closed" for r in ls) <= 5, "closed stations"
    assert 2 <= sum(r["status"] in ("building", "planned") for r in ls) <= 3, "unopened stations"
    ev = rows("site_events.csv")
    assert any(e["field"] == "level" and "2021-05" <= e["effective_on"] <= "2021-08" for e in ev), "mid-2021"
    assert any(r["closed_on"].startswith("2021") for r in ls), "no closure in 2021"
    assert all(r["category"] in DEMAND_CATS and 1 <= int(r["weight"]) <= 60 for r in rows("demand.csv"))
    in_hills = [p for p, g in streets if p["name"] == "郝庄镇"][0]
    print("rows:", counts, "| streets", len(streets), "communities", len(comms), "|", in_hills["name"], "ok")
    before = digest()
    for _ in range(2):
        subprocess.run([sys.executable, str(HERE / "make_demo.py")], check=True)
        assert digest() == before, "output changed between runs"
    print("deterministic: sha256 identical over two re-runs")


if __name__ == "__main__":
    main()
