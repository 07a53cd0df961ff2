import pytest

from ring import RingBuffer


def test_fifo_order():
    rb = RingBuffer(3)
    rb.push(1)
    rb.push(2)
    assert rb.pop() == 1 and rb.to_list() == [2]


def test_overwrite_oldest():
    rb = RingBuffer(3)
    for x in range(1, 6):
        rb.push(x)
    assert len(rb) == 3
    assert rb.to_list() == [3, 4, 5]


def test_pop_after_overwrite():
    rb = RingBuffer(2)
    for x in "abc":
        rb.push(x)
    assert [rb.pop(), rb.pop()] == ["b", "c"]
    with pytest.raises(IndexError):
        rb.pop()


def test_bad_capacity():
    with pytest.raises(ValueError):
        RingBuffer(0)
