"""Sites and their dated history.

Nothing is overwritten: every change is a row of ``site_history`` with the field, old and
new value (JSON), the date it takes effect, when it was recorded and by whom. The
``sites`` row is the state *replayed* from that history up to today, so a back-dated
change lands in the right place; :func:`replay` gives the state as of any date.
"""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from geo.db import next_seq, now
from geo.errors import Conflict, InputError, NotFound
from geo.models import areas, site_history, sites

#: Fields whose changes are tracked. ``location`` is ``[lon, lat]`` (WGS-84).
TRACKED = ("kind", "level", "status", "name", "address", "services", "opening_hours", "phone",
           "capacity", "host_org", "operator", "opened_on", "closed_on", "location", "src_crs",
           "declared_street", "declared_community")
CREATED = "_created"


def _jsonable(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, tuple):
        return list(v)
    return v


def dumps(v) -> str:
    return json.dumps(_jsonable(v), ensure_ascii=False)


def state_from_record(rec: dict) -> dict:
    """The tracked state of a checked record (dates as ISO text, location as a list)."""
    st = {f: _jsonable(rec.get(f)) for f in TRACKED if f != "location"}
    st["location"] = [float(rec["lon"]), float(rec["lat"])]
    st["services"] = list(rec.get("services") or [])
    st["src_crs"] = str(rec.get("src_crs") or "wgs84")
    return st


def creation_events(state: dict, *, effective_on: dt.date) -> tuple[dt.date, dict, list]:
    """Split a record's state into a creation snapshot and dated follow-up events.

    A site that is open/suspended/closed with an ``opened_on`` is created *open* on that
    date; a ``closed_on`` closes it on that date; anything else starts on ``effective_on``.
    """
    status = state.get("status")
    opened = dt.date.fromisoformat(state["opened_on"]) if state.get("opened_on") else None
    closed = dt.date.fromisoformat(state["closed_on"]) if state.get("closed_on") else None
    events = []
    if opened and status in ("open", "suspended", "closed"):
        snap = dict(state, status="open", closed_on=None)
        start = opened
        if status == "closed":
            when = closed or max(effective_on, opened)
            events += [(when, "status", "open", "closed")]
            if closed:
                events += [(when, "closed_on", None, state["closed_on"])]
        elif status == "suspended":
            events += [(max(effective_on, opened), "status", "open", "suspended")]
    else:
        snap = dict(state)
        start = effective_on
    return start, snap, events


def replay(rows, as_of: dt.date | None = None) -> dict | None:
    """State of one site as of a date from its history rows (``None`` before it existed)."""
    state = None
    for r in sorted(rows, key=lambda r: (r.effective_on, r.id)):
        if as_of is not None and r.effective_on > as_of:
            break
        if r.outcome != "applied":
            continue
        if r.field == CREATED:
            state = json.loads(r.new_value)
        elif state is not None:
            state[r.field] = json.loads(r.new_value)
    return state


def row_values(state: dict) -> dict:
    """Columns of the ``sites`` row for a state."""
    lon, lat = state["location"]
    vals = {f: state.get(f) for f in TRACKED if f not in ("location", "services")}
    for f in ("opened_on", "closed_on"):
        vals[f] = dt.date.fromisoformat(vals[f]) if vals[f] else None
    vals["services"] = ",".join(state.get("services") or [])
    vals.update(lon=lon, lat=lat, geom=f"SRID=4326;POINT({lon!r} {lat!r})")
    return vals


def create_sites(conn: sa.Connection, states: list[dict], *, effective_on: dt.date,
                 actor: str, source: str, placement: list[tuple] | None = None) -> list[int]:
    """Insert new sites with their creation history; return their ids (in order)."""
    if not states:
        return []
    t = now()
    seq = next_seq(conn)
    plans = [creation_events(s, effective_on=effective_on) for s in states]
    rows = []
    for k, (start, snap, events) in enumerate(plans):
        final = dict(snap)
        for _, f, _, new in events:
            final[f] = new
        v = row_values(final)
        v.update(code=states[k]["code"], version=1, seq=seq, created_at=t, updated_at=t)
        v["street_id"], v["community_id"] = placement[k] if placement else (None, None)
        rows.append(v)
    step = 5000
    for a in range(0, len(rows), step):
        conn.execute(sites.insert(), rows[a:a + step])  # plain executemany: RETURNING runs row by row on SQLite
    # Every row of this call carries the fresh ``seq``: one indexed lookup gives all the ids
    # (``code IN (…)`` batches went quadratic on PostgreSQL inside the import transaction).
    ids = dict(conn.execute(sa.select(sites.c.code, sites.c.id).where(sites.c.seq == seq)).all())
    hist = []
    for k, (start, snap, events) in enumerate(plans):
        sid = ids[states[k]["code"]]
        hist.append(dict(site_id=sid, field=CREATED, old_value=None, new_value=dumps(snap),
                         effective_on=start, recorded_at=t, actor=actor, source=source))
        for when, f, old, new in events:
            hist.append(dict(site_id=sid, field=f, old_value=dumps(old), new_value=dumps(new),
                             effective_on=when, recorded_at=t, actor=actor, source=source))
    for a in range(0, len(hist), 5000):
        conn.execute(site_history.insert(), hist[a:a + 5000])
    return [ids[s["code"]] for s in states]


