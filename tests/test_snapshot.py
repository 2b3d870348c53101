"""The in-memory site snapshot: a refresh after writes equals a fresh load, on both backends."""
from __future__ import annotations

import datetime as dt

import numpy as np
import sqlalchemy as sa

from geo.store.db import next_seq
from geo.services.nearest_snapshot import SiteSnapshot
from geo.store.tables import counters, site_history, sites
from geo.store.sites import close_site, create_sites, update_site

DAY = dt.date(2024, 1, 1)


def state(code: str, lon: float, lat: float, **kw) -> dict:
    s = {"code": code, "kind": "love_station", "level": "city_union", "status": "open",
         "name": f"站{code}", "address": None, "services": ["water"], "opening_hours": "24小时",
         "phone": None, "capacity": None, "host_org": None, "operator": None,
         "opened_on": "2021-01-01", "closed_on": None, "location": [lon, lat], "src_crs": "wgs84",
         "declared_street": None, "declared_community": None}
    s.update(kw)
    return s


def same(a: SiteSnapshot, b: SiteSnapshot) -> None:
    assert a.seq == b.seq
    assert a.rows == b.rows
    assert np.array_equal(a.index.lon, b.index.lon) and np.array_equal(a.index.lat, b.index.lat)
    assert np.array_equal(a.kind, b.kind) and np.array_equal(a.service_bits, b.service_bits)
    assert [a.hours_texts[g] if g >= 0 else None for g in a.hours_group] == \
           [b.hours_texts[g] if g >= 0 else None for g in b.hours_group]


def test_refresh_applies_only_the_writes_and_equals_a_full_load(engine):
    rng = np.random.default_rng(3)
    with engine.begin() as conn:
        ids = create_sites(conn, [state(f"S{i}", 112.5 + rng.random() * 0.1, 37.8 + rng.random() * 0.1)
                                  for i in range(300)], effective_on=DAY, actor="t", source="t")
    with engine.connect() as conn:
        old = SiteSnapshot.load(conn)
        assert old.refresh(conn) is old  # nothing written: the same object
    with engine.begin() as conn:
        update_site(conn, ids[5], {"name": "改名的站", "location": [112.9, 37.9]}, effective_on=DAY,
                    actor="t", source="t")
        update_site(conn, ids[6], {"services": ["water", "charging"], "opening_hours": "08:00-20:00"},
                    effective_on=DAY, actor="t", source="t")
        close_site(conn, ids[7], effective_on=DAY, actor="t", source="t")
        new = create_sites(conn, [state("NEW", 112.55, 37.85)], effective_on=DAY, actor="t", source="t")
    with engine.connect() as conn:
        fresh = old.refresh(conn)
        full = SiteSnapshot.load(conn)
    same(fresh, full)
    assert len(fresh) == 300  # one closed, one added
    codes = {r[1] for r in fresh.rows}
    assert "S7" not in codes and "NEW" in codes
    p = [r[0] for r in fresh.rows].index(ids[5])
    assert fresh.site(p)["name"] == "改名的站" and fresh.site(p)["lon"] == 112.9
    pos, _, _ = fresh.search(112.55, 37.85, k=1)
    assert fresh.rows[pos[0]][0] == new[0]
    assert old.rows != fresh.rows and len(old) == 300  # the old snapshot is unchanged

    with engine.begin() as conn:  # reopened: back in the snapshot
        update_site(conn, ids[7], {"status": "open", "closed_on": None}, effective_on=DAY,
                    actor="t", source="t")
    with engine.connect() as conn:
        same(fresh.refresh(conn), SiteSnapshot.load(conn))


def test_refresh_falls_back_to_a_full_load_when_rows_vanish_or_the_counter_goes_back(engine):
    with engine.begin() as conn:
        ids = create_sites(conn, [state(f"S{i}", 112.5 + i * 1e-3, 37.8) for i in range(20)],
                           effective_on=DAY, actor="t", source="t")
    with engine.connect() as conn:
        old = SiteSnapshot.load(conn)
    with engine.begin() as conn:  # a row removed without a history event, then a write
        conn.execute(sa.delete(site_history).where(site_history.c.site_id == ids[0]))
        conn.execute(sa.delete(sites).where(sites.c.id == ids[0]))
        next_seq(conn)
    with engine.connect() as conn:
        same(old.refresh(conn), SiteSnapshot.load(conn))
        assert len(SiteSnapshot.load(conn)) == 19
    with engine.begin() as conn:  # a restored, older database: the counter went back
        conn.execute(sa.update(counters).where(counters.c.name == "sites_seq").values(value=old.seq - 1))
        conn.execute(sa.update(sites).where(sites.c.id == ids[1]).values(name="restored"))
    with engine.connect() as conn:
        again = old.refresh(conn)
        same(again, SiteSnapshot.load(conn))
        assert again.rows[0][2] == "restored"
