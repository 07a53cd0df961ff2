import pytest

from task_queue import TaskQueue


def test_single_task():
    q = TaskQueue()
    q.push(3, "write")
    assert q.pop_next() == "write"
    assert len(q) == 0


def test_pops_in_priority_order():
    q = TaskQueue()
    for prio in [5, 1, 4, 2, 3, 0, 6]:
        q.push(prio, "t%d" % prio)
    assert [q.pop_next() for _ in range(7)] == ["t%d" % p for p in range(7)]


def test_ties_broken_by_name():
    q = TaskQueue()
    for name in ["c", "a", "b"]:
        q.push(1, name)
    assert [q.pop_next() for _ in range(3)] == ["a", "b", "c"]


def test_empty_raises():
    with pytest.raises(IndexError):
        TaskQueue().pop_next()