def history_rows(conn: sa.Connection, site_id: int):
    return conn.execute(sa.select(site_history).where(site_history.c.site_id == site_id)
                        .order_by(site_history.c.effective_on, site_history.c.id)).all()


def update_site(conn: sa.Connection, site_id: int, changes: dict, *, effective_on: dt.date,
                actor: str, source: str, expected_version: int | None = None,
                placement: tuple | None = None) -> dict:
    """Apply tracked-field changes effective on a date; return ``{field: (old, new)}``.

    Raises :class:`Conflict` when ``expected_version`` is stale (nothing is written) and
    :class:`InputError` for a date before the site existed or in the future.
    """
    cur = conn.execute(sa.select(sites.c.id, sites.c.version).where(sites.c.id == site_id)).first()
    if cur is None:
        raise NotFound(f"site {site_id} does not exist")
    if expected_version is not None and cur.version != expected_version:
        raise Conflict(f"site {site_id} is at version {cur.version}, not {expected_version}: "
                       "reload it and apply your change again")
    if effective_on > dt.date.today():
        raise InputError(f"effective_on {effective_on} is in the future", field="effective_on")
    hist = history_rows(conn, site_id)
    created_on = min(r.effective_on for r in hist if r.field == CREATED)
    if effective_on < created_on:
        raise InputError(f"effective_on {effective_on} is before the site existed ({created_on})",
                         field="effective_on")
    before = replay(hist, effective_on)
    diff = {f: (before.get(f), _jsonable(v)) for f, v in changes.items()
            if f in TRACKED and before.get(f) != _jsonable(v)}
    if not diff:
        return {}
    t = now()
    conn.execute(site_history.insert(), [
        dict(site_id=site_id, field=f, old_value=dumps(old), new_value=dumps(new),
             effective_on=effective_on, recorded_at=t, actor=actor, source=source)
        for f, (old, new) in diff.items()])
    state = replay(history_rows(conn, site_id))
    vals = row_values(state)
    if placement is not None:
        vals["street_id"], vals["community_id"] = placement
    vals.update(seq=next_seq(conn), updated_at=t, version=cur.version + 1)
    res = conn.execute(sites.update().where(sites.c.id == site_id, sites.c.version == cur.version)
                       .values(**vals))
    if res.rowcount != 1:
        raise Conflict(f"site {site_id} was changed by someone else meanwhile; try again")
    return diff


def record_rejection(conn: sa.Connection, site_id: int, changes: dict, *, actor: str,
                     source: str, reason: str, effective_on: dt.date) -> None:
    """Keep a trace of a refused write (e.g. a stale version) in the history."""
    conn.execute(site_history.insert(), [
        dict(site_id=site_id, field=f, old_value=None, new_value=dumps(v), effective_on=effective_on,
             recorded_at=now(), actor=actor, source=source, outcome=f"rejected: {reason}"[:32])
        for f, v in (changes or {"(none)": None}).items()])


def close_site(conn: sa.Connection, site_id: int, *, effective_on: dt.date, actor: str,
               source: str, expected_version: int | None = None) -> dict:
    """Close a site (``status=closed``, ``closed_on``) keeping its history."""
    return update_site(conn, site_id, {"status": "closed", "closed_on": effective_on},
                       effective_on=effective_on, actor=actor, source=source,
                       expected_version=expected_version)


def site_select():
    """SELECT of site columns with street/community names."""
    st = areas.alias("st")
    cm = areas.alias("cm")
    return (sa.select(*[c for c in sites.c if c.name != "geom"],
                      st.c.name.label("street"), cm.c.name.label("community"))
            .select_from(sites.outerjoin(st, st.c.id == sites.c.street_id)
                         .outerjoin(cm, cm.c.id == sites.c.community_id)))


def get_site(conn: sa.Connection, site_id: int):
    row = conn.execute(site_select().where(sites.c.id == site_id)).first()
    if row is None:
        raise NotFound(f"site {site_id} does not exist")
    return row
