def best_value(items, capacity):
    """Maximum total value of a subset of items within capacity.

    items is a list of (weight, value) pairs; each item may be
    taken at most once.
    """
    best = [0] * (capacity + 1)
    for weight, value in items:
        for c in range(weight, capacity + 1):
            candidate = best[c - weight] + value
            if candidate > best[c]:
                best[c] = candidate
    return best[capacity]
