"""The service's one time zone (``Settings.timezone``) and how timestamps are shown.

Timestamps are stored as UTC instants. SpatiaLite keeps them as naive text (UTC by
construction: every writer uses :func:`now`); PostGIS returns them aware. :func:`instant`
makes both the same aware UTC value, and :func:`stamp` writes it as ISO-8601 with the
offset of the service's zone (``2026-12-03T16:27:45+08:00`` in Asia/Shanghai) — the one
format of every timestamp the API, the CLI and the files show. Effective dates stay dates.
"""
from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.errors import InputError
from geo.settings import Settings

UTC = dt.timezone.utc


def zone() -> ZoneInfo:
    """The service's zone: ``YIZHAN_TIMEZONE``, else the :class:`Settings` default."""
    return _zone(os.environ.get("YIZHAN_TIMEZONE") or Settings.model_fields["timezone"].default)


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"{name!r} is not a time zone name such as "
                         "Asia/Shanghai", field="YIZHAN_TIMEZONE") from None


def now() -> dt.datetime:
    """The current instant, aware, in UTC (what the database stores)."""
    return dt.datetime.now(UTC)


def instant(value: dt.datetime | str | None) -> dt.datetime | None:
    """A stored timestamp as an aware UTC datetime (naive values and text are UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local(value: dt.datetime | str | None) -> dt.datetime | None:
    """A stored timestamp in the service's zone."""
    t = instant(value)
    return None if t is None else t.astimezone(zone())


def stamp(value: dt.datetime | str | None) -> str | None:
    """ISO-8601 to the second with the zone's offset, e.g. ``2026-12-03T16:27:45+08:00``."""
    t = local(value)
    return None if t is None else t.isoformat(timespec="seconds")


def today() -> dt.date:
    """Today's date in the service's zone (not the machine's: a server on UTC is 8 hours
    behind the district between midnight and 08:00)."""
    return dt.datetime.now(zone()).date()
