"""Walking coverage at city scale: yizhan beside pandana on the same street network.

A synthetic city (default 550 x 550 = 302,500 street nodes about 20 m apart around
Guangzhou, 15 % of the blocks' edges missing so routes detour), 200,000 demand points and
2,000 stations on nodes (snap 0 for both tools, so the answers must agree), R = 1,000 m:

- yizhan: ``walk_coverage_from_sites`` on the CSR arrays (one multi-source Dijkstra);
  then ``pairs_from_network`` for 500 candidates (bounded sparse searches, the walking
  suggestions' input);
- pandana 0.8: ``Network`` + ``precompute(R)`` (its contraction hierarchy, a one-off
  cost printed apart) + ``set_pois`` + ``nearest_pois``.

Both results are compared point by point: covered or not (beyond 1 mm of R) and the largest
distance difference (pandana keeps its weights in lower precision: about a centimetre).
Nothing here is asserted about time; read the ratios.

    .venv/bin/python bench/walk_bench.py [--small] [--side N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.engine.geodesy import distance_m  # noqa: E402
from geo.engine.walk_network import StreetNetwork, pairs_from_network, walk_coverage_from_sites  # noqa: E402

RADIUS = 1000.0


def city(side: int, seed: int = 0):
    """A jittered street grid of ``side`` x ``side`` nodes with some edges missing."""
    rng = np.random.default_rng(seed)
    lon0, lat0, step = 113.26, 23.10, 0.0002
    jj, ii = np.meshgrid(np.arange(side), np.arange(side))
    lon = (lon0 + jj * step + rng.normal(0, step / 8, jj.shape)).ravel()
    lat = (lat0 + ii * step + rng.normal(0, step / 8, ii.shape)).ravel()
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(u.size) > 0.15
    u, v = u[keep], v[keep]
    w = distance_m(lon[u], lat[u], lon[v], lat[v])
    n = lon.size
    matrix = sp.csr_array((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n))
    return StreetNetwork(node_id=np.arange(n, dtype=np.int64), lon=lon, lat=lat, matrix=matrix), (u, v, w)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="120 x 120 nodes, 20,000 demand, 200 stations")
    ap.add_argument("--side", type=int, default=None, help="nodes per side of the grid")
    a = ap.parse_args()
    side = a.side or (120 if a.small else 550)
    n_demand, n_sites, n_cand = (20_000, 200, 100) if a.small else (200_000, 2_000, 500)
    (net, (u, v, w)), t_net = timed(lambda: city(side))
    rng = np.random.default_rng(1)
    d_node, s_node, c_node = (rng.integers(0, net.lon.size, k) for k in (n_demand, n_sites, n_cand))
    print(f"walk bench: {net.lon.size:,} nodes, {u.size:,} edges, {n_demand:,} demand, {n_sites:,} stations, "
          f"R = {RADIUS:.0f} m (network built in {t_net:.1f} s)")

    walk_coverage_from_sites(net, net.lon[:10], net.lat[:10], net.lon[:2], net.lat[:2], radius_m=RADIUS)  # compile
    (covered, dist, _), t_y = timed(lambda: walk_coverage_from_sites(
        net, net.lon[d_node], net.lat[d_node], net.lon[s_node], net.lat[s_node], radius_m=RADIUS))
    pairs, t_pairs = timed(lambda: pairs_from_network(
        net, net.lon[d_node], net.lat[d_node], net.lon[c_node], net.lat[c_node], radius_m=RADIUS))
    print(f"  yizhan  coverage            {t_y:8.2f} s   covered {covered.mean():.2%}")
    print(f"  yizhan  pairs, {n_cand} cands    {t_pairs:8.2f} s   {pairs[0].size:,} pairs")

    try:
        import pandana
    except ImportError:
        print("  pandana not installed (make bench installs it: pip install -e '.[bench]')")
        return
    nodes = pd.DataFrame({"x": net.lon, "y": net.lat}, index=net.node_id)
    edges = pd.DataFrame({"from": u, "to": v, "w": w})
    pn, t_init = timed(lambda: pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["w"]],
                                               twoway=True))
    _, t_ch = timed(lambda: pn.precompute(RADIUS))

    def query():
        pn.set_pois("sites", RADIUS, 1, pd.Series(net.lon[s_node]), pd.Series(net.lat[s_node]))
        return pn.nearest_pois(RADIUS, "sites", num_pois=1)
    near, t_q = timed(query)
    pd_dist = near[1].to_numpy()[d_node]
    pd_cov = pd_dist < RADIUS  # pandana reports "none within R" as R itself
    both = covered & pd_cov
    diff = np.abs(dist[both] - pd_dist[both]).max() if both.any() else 0.0
    boundary = np.abs(np.where(covered, dist, pd_dist) - RADIUS) < 1e-3
    mism = int(((covered != pd_cov) & ~boundary).sum())
    print(f"  pandana init + contraction  {t_init + t_ch:8.2f} s   (one-off per network and radius)")
    print(f"  pandana set_pois + query    {t_q:8.2f} s   covered {pd_cov.mean():.2%}")
    print(f"  ratio pandana query / yizhan coverage: {t_q / t_y:.1f}x; "
          f"with its preprocessing: {(t_init + t_ch + t_q) / t_y:.1f}x")
    print(f"  agreement: {mism} points differ (beyond 1 mm of R), largest distance difference {diff:.2e} m")


if __name__ == "__main__":
    main()
