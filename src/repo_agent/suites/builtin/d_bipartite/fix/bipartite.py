"""Bipartiteness check for undirected graphs via BFS 2-colouring."""
from collections import deque


def build_adjacency(n, edges):
    """Return adjacency lists for an undirected graph on nodes 0..n-1."""
    adj = [[] for _ in range(n)]
    for u, v in edges:
        adj[u].append(v)
        adj[v].append(u)
    return adj


def two_coloring(n, edges):
    """Return a list of colours (0/1) for each node, or None if impossible."""
    adj = build_adjacency(n, edges)
    color = [None] * n
    for start in range(n):
        if color[start] is not None:
            continue
        color[start] = 0
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v in adj[u]:
                if color[v] is None:
                    color[v] = 1 - color[u]
                    queue.append(v)
                elif color[v] == color[u]:
                    return None
    return color


def is_bipartite(n, edges):
    """Return True if the undirected graph can be 2-coloured."""
    return two_coloring(n, edges) is not None
