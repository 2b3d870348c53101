"""``GET /maps/coverage`` pages: built off the event loop, one build at a time, cached.

A city-scale map takes seconds to build and holds the GIL for long stretches, so it is
built in a separate worker process (one: builds queue, and two requests for the same page
share one build) and the page is kept per **data version and parameters**. The data
version is ``sites_seq`` (raised by every site write and every area import; the snapshot
polls the same counter) plus the row count, highest id and total weight of ``demand`` and
the row count and highest id of ``candidates``, so a demand or candidates import shows on
the next request too. Vocabulary label edits do not invalidate a page (restart to see them).
"""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import os
from collections import OrderedDict

import sqlalchemy as sa

from geo.store.db import engine_from_url, read_seq
from geo.store.tables import candidates, demand

#: pages kept (each a few MB at city scale)
MAX_PAGES = 8
#: niceness of the build process
BUILD_NICE = 10


def data_version(conn: sa.Connection) -> tuple:
    """What a coverage map depends on, cheaply: counters and aggregates, not the rows."""
    d = conn.execute(sa.select(sa.func.count(), sa.func.max(demand.c.id), sa.func.sum(demand.c.weight))).one()
    c = conn.execute(sa.select(sa.func.count(), sa.func.max(candidates.c.id))).one()
    return (read_seq(conn), *d, *c)


def build_page(database_url: str, radius_m: float, kind: str | None, tiles: str,
               tianditu_key: str | None) -> str:
    """The coverage map's HTML (runs in the build process; its own engine)."""
    from maps.from_db import coverage_map_from_db
    from maps.offline import to_html

    eng = engine_from_url(database_url)
    try:
        with eng.connect() as conn:
            m = coverage_map_from_db(conn, radius_m=radius_m, kind=kind, tiles=tiles, mode="url",
                                     tianditu_key=tianditu_key)
        return to_html(m, mode="url")
    finally:
        eng.dispose()


def warm() -> None:
    """Import what a build needs (≈ 10 s cold: GeoPandas, Folium, spopt), once per build process."""
    import maps.from_db  # noqa: F401
    import maps.offline  # noqa: F401
    import spopt.locate  # noqa: F401  (the exact suggestions of small instances)


def _in_memory(url: str) -> bool:
    return url.startswith("sqlite") and (url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:") or ":memory:" in url)


class MapPages:
    """The per-worker cache and build process of coverage-map pages."""

    def __init__(self, database_url: str, *, max_pages: int = MAX_PAGES):
        self.url, self.max_pages = database_url, max_pages
        self._pages: OrderedDict = OrderedDict()
        self._building: dict = {}
        self._pool: cf.Executor | None = None
        self.builds = self.hits = 0  # builds started; requests served by a page built or being built

    def _executor(self) -> cf.Executor:
        if self._pool is None:
            if _in_memory(self.url):  # another process cannot see this database
                self._pool = cf.ThreadPoolExecutor(1, thread_name_prefix="yizhan-map")
            else:
                # spawned (no copy of this process's threads or locks), at low priority: on a
                # shared core the worker's requests come first
                self._pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=os.nice, initargs=(BUILD_NICE,))
        return self._pool

    def start(self) -> None:
        """Start the build process and its imports now (low priority). Not called at app start: every
        app (each test client, each worker) would spawn a process; the first page request starts it."""
        self._executor().submit(warm)

    async def page(self, version: tuple, params: tuple) -> tuple[str, bool]:
        """``(html, cached)`` for ``params = (radius_m, kind, tiles, tianditu_key)``."""
        key = (version, params)
        html = self._pages.get(key)
        if html is not None:
            self._pages.move_to_end(key)
            self.hits += 1
            return html, True
        fut = self._building.get(key)
        if fut is not None:
            self.hits += 1
        else:
            self.builds += 1
            loop = asyncio.get_running_loop()
            fut = asyncio.ensure_future(loop.run_in_executor(self._executor(), build_page, self.url, *params))
            self._building[key] = fut
            fut.add_done_callback(lambda f: self._done(key, f))
        return await asyncio.shield(fut), False

    def _done(self, key, fut) -> None:
        self._building.pop(key, None)
        if fut.cancelled() or fut.exception() is not None:
            return
        for old in [k for k in self._pages if k[0] != key[0]]:  # pages of older data
            del self._pages[old]
        self._pages[key] = fut.result()
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
