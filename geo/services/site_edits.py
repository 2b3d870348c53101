"""Single-site writes (the API's POST / PATCH / DELETE), checked like an imported row."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.store import sites as sitesmod
from geo.engine.clock import today
from geo.ingest.read_files import Table
from geo.store.street_assignment import AreaLookup
from geo.errors import Conflict, InputError, Problem
from geo.store.tables import sites
from geo.ingest.records import convert_points, site_record
from geo.store.vocab import Vocabulary

EDITABLE = ("code", "name", "kind", "level", "status", "address", "services", "opening_hours",
            "phone", "capacity", "host_org", "operator", "opened_on", "closed_on", "street",
            "community", "lon", "lat")


class RequestTable(Table):
    """A JSON body seen as a one-row table, so the import checks apply unchanged."""

    def __init__(self, data: dict):
        cells = {}
        for k in EDITABLE:
            v = data.get(k)
            if isinstance(v, (list, tuple)):
                v = ",".join(map(str, v))
            cells[k] = "" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
        super().__init__(Path("request"), pd.DataFrame([cells]))

    def problem(self, i, field, message, severity="error") -> Problem:
        return Problem("request", None, field, message, severity)


def _check(conn, data: dict, crs: str | None) -> tuple[dict, tuple]:
    table = RequestTable(data)
    problems: list[Problem] = []
    vocab = Vocabulary.load(conn)
    lon, lat, spec = convert_points(table, crs, problems)
    rec = site_record(table, 0, vocab, kind=None, problems=problems,
                      no_status="no status: give status (e.g. \"open\") or opened_on (which means open)")
    rec.update(lon=float(lon[0]), lat=float(lat[0]), src_crs=str(spec))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)
    lookup = AreaLookup.load(conn)
    st = lookup.locate(np.array([rec["lon"]]), np.array([rec["lat"]]), "street")[0]
    cm = lookup.locate(np.array([rec["lon"]]), np.array([rec["lat"]]), "community")[0]
    return rec, (int(st) if st >= 0 else None, int(cm) if cm >= 0 else None)


def create_site(engine: sa.Engine, data: dict, *, crs: str | None, actor: str,
                effective_on: dt.date | None = None) -> int:
    """Create one site; return its id. ``Conflict`` if the code exists."""
    with engine.begin() as conn:
        rec, place = _check(conn, data, crs)
        if not rec.get("code"):
            raise InputError("the code is empty", field="code")
        if conn.execute(sa.select(sites.c.id).where(sites.c.code == rec["code"])).first():
            raise Conflict(f"a site with code {rec['code']!r} exists already")
        state = dict(sitesmod.state_from_record(rec), code=rec["code"])
        return sitesmod.create_sites(conn, [state], effective_on=effective_on or today(),
                                     actor=actor, source="api", placement=[place])[0]


def current_as_input(conn: sa.Connection, site_id: int) -> dict:
    """The site's current values in the input vocabulary (for merging a PATCH)."""
    row = sitesmod.get_site(conn, site_id)
    d = {k: getattr(row, k, None) for k in EDITABLE}
    d["services"] = [s for s in (row.services or "").split(",") if s]
    d["street"], d["community"] = row.declared_street, row.declared_community
    return d


def patch_site(engine: sa.Engine, site_id: int, patch: dict, *, crs: str | None, actor: str,
               expected_version: int | None, effective_on: dt.date | None = None) -> dict:
    """Apply a partial update effective on a date; return the changes made."""
    effective_on = effective_on or today()
    with engine.begin() as conn:
        merged = current_as_input(conn, site_id)
        if "code" in patch and patch["code"] != merged["code"]:
            raise InputError("the code of a site cannot change (it is its external key)", field="code")
        if ("lon" in patch) != ("lat" in patch):
            raise InputError("give lon and lat together", field="lon/lat")
        if "lon" not in patch:
            crs = None  # the stored point is WGS-84
        merged.update(patch)
        if patch.get("status") == "closed" and not patch.get("closed_on"):
            merged["closed_on"] = effective_on
        elif patch.get("status") not in (None, "closed", "撤销") and "closed_on" not in patch:
            merged["closed_on"] = None  # reopened
        rec, place = _check(conn, merged, crs)
        state = sitesmod.state_from_record(rec)
        changes = {f: state[f] for f in sitesmod.TRACKED if f != "src_crs" or "lon" in patch}
        return sitesmod.update_site(conn, site_id, changes, effective_on=effective_on, actor=actor,
                                    source="api", expected_version=expected_version, placement=place)


def reject(engine: sa.Engine, site_id: int, patch: dict, *, actor: str, reason: str) -> None:
    """Record a refused write in the site's history (its own transaction)."""
    with engine.begin() as conn:
        if conn.execute(sa.select(sites.c.id).where(sites.c.id == site_id)).first():
            sitesmod.record_rejection(conn, site_id, patch, actor=actor, source="api", reason=reason,
                                      effective_on=today())
