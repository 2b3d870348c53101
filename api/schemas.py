"""Request and response models (``SiteCreate`` / ``SiteUpdate`` / ``SitePublic``)."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from geo.engine.text_rules import control_character

_S = dict(max_length=512)


class SiteBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=256)
    kind: str | None = Field(None, max_length=64, description="love_station, worker_home, … or 中文")
    level: str | None = Field(None, max_length=64)
    status: str | None = Field(None, max_length=32)
    address: str | None = Field(None, **_S)
    services: list[str] | str | None = Field(None, description="codes or 中文: ['water','充电']")
    opening_hours: str | None = Field(None, max_length=256)
    phone: str | None = Field(None, max_length=64)
    capacity: int | None = Field(None, ge=0, le=100_000)
    host_org: str | None = Field(None, max_length=256)
    operator: str | None = Field(None, max_length=256)
    opened_on: dt.date | None = None
    closed_on: dt.date | None = None
    street: str | None = Field(None, max_length=128)
    community: str | None = Field(None, max_length=128)
    lon: float | None = None
    lat: float | None = None
    crs: str | None = Field(None, max_length=16, description="of lon/lat: wgs84, gcj02, bd09, EPSG:NNNN")
    effective_on: dt.date | None = Field(None, description="date the change takes effect (default today)")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, v):
        for text in (v if isinstance(v, list) else [v]):
            if isinstance(text, str) and (why := control_character(text)):
                raise ValueError(why)
        return v


class SiteCreate(SiteBase):
    code: str = Field(..., min_length=1, max_length=64, description="stable external code")
    name: str = Field(..., min_length=1, max_length=256)
    kind: str = Field(..., min_length=1, max_length=64)
    lon: float
    lat: float


class SiteUpdate(SiteBase):
    version: int | None = Field(None, ge=1, description="alternative to the If-Match header")


class HistoryEntry(BaseModel):
    field: str
    old: object = None
    new: object = None
    effective_on: dt.date
    recorded_at: str = Field(description="ISO-8601 with the service zone's offset, "
                                         "e.g. 2026-12-03T16:27:45+08:00")
    actor: str
    source: str | None = None
    outcome: str
