"""Walking coverage on a street network read from a local OpenStreetMap extract.

Sites and demand points are snapped to their geodesically nearest network node
(exact, :func:`geo.engine.coverage.nearest_distance_from_sites`); walking distance is
``site snap + network path + demand snap``, computed for all sites at once with one
Dijkstra from a virtual source joined to every site node by its snap distance.
Demand points farther than ``max_snap_m`` from any node are reported as not
routable (never silently snapped); such sites are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from geo.engine.coverage import float_array, geodesic_distance, nearest_distance_from_sites
from geo.engine.walk_dijkstra import reached_from_sources

__all__ = ["StreetNetwork", "network_from_pbf", "arrays_from_graph", "walk_coverage_from_sites",
           "pairs_from_network"]


@dataclass(frozen=True)
class StreetNetwork:
    """Undirected street network as arrays.

    Attributes
    ----------
    node_id : numpy.ndarray
        OSM node ids.
    lon, lat : numpy.ndarray
        Node coordinates (WGS-84).
    matrix : scipy.sparse.csr_array
        Symmetric ``(n, n)`` matrix of edge lengths in metres (shortest of parallel edges).
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    matrix: sp.csr_array


def _symmetric(u, v, length, n):
    keep = u != v
    u, v, length = u[keep], v[keep], length[keep]
    a, b = np.minimum(u, v), np.maximum(u, v)
    df = pd.DataFrame({"a": a, "b": b, "w": length}).groupby(["a", "b"], sort=False, as_index=False)["w"].min()
    a, b, w = df["a"].to_numpy(), df["b"].to_numpy(), df["w"].to_numpy()
    return sp.csr_array((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n))


def _geodesic_lengths(geoms):
    """Geodesic length (m) of each (multi)linestring in WGS-84."""
    parts, owner = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    xy, which = shapely.get_coordinates(parts, return_index=True)
    same = which[1:] == which[:-1]
    seg = geodesic_distance(xy[:-1, 0][same], xy[:-1, 1][same], xy[1:, 0][same], xy[1:, 1][same])
    return np.bincount(owner[which[1:][same]], weights=seg, minlength=len(geoms))


def network_from_pbf(path, *, network_type="walking", as_arrays=False):
    """Read a street network from a local ``.osm.pbf`` file with pyrosm.

    Parameters
    ----------
    path : str or os.PathLike
        Local OpenStreetMap extract (nothing is downloaded).
    network_type : str, optional
        pyrosm network type (``"walking"``: footways, paths and streets open to pedestrians).
    as_arrays : bool, optional
        Return a :class:`StreetNetwork` instead of a networkx graph.

    Returns
    -------
    networkx.Graph or StreetNetwork
        Undirected (pedestrians ignore one-way rules); nodes carry ``x``/``lon`` and
        ``y``/``lat``; edges carry ``length``: the geodesic length of the OSM way
        geometry in metres, recomputed with ``pyproj.Geod`` (pyrosm rounds to mm).
    """
    import pyrosm

    nodes, edges = pyrosm.OSM(str(path)).get_network(network_type=network_type, nodes=True)
    ids = pd.Index(nodes["id"].to_numpy(dtype=np.int64))
    u = ids.get_indexer(edges["u"].to_numpy(dtype=np.int64))
    v = ids.get_indexer(edges["v"].to_numpy(dtype=np.int64))
    ok = (u >= 0) & (v >= 0)
    length = _geodesic_lengths(edges.geometry.to_numpy()[ok])
    net = StreetNetwork(
        node_id=ids.to_numpy(), lon=nodes["lon"].to_numpy(dtype="float64"),
        lat=nodes["lat"].to_numpy(dtype="float64"), matrix=_symmetric(u[ok], v[ok], length, len(ids)),
    )
    return net if as_arrays else graph_from_arrays(net)


