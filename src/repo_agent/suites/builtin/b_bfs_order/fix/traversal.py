from collections import deque


def bfs_order(graph, start):
    """Return nodes reachable from start in breadth-first order.

    graph maps each node to a list of its neighbours.
    """
    order = []
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        order.append(node)
        for nxt in graph.get(node, []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order
