"""Fixed-capacity FIFO ring buffer that overwrites its oldest items."""


class RingBuffer:
    """Keeps the most recent `capacity` items in insertion order."""

    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self._data = [None] * capacity
        self._head = 0
        self._size = 0

    def __len__(self):
        return self._size

    def push(self, item):
        """Append item, dropping the oldest item when the buffer is full."""
        tail = (self._head + self._size) % len(self._data)
        self._data[tail] = item
        if self._size < len(self._data):
            self._size += 1
        else:
            self._head = (self._head + 1) % len(self._data)

    def pop(self):
        """Remove and return the oldest item."""
        if self._size == 0:
            raise IndexError("pop from empty buffer")
        item = self._data[self._head]
        self._data[self._head] = None
        self._head = (self._head + 1) % len(self._data)
        self._size -= 1
        return item

    def to_list(self):
        """Return the stored items from oldest to newest."""
        n = len(self._data)
        return [self._data[(self._head + i) % n] for i in range(self._size)]
