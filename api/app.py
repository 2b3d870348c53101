"""The FastAPI application, built by :func:`create_app` (no settings or engines at import)."""
from __future__ import annotations

import asyncio
import importlib
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.geojson import JSON
from api.limits import BodySizeLimit, ControlCharacters, install_log_redaction
from api.map_pages import MapPages
from api.routers.nearest import answer, is_nearest
from api.settings import ApiSettings
from api.state import SnapshotHolder
from geo.store.db import engine_from_url, ensure_schema


class YizhanAPI(FastAPI):
    """FastAPI that answers ``GET /api/nearest`` first (workers' phones call it most).

    The fast path (:func:`api.routers.nearest.answer`) runs before FastAPI's per-request
    telemetry check and Starlette's middleware stack: it needs none of them (no body, its
    own error mapping). Every other request goes through the whole app as before.
    """

    async def __call__(self, scope, receive, send) -> None:
        if self.root_path:
            scope["root_path"] = self.root_path
        if is_nearest(scope):
            scope["app"] = self
            return await answer(self.state.holder, scope, send)
        await super().__call__(scope, receive, send)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the database engine opens in ``lifespan`` and closes with it."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = engine_from_url(settings.database_url)
        ensure_schema(engine)
        holder = SnapshotHolder(engine, interval=settings.refresh_interval_s)
        holder.reload()
        app.state.engine, app.state.holder = engine, holder
        app.state.map_pages = MapPages(settings.database_url)
        task = asyncio.create_task(holder.run())
        # the coverage kernels load (~0.3 s) beside the first requests, not inside a planner's first one
        threading.Thread(target=importlib.import_module, args=("geo.engine.coverage_grid",), daemon=True,
                         name="yizhan-load-kernels").start()
        try:
            yield
        finally:
            task.cancel()
            app.state.map_pages.close()
            engine.dispose()

    app = YizhanAPI(title="驿站 yizhan", version="0.1.0", lifespan=lifespan,
                    default_response_class=JSON, docs_url=None, redoc_url=None,
                    description="Outdoor-worker rest stations (爱心驿站) and worker homes (职工之家): "
                                "nearest, sites with dated history, coverage, reports, OGC API – Features.")
    app.state.settings = settings
    app.openapi = lambda: _openapi(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ControlCharacters)
    install_log_redaction()
    errors.install(app)
    from api.routers import areas, health, nearest, ogc, sites
    for r in (health, nearest, sites, areas, ogc):
        app.include_router(r.router)
    _optional_routers(app)
    _offline_docs(app)
    return app


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI served from ``/static`` (FastAPI's default uses a CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="驿站 yizhan — API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger-ui/favicon-32x32.png")


def _optional_routers(app: FastAPI) -> None:
    """Routers of features built in later steps (coverage, reports, maps), when present."""
    import importlib

    for name in ("coverage", "reports", "maps"):
        try:
            mod = importlib.import_module(f"api.routers.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"api.routers.{name}":
                raise
            continue
        app.include_router(mod.router)
    try:
        from maps.static_files import mount_static
        mount_static(app)
    except ModuleNotFoundError:
        pass


ERROR_SCHEMA = {
    "title": "Error", "type": "object", "required": ["detail"],
    "properties": {"detail": {"anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "object"}}]}},
}


def _openapi(app: FastAPI) -> dict:
    """OpenAPI with the error bodies this service really sends (``{"detail": str | list}``)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    comps = schema.setdefault("components", {}).setdefault("schemas", {})
    comps["HTTPValidationError"] = ERROR_SCHEMA
    comps["Error"] = ERROR_SCHEMA
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path in schema.get("paths", {}).values():
        for op in path.values():
            resp = op.setdefault("responses", {})
            for code, text in (("400", "bad request"), ("404", "not found"), ("413", "body too large"),
                               ("422", "invalid input")):
                resp.setdefault(code, {"description": text, **ref})
            if op.get("operationId", "").split("_")[0] in ("create", "update", "delete"):
                for code, text in (("401", "no or unknown token"), ("403", "token may not write"),
                                   ("409", "stale version or duplicate code")):
                    resp.setdefault(code, {"description": text, **ref})
    app.openapi_schema = schema
    return schema
