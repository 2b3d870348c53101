"""``/maps/coverage`` and ``/maps/finder`` (HTML)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from maps.static_files import finder_html

router = APIRouter(tags=["maps"])
CSP = ("default-src 'self'; img-src 'self' data: https://*.tile.openstreetmap.org https://*.is.autonavi.com "
       "https://*.tianditu.gov.cn; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'")


@router.get("/maps/finder", response_class=HTMLResponse)
def finder():
    """Mobile page: the nearest station to me (browser location or a tap on the map)."""
    return HTMLResponse(finder_html(), headers={"Content-Security-Policy": CSP})


@router.get("/favicon.ico", include_in_schema=False)
def favicon():
    from fastapi.responses import Response
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" '
           'fill="#c8102e"/></svg>')
    return Response(svg, media_type="image/svg+xml")
