import pytest

from stack_queue import TwoStackQueue


def test_fifo_order():
    q = TwoStackQueue()
    for x in range(4):
        q.enqueue(x)
    assert [q.dequeue() for _ in range(4)] == [0, 1, 2, 3]


def test_interleaved_operations():
    q = TwoStackQueue()
    q.enqueue("a")
    q.enqueue("b")
    assert q.dequeue() == "a"
    q.enqueue("c")
    assert q.dequeue() == "b"
    assert q.dequeue() == "c"


def test_len_and_empty():
    q = TwoStackQueue()
    q.enqueue(1)
    assert len(q) == 1
    q.dequeue()
    with pytest.raises(IndexError):
        q.dequeue()
