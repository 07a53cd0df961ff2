from collections import deque


def topological_sort(nodes, edges):
    """Order nodes so that for every edge (u, v), u comes before v.

    Ties are broken by the order of ``nodes``. Raises ValueError
    if the edges contain a cycle.
    """
    succ = {n: [] for n in nodes}
    indeg = {n: 0 for n in nodes}
    for u, v in edges:
        succ[u].append(v)
        indeg[u] += 1
    queue = deque(n for n in nodes if indeg[n] == 0)
    order = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                queue.append(m)
    if len(order) != len(nodes):
        raise ValueError("graph has a cycle")
    return order
