"""How the service is served: ``yizhan serve``'s logging defaults (a real subprocess), and the
coverage map built off the event loop and cached per data version (a real HTTP server)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

import httpx

from geo.ingest.demo import build_demo
from geo.ingest.import_sites import import_sites
from test_cli import YIZHAN, run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_output(db_url, *flags) -> str:
    """Start ``yizhan serve`` as users do, make two requests, stop it; its whole output."""
    port = _free_port()
    env = dict(os.environ, YIZHAN_DATABASE_URL=db_url)
    p = subprocess.Popen([YIZHAN, "serve", "--port", str(port), *flags], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # until it answers (or exits)
            if p.poll() is not None:
                break
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert p.poll() is None, p.stdout.read()
        assert httpx.get(base + "/api/nearest", params={"lon": 112.57, "lat": 37.86}).status_code == 200
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        out = p.communicate(timeout=60)[0]
    return out


def test_serve_logs_no_line_per_request_unless_asked(db_url):
    assert run(db_url, "init").returncode == 0
    quiet = _serve_output(db_url)
    assert "Application startup complete" in quiet
    assert "GET /healthz" not in quiet and "GET /api/nearest" not in quiet
    loud = _serve_output(db_url, "--access-log")
    assert '"GET /healthz HTTP/1.1" 200' in loud and "GET /api/nearest?lon=112.57&lat=37.86" in loud
    r = run(db_url, "serve", "--log-level", "loud")
    assert r.returncode == 2 and "'loud' is not one of" in r.stderr


def test_coverage_map_builds_off_the_loop_and_is_cached_per_data_version(engine, db_url, server_factory,
                                                                        tmp_path):
    build_demo(engine)
    with server_factory(db_url) as srv:
        first: dict = {}

        def get_map():
            first["r"] = httpx.get(srv.url + "/maps/coverage", timeout=300)
        t = threading.Thread(target=get_map)
        t.start()
        answered_during_build = 0
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            while t.is_alive():  # the finder keeps answering while the map builds
                r = c.get("/api/nearest", params={"lon": 112.57, "lat": 37.86})
                assert r.status_code == 200
                answered_during_build += t.is_alive()
            t.join()
            assert answered_during_build >= 3
            cold = first["r"]
            assert cold.status_code == 200 and cold.headers["x-yizhan-cache"] == "miss"
            assert "/static/leaflet/leaflet.js" in cold.text
            warm = c.get("/maps/coverage")
            assert warm.headers["x-yizhan-cache"] == "hit" and warm.text == cold.text
            other = c.get("/maps/coverage", params={"radius": 500})
            assert other.headers["x-yizhan-cache"] == "miss" and other.text != cold.text
            (tmp_path / "s.csv").write_text("code,name,lon,lat,status\nNEW1,新站,112.571,37.861,open\n",
                                            encoding="utf-8")
            import_sites(engine, tmp_path / "s.csv", kind="love_station")
            after = c.get("/maps/coverage")
            assert after.headers["x-yizhan-cache"] == "miss" and "新站" in after.text
            assert c.get("/maps/coverage", params={"kind": "nope"}).status_code == 422
