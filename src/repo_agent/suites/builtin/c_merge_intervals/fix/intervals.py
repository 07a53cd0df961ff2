"""Operations on closed integer intervals given as (start, end) pairs."""


def merge_intervals(intervals):
    """Merge overlapping or touching intervals; return them sorted."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [tuple(pair) for pair in merged]


def total_length(intervals):
    """Return how many units the union of `intervals` covers."""
    return sum(end - start for start, end in merge_intervals(intervals))
