"""Streets and communities: loading them, and finding the ones a point lies in."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from geo.store.tables import areas


@dataclass
class AreaLookup:
    """Point-in-polygon lookup of streets and communities (an STRtree per level)."""

    ids: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    codes: dict[int, str] = field(default_factory=dict)
    parents: dict[int, int | None] = field(default_factory=dict)
    geoms: dict[str, np.ndarray] = field(default_factory=dict)
    trees: dict[str, shapely.STRtree] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: sa.Connection) -> "AreaLookup":
        rows = conn.execute(sa.select(areas.c.id, areas.c.level, areas.c.code, areas.c.name,
                                      areas.c.parent_id, areas.c.geom)).all()
        return cls.from_rows(rows)

    @classmethod
    def from_rows(cls, rows) -> "AreaLookup":
        lk = cls()
        by_level: dict[str, list] = {}
        for r in rows:
            g = r.geom if hasattr(r.geom, "geom_type") else to_shape(r.geom)
            by_level.setdefault(r.level, []).append((r.id, g))
            lk.names[r.id], lk.codes[r.id], lk.parents[r.id] = r.name, r.code, r.parent_id
        for level, items in by_level.items():
            lk.ids[level] = np.array([i for i, _ in items], dtype="int64")
            lk.geoms[level] = np.array([g for _, g in items], dtype=object)
            lk.trees[level] = shapely.STRtree(lk.geoms[level])
        return lk

    def __bool__(self) -> bool:
        return bool(self.trees)

    def locate(self, lon, lat, level: str) -> np.ndarray:
        """Area id per point (``-1`` where none); boundary points go to the lowest id."""
        lon = np.asarray(lon, dtype="float64")
        out = np.full(lon.shape, -1, dtype="int64")
        tree = self.trees.get(level)
        if tree is None or lon.size == 0:
            return out
        pts = shapely.points(lon, np.asarray(lat, dtype="float64"))
        pi, ai = tree.query(pts, predicate="intersects")
        ids = self.ids[level][ai]
        order = np.lexsort((ids, pi))[::-1]  # last write wins → the lowest id per point
        out[pi[order]] = ids[order]
        return out

    def resolve(self, value: str, level: str) -> int | None:
        """Area id from a code or a name."""
        for aid in self.ids.get(level, []):
            if value in (self.codes[int(aid)], self.names[int(aid)]):
                return int(aid)
        return None
