"""Expensive public pages (the coverage map) are built once per data state and one at a time.

Anonymous requests cannot multiply the work: identical requests share one cached page until the
data change (sites, demand, candidates, areas, vocabulary; at most a minute for edits
in place that keep the counts), and at most one page is being built
in a worker process at any moment, so memory is that of one build whatever the request rate.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

import sqlalchemy as sa

from geo.store.db import read_seq
from geo.store.tables import areas, candidates, demand, vocab


def data_state(conn: sa.Connection) -> tuple:
    """A cheap fingerprint of everything a coverage map shows."""
    parts = [read_seq(conn)]
    for t in (demand, candidates, areas):
        parts += list(conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.id))).one())
    return (*parts, hash(tuple(map(tuple, conn.execute(sa.select(vocab)).all()))))


class PageCache:
    """Least-recently-used pages keyed by request and data state; single-flight builds."""

    def __init__(self, size: int = 8, ttl_s: float = 60.0):
        self.size, self.ttl_s = size, ttl_s
        self._pages: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._build = threading.Lock()
        self.builds = self.hits = 0

    def _lookup(self, key: tuple) -> str | None:
        with self._lock:
            hit = self._pages.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl_s:
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return hit[1]

    def get(self, key: tuple, build: Callable[[], str]) -> str:
        page = self._lookup(key)
        if page is not None:
            return page
        with self._build:  # one build at a time; the others wait, then find it cached
            page = self._lookup(key)
            if page is not None:
                return page
            page = build()
            self.builds += 1
        with self._lock:
            self._pages[key] = (time.monotonic(), page)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page
