"""Hostile load (issue 20): SpatiaLite writes wait their turn and answer as PostGIS does."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from geo.imports import import_sites
from geo.tokens import create_token

N = 20
ROWS = "".join(f"R{i:02d},驿站{i},{112.56 + i * 0.001:.4f},37.8600,love_station,city_union,open,water,"
               f"24小时,2021-01-01\n" for i in range(N))
HEADER = "code,name,lon,lat,kind,level,status,services,opening_hours,opened_on\n"


@pytest.fixture
def race_server(engine, db_url, tmp_path, server_factory):
    f = tmp_path / "race.csv"
    f.write_text(HEADER + ROWS, encoding="utf-8")
    import_sites(engine, f)
    with engine.begin() as conn:
        token = create_token(conn, role="planner", name="racer")[1]
        ids = dict(conn.execute(sa.text("SELECT code, id FROM sites")).all())
    with server_factory(db_url) as srv:
        srv.token, srv.ids = token, [ids[f"R{i:02d}"] for i in range(N)]
        yield srv


def _fire(client_factory, srv, requests):
    clients = [client_factory(srv.url, srv.token) for _ in requests]
    with ThreadPoolExecutor(len(requests)) as pool:
        out = list(pool.map(lambda a: a[0].patch(a[1][0], json=a[1][1], headers={"If-Match": '"1"'}),
                            zip(clients, requests)))
    for c in clients:
        c.close()
    return sorted(r.status_code for r in out)


def test_parallel_patches_with_one_version_give_one_200_and_409s(race_server, client_factory):
    sid = race_server.ids[0]
    codes = _fire(client_factory, race_server,
                  [(f"/api/sites/{sid}", {"name": f"改名{i}"}) for i in range(N)])
    assert codes == [200] + [409] * (N - 1)


def test_parallel_patches_to_different_sites_all_succeed(race_server, client_factory):
    codes = _fire(client_factory, race_server,
                  [(f"/api/sites/{sid}", {"name": f"改名{i}"}) for i, sid in enumerate(race_server.ids)])
    assert codes == [200] * N
