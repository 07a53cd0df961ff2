import pytest

from mst import kruskal


def test_triangle():
    total, chosen = kruskal(3, [(0, 1, 1), (1, 2, 2), (0, 2, 3)])
    assert total == 3
    assert len(chosen) == 2


def test_square_with_diagonals():
    edges = [(0, 1, 4), (1, 2, 1), (2, 3, 5), (3, 0, 2), (0, 2, 3), (1, 3, 6)]
    assert kruskal(4, edges)[0] == 6


def test_larger_graph():
    edges = [(0, 1, 7), (0, 3, 5), (1, 2, 8), (1, 3, 9), (1, 4, 7),
             (2, 4, 5), (3, 4, 15), (3, 5, 6), (4, 5, 8), (4, 6, 9),
             (5, 6, 11)]
    total, chosen = kruskal(7, edges)
    assert total == 39
    assert len(chosen) == 6


def test_disconnected():
    with pytest.raises(ValueError):
        kruskal(4, [(0, 1, 1), (2, 3, 1)])
