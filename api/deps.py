"""Dependencies as ``Annotated`` aliases, used by the routers."""
from __future__ import annotations

from typing import Annotated, Iterator

import sqlalchemy as sa
from fastapi import Depends, Header, Request

from api.settings import ApiSettings
from api.state import SnapshotHolder
from geo.store.tokens import authorize


def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


def get_engine(request: Request) -> sa.Engine:
    return request.app.state.engine


def get_holder(request: Request) -> SnapshotHolder:
    return request.app.state.holder


def get_conn(engine: Annotated[sa.Engine, Depends(get_engine)]) -> Iterator[sa.Connection]:
    with engine.connect() as conn:
        yield conn


def get_writer(engine: Annotated[sa.Engine, Depends(get_engine)],
               authorization: Annotated[str | None, Header()] = None):
    """The token row of a planner/admin (401/403 otherwise)."""
    secret = None
    if authorization and authorization.lower().startswith("bearer "):
        secret = authorization[7:].strip()
    with engine.connect() as conn:
        return authorize(conn, secret)


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
HolderDep = Annotated[SnapshotHolder, Depends(get_holder)]
ConnDep = Annotated[sa.Connection, Depends(get_conn)]
WriterDep = Annotated[object, Depends(get_writer)]
