""""Which open station is nearest to me?" — an in-memory snapshot of the usable sites.

A :class:`SiteSnapshot` holds every site whose status is ``open`` as numpy arrays, with a
:class:`~geo.nearest.NearestIndex` (exact geodesic k-NN), a service bitmask per site and
opening hours grouped by distinct text (so "open at 22:30" is one lookup per distinct
text, not per site). Snapshots are immutable; a process swaps in a new one when the
``sites_seq`` counter moves (every site write bumps it).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

import prcoords

from geo.db import read_seq
from geo.hours import minute_of_week, parse_hours
from geo.models import sites
from geo.nearest import NearestIndex
from geo.sites import site_select

TZ = ZoneInfo("Asia/Shanghai")
PROPS = ("id", "code", "name", "kind", "level", "status", "address", "street", "community",
         "phone", "opening_hours")


@dataclass
class SiteSnapshot:
    """Open sites at one moment (``seq``), ready for nearest queries."""

    seq: int
    index: NearestIndex
    rows: list[dict]
    kind: np.ndarray                     # object array of kind codes
    service_bits: np.ndarray             # int64 bitmask per site
    service_codes: dict[str, int]        # code → bit
    hours_group: np.ndarray              # int32 index into hours_texts (-1 = unknown)
    hours_texts: list[str]
    _masks: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, conn: sa.Connection) -> "SiteSnapshot":
        seq = read_seq(conn)
        q = site_select().where(sites.c.status == "open").order_by(sites.c.id)
        rows = [r._asdict() for r in conn.execute(q)]
        lon = np.array([r["lon"] for r in rows], dtype="float64")
        lat = np.array([r["lat"] for r in rows], dtype="float64")
        codes: dict[str, int] = {}
        bits = np.zeros(len(rows), dtype="int64")
        texts: dict[str, int] = {}
        group = np.full(len(rows), -1, dtype="int32")
        for i, r in enumerate(rows):
            svc = [s for s in (r["services"] or "").split(",") if s]
            r["services"] = svc
            for s in svc:
                b = codes.setdefault(s, len(codes))
                if b < 63:
                    bits[i] |= 1 << b
            h = r["opening_hours"]
            if h:
                group[i] = texts.setdefault(h, len(texts))
        return cls(seq=seq, index=NearestIndex(lon, lat), rows=rows,
                   kind=np.array([r["kind"] for r in rows], dtype=object), service_bits=bits,
                   service_codes=codes, hours_group=group, hours_texts=list(texts))

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

    def nearest(self, lon: float, lat: float, *, k: int = 3, kind: str | None = None,
                services: tuple[str, ...] = (), open_at: dt.datetime | None = None,
                max_distance: float | None = None, now: dt.datetime | None = None) -> list[dict]:
        """The ``k`` nearest open sites to a WGS-84 point, with distance and bearing."""
        mask = self.filter_mask(kind=kind, services=tuple(sorted(services)), open_at=open_at)
        pos, dist, bearing = self.index.query(lon, lat, k=k, mask=mask, max_distance=max_distance)
        when = open_at or now or dt.datetime.now(TZ)
        out = []
        for p, d, b in zip(pos.tolist(), dist.tolist(), bearing.tolist()):
            r = self.rows[p]
            oh = parse_hours(r["opening_hours"]) if r["opening_hours"] else None
            item = {k_: r[k_] for k_ in PROPS}
            links = r.get("_links")
            if links is None:  # memoised: a site's links depend only on its point and name
                links = r["_links"] = navigation_links(r["lon"], r["lat"], r["name"])
            item.update(services=r["services"], open_now=None if oh is None else oh.is_open(when),
                        distance_m=round(d, 1), bearing_deg=round(b, 1), links=links,
                        lon=r["lon"], lat=r["lat"])
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


def parse_when(value: str | None, *, tz: ZoneInfo = TZ) -> dt.datetime | None:
    """``now`` or an ISO time (naive = Asia/Shanghai); ``ValueError`` otherwise."""
    if value is None or value == "":
        return None
    if value.strip().lower() == "now":
        return dt.datetime.now(tz)
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not 'now' or an ISO time such as 2024-07-01T22:30") from None
    return t.replace(tzinfo=tz) if t.tzinfo is None else t.astimezone(tz)
