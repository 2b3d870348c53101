"""``GET /healthz``."""
from fastapi import APIRouter, Request

from api.geojson import JSON

router = APIRouter(tags=["health"])
_OK = JSON({"status": "ok"}).body


@router.get("/healthz")
async def healthz(request: Request):
    """Liveness: the process answers (and how many open sites it serves)."""
    holder = request.app.state.holder
    return JSON({"status": "ok", "open_sites": len(holder.snap) if holder.snap else 0,
                 "seq": holder.snap.seq if holder.snap else None})
