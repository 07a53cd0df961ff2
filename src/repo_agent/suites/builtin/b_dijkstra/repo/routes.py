import heapq


def shortest_distances(graph, source):
    """Dijkstra's algorithm on a graph with non-negative weights.

    graph maps node -> list of (neighbour, weight). Returns a dict
    of the shortest distance to every reachable node.
    """
    dist = {source: 0}
    heap = [(0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, w in graph.get(u, []):
            nd = d + w
            if nd < dist.get(v, float("inf")):
                dist[v] = nd
                heapq.heappush(heap, (w, v))
    return dist
