"""Minimum spanning tree of a weighted undirected graph (Kruskal)."""
from dsu import DisjointSet


def kruskal(n, edges):
    """Return (total_weight, chosen_edges) of a minimum spanning tree.

    edges is a list of (u, v, weight) tuples on nodes 0..n-1.
    Raises ValueError if the graph is not connected.
    """
    sets = DisjointSet(n)
    chosen = []
    total = 0
    for u, v, w in sorted(edges, key=lambda e: e[2]):
        if sets.union(u, v):
            chosen.append((u, v, w))
            total += w
    if len(chosen) != max(n - 1, 0):
        raise ValueError("graph is not connected")
    return total, chosen
