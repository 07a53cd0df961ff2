from routes import shortest_distances


def test_source_only():
    assert shortest_distances({"a": []}, "a") == {"a": 0}


def test_direct_edges():
    g = {"a": [("b", 2), ("c", 5)], "b": [], "c": []}
    assert shortest_distances(g, "a") == {"a": 0, "b": 2, "c": 5}


def test_longer_path_is_cheaper():
    g = {"s": [("a", 1), ("t", 10)], "a": [("b", 1)], "b": [("t", 1)], "t": []}
    assert shortest_distances(g, "s")["t"] == 3


def test_classic_graph():
    g = {
        "s": [("a", 4), ("b", 1)],
        "b": [("a", 2), ("c", 5)],
        "a": [("c", 1)],
        "c": [("d", 3)],
        "d": [],
    }
    assert shortest_distances(g, "s") == {"s": 0, "a": 3, "b": 1, "c": 4, "d": 7}


def test_unreachable_node_absent():
    g = {"a": [("b", 1)], "b": [], "z": [("a", 1)]}
    assert "z" not in shortest_distances(g, "a")
