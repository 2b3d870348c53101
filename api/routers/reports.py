"""``GET /api/reports/annual``."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ConnDep
from geo.errors import InputError
from geo.ingest.records import parse_date
from geo.services.annual_report import annual_report
from geo.services.report_render import FORMATS, render

router = APIRouter(tags=["reports"])


_CONTENT = {media: {} for media, _ in FORMATS.values()}


@router.get("/api/reports/annual", responses={200: {"description": "the report in the asked format",
                                                    "content": _CONTENT}})
def annual(conn: ConnDep, year: Annotated[int, Query(ge=1990, le=2100)],
           format: Literal["json", "csv", "xlsx", "md", "html"] = "json",
           as_of: Annotated[str | None, Query(description="count date, default 31 Dec of the year")] = None,
           by_community: bool = False,
           radius: Annotated[float | None, Query(gt=0, le=50_000)] = None):
    """Counts as of the year's last day (or ``as_of``), the work-summary sentence, tables, charts."""
    try:
        day = parse_date(as_of) if as_of else None
    except ValueError as e:
        raise InputError(str(e), field="as_of") from None
    try:
        r = annual_report(conn, year=year, as_of=day, by_community=by_community, radius_m=radius)
    except ValueError as e:
        raise InputError(str(e), field="as_of") from None
    media, suffix = FORMATS[format]
    headers = {}
    if format in ("xlsx", "csv"):
        headers["Content-Disposition"] = f'attachment; filename="yizhan-annual-{year}.{suffix}"'
    return Response(render(r, format), media_type=media, headers=headers)
