"""Every timestamp shown carries its zone (Settings.timezone, +08:00 by default), on both
backends: the API's history and site times, OGC's timeStamp, the CLI's token list."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from geo.engine import clock
from geo.store.tables import site_history, tokens
from geo.store.tokens import create_token

YIZHAN = str(Path(sys.executable).with_name("yizhan"))
SHANGHAI = dt.timedelta(hours=8)
BODY = {"code": "T1", "name": "计时驿站", "kind": "love_station", "lon": 112.57, "lat": 37.86,
        "status": "open", "opened_on": "2024-05-01"}


def parsed(text: str) -> dt.datetime:
    """An ISO-8601 timestamp that must carry the +08:00 offset, to the second."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", text), text
    t = dt.datetime.fromisoformat(text)
    assert t.tzinfo is not None and t.utcoffset() == SHANGHAI
    return t


def between(t: dt.datetime, before: dt.datetime, after: dt.datetime) -> None:
    assert before.replace(microsecond=0) <= t <= after, (t, before, after)


def test_history_and_site_times_carry_the_zone_and_equal_the_instant(engine, db_url, server_factory,
                                                                     client_factory):
    with engine.begin() as conn:
        _, tok = create_token(conn, role="planner")
    with server_factory(db_url) as srv:
        planner = client_factory(srv.url, tok)
        before = dt.datetime.now(dt.timezone.utc)
        sid = planner.post("/api/sites", json=BODY).json()["id"]
        r = planner.patch(f"/api/sites/{sid}", json={"name": "计时驿站（新）"}, headers={"If-Match": '"1"'})
        assert r.status_code == 200, r.text
        after = dt.datetime.now(dt.timezone.utc)
        history = planner.get(f"/api/sites/{sid}/history").json()["history"]
        site = planner.get(f"/api/sites/{sid}").json()["properties"]
        ogc = planner.get("/ogc/collections/love_station/items").json()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(site_history.c.recorded_at).where(site_history.c.site_id == sid)
                              .order_by(site_history.c.id)).scalars().all()
    assert len(history) == len(stored) == 2
    for h, raw in zip(history, stored):
        t = parsed(h["recorded_at"])
        between(t, before, after)
        assert t == clock.instant(raw).replace(microsecond=0)  # the stored instant, shown at +08:00
    assert [h["effective_on"] for h in history] == ["2024-05-01", clock.today().isoformat()]  # dates
    assert parsed(site["updated_at"]) == parsed(history[-1]["recorded_at"])
    between(parsed(ogc["timeStamp"]), before, dt.datetime.now(dt.timezone.utc))
    assert parsed(ogc["features"][0]["properties"]["updated_at"]) == parsed(site["updated_at"])


def test_token_list_shows_created_and_revoked_times_with_zone(engine, db_url):
    env = dict(os.environ, YIZHAN_DATABASE_URL=db_url, COLUMNS="200")
    before = dt.datetime.now(dt.timezone.utc)
    for args in (("token", "create", "--role", "planner", "--name", "张三"), ("token", "revoke", "1")):
        assert subprocess.run([YIZHAN, *args], capture_output=True, env=env, timeout=300).returncode == 0
    after = dt.datetime.now(dt.timezone.utc)
    out = subprocess.run([YIZHAN, "token", "list"], capture_output=True, text=True, env=env,
                         timeout=300).stdout
    tid, role, name, created, word, revoked = out.split()
    assert (tid, role, name, word) == ("1", "planner", "张三", "revoked"), out
    with engine.connect() as conn:
        row = conn.execute(sa.select(tokens)).one()
    for shown, raw in ((created, row.created_at), (revoked, row.revoked_at)):
        between(parsed(shown), before, after)
        assert parsed(shown) == clock.instant(raw).replace(microsecond=0)


def test_stamp_and_today_follow_the_configured_zone(monkeypatch):
    t = dt.datetime(2026, 12, 3, 8, 27, 45, 900_000)  # naive = UTC, as SpatiaLite returns it
    assert clock.stamp(t) == "2026-12-03T16:27:45+08:00"
    assert clock.stamp(t.replace(tzinfo=dt.timezone.utc)) == "2026-12-03T16:27:45+08:00"
    assert clock.stamp("2026-12-03 08:27:45.900000") == "2026-12-03T16:27:45+08:00"
    monkeypatch.setenv("YIZHAN_TIMEZONE", "UTC")
    assert clock.stamp(t) == "2026-12-03T08:27:45+00:00"
    monkeypatch.setenv("YIZHAN_TIMEZONE", "Mars/Olympus")
    try:
        clock.zone()
    except Exception as e:
        assert str(e) == ("request, field YIZHAN_TIMEZONE: 'Mars/Olympus' is not a time zone name "
                          "such as Asia/Shanghai")
    else:
        raise AssertionError("an unknown zone must be refused")
