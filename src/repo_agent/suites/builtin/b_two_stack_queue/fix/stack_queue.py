class TwoStackQueue:
    """FIFO queue built from two Python lists used as stacks."""

    def __init__(self):
        self._in = []
        self._out = []

    def enqueue(self, item):
        """Add item to the back of the queue."""
        self._in.append(item)

    def dequeue(self):
        """Remove and return the front item; IndexError if empty."""
        if not self._out:
            while self._in:
                self._out.append(self._in.pop())
        if not self._out:
            raise IndexError("dequeue from empty queue")
        return self._out.pop()

    def __len__(self):
        return len(self._in) + len(self._out)
