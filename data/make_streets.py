"""Generate ``streets.osm.pbf``: a SYNTHETIC walking network over the demo district.

Run ``python data/make_streets.py`` (needs ``pip install osmium``, used only here; the
service reads the file with pyrosm like any OpenStreetMap extract). The output is
deterministic (fixed seed, fixed order, no timestamps).

It is not the real street network of 迎泽区 (no OpenStreetMap data is bundled): a jittered
grid of streets (``highway=residential``, ~180 m blocks in the city, ~360 m in 郝庄镇,
some blocks missing) plus a few diagonal footways, over the district outline widened by
about 500 m, so that ``yizhan coverage --mode walk --network data/streets.osm.pbf`` can be
tried and tested offline.
"""
import json
from pathlib import Path

import numpy as np
import osmium
import shapely
from shapely.geometry import shape

OUT = Path(__file__).resolve().parent
SEED = 20240602
LAT0 = 37.86
M_LAT = 110_990.0  # metres per degree of latitude near 37.9 N
M_LON = 111_320.0 * np.cos(np.radians(LAT0))
CITY_EAST_LON = 112.61  # east of this: 郝庄镇, sparser streets


def _runs(ok, ids):
    """Node-id lists of the maximal runs of present segments ``ids[i]-ids[i+1]`` (``ok[i]``)."""
    i = 0
    while i < ok.size:
        if not ok[i]:
            i += 1
            continue
        run = [int(ids[i])]
        while i < ok.size and ok[i]:
            run.append(int(ids[i + 1]))
            i += 1
        yield run


def main() -> None:
    rng = np.random.default_rng(SEED)
    district = shape(json.loads((OUT / "district.geojson").read_text(encoding="utf-8"))["features"][0]["geometry"])
    area = district.buffer(500 / M_LAT)
    x0, y0, x1, y1 = area.bounds
    step = 180.0
    cols = np.arange(x0, x1, step / M_LON)
    rows = np.arange(y0, y1, step / M_LAT)
    gx, gy = np.meshgrid(cols, rows)
    lon = gx + rng.uniform(-25, 25, gx.shape) / M_LON
    lat = gy + rng.uniform(-25, 25, gy.shape) / M_LAT
    inside = shapely.contains_xy(area, lon, lat)
    rural = lon > CITY_EAST_LON
    even_r = (np.arange(rows.size) % 2 == 0)[:, None]
    even_c = (np.arange(cols.size) % 2 == 0)[None, :]
    # in the rural east only every second street: a node must lie on one of them
    keep = inside & ~(rural & ~even_r & ~even_c)
    node_id = np.zeros(gx.shape, dtype=np.int64)
    node_id[keep] = np.arange(1, keep.sum() + 1)
    gap = 0.12  # share of blocks without their street segment
    # segment (r, c-1)-(r, c) east-west, (r-1, c)-(r, c) north-south
    ew = keep[:, 1:] & keep[:, :-1] & ~(rural[:, 1:] & ~even_r) & (rng.random((rows.size, cols.size - 1)) >= gap)
    ns = keep[1:, :] & keep[:-1, :] & ~(rural[1:, :] & ~even_c) & (rng.random((rows.size - 1, cols.size)) >= gap)

    ways = []  # (node ids, tags): one way per run of consecutive segments
    for ok, ids, name in ((ew, node_id, "合成东西路"), (ns.T, node_id.T, "合成南北路")):
        for k, line in enumerate(ok):
            for run in _runs(line, ids[k]):
                ways.append((run, {"highway": "residential", "name": f"{name}{k}"}))
    for r in range(0, rows.size - 6, 9):  # a few diagonal footways across the city
        for c in range(0, cols.size - 6, 9):
            diag = [int(node_id[r + j, c + j]) for j in range(6)
                    if keep[r + j, c + j] and not rural[r + j, c + j]]
            if len(diag) >= 2:
                ways.append((diag, {"highway": "footway"}))
    # OSM-like node density: 3 more nodes along every block (~45 m apart), so that demand points
    # mid-block are within the default 100 m snap distance of a node
    where = {int(node_id[r, c]): (float(lon[r, c]), float(lat[r, c])) for r, c in zip(*np.nonzero(keep))}
    nodes = {i: where[i] for i in sorted({i for ids, _ in ways for i in ids})}
    next_id = max(where) + 1
    dense = []
    for ids, tags in ways:
        out = [ids[0]]
        for a, b in zip(ids[:-1], ids[1:]):
            (xa, ya), (xb, yb) = where[a], where[b]
            for t in (0.25, 0.5, 0.75):
                nodes[next_id] = (xa + t * (xb - xa), ya + t * (yb - ya))
                out.append(next_id)
                next_id += 1
            out.append(b)
        dense.append((out, tags))
    ways = dense

    path = OUT / "streets.osm.pbf"
    path.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(path))
    try:
        for i, (x, y) in nodes.items():
            writer.add_node(osmium.osm.mutable.Node(id=i, location=(round(x, 7), round(y, 7)), version=1))
        for k, (ids, tags) in enumerate(ways, 1):
            writer.add_way(osmium.osm.mutable.Way(id=k, nodes=ids, tags=tags, version=1))
    finally:
        writer.close()
    print(f"wrote {path.name}: {len(nodes)} nodes, {len(ways)} ways, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
