"""Build the demo database from the committed files in ``data/`` (see data/README.md)."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from geo.store import sites as sitesmod
from geo.ingest.import_areas import import_areas
from geo.ingest.import_points import import_candidates, import_demand
from geo.ingest.import_sites import import_sites
from geo.store.tables import areas, sites
from geo.store.vocab import Vocabulary

DATA = Path(__file__).resolve().parents[2] / "data"


def is_empty(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return not (conn.execute(sa.select(sites.c.id).limit(1)).first()
                    or conn.execute(sa.select(areas.c.id).limit(1)).first())


def apply_events(engine: sa.Engine, path: Path, *, actor: str = "demo") -> int:
    """Apply dated changes (code, effective_on, field, value) in date order."""
    with path.open(encoding="utf-8") as fh:
        events = sorted(csv.DictReader(fh), key=lambda e: (e["effective_on"], e["code"]))
    with engine.begin() as conn:
        vocab = Vocabulary.load(conn)
        ids = dict(conn.execute(sa.select(sites.c.code, sites.c.id)).all())
        for e in events:
            field, value = e["field"], e["value"]
            if field == "services":
                value = vocab.resolve_services(value)
            elif field in ("level", "status", "kind"):
                value = vocab.resolve(field, value)
            changes = {field: value}
            if field == "status" and value == "closed":
                changes["closed_on"] = e["effective_on"]
            sitesmod.update_site(conn, ids[e["code"]], changes,
                                 effective_on=dt.date.fromisoformat(e["effective_on"]),
                                 actor=actor, source=f"{path.name}")
    return len(events)


def build_demo(engine: sa.Engine, *, data_dir: Path = DATA, progress=None) -> list[str]:
    """Load the demo district, areas, sites with history, demand and candidates."""
    steps = [
        lambda: import_areas(engine, data_dir / "district.geojson", level="district"),
        lambda: import_areas(engine, data_dir / "streets.geojson", level="street"),
        lambda: import_areas(engine, data_dir / "communities.geojson", level="community"),
        lambda: import_sites(engine, data_dir / "love_stations.csv", kind="love_station",
                             actor="demo", effective_on=dt.date(2024, 12, 31)),
        lambda: import_sites(engine, data_dir / "worker_homes.csv", kind="worker_home",
                             actor="demo", effective_on=dt.date(2020, 6, 30)),  # stages recorded mid-2020
        lambda: f"site_events.csv: applied {apply_events(engine, data_dir / 'site_events.csv')} dated changes",
        lambda: import_demand(engine, data_dir / "demand.csv", replace=True),
        lambda: import_candidates(engine, data_dir / "candidates.csv", replace=True),
    ]
    out = []
    for k, step in enumerate(steps):
        r = step()
        out.append(r if isinstance(r, str) else r.summary())
        if progress:
            progress(k + 1, len(steps))
    return out
