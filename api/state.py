"""Per-process state: the open-sites snapshot, refreshed when another process writes."""
from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from geo.store.db import read_seq
from geo.services.nearest_snapshot import SiteSnapshot
from geo.store.vocab import Vocabulary

log = logging.getLogger("yizhan.api")


class SnapshotHolder:
    """Holds the current :class:`SiteSnapshot` and vocabulary of this worker process.

    Writes in this process call :meth:`reload` after committing (visible at once); a
    background task polls ``sites_seq`` every ``interval`` seconds so that writes made by
    other processes show within that time. If the database is briefly unreachable the last
    snapshot keeps answering.
    """

    def __init__(self, engine: sa.Engine, *, interval: float = 0.5):
        self.engine = engine
        self.interval = interval
        self.snap: SiteSnapshot | None = None
        self.vocab: Vocabulary | None = None

    def reload(self) -> None:
        """Bring the snapshot up to date (only the sites written since it was taken)."""
        with self.engine.connect() as conn:
            vocab = Vocabulary.load(conn)
            snap = SiteSnapshot.load(conn) if self.snap is None else self.snap.refresh(conn)
        self.vocab, self.snap = vocab, snap

    def check(self) -> None:
        with self.engine.connect() as conn:
            seq = read_seq(conn)
        if self.snap is None or seq != self.snap.seq:
            self.reload()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await run_in_threadpool(self.check)
            except Exception as e:  # noqa: BLE001 - keep serving the last snapshot
                log.warning("snapshot refresh failed: %s", e)
