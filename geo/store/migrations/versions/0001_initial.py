"""initial schema: vocabulary, areas, sites with dated history, demand, candidates, tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The tables are written out here (frozen), not imported from ``geo.store.tables``, so that this
migration keeps creating the schema of revision 0001 whatever later revisions change.
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

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
    sa.Column("code", sa.String(64)),
    sa.Column("name", sa.String(256)),
    sa.Column("category", sa.String(64), nullable=False, server_default="other"),
    sa.Column("weight", sa.Float, nullable=False, server_default="1"),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
)

candidates = sa.Table(
    "candidates", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64)),
    sa.Column("name", sa.String(256)),
    sa.Column("category", sa.String(64)),
    sa.Column("capacity", sa.Float),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
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


SEED_VOCAB = [('kind', 'love_station', '爱心驿站', 'love station', 1),
 ('kind', 'worker_home', '职工之家', 'worker home', 2),
 ('level', 'provincial_gov', '省政府级', 'provincial government', 50),
 ('level', 'provincial_union', '省总工会级', 'provincial union', 40),
 ('level', 'city_union', '市总工会级', 'city union', 30),
 ('level', 'district_union', '区总工会级', 'district union', 20),
 ('level', 'other', '其他', 'other', 10),
 ('status', 'planned', '规划', 'planned', 1),
 ('status', 'surveyed', '已调研', 'surveyed', 2),
 ('status', 'building', '建设中', 'building', 3),
 ('status', 'open', '已建成', 'open', 4),
 ('status', 'suspended', '暂停', 'suspended', 5),
 ('status', 'closed', '撤销', 'closed', 6),
 ('service', 'water', '饮水', 'drinking water', 1),
 ('service', 'hot_meal', '热饭', 'hot meal', 2),
 ('service', 'charging', '充电', 'charging', 3),
 ('service', 'toilet', '如厕', 'toilet', 4),
 ('service', 'rest', '休息', 'rest', 5),
 ('service', 'first_aid', '药箱', 'first aid', 6),
 ('service', 'wifi', '无线网络', 'wifi', 7),
 ('service', 'umbrella', '雨具', 'umbrella', 8),
 ('service', 'cooling', '防暑', 'cooling', 9),
 ('service', 'heating', '取暖', 'heating', 10),
 ('demand_category', 'delivery', '外卖配送站', 'delivery station', 1),
 ('demand_category', 'courier', '快递网点', 'courier outlet', 2),
 ('demand_category', 'sanitation', '环卫所', 'sanitation depot', 3),
 ('demand_category', 'taxi', '出租车/网约车点', 'taxi stand', 4),
 ('demand_category', 'construction', '建筑工地', 'construction site', 5),
 ('demand_category', 'other', '其他', 'other', 9),
 ('area_level', 'district', '区', 'district', 1),
 ('area_level', 'street', '街道', 'street', 2),
 ('area_level', 'community', '社区', 'community', 3)]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if not bind.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE name='spatial_ref_sys'").first():
            bind.exec_driver_sql("SELECT InitSpatialMetaData(0, 'WGS84')")
    else:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    metadata.create_all(bind)
    bind.execute(vocab.insert(), [dict(domain=d, code=c, label_zh=z, label_en=e, rank=r)
                                  for d, c, z, e, r in SEED_VOCAB])
    bind.execute(counters.insert(), [{"name": "sites_seq", "value": 0}])


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
