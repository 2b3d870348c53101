"""Export → import gives back the same sites, in every format, on both backends."""
from __future__ import annotations

import pytest

from geo.store.db import engine_from_url, upgrade
from geo.ingest.export_sites import COLUMNS, export_sites, sites_frame
from geo.ingest.import_areas import import_areas
from geo.ingest.import_sites import import_sites


def _frame(engine):
    with engine.connect() as conn:
        df = sites_frame(conn)
    return df[COLUMNS].astype(str).reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["geojson", "csv", "xlsx", "gpkg"])
def test_round_trip(engine, data_dir, tmp_path, fmt):
    import_areas(engine, data_dir / "streets.geojson", level="street")
    import_areas(engine, data_dir / "communities.geojson", level="community")
    import_sites(engine, data_dir / "love_stations.csv", kind="love_station")
    import_sites(engine, data_dir / "worker_homes.csv", kind="worker_home")
    out = tmp_path / f"sites.{fmt}"
    with engine.connect() as conn:
        n = export_sites(conn, out, fmt=fmt)
    assert n > 80
    other = engine_from_url(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    import_areas(other, data_dir / "streets.geojson", level="street")
    import_areas(other, data_dir / "communities.geojson", level="community")
    rep = import_sites(other, out)
    assert rep.created == n and not [w for w in rep.warnings if w.field in ("street", "community")]
    a, b = _frame(engine), _frame(other)
    assert a.equals(b), a.compare(b).head()
    other.dispose()
