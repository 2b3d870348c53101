"""Sites and their dated history.

Nothing is overwritten: every change is a row of ``site_history`` with the field, old and
new value (JSON), the date it takes effect, when it was recorded and by whom. The
``sites`` row is the state *replayed* from that history up to today, so a back-dated
change lands in the right place; :func:`replay` gives the state as of any date.
"""
from __future__ import annotations

import datetime as dt
import json
from itertools import chain, repeat
from json.encoder import encode_basestring
from typing import Iterator, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.store.bulk_write import Binder, ewkb_points, insert_rows, spatial_index_after_insert
from geo.engine.clock import today
from geo.store.db import next_seq, now
from geo.errors import Conflict, InputError, NotFound
from geo.store.tables import areas, site_history, sites

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
    (One state; :func:`create_sites` applies the same rule to all its rows at once.)
    """
    plan = _creation_plan(_states_frame([state]), effective_on)
    snap = dict(state, **{f: _jsonable(v[0]) for f, v in plan.snapshot.items()})
    events = [(when, f, old, _jsonable(new)) for _, when, f, old, new in plan.events]
    return plan.start[0], snap, events


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


def status_since(rows, as_of: dt.date | None = None) -> tuple[str | None, dt.date | None]:
    """The status of one site as of a date (default today) and the date it took that status.

    A closed site's date is its ``closed_on`` when it has one (the date on its door's
    notice), else the effective date of the change to ``closed``.
    """
    as_of = as_of or today()
    status = since = closed_on = None
    for r in sorted(rows, key=lambda r: (r.effective_on, r.id)):
        if r.effective_on > as_of:
            break
        if r.outcome != "applied" or r.field not in (CREATED, "status", "closed_on"):
            continue
        new = json.loads(r.new_value) if r.new_value else None
        if r.field == "closed_on":
            closed_on = new
            continue
        if r.field == CREATED:
            new, closed_on = new.get("status"), new.get("closed_on")
        if new != status:
            status, since = new, r.effective_on
    if status == "closed" and closed_on:
        since = dt.date.fromisoformat(closed_on)
    return status, since


def row_values(state: dict) -> dict:
    """Columns of the ``sites`` row for a state."""
    lon, lat = state["location"]
    vals = {f: state.get(f) for f in TRACKED if f not in ("location", "services")}
    for f in ("opened_on", "closed_on"):
        vals[f] = dt.date.fromisoformat(vals[f]) if vals[f] else None
    vals["services"] = ",".join(state.get("services") or [])
    vals.update(lon=lon, lat=lat, geom=f"SRID=4326;POINT({lon!r} {lat!r})")
    return vals


def create_sites(conn: sa.Connection, states: list[dict] | pd.DataFrame, *, effective_on: dt.date,
                 actor: str, source: str, placement=None) -> list[int]:
    """Insert new sites with their creation history; return their ids (in order).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        In the caller's transaction.
    states : list of dict or pandas.DataFrame
        State dicts (:func:`state_from_record` plus ``code``), or a site frame as an import
        builds it: the columns of :func:`geo.ingest.records.site_records` plus ``lon``, ``lat``
        and ``src_crs``.
    effective_on : datetime.date
        When sites without an ``opened_on`` start (see :func:`creation_events`).
    actor, source : str
        Recorded with every history row.
    placement : sequence of (street_id, community_id), optional
        One pair per site, ``None`` (or -1) where it lies in no area.

    Notes
    -----
    Everything is built column by column and goes through the driver's own cursor (COPY
    on PostgreSQL, ``executemany`` on SQLite), not SQLAlchemy's per-parameter processing:
    200,000 sites take seconds. Snapshot JSON is assembled from each distinct value's
    encoding, so it reads exactly like :func:`dumps` of the state.
    """
    n = len(states)
    if n == 0:
        return []
    frame = states if isinstance(states, pd.DataFrame) else _states_frame(states)
    t = now()
    seq = next_seq(conn)
    plan = _creation_plan(frame, effective_on)
    lon, lat = (frame[c].to_numpy(dtype="float64") for c in ("lon", "lat"))
    street, community = _placement_columns(placement, n)
    bind = Binder(conn)
    stamp = bind.one(sites.c.created_at, t)
    columns = {f: _objects(frame[f]) for f in _SNAPSHOT if f != "location"}  # the state's fields
    values = {c: columns[c].tolist() for c in _COPIED}
    values.update(
        street_id=street, community_id=community, lon=lon.tolist(), lat=lat.tolist(),
        opened_on=bind(sites.c.opened_on, values["opened_on"]),
        closed_on=bind(sites.c.closed_on, plan.final_closed_on),
        version=[1] * n, seq=[seq] * n, created_at=[stamp] * n, updated_at=[stamp] * n,
        geom=ewkb_points(lon, lat))
    with spatial_index_after_insert(conn, sites, n):
        insert_rows(conn, sites, _SITE_COLUMNS, zip(*(values[c] for c in _SITE_COLUMNS)))
    # Every row of this call carries the fresh ``seq``: one indexed lookup gives all the ids.
    cur = conn.connection.driver_connection.cursor()
    ids = dict(cur.execute(f"SELECT code, id FROM sites WHERE seq = {int(seq)}").fetchall())
    cur.close()
    site_ids = [ids[c] for c in values["code"]]
    state = dict(columns, **plan.snapshot)
    recorded = bind.one(site_history.c.recorded_at, t)
    created = zip(site_ids, repeat(CREATED), repeat(None), _snapshots(state, lon, lat),
                  bind(site_history.c.effective_on, plan.start), repeat(recorded), repeat(actor),
                  repeat(source))
    events = ((site_ids[i], f, dumps(old), dumps(new), bind.one(site_history.c.effective_on, when),
               recorded, actor, source) for i, when, f, old, new in plan.events)
    insert_rows(conn, site_history, _HISTORY_COLUMNS, chain(created, events))
    return site_ids


#: Columns of ``sites`` a create writes, and those taken from the frame as they are.
_SITE_COLUMNS = ("code", "kind", "level", "status", "name", "address", "services", "opening_hours",
                 "phone", "capacity", "host_org", "operator", "opened_on", "closed_on", "street_id",
                 "community_id", "declared_street", "declared_community", "lon", "lat", "src_crs",
                 "version", "seq", "created_at", "updated_at", "geom")
_COPIED = ("code", "kind", "level", "status", "name", "address", "services", "opening_hours", "phone",
           "capacity", "host_org", "operator", "opened_on", "declared_street", "declared_community",
           "src_crs")  # closed_on comes from the creation plan
_HISTORY_COLUMNS = ("site_id", "field", "old_value", "new_value", "effective_on", "recorded_at",
                    "actor", "source")
#: Keys of a creation snapshot, in the order :func:`state_from_record` gives them (plus code).
_SNAPSHOT = tuple(f for f in TRACKED if f != "location") + ("location", "code")


class _CreationPlan(NamedTuple):
    """:func:`creation_events` for every row of a site frame."""

    start: np.ndarray               # the date each site is created on
    snapshot: dict[str, np.ndarray]  # fields whose creation snapshot differs from the frame
    final_closed_on: np.ndarray     # ``closed_on`` of the ``sites`` row
    events: list[tuple]             # (row, when, field, old, new), status events first


def _creation_plan(frame: pd.DataFrame, effective_on: dt.date) -> _CreationPlan:
    status, opened, closed = (_objects(frame[c]) for c in ("status", "opened_on", "closed_on"))
    born_open = pd.notna(opened) & np.isin(status, ["open", "suspended", "closed"])
    start = np.full(len(frame), effective_on, dtype=object)
    start[born_open] = opened[born_open]
    snapshot = {"status": np.where(born_open, "open", status),
                "closed_on": np.where(born_open, None, closed)}
    shut = np.flatnonzero(born_open & (status == "closed"))
    when = {i: closed[i] or max(effective_on, opened[i]) for i in shut}
    events = [(i, when[i], "status", "open", "closed") for i in shut]
    events += [(i, when[i], "closed_on", None, closed[i]) for i in shut if closed[i]]
    events += [(i, max(effective_on, opened[i]), "status", "open", "suspended")
               for i in np.flatnonzero(born_open & (status == "suspended"))]
    final_closed = np.where(born_open & (status != "closed"), None, closed)
    return _CreationPlan(start, snapshot, final_closed, [(int(i), *e) for i, *e in events])


def _states_frame(states: list[dict]) -> pd.DataFrame:
    """State dicts as a site frame (dates as ``datetime.date``, services comma-joined)."""
    def date(v):
        return dt.date.fromisoformat(v) if isinstance(v, str) and v else (v or None)

    cols = {f: [s.get(f) for s in states] for f in TRACKED + ("code",) if f != "location"}
    cols["services"] = [",".join(v or []) for v in cols["services"]]
    cols["opened_on"] = [date(v) for v in cols["opened_on"]]
    cols["closed_on"] = [date(v) for v in cols["closed_on"]]
    frame = pd.DataFrame({f: pd.Series(v, dtype=object) for f, v in cols.items()})
    frame["lon"], frame["lat"] = np.array([s["location"] for s in states], dtype="float64").T
    return frame


def _snapshots(state: dict[str, np.ndarray], lon: np.ndarray, lat: np.ndarray,
               chunk: int = 10_000) -> Iterator[str]:
    """The ``_created`` JSON of each site from its state's columns (:data:`_SNAPSHOT`).

    Lazily, a chunk at a time: on PostgreSQL the server stores the history rows already
    sent while the next ones are built.
    """
    where = _SNAPSHOT.index("location")
    for a in range(0, len(lon), chunk):
        part = slice(a, a + chunk)
        pieces = [_encoded(f, state[f][part]) for f in _SNAPSHOT if f != "location"]
        pieces.insert(where, [f'"location": [{x!r}, {y!r}]'
                              for x, y in zip(lon[part].tolist(), lat[part].tolist())])
        yield from (f"{{{', '.join(p)}}}" for p in zip(*pieces))


def _objects(column: pd.Series) -> np.ndarray:
    """A frame column as Python objects, missing values (NaN, NA) as ``None``."""
    return column.to_numpy(dtype=object, na_value=None)


def _encoded(field: str, values: np.ndarray) -> np.ndarray:
    """``"field": <JSON of the value>`` per row, exactly as :func:`dumps` writes it; each
    distinct value is encoded once."""
    index, uniques = pd.factorize(values)
    if field == "services":
        texts = [dumps(v.split(",") if v else []) for v in uniques]
    elif pd.api.types.infer_dtype(uniques, skipna=False) == "string":
        texts = map(encode_basestring, uniques)  # what json.dumps does to a str, in C
    else:
        texts = map(dumps, uniques)
    head = f'"{field}": '
    return np.array([head + t for t in texts] + [head + "null"], dtype=object)[index]


def _placement_columns(placement, n: int) -> tuple[list, list]:
    """Street and community ids (``None`` for none) from (street, community) pairs."""
    if placement is None:
        return [None] * n, [None] * n
    pairs = np.asarray(placement, dtype=object).reshape(n, 2)
    return tuple([None if v is None or v < 0 else int(v) for v in col] for col in pairs.T)


def history_rows(conn: sa.Connection, site_id: int):
    return conn.execute(sa.select(site_history).where(site_history.c.site_id == site_id)
                        .order_by(site_history.c.effective_on, site_history.c.id)).all()


def history_rows_by_site(conn: sa.Connection, site_ids, *, chunk: int = 2000) -> dict[int, list]:
    """History rows of many sites, ``{site_id: rows}`` in :func:`history_rows`'s order (few queries)."""
    ids = sorted({int(i) for i in site_ids})
    out: dict[int, list] = {i: [] for i in ids}
    for k in range(0, len(ids), chunk):
        part = ids[k:k + chunk]
        q = (sa.select(site_history).where(site_history.c.site_id.in_(part))
             .order_by(site_history.c.site_id, site_history.c.effective_on, site_history.c.id))
        for r in conn.execute(q):
            out[r.site_id].append(r)
    return out


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
    if effective_on > today():
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
