from paths import count_paths


def test_single_cell():
    assert count_paths([[0]]) == 1


def test_open_grid():
    assert count_paths([[0] * 3 for _ in range(3)]) == 6
    assert count_paths([[0] * 4 for _ in range(2)]) == 4


def test_obstacle_in_middle():
    grid = [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert count_paths(grid) == 2


def test_wall_blocks_everything():
    assert count_paths([[0, 1], [1, 0]]) == 0
    assert count_paths([[1, 0], [0, 0]]) == 0


def test_blocked_first_row():
    assert count_paths([[0, 1, 0], [0, 0, 0]]) == 1
