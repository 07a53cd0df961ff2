from cycles import find_cycle


def test_empty_graph():
    assert find_cycle({}) is None


def test_self_loop():
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_diamond_is_acyclic():
    g = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}
    assert find_cycle(g) is None


def test_finds_cycle_after_shared_node():
    g = {"s": ["x", "y"], "x": ["z"], "y": ["z"], "z": ["w"], "w": ["y"]}
    cycle = find_cycle(g)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"y", "z", "w"}
