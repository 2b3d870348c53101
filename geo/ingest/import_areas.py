"""``yizhan import areas FILE --level street|community``: polygons, all or nothing."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, Polygon

from geo.engine import crs_gcj02_bd09 as crsmod
from geo.ingest.read_files import read_table
from geo.store.street_assignment import AreaLookup
from geo.store.db import next_seq
from geo.errors import InputError, Problem
from geo.ingest.import_sites import ImportReport, Progress, raise_if_errors
from geo.store.tables import areas, sites
from geo.ingest.records import crs_of_file

LEVELS = ("district", "street", "community")


def _polygonal(g) -> MultiPolygon | None:
    parts = []
    for p in getattr(g, "geoms", [g]):
        if isinstance(p, Polygon) and not p.is_empty:
            parts.append(p)
        elif isinstance(p, MultiPolygon) or hasattr(p, "geoms"):
            sub = _polygonal(p)
            parts.extend(sub.geoms if sub is not None else [])
    return MultiPolygon(parts) if parts else None


def _to_wgs84(geom, spec):
    if spec.name == "wgs84":
        return geom
    return shapely.transform(geom, lambda xy: np.column_stack(crsmod.to_wgs84(xy[:, 0], xy[:, 1], spec)))


def import_areas(engine: sa.Engine, path: str | Path, *, level: str, crs: str | None = None,
                 dry_run: bool = False, progress: Progress | None = None) -> ImportReport:
    """Load street or community polygons (upsert by code) and re-place every site."""
    if level not in LEVELS:
        raise InputError([Problem(Path(path).name, None, "--level", f"level must be one of {LEVELS}")])
    table = read_table(path)
    report = ImportReport(str(path), f"{level} area", rows=len(table.frame), dry_run=dry_run)
    problems: list[Problem] = []
    if table.geometry is None:
        raise InputError([table.problem(None, "geometry", "area files need polygons: use GeoJSON, "
                                        "GeoPackage or Shapefile")])
    if len(table.frame) == 0:
        raise InputError([table.problem(None, None, "the file has no features")])
    try:
        spec = crsmod.parse_crs(crs or crs_of_file(table))
    except ValueError as e:
        raise InputError([table.problem(None, "crs", str(e))]) from None
    f = table.frame
    recs = []
    for i in range(len(f)):
        code = table.cell(i, "code")
        name = table.cell(i, "name")
        if not code:
            problems.append(table.problem(i, "code", "the code/代码 is empty"))
        if not name:
            problems.append(table.problem(i, "name", "the name/名称 is empty"))
        g = table.geometry.iloc[i]
        if g is None or g.is_empty:
            problems.append(table.problem(i, "geometry", "the geometry is empty"))
            continue
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(table.problem(i, "geometry", f"a {g.geom_type} is not a polygon"))
            continue
        if not g.is_valid:
            reason = shapely.is_valid_reason(g)
            fixed = _polygonal(shapely.make_valid(g))
            if fixed is None or fixed.area == 0:
                problems.append(table.problem(i, "geometry", f"invalid polygon ({reason}) that cannot "
                                              "be repaired"))
                continue
            problems.append(table.problem(i, "geometry", f"invalid polygon ({reason}) repaired with "
                                          "make_valid", "warning"))
            g = fixed
        g = _polygonal(_to_wgs84(g, spec))
        x0, y0, x1, y1 = g.bounds
        bad = crsmod.lonlat_problem(x0, y0) or crsmod.lonlat_problem(x1, y1)
        if bad:
            problems.append(table.problem(i, "geometry", "polygon " + bad))
            continue
        parent = table.cell(i, "parent")
        recs.append(dict(i=i, code=code, name=name, geom=g, parent=parent))
    dup = {r["code"] for r in recs if sum(q["code"] == r["code"] for q in recs) > 1}
    for r in recs:
        if r["code"] in dup:
            problems.append(table.problem(r["i"], "code", f"duplicate code {r['code']!r}"))
    raise_if_errors(problems)
    with engine.connect() as conn, conn.begin() as trans:
        lookup = AreaLookup.load(conn)
        existing = _stored_areas(conn)
        for k, r in enumerate(recs):
            parent_id = None
            if level == "community":
                if r["parent"]:
                    parent_id = lookup.resolve(r["parent"], "street")
                    if parent_id is None:
                        problems.append(table.problem(r["i"], "parent", f"no street with code or name "
                                                      f"{r['parent']!r} is loaded"))
                else:
                    p = r["geom"].point_on_surface()
                    pid = lookup.locate([p.x], [p.y], "street")[0]
                    parent_id = int(pid) if pid >= 0 else None
                    if parent_id is None:
                        problems.append(table.problem(r["i"], "parent", "no parent given and the "
                                                      "community lies in no loaded street", "warning"))
            vals = dict(level=level, code=r["code"], name=r["name"], parent_id=parent_id,
                        source=Path(path).name, geom=f"SRID=4326;{r['geom'].wkt}")
            old = existing.get(r["code"])
            if old is not None and _same_area(old, level, r, parent_id):
                report.unchanged += 1
            elif old is not None:
                conn.execute(areas.update().where(areas.c.id == old.id).values(**vals))
                report.updated += 1
            else:
                conn.execute(areas.insert().values(**vals))
                report.created += 1
            if progress:
                progress(k + 1, len(recs))
        raise_if_errors(problems)
        replace_sites(conn)
        report.warnings = problems
        if dry_run:
            trans.rollback()
    return report


#: Largest vertex difference (degrees, ~0.1 mm) of a geometry that counts as unchanged: the
#: database stores what it is given, but WKT text and the backends' own formats may move the
#: last bits of a coordinate; a real edit of a boundary moves it by metres.
SAME_GEOMETRY_DEG = 1e-9


def _stored_areas(conn: sa.Connection) -> dict:
    """``code -> row`` (id, level, name, parent_id, geom as shapely) of every stored area."""
    from geoalchemy2.shape import to_shape

    rows = conn.execute(sa.select(areas.c.code, areas.c.id, areas.c.level, areas.c.name,
                                  areas.c.parent_id, areas.c.geom)).all()
    return {r.code: SimpleNamespace(**dict(r._mapping, geom=to_shape(r.geom))) for r in rows}


def _same_area(old, level: str, rec: dict, parent_id: int | None) -> bool:
    """Whether a file's area equals the stored one: level, name, parent, and the same
    vertices in the same order within :data:`SAME_GEOMETRY_DEG`."""
    return ((old.level, old.name, old.parent_id) == (level, rec["name"], parent_id)
            and shapely.equals_exact(old.geom, rec["geom"], tolerance=SAME_GEOMETRY_DEG))


def replace_sites(conn: sa.Connection) -> int:
    """Recompute every site's street and community from its point (not a tracked change)."""
    lookup = AreaLookup.load(conn)
    rows = conn.execute(sa.select(sites.c.id, sites.c.lon, sites.c.lat)).all()
    if not rows:
        return 0
    ids = np.array([r.id for r in rows])
    lon = np.array([r.lon for r in rows])
    lat = np.array([r.lat for r in rows])
    st = lookup.locate(lon, lat, "street")
    cm = lookup.locate(lon, lat, "community")
    seq = next_seq(conn)
    conn.execute(sites.update().where(sites.c.id == sa.bindparam("sid"))
                 .values(street_id=sa.bindparam("st"), community_id=sa.bindparam("cm"), seq=seq),
                 [dict(sid=int(i), st=int(s) if s >= 0 else None, cm=int(c) if c >= 0 else None)
                  for i, s, c in zip(ids, st, cm)])
    return len(rows)
