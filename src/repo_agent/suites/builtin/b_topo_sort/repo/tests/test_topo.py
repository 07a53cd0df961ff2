import pytest

from scheduler import topological_sort


def test_no_edges_keeps_input_order():
    assert topological_sort(["a", "b", "c"], []) == ["a", "b", "c"]


def test_chain():
    edges = [("wake", "dress"), ("dress", "leave")]
    assert topological_sort(["leave", "dress", "wake"], edges) == ["wake", "dress", "leave"]


def test_respects_every_edge():
    nodes = [1, 2, 3, 4, 5]
    edges = [(5, 1), (4, 1), (1, 2), (2, 3), (4, 3)]
    order = topological_sort(nodes, edges)
    assert sorted(order) == nodes
    for u, v in edges:
        assert order.index(u) < order.index(v)


def test_cycle_raises():
    with pytest.raises(ValueError):
        topological_sort(["x", "y", "z"], [("x", "y"), ("y", "z"), ("z", "y")])
