"""Load with a PostgreSQL restart in the middle: nothing lost, back to normal quickly.

Starts the real server (uvicorn, 2 workers, PostGIS) on 127.0.0.1 with the demo data,
drives it for a bounded time with concurrent nearest queries and site edits (PATCH of a
site's phone number, each edit a unique value), restarts PostgreSQL half-way, and prints:
requests served, errors by kind, seconds until answers are normal again, and whether
every edit acknowledged with 2xx is in the database afterwards.

    .venv/bin/python bench/load_bench.py [--seconds 20] [--no-restart]

Only 127.0.0.1 is contacted; request loops are bounded in count and time.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def request(port, method, path, body=None, headers=None, timeout=5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--readers", type=int, default=6)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--no-restart", action="store_true")
    ap.add_argument("--small", action="store_true", help="short run (8 s)")
    a = ap.parse_args()
    seconds = 8.0 if a.small else a.seconds
    db = f"yizhan_load_{os.getpid()}"
    admin = psycopg.connect(dbname="postgres", host="/var/run/postgresql", autocommit=True)
    admin.execute(f'CREATE DATABASE "{db}"')
    admin.close()
    url = f"postgresql+psycopg:///{db}?host=/var/run/postgresql"
    env = dict(os.environ, YIZHAN_DATABASE_URL=url)
    work = tempfile.mkdtemp()
    yz = str(Path(PY).with_name("yizhan"))
    subprocess.run([yz, "demo", "--no-serve"], env=env, cwd=work, check=True, capture_output=True)
    token = subprocess.run([yz, "token", "create", "--role", "planner", "--name", "load"], env=env, cwd=work,
                           check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    srv = subprocess.Popen([PY, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
                            "--port", str(port), "--workers", "2", "--log-level", "warning"],
                           env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        ids = [f["id"] for f in json.loads(request(port, "GET", "/api/sites?limit=50&status=open")[1])["features"]]
        stop = time.monotonic() + seconds
        lock = threading.Lock()
        stats = collections.Counter()
        acked: list[tuple[int, str]] = []
        timeline: list[tuple[float, bool]] = []
        t0 = time.monotonic()

        def reader(seed):
            rng = random.Random(seed)
            while time.monotonic() < stop:
                start = time.monotonic() - t0
                q = f"/api/nearest?lon={112.55 + rng.random() * 0.1:.6f}&lat={37.83 + rng.random() * 0.06:.6f}&k=3"
                try:
                    st, body = request(port, "GET", q)
                    ok = st == 200 and len(json.loads(body)["features"]) == 3
                    key = "nearest ok" if ok else f"nearest {st}"
                except OSError as e:
                    ok, key = False, f"nearest {type(e).__name__}"
                with lock:
                    stats[key] += 1
                    timeline.append((start, time.monotonic() - t0, ok))

        def writer(seed):
            rng = random.Random(seed)
            n = 0
            while time.monotonic() < stop:
                sid = rng.choice(ids)
                start = time.monotonic() - t0
                n += 1
                phone = f"0351-{seed}{n:06d}"
                try:
                    st, body = request(port, "PATCH", f"/api/sites/{sid}", {"phone": phone},
                                       {"Authorization": f"Bearer {token}"})
                    key = "edit ok" if 200 <= st < 300 else f"edit {st}"
                    if 200 <= st < 300:
                        with lock:
                            acked.append((sid, phone))
                except OSError as e:
                    key = f"edit {type(e).__name__}"
                with lock:
                    stats[key] += 1
                    # 409 (the other writer changed the same site meanwhile) is a correct answer
                    timeline.append((start, time.monotonic() - t0, key in ("edit ok", "edit 409")))

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(a.readers)]
        threads += [threading.Thread(target=writer, args=(100 + i,)) for i in range(a.writers)]
        for t in threads:
            t.start()
        restart_at = restart_done = None
        if not a.no_restart:
            time.sleep(seconds / 2)
            restart_at = time.monotonic() - t0
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"], check=True)
            restart_done = time.monotonic() - t0
        for t in threads:
            t.join()
        # normal again: after the restart began, the last moment a request failed (5xx, no
        # answer, a wrong answer) or took > 1 s
        recovered = None
        if restart_at is not None:
            bad = [end for start, end, ok in timeline if end >= restart_at and (not ok or end - start > 1.0)]
            recovered = max(0.0, max(bad, default=restart_at) - restart_at)
        with psycopg.connect(dbname=db, host="/var/run/postgresql") as c:
            stored = set(c.execute("SELECT site_id, new_value FROM site_history WHERE field = 'phone' "
                                   "AND outcome = 'applied'").fetchall())
        lost = [(sid, p) for sid, p in acked if (sid, json.dumps(p)) not in stored]
        total = sum(stats.values())
        print(f"load bench: {seconds:.0f} s, {a.readers} readers + {a.writers} writers, uvicorn 2 workers, PostGIS")
        print(f"requests served: {total} ({total / seconds:.0f}/s)")
        for k, v in sorted(stats.items()):
            print(f"  {k:28s} {v}")
        if restart_at is not None:
            print(f"PostgreSQL restarted at t={restart_at:.1f}s (took {restart_done - restart_at:.1f}s)")
            print(f"seconds until normal again: {recovered:.1f} (target ≤ 5)")
        print(f"acknowledged edits: {len(acked)}; missing from the database afterwards: {len(lost)} (target 0)")
        wrong = [k for k in stats if k.startswith("nearest") and k != "nearest ok" and not k.endswith("503")]
        print("wrong answers:", "none" if not wrong else wrong)
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=15)
        except subprocess.TimeoutExpired:
            srv.kill()
        admin = psycopg.connect(dbname="postgres", host="/var/run/postgresql", autocommit=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
