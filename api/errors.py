"""Domain errors → HTTP statuses, in one place. Every error body is ``{"detail": …}``."""
from __future__ import annotations

import logging

import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from api.geojson import JSON
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import Conflict, Forbidden, InputError, NotFound, Unauthorized, YizhanError

log = logging.getLogger("yizhan.api")

STATUS = {InputError: 422, NotFound: 404, Conflict: 409, Unauthorized: 401, Forbidden: 403}


def _body(detail, status: int, headers=None) -> JSON:
    return JSON({"detail": detail}, status_code=status, headers=headers)


def domain_status(exc: YizhanError) -> tuple[int, object, dict | None]:
    """HTTP status, ``detail`` and extra headers for a domain error (the one mapping)."""
    status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 400)
    detail = exc.message if isinstance(exc, InputError) else str(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, InputError) and len(exc.problems) > 1:
        detail = [p.to_dict() for p in exc.problems]
    return status, detail, headers


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(YizhanError)
    async def domain_error(request: Request, exc: YizhanError):
        status, detail, headers = domain_status(exc)
        return _body(detail, status, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errs = []
        for e in exc.errors():
            e = {k: v for k, v in e.items() if k in ("loc", "msg", "type")}
            e["loc"] = [str(x) for x in e.get("loc", ())]
            errs.append(e)
        return _body(errs, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _body(exc.detail, exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(sa_exc.IntegrityError)
    async def integrity_error(request: Request, exc: sa_exc.IntegrityError):
        """A unique code lost to a concurrent write: the 409 of a duplicate code."""
        from geo.store.db import is_unique_violation, unique_conflict_message
        if not is_unique_violation(exc):
            return await unexpected(request, exc)
        return _body(unique_conflict_message(exc, "request"), 409)

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.InterfaceError)
    async def database_down(request: Request, exc: Exception):
        """The database is unreachable or restarting: a retryable 503, not a crash."""
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    str(exc).splitlines()[0][:200])
        return _body("database temporarily unavailable; retry shortly", 503, {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # a bug, not bad input
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _body("internal error (logged)", 500)
