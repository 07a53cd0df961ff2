from dsu import DisjointSet


def count_components(n, edges):
    """Number of connected components of an undirected graph on 0..n-1."""
    ds = DisjointSet(n)
    for a, b in edges:
        ds.union(a, b)
    return len({ds.find(x) for x in range(n)})


def same_component(n, edges, a, b):
    """True if a and b are connected by some path."""
    ds = DisjointSet(n)
    for u, v in edges:
        ds.union(u, v)
    return ds.find(a) == ds.find(b)
