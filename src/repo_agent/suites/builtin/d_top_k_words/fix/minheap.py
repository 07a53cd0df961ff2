"""Array-backed binary min-heap."""


class MinHeap:
    """Priority queue returning the smallest item first."""

    def __init__(self):
        self.items = []

    def __len__(self):
        return len(self.items)

    def push(self, item):
        """Add item to the heap."""
        a = self.items
        a.append(item)
        i = len(a) - 1
        while i > 0 and a[i] < a[(i - 1) // 2]:
            p = (i - 1) // 2
            a[i], a[p] = a[p], a[i]
            i = p

    def pop(self):
        """Remove and return the smallest item."""
        a = self.items
        if not a:
            raise IndexError("pop from empty heap")
        top, last = a[0], a.pop()
        if a:
            a[0] = last
            self._sift_down(0)
        return top

    def _sift_down(self, i):
        """Move a[i] down until both children are not smaller."""
        a = self.items
        while True:
            smallest = i
            for c in (2 * i + 1, 2 * i + 2):
                if c < len(a) and a[c] < a[smallest]:
                    smallest = c
            if smallest == i:
                return
            a[i], a[smallest] = a[smallest], a[i]
            i = smallest
