"""Count monotone paths through a grid with obstacles."""


def count_paths(grid):
    """Count paths from the top-left to the bottom-right cell.

    `grid` is a list of equal-length rows; a truthy cell is blocked.
    Each step moves one cell right or one cell down.
    """
    if not grid or not grid[0]:
        return 0
    cols = len(grid[0])
    ways = [0] * cols
    ways[0] = 1
    for row in grid:
        for c in range(cols):
            if row[c]:
                continue
            if c > 0:
                ways[c] += ways[c - 1]
    return ways[-1]
