"""Coverage-map size, build time and time-to-idle in headless Chromium.

For the demo district (from a demo database built on the fly) and for 200,000 synthetic
sites: HTML size, Python build time (map and HTML, inputs excluded), and the time until
the map is idle in Debian's Chromium: from navigation until every shown site layer is
indexed and has drawn the opening view (``YZ.sitesReady()``), no zoom animation is under
way, and two animation frames have passed. Each map is opened ``--repeat`` times (a fresh
page each time, same browser) and the best and worst times are printed, with the page's
own step timings (``YZ.timings``, ms) of the last run. Target: under 3 s at 200,000 sites.
No network: every request outside file:// is aborted.

    .venv/bin/python bench/map_bench.py [--small] [--repeat N]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


IDLE = ("() => typeof YZ !== 'undefined' && YZ.siteLayers.length > 0 && YZ.sitesReady() "
        "&& !document.querySelector('.leaflet-zoom-anim')")


def idle_seconds(path: Path, repeat: int = 1) -> tuple[list[float], int, list]:
    """Seconds from navigation to idle for each of ``repeat`` fresh pages, the site count
    and the page's step timings of the last run."""
    from playwright.sync_api import sync_playwright
    times = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for _ in range(repeat):
            page = b.new_page(viewport={"width": 1280, "height": 800})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
            t0 = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function(IDLE, timeout=120_000, polling=10)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            times.append(time.perf_counter() - t0)
            n = page.evaluate("YZ.countSites()")
            steps = page.evaluate("YZ.timings.map(t => [t[0], Math.round(t[1])])")
            page.close()
        b.close()
    return times, n, steps


def bench(label: str, build, repeat: int) -> None:
    from maps.offline import save_html
    out = Path(tempfile.mkdtemp()) / "map.html"
    t0 = time.perf_counter()
    m = build()
    save_html(m, out, mode="inline")
    t_build = time.perf_counter() - t0
    times, n, steps = idle_seconds(out, repeat)
    span = f"{min(times):5.2f} s" + (f" (worst {max(times):.2f})" if len(times) > 1 else "")
    print(f"{label:28s} sites {n:>7d}  html {out.stat().st_size / 1e6:6.1f} MB  build {t_build:5.2f} s  "
          f"idle in Chromium {span}")
    print(" " * 29 + "page steps (ms): " + ", ".join(f"{k} {v}" for k, v in steps))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="20,000 synthetic sites instead of 200,000")
    ap.add_argument("--repeat", type=int, default=3, help="page loads per map (default 3)")
    ap.add_argument("--skip-city", action="store_true", help="skip the city-scale /maps/coverage part")
    ap.add_argument("--city-only", action="store_true", help="only the city-scale /maps/coverage part")
    a = ap.parse_args()
    if a.city_only:
        import _city_map
        return _city_map.run(small=a.small, duration=5.0 if a.small else 10.0)
    from geo.store.db import engine_from_url, ensure_schema
    from geo.ingest.demo import build_demo
    from maps.coverage_map import coverage_map_from_layers
    from maps.from_db import coverage_map_from_db
    from maps.samples import synthetic_layers

    work = Path(tempfile.mkdtemp())
    eng = engine_from_url(f"sqlite:///{work / 'demo.db'}")
    ensure_schema(eng)
    build_demo(eng)

    def demo():
        with eng.connect() as conn:
            return coverage_map_from_db(conn, radius_m=1000)
    bench("demo district (迎泽区)", demo, a.repeat)
    n = 20_000 if a.small else 200_000
    layers = synthetic_layers(n, seed=1, n_demand=5000)
    bench(f"synthetic {n:,} sites", lambda: coverage_map_from_layers(**layers, radius_m=1000, max_circles=0),
          a.repeat)
    print("target: idle under 3 s at 200,000 sites (machine load:",
          subprocess.run(["cat", "/proc/loadavg"], capture_output=True, text=True).stdout.split()[0] + ")")
    if not a.skip_city:
        import _city_map
        _city_map.run(small=a.small, duration=5.0 if a.small else 10.0)


if __name__ == "__main__":
    sys.exit(main())
