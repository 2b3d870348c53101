"""HTTP-service settings (prefix ``YIZHAN_``), built by :func:`api.app.create_app`."""
from __future__ import annotations

from geo.settings import Settings


class ApiSettings(Settings):
    """Domain settings plus what only the service needs."""

    max_body_bytes: int = 1_000_000
    refresh_interval_s: float = 0.5
    default_tiles: str = "none"
    tianditu_key: str = ""
    max_page: int = 10_000
    #: directory whose ``.osm.pbf`` street networks ``mode=walk`` may name (``network=FILE``);
    #: unset: walking coverage over HTTP is off (the CLI reads any file it is given)
    network_dir: str | None = None
