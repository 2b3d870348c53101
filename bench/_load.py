"""Shared helpers of the load benchmarks: data, databases, servers and ``wrk``.

Everything here talks to 127.0.0.1 only and is bounded in time: servers are started
in their own process group and killed on exit, ``wrk`` runs for a fixed duration with
a hard subprocess timeout, and bench databases are dropped afterwards.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_HOST = os.environ.get("YIZHAN_BENCH_PG_HOST", "/var/run/postgresql")

def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop servers and drop databases."""
    def _raise(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _raise)


# --------------------------------------------------------------------------- data

CITIES = [(75.99, 39.47), (126.6, 45.75), (109.5, 18.25), (116.4, 39.9), (121.47, 31.23),
          (87.6, 43.8), (91.1, 29.65), (112.57, 37.86)]


def national(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Half uniform over China's extent, half clustered around cities (some a few m apart).

    The same idea as ``tests/test_nearest_national.py`` (copied, not imported), clipped
    to stay inside the service's China bounding box.
    """
    u = n // 2
    lon = np.concatenate([rng.uniform(73.5, 135.0, u), np.zeros(n - u)])
    lat = np.concatenate([rng.uniform(18.2, 53.5, u), np.zeros(n - u)])
    c = rng.integers(0, len(CITIES), n - u)
    spread = np.where(rng.random(n - u) < 0.2, 0.0005, 0.2)
    lon[u:] = np.array(CITIES)[c, 0] + rng.normal(0, 1, n - u) * spread
    lat[u:] = np.array(CITIES)[c, 1] + rng.normal(0, 1, n - u) * spread
    return np.clip(lon, 73.5, 135.0), np.clip(lat, 18.2, 53.5)


def site_states(n: int, seed: int = 20261124, lonlat=None) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """``n`` open love stations / worker homes over China as ``geo.store.sites.create_sites`` states
    (at ``lonlat`` = two arrays when given, else from :func:`national`)."""
    rng = np.random.default_rng(seed)
    lon, lat = national(rng, n) if lonlat is None else lonlat
    kinds = np.where(rng.random(n) < 0.9, "love_station", "worker_home")
    svc = np.array(["water", "water,charging", "charging,hot_meal", ""])[rng.integers(0, 4, n)]
    states = [{"code": f"C{i:06d}", "kind": str(kinds[i]), "level": "city_union", "status": "open",
               "name": f"站{i}", "address": None, "services": [s for s in svc[i].split(",") if s],
               "opening_hours": "24小时", "phone": None, "capacity": None, "host_org": None,
               "operator": None, "opened_on": "2021-01-01", "closed_on": None,
               "location": [float(lon[i]), float(lat[i])], "src_crs": "wgs84",
               "declared_street": None, "declared_community": None} for i in range(n)]
    return states, lon, lat


def fill_sites(url: str, states: list[dict], *, batch: int = 20_000) -> float:
    """Migrate the database at ``url`` and insert ``states``; return seconds taken.

    On PostGIS the sites go in ``batch`` at a time with ``ANALYZE sites`` in between:
    ``create_sites`` looks new ids up with ``code IN (900 bound parameters)``, which on a
    table without statistics becomes a sequential scan per lookup (quadratic; one 200,000
    -site transaction took minutes — see bench/README.md).
    """
    from geo.store.db import engine_from_url, is_sqlite, upgrade
    from geo.store.sites import create_sites

    t = time.perf_counter()
    eng = engine_from_url(url)
    try:
        upgrade(eng)
        step = len(states) if is_sqlite(eng) else batch
        for a in range(0, len(states), max(step, 1)):
            with eng.begin() as conn:
                create_sites(conn, states[a:a + step], effective_on=dt.date(2021, 1, 1),
                             actor="bench", source="bench")
            if not is_sqlite(eng):
                with eng.connect() as conn:
                    conn.exec_driver_sql("ANALYZE sites")
                    conn.commit()
    finally:
        eng.dispose()
    return time.perf_counter() - t


# --------------------------------------------------------------------------- PostGIS

def pg_url(dbname: str) -> str:
    return f"postgresql+psycopg:///{dbname}?host={PG_HOST}"


def _pg_admin():
    import psycopg

    return psycopg.connect(dbname="postgres", host=PG_HOST, autocommit=True)


def pg_create(prefix: str = "yizhan_bench") -> str:
    """Create an empty database with PostGIS; return its name."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{int(time.time()) % 100000}"
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(dbname=name, host=PG_HOST, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return name


def pg_drop(name: str) -> None:
    with contextlib.suppress(Exception), _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_exec(dbname: str, *sql: str) -> None:
    import psycopg

    with psycopg.connect(dbname=dbname, host=PG_HOST, autocommit=True) as conn:
        for s in sql:
            conn.execute(s)


# --------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(core: int | None) -> list[str]:
    """``taskset -c CORE`` prefix when taskset exists and the machine has that core."""
    if core is None or not shutil.which("taskset") or (os.cpu_count() or 1) <= core:
        return []
    return ["taskset", "-c", str(core)]


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    assert url.startswith("http://127.0.0.1:"), url  # local traffic only
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


YIZHAN = Path(sys.executable).with_name("yizhan")


class Server:
    """A uvicorn server (1 worker) in a subprocess on 127.0.0.1, pinned to one core.

    ``with Server("api.app:create_app", env={...}) as srv: srv.url`` — the process group
    is terminated (then killed) on exit, whatever happens inside the block.
    ``Server(None, env={"YIZHAN_DATABASE_URL": …})`` starts the product as users do:
    ``yizhan serve --host 127.0.0.1 --port P`` with its own defaults.
    """

    def __init__(self, app: str | None, *, env: dict | None = None, core: int | None = 0,
                 app_dir: str | Path | None = None, ready_path: str = "/healthz",
                 start_timeout: float = 300.0, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if app is None:
            cmd = [*pinned(core), str(YIZHAN), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        else:
            cmd = [*pinned(core), sys.executable, "-m", "uvicorn", app, "--factory",
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                   "--log-level", "warning", "--no-access-log"]
        if app_dir:
            cmd += ["--app-dir", str(app_dir)]
        self.cmd, self.ready_path, self.start_timeout = cmd, ready_path, start_timeout
        self.env = {**os.environ, **(env or {})}
        if app is None:  # the yizhan command imports this checkout's code
            self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), self.env.get("PYTHONPATH")]))
        self._own_log = log is None  # a temp log of our own is removed on a clean exit
        self.log = log or Path(tempfile.mkstemp(prefix="yizhan_bench_srv_", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.pinned = bool(pinned(core))

    def __enter__(self) -> "Server":
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self._logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
                with contextlib.suppress(OSError):
                    if http_get(self.url + self.ready_path, timeout=2)[0] == 200:
                        return self
                time.sleep(0.2)
            raise RuntimeError(f"server not ready in {self.start_timeout:.0f} s")
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        self._logf.close()
        if self._own_log and exc and exc[0] is None:
            self.log.unlink(missing_ok=True)

    def rss_mb(self) -> float | None:
        """Resident memory of the server process (after startup), in MB."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


# --------------------------------------------------------------------------- wrk

WRK_LUA = r"""
-- Cycles through pre-formatted GET requests read from a file (one path per line).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then reqs[#reqs + 1] = wrk.format("GET", line) end
  end
  f:close()
  -- each thread starts at a different offset so they do not send the same sequence
  idx = math.floor((tid or 0) * #reqs / 7) % #reqs
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  return reqs[idx]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"""


def wrk_available() -> str | None:
    return shutil.which("wrk")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_backend_pids(dbname: str) -> list[int]:
    """Server processes currently connected to ``dbname`` (to count their CPU time)."""
    with _pg_admin() as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,))]


def wrk(base_url: str, paths: list[str], *, duration: float = 10.0, warmup: float = 2.0,
        connections: int = 32, threads: int = 2, core: int | None = 1,
        workdir: Path | None = None, cpu_pids=None) -> dict:
    """Run ``wrk`` (warm-up, then the measured run) over ``paths``; return its JSON summary
    plus ``rps`` and latencies in ms. Traffic goes to 127.0.0.1 only.

    ``cpu_pids``: a callable giving the pids whose CPU time the measured run is charged
    (server, database backends); adds ``cpu_us_per_req``. ``wrk_cpu`` is the share of one
    core the load generator itself used (near 1.0 would mean wrk is the bottleneck).
    """
    assert base_url.startswith("http://127.0.0.1:"), base_url
    exe = wrk_available()
    if not exe:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="yizhan_wrk_"))
    script, pfile = workdir / "paths.lua", workdir / f"paths_{abs(hash(tuple(paths[:3])))}.txt"
    script.write_text(WRK_LUA)
    pfile.write_text("\n".join(paths) + "\n")

    def run(secs: float) -> dict:
        import resource

        cmd = [*pinned(core), exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(secs))}s",
               "--latency", "--timeout", "5s", "-s", str(script), base_url, "--", str(pfile)]
        pids = list(cpu_pids()) if cpu_pids else []
        cpu0 = sum(cpu_seconds(p) for p in pids)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr[-2000:]}\n{out.stdout[-2000:]}")
        res = json.loads(line[len("WRKJSON "):])
        res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
        res["ms"] = {k: v / 1000 for k, v in res["latency_us"].items()}
        res["wrk_cpu"] = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall
        if pids:
            res["cpu_s"] = cpu
            res["cpu_us_per_req"] = cpu / max(res["requests"], 1) * 1e6
            res["cpu_pids"] = len(pids)
        res["raw"] = out.stdout
        return res

    if warmup > 0:
        run(warmup)
    return run(duration)


def fmt_wrk(label: str, r: dict) -> str:
    ms, e = r["ms"], r["errors"]
    errs = sum(e.values())
    cpu = f"   {r['cpu_us_per_req']:5.0f} CPU-µs/req" if "cpu_us_per_req" in r else ""
    return (f"{label:<40} {r['rps']:>7,.0f} req/s  p50 {ms['p50']:6.2f} ms  p90 {ms['p90']:6.2f} ms"
            f"  p99 {ms['p99']:6.2f} ms  max {ms['max']:6.1f} ms{cpu}  wrk {r.get('wrk_cpu', 0):.0%} core"
            f"  ({r['requests']:,} req" + (f", {errs} errors {e}" if errs else "") + ")")


def machine_load() -> str:
    """Load average and core count, for the record (the bench machine is shared)."""
    try:
        la = os.getloadavg()
        return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} cores"
    except OSError:
        return f"{os.cpu_count()} cores"
