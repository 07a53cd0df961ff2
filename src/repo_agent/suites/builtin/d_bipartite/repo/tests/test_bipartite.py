from bipartite import is_bipartite, two_coloring


def test_even_cycle():
    assert is_bipartite(4, [(0, 1), (1, 2), (2, 3), (3, 0)])


def test_odd_cycle():
    assert not is_bipartite(3, [(0, 1), (1, 2), (2, 0)])


def test_edge_order_does_not_matter():
    assert is_bipartite(3, [(1, 0), (1, 2)])
    assert is_bipartite(4, [(3, 2), (2, 1), (1, 0)])


def test_coloring_is_valid():
    edges = [(4, 0), (0, 1), (2, 1), (3, 2), (5, 3)]
    color = two_coloring(6, edges)
    assert color is not None
    assert all(color[u] != color[v] for u, v in edges)


def test_disconnected_with_odd_cycle():
    assert not is_bipartite(6, [(0, 1), (3, 4), (4, 5), (5, 3)])
