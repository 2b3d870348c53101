"""Settings read from the environment (prefix ``YIZHAN_``). Nothing is read at import time:
call :func:`get_settings` (or build :class:`Settings` explicitly, as the tests do)."""
from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Domain settings shared by the CLI and the HTTP service."""

    model_config = SettingsConfigDict(env_prefix="YIZHAN_", extra="ignore")

    database_url: str = "sqlite:///yizhan.db"
    timezone: str = "Asia/Shanghai"
    default_radius_m: float = 1000.0
    duplicate_distance_m: float = 20.0
    max_import_mb: float = 100.0
    #: bounds on what any import file may hold, checked before the work grows
    max_import_rows: int = 1_000_000
    max_import_columns: int = 200
    #: an XLSX workbook (a zip) may unpack to at most this much
    max_unpacked_mb: float = 250.0
    #: demand points beyond which straight-line coverage runs on Dask, reading the demand
    #: chunk by chunk on the workers (``geo.services.coverage_planning.DASK_THRESHOLD``)
    dask_threshold: int = 20_000_000


def get_settings(**overrides) -> Settings:
    """Read settings from the environment now, with explicit overrides."""
    return Settings(**overrides)
