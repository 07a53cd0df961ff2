from traversal import bfs_order


def test_single_node():
    assert bfs_order({"a": []}, "a") == ["a"]


def test_tree_levels():
    g = {1: [2, 3], 2: [4], 3: [5], 4: [], 5: []}
    assert bfs_order(g, 1) == [1, 2, 3, 4, 5]


def test_cycle_back_to_start():
    g = {"a": ["b"], "b": ["c"], "c": ["a"]}
    assert bfs_order(g, "a") == ["a", "b", "c"]


def test_undirected_graph():
    g = {0: [1, 2], 1: [0, 3], 2: [0, 3], 3: [1, 2]}
    assert bfs_order(g, 0) == [0, 1, 2, 3]


def test_unreachable_nodes_skipped():
    g = {0: [1], 1: [], 2: [0]}
    assert bfs_order(g, 0) == [0, 1]
