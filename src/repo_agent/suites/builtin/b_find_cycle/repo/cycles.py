def find_cycle(graph):
    """Return a list of nodes forming a directed cycle, or None.

    graph maps node -> list of successors. The returned list starts
    and ends with the same node, e.g. ["a", "b", "a"].
    """
    done = set()
    path = []
    on_path = set()

    def visit(u):
        path.append(u)
        on_path.add(u)
        for v in graph.get(u, []):
            if v in on_path:
                return path[path.index(v):] + [v]
            if v not in done:
                found = visit(v)
                if found:
                    return found
        path.pop()
        done.add(u)
        return None

    for node in graph:
        if node not in done:
            found = visit(node)
            if found:
                return found
    return None
