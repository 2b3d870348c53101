""""Which open station is nearest to me?" — an in-memory snapshot of the usable sites.

A :class:`SiteSnapshot` holds every site whose status is ``open`` as numpy arrays, with a
:class:`~geo.engine.nearest_index.NearestIndex` (exact geodesic k-NN), a service bitmask per site and
opening hours grouped by distinct text (so "open at 22:30" is one lookup per distinct
text, not per site). Snapshots are immutable; a process swaps in a new one when the
``sites_seq`` counter moves (every site write bumps it).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from operator import itemgetter
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

import prcoords

from geo.engine.clock import zone
from geo.store.db import read_seq
from geo.engine.opening_hours import minute_of_week, parse_hours
from geo.store.tables import areas, sites
from geo.engine.nearest_index import NearestIndex

SNAP_COLS = ("id", "code", "name", "kind", "level", "status", "address", "phone", "opening_hours",
             "services", "lon", "lat")
PROPS = ("id", "code", "name", "kind", "level", "status", "address", "street", "community",
         "phone", "opening_hours")


_COL = {k: i for i, k in enumerate(SNAP_COLS + ("street", "community"))}


def _fetch(conn: sa.Connection, where, *, limit: int | None = None) -> list[tuple] | None:
    """Snapshot rows (columns as in ``_COL``, ``id`` first) of the sites matching ``where``,
    ordered by id, as plain DBAPI tuples; ``None`` when more than ``limit`` match."""
    st, cm = areas.alias("st"), areas.alias("cm")
    q = (sa.select(*(sites.c[k] for k in SNAP_COLS), st.c.name.label("street"),
                   cm.c.name.label("community"))
         .select_from(sites.outerjoin(st, st.c.id == sites.c.street_id)
                      .outerjoin(cm, cm.c.id == sites.c.community_id))
         .where(where).order_by(sites.c.id))
    if limit is not None:
        q = q.limit(limit + 1)
    sql = str(q.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cur = conn.connection.cursor()  # SQLAlchemy's Row objects cost as much as the read itself
    try:
        cur.execute(sql)
        rows = cur.fetchall()
    finally:
        cur.close()
    if limit is not None and len(rows) > limit:
        return None
    return rows if not rows or type(rows[0]) is tuple else [tuple(r) for r in rows]


class _BoundedMemo(dict):
    """A dict that empties itself past ``limit`` entries (memory stays bounded)."""

    limit = 50_000

    def __setitem__(self, key, value):
        if len(self) >= self.limit:
            self.clear()
        super().__setitem__(key, value)


@dataclass
class SiteSnapshot:
    """Open sites at one moment (``seq``), ready for nearest queries.

    Rows are kept as the database's tuples (no per-site dicts: a 200,000-site reload must
    stay well under the 0.5 s refresh interval's spirit); fields are read by position.
    """

    seq: int
    index: NearestIndex
    rows: list                           # DBAPI row tuples, columns as in ``_COL``
    kind: np.ndarray                     # object array of kind codes
    service_bits: np.ndarray             # int64 bitmask per site
    service_codes: dict[str, int]        # code → bit
    hours_group: np.ndarray              # int32 index into hours_texts (-1 = unknown)
    hours_texts: list[str]
    #: callers' per-site derived values (e.g. rendered JSON); dropped with the snapshot
    memo: dict = field(default_factory=lambda: _BoundedMemo(), repr=False)
    _masks: dict = field(default_factory=dict, repr=False)
    _sites: dict = field(default_factory=lambda: _BoundedMemo(), repr=False)
    _open: dict = field(default_factory=lambda: _BoundedMemo(), repr=False)  # (hours group, minute) → open

    @classmethod
    def load(cls, conn: sa.Connection) -> "SiteSnapshot":
        """Read every open site (one query, raw DBAPI rows: no per-row ORM objects)."""
        seq = read_seq(conn)
        return cls._build(seq, _fetch(conn, sites.c.status == "open"))

    def refresh(self, conn: sa.Connection) -> "SiteSnapshot":
        """The snapshot as of the database's current ``sites_seq``.

        ``self`` when nothing changed; otherwise only the sites written since ``self.seq``
        are read (``sites.seq`` is indexed) and merged into this snapshot's rows, and the
        arrays and index are rebuilt — a 200,000-site snapshot refreshes in a fraction of a
        full load. Falls back to :meth:`load` when many sites changed, the counter went
        back (a restored database) or the merged count disagrees with the table's.
        """
        seq = read_seq(conn)
        if seq == self.seq:
            return self
        if seq < self.seq:
            return self.load(conn)
        changed = _fetch(conn, sites.c.seq > self.seq, limit=max(1000, len(self) // 10))
        if changed is None:  # too many: a full read is as cheap
            return self.load(conn)
        gone = {r[0] for r in changed}
        st = _COL["status"]
        rows = [r for r in self.rows if r[0] not in gone]
        rows += [r for r in changed if r[st] == "open"]
        rows.sort(key=itemgetter(0))
        n_open = conn.execute(sa.select(sa.func.count()).select_from(sites)
                              .where(sites.c.status == "open")).scalar_one()
        if n_open != len(rows):  # rows removed outside the history (e.g. a restore)
            return self.load(conn)
        return self._build(seq, rows)

    @classmethod
    def _build(cls, seq: int, rows: list) -> "SiteSnapshot":
        col, n = _COL, len(rows)
        lon = np.fromiter((r[col["lon"]] for r in rows), dtype="float64", count=n)
        lat = np.fromiter((r[col["lat"]] for r in rows), dtype="float64", count=n)
        codes: dict[str, int] = {}
        by_text: dict[str, int] = {}

        def bits_of(text: str) -> int:  # once per distinct services string
            b = 0
            for svc in filter(None, text.split(",")):
                bit = codes.setdefault(svc, len(codes))
                if bit < 63:
                    b |= 1 << bit
            return b
        svc_cache: dict[str, int] = {}
        bits = np.fromiter((svc_cache[t] if t in svc_cache else svc_cache.setdefault(t, bits_of(t))
                            for t in (r[col["services"]] or "" for r in rows)), dtype="int64", count=n)
        group = np.fromiter((by_text.setdefault(h, len(by_text)) if h else -1
                             for h in (r[col["opening_hours"]] for r in rows)), dtype="int32", count=n)
        return cls(seq=seq, index=NearestIndex(lon, lat), rows=rows,
                   kind=np.array([r[col["kind"]] for r in rows], dtype=object), service_bits=bits,
                   service_codes=codes, hours_group=group, hours_texts=list(by_text))

    def __len__(self) -> int:
        return len(self.rows)

    def open_mask(self, when: dt.datetime) -> np.ndarray:
        """Which sites are open at ``when`` (unknown hours count as not open)."""
        mow = minute_of_week(when)
        key = ("open", mow)
        m = self._masks.get(key)
        if m is None:
            per_text = np.array([parse_hours(t).is_open(when) for t in self.hours_texts] + [False])
            m = per_text[self.hours_group]  # -1 → the trailing False
            if len(self._masks) > 256:
                self._masks.clear()
            self._masks[key] = m
        return m

    def filter_mask(self, *, kind: str | None, services: tuple[str, ...],
                    open_at: dt.datetime | None) -> np.ndarray | None:
        """Combined eligibility mask, or ``None`` when every site is eligible."""
        key = (kind, services)
        m = self._masks.get(key)
        if m is None and (kind or services):
            m = np.ones(len(self), dtype=bool)
            if kind:
                m &= self.kind == kind
            if services:
                if any(s not in self.service_codes for s in services):
                    m[:] = False
                else:
                    want = sum(1 << self.service_codes[s] for s in services)
                    m &= (self.service_bits & want) == want
            self._masks[key] = m
        if open_at is not None:
            om = self.open_mask(open_at)
            m = om if m is None else (m & om)
        return m

    def search(self, lon: float, lat: float, *, k: int = 3, kind: str | None = None,
               services: tuple[str, ...] = (), open_at: dt.datetime | None = None,
               max_distance: float | None = None) -> tuple[list[int], list[float], list[float]]:
        """Positions, geodesic distances (m) and bearings (°) of the ``k`` nearest eligible sites."""
        mask = self.filter_mask(kind=kind, services=tuple(sorted(services)), open_at=open_at)
        pos, dist, bearing = self.index.query(lon, lat, k=k, mask=mask, max_distance=max_distance)
        return pos.tolist(), dist.tolist(), bearing.tolist()

    def site(self, p: int) -> dict:
        """The fixed properties of the site at position ``p``, with its navigation links.

        Memoised for the snapshot's life (a site's properties and links only change with a
        write, and a write makes a new snapshot). Treat the dict as read-only.
        """
        item = self._sites.get(p)
        if item is None:
            r, c = self.rows[p], _COL
            item = {k_: r[c[k_]] for k_ in PROPS}
            item["services"] = [s for s in (r[c["services"]] or "").split(",") if s]
            item["links"] = navigation_links(r[c["lon"]], r[c["lat"]], item["name"])
            item["lon"], item["lat"] = r[c["lon"]], r[c["lat"]]
            self._sites[p] = item
        return item

    def open_now(self, p: int, when: dt.datetime) -> bool | None:
        """Whether the site at ``p`` is open at ``when``; ``None`` when its hours are unknown."""
        return self.open_flags((p,), when)[0]

    def open_flags(self, positions, when: dt.datetime) -> list[bool | None]:
        """:meth:`open_now` of several sites at one time (the minute of the week computed once).

        Opening hours only depend on the minute of the week, so each (hours text, minute) is
        decided once per snapshot (at most 10,080 entries per distinct hours text).
        """
        mow, memo, out = minute_of_week(when), self._open, []
        for p in positions:
            g = int(self.hours_group[p])
            if g < 0:
                out.append(None)
                continue
            hit = memo.get((g, mow))
            if hit is None:
                hit = memo[(g, mow)] = parse_hours(self.hours_texts[g]).is_open(when)
            out.append(hit)
        return out

    def nearest(self, lon: float, lat: float, *, k: int = 3, kind: str | None = None,
                services: tuple[str, ...] = (), open_at: dt.datetime | None = None,
                max_distance: float | None = None, now: dt.datetime | None = None) -> list[dict]:
        """The ``k`` nearest open sites to a WGS-84 point, with distance and bearing."""
        pos, dist, bearing = self.search(lon, lat, k=k, kind=kind, services=services,
                                         open_at=open_at, max_distance=max_distance)
        when = open_at or now or dt.datetime.now(zone())
        out = []
        for p, d, b in zip(pos, dist, bearing):
            item = dict(self.site(p))
            item.update(open_now=self.open_now(p, when), distance_m=round(d, 1),
                        bearing_deg=round(b, 1))
            out.append(item)
        return out


def navigation_links(lon: float, lat: float, name: str) -> dict:
    """高德 and 百度 walking-navigation links, each in the coordinates that app expects.

    高德 (uri.amap.com) takes GCJ-02; 百度 (api.map.baidu.com) takes BD-09 (``bd09ll``).
    """
    g = prcoords.wgs_gcj(prcoords.Coords(lat, lon))  # scalar calls: this runs per result
    b = prcoords.gcj_bd(g)
    n = quote(name or "驿站", safe="")
    return {
        "amap": f"https://uri.amap.com/navigation?to={g.lon:.6f},{g.lat:.6f},{n}&mode=walk"
                f"&coordinate=gaode&callnative=1&src=yizhan",
        "baidu": f"https://api.map.baidu.com/direction?destination=latlng:{b.lat:.6f},{b.lon:.6f}"
                 f"|name:{n}&mode=walking&coord_type=bd09ll&output=html&src=yizhan",
    }


def parse_when(value: str | None, *, tz: ZoneInfo | None = None) -> dt.datetime | None:
    """``now`` or an ISO time (naive = the service's zone); ``ValueError`` otherwise."""
    tz = tz or zone()
    if value is None or value == "":
        return None
    if value.strip().lower() == "now":
        return dt.datetime.now(tz)
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not 'now' or an ISO time such as 2024-07-01T22:30") from None
    try:
        return t.replace(tzinfo=tz) if t.tzinfo is None else t.astimezone(tz)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 is past the last representable instant
        raise ValueError(f"{value!r} is out of the range of dates this service handles") from None
