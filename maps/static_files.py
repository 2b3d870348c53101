"""Serving the vendored Leaflet assets and the finder page (offline: nothing from CDNs)."""
from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"


def mount_static(app) -> None:
    """Mount ``maps/static`` at ``/static`` on a Starlette/FastAPI app."""
    from starlette.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def finder_html() -> str:
    """The finder page (plain HTML + vendored Leaflet; all data via ``/api``)."""
    return (TEMPLATES / "finder.html").read_text(encoding="utf-8")
