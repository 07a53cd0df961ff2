from minheap import sift_down, sift_up


class TaskQueue:
    """Tasks ordered by priority (lowest number first), then by name."""

    def __init__(self):
        self._heap = []

    def push(self, priority, name):
        """Add a task."""
        self._heap.append((priority, name))
        sift_up(self._heap, len(self._heap) - 1)

    def pop_next(self):
        """Remove and return the name of the most urgent task."""
        if not self._heap:
            raise IndexError("no tasks")
        last = self._heap.pop()
        if not self._heap:
            return last[1]
        top, self._heap[0] = self._heap[0], last
        sift_down(self._heap, 0)
        return top[1]

    def __len__(self):
        return len(self._heap)