def graph_from_arrays(net):
    """Convert a :class:`StreetNetwork` to an undirected networkx graph."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(
        (int(i), {"x": x, "y": y, "lon": x, "lat": y}) for i, x, y in zip(net.node_id, net.lon, net.lat)
    )
    coo = sp.triu(net.matrix, format="coo")
    ids = net.node_id
    g.add_edges_from((int(ids[a]), int(ids[b]), {"length": float(w)}) for a, b, w in zip(coo.row, coo.col, coo.data))
    return g


def arrays_from_graph(graph, *, weight="length"):
    """Convert a networkx graph (nodes with ``x``/``y`` or ``lon``/``lat``) to a :class:`StreetNetwork`."""
    ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    data = graph.nodes
    lon = np.array([data[i].get("lon", data[i].get("x")) for i in ids.tolist()], dtype="float64")
    lat = np.array([data[i].get("lat", data[i].get("y")) for i in ids.tolist()], dtype="float64")
    index = pd.Index(ids)
    rows = [(a, b, d[weight]) for a, b, d in graph.edges(data=True)]
    a = index.get_indexer([r[0] for r in rows])
    b = index.get_indexer([r[1] for r in rows])
    w = np.array([r[2] for r in rows], dtype="float64")
    return StreetNetwork(node_id=ids, lon=lon, lat=lat, matrix=_symmetric(a, b, w, ids.size))


def walk_coverage_from_sites(
    graph_or_arrays, demand_lon, demand_lat, site_lon, site_lat, *, radius_m, max_snap_m=100.0
):
    """Walking coverage of demand points by sites.

    Parameters
    ----------
    graph_or_arrays : networkx.Graph or StreetNetwork
        From :func:`network_from_pbf`.
    demand_lon, demand_lat, site_lon, site_lat : array_like
        WGS-84 degrees.
    radius_m : float
        Walking distance limit in metres (e.g. 15 min at 4.8 km/h = 1200 m).
    max_snap_m : float, optional
        Largest geodesic distance from a point to its nearest node.

    Returns
    -------
    covered : numpy.ndarray of bool
        Routable and within ``radius_m`` of some routable site on foot.
    walk_distance_m : numpy.ndarray
        Walking distance to the nearest site; ``inf`` beyond ``radius_m`` or when not routable.
    routable : numpy.ndarray of bool
        Whether the demand point is within ``max_snap_m`` of the network.
    """
    net = graph_or_arrays if isinstance(graph_or_arrays, StreetNetwork) else arrays_from_graph(graph_or_arrays)
    dlon, dlat, sx, sy = float_array(demand_lon), float_array(demand_lat), float_array(site_lon), float_array(site_lat)
    radius_m = float(radius_m)
    n = net.lon.size
    dd, dn = nearest_distance_from_sites(dlon, dlat, net.lon, net.lat, max_distance_m=max_snap_m, return_index=True)
    routable = dn >= 0
    walk = np.full(dlon.size, np.inf)
    sd, sn = nearest_distance_from_sites(sx, sy, net.lon, net.lat, max_distance_m=max_snap_m, return_index=True)
    use = (sn >= 0) & (sd <= radius_m)
    if use.any() and routable.any():
        first = pd.DataFrame({"n": sn[use], "d": sd[use]}).groupby("n")["d"].min()  # one edge per node
        m = net.matrix.tocoo()
        g = sp.csr_array(
            (np.r_[m.data, first.to_numpy()], (np.r_[m.row, np.full(first.size, n)], np.r_[m.col, first.index])),
            shape=(n + 1, n + 1),
        )
        dist = dijkstra(g, directed=True, indices=n, limit=radius_m)
        walk[routable] = dist[dn[routable]] + dd[routable]
    walk[walk > radius_m] = np.inf
    return np.isfinite(walk), walk, routable


def pairs_from_network(
    graph_or_arrays, demand_lon, demand_lat, cand_lon, cand_lat, *, radius_m, max_snap_m=100.0
):
    """All ``(demand, candidate, walking distance)`` pairs within ``radius_m`` on foot.

    The same distance as :func:`walk_coverage_from_sites` (snap + path + snap, both snaps
    at most ``max_snap_m``; a candidate farther than ``radius_m`` from the network reaches
    nothing): one Dijkstra per candidate node, bounded by the radius less its snap, that
    returns only the nodes it reaches (:func:`geo.engine.walk_dijkstra.reached_from_sources`).

    Returns
    -------
    tuple of numpy.ndarray
        ``demand_idx`` (int64), ``cand_idx`` (int64), ``distance_m`` (float64), in no
        particular order (like :func:`geo.engine.coverage.pairs_from_sites`).
    """
    net = graph_or_arrays if isinstance(graph_or_arrays, StreetNetwork) else arrays_from_graph(graph_or_arrays)
    dlon, dlat, clon, clat = float_array(demand_lon), float_array(demand_lat), float_array(cand_lon), float_array(cand_lat)
    radius_m = float(radius_m)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    dd, dn = nearest_distance_from_sites(dlon, dlat, net.lon, net.lat, max_distance_m=max_snap_m, return_index=True)
    cd, cn = nearest_distance_from_sites(clon, clat, net.lon, net.lat, max_distance_m=max_snap_m, return_index=True)
    routable = np.flatnonzero(dn >= 0)
    cands = np.flatnonzero((cn >= 0) & (cd <= radius_m))
    if routable.size == 0 or cands.size == 0:
        return empty
    by_node = routable[np.argsort(dn[routable], kind="stable")]  # demand grouped by its node
    nodes, start = np.unique(dn[by_node], return_index=True)
    count = np.diff(np.r_[start, by_node.size])
    slot = np.full(net.lon.size, -1, dtype=np.int64)
    slot[nodes] = np.arange(nodes.size)
    # each candidate's search stops where snap + path passes the radius (1 um of slack for
    # rounding; the exact test is below): only reached nodes come back, never a dense row
    src, node, path = reached_from_sources(net.matrix, cn[cands], np.minimum(radius_m, radius_m - cd[cands] + 1e-6))
    u = slot[node]
    hit = u >= 0
    r, u = src[hit], u[hit]
    reach = path[hit] + cd[cands][r]
    ok = reach <= radius_m
    r, u, reach = r[ok], u[ok], reach[ok]
    n_at = count[u]
    first = np.repeat(start[u] - np.cumsum(np.r_[0, n_at[:-1]]), n_at) + np.arange(int(n_at.sum()))
    di = by_node[first]
    dist = np.repeat(reach, n_at) + dd[di]
    keep = dist <= radius_m
    return di[keep], cands[np.repeat(r, n_at)[keep]], dist[keep]

