from components import count_components, same_component


def test_no_edges():
    assert count_components(4, []) == 4


def test_simple_pairs():
    assert count_components(5, [(0, 1), (3, 4)]) == 3


def test_star_graph():
    assert count_components(5, [(0, 1), (0, 2), (0, 3), (0, 4)]) == 1


def test_merging_groups():
    edges = [(0, 1), (2, 3), (1, 3), (4, 5)]
    assert count_components(6, edges) == 2
    assert same_component(6, edges, 0, 2)
    assert not same_component(6, edges, 0, 5)
