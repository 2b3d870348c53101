"""Interactive maps of yizhan: offline Folium maps, safe text, the coverage map.

``maps`` may import ``geo``; ``geo`` never imports ``maps``. Front-end assets are vendored
in ``maps/static`` (see ``maps/static/MANIFEST.md``) and never fetched from a CDN.
"""
from maps.coverage_map import DEFAULT_TITLE, coverage_map_from_layers
from maps.offline import (STATIC_DIR, TILES, OfflineError, UnknownAssetError, check_offline, localize,
                          needs_gcj02, offline_map, save_html, to_html)
from maps.safe import html_text, js_template_safe, popup_html

__all__ = [
    "DEFAULT_TITLE", "coverage_map_from_layers", "STATIC_DIR", "TILES", "OfflineError",
    "UnknownAssetError", "check_offline", "localize", "needs_gcj02", "offline_map", "save_html",
    "to_html", "html_text", "js_template_safe", "popup_html",
]
