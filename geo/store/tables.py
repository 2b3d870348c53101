"""Tables (SQLAlchemy Core + GeoAlchemy2). The same definitions serve SpatiaLite and PostGIS.

Geometries are WGS-84 (SRID 4326). Sites also keep ``lon``/``lat`` as plain floats so that
the in-memory nearest index and the coverage engine load 200,000 points without parsing
geometries; ``geom`` carries the spatial index for the database's own queries.
"""
from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry

metadata = sa.MetaData()

vocab = sa.Table(
    "vocab", metadata,
    sa.Column("domain", sa.String(32), primary_key=True),
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("label_zh", sa.String(64), nullable=False),
    sa.Column("label_en", sa.String(64), nullable=False),
    sa.Column("rank", sa.Integer, nullable=False, server_default="0"),
)

areas = sa.Table(
    "areas", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("level", sa.String(16), nullable=False, index=True),
    sa.Column("code", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("areas.id"), nullable=True),
    sa.Column("source", sa.String(256)),
    sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False),
)

sites = sa.Table(
    "sites", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("level", sa.String(64)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("address", sa.String(512)),
    sa.Column("services", sa.String(512), nullable=False, server_default=""),
    sa.Column("opening_hours", sa.String(256)),
    sa.Column("phone", sa.String(64)),
    sa.Column("capacity", sa.Integer),
    sa.Column("host_org", sa.String(256)),
    sa.Column("operator", sa.String(256)),
    sa.Column("opened_on", sa.Date),
    sa.Column("closed_on", sa.Date),
    sa.Column("street_id", sa.Integer, sa.ForeignKey("areas.id")),
    sa.Column("community_id", sa.Integer, sa.ForeignKey("areas.id")),
    sa.Column("declared_street", sa.String(128)),
    sa.Column("declared_community", sa.String(128)),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("src_crs", sa.String(32), nullable=False, server_default="wgs84"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0", index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
)

site_history = sa.Table(
    "site_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False, index=True),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("effective_on", sa.Date, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("source", sa.String(256)),
    sa.Column("outcome", sa.String(32), nullable=False, server_default="applied"),
)

demand = sa.Table(
    "demand", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False),  # unique (index uq_demand_code, migration 0002)
    sa.Column("name", sa.String(256)),
    sa.Column("category", sa.String(64), nullable=False, server_default="other"),
    sa.Column("weight", sa.Float, nullable=False, server_default="1"),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
    sa.Index("uq_demand_code", "code", unique=True),
)

candidates = sa.Table(
    "candidates", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False),  # unique (index uq_candidates_code, migration 0002)
    sa.Column("name", sa.String(256)),
    sa.Column("category", sa.String(64)),
    sa.Column("capacity", sa.Float),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
    sa.Index("uq_candidates_code", "code", unique=True),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

#: One-row counters: ``sites_seq`` rises on every site write (processes poll it to refresh
#: their in-memory indexes).
counters = sa.Table(
    "counters", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
