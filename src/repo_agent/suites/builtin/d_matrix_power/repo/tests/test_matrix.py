import pytest

from matrix import fibonacci, identity, mat_pow, matmul


def test_square_product():
    assert matmul([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]


def test_rectangular_products():
    a = [[1, 2, 3], [4, 5, 6]]
    b = [[7, 8], [9, 10], [11, 12]]
    assert matmul(a, b) == [[58, 64], [139, 154]]
    assert matmul([[1], [2]], [[3, 4]]) == [[3, 4], [6, 8]]
    assert matmul([[1, 2, 3]], [[1], [1], [1]]) == [[6]]


def test_shape_mismatch():
    with pytest.raises(ValueError):
        matmul([[1, 2]], [[1, 2]])


def test_power():
    assert mat_pow([[2, 0], [0, 3]], 0) == identity(2)
    assert mat_pow([[1, 1], [0, 1]], 5) == [[1, 5], [0, 1]]


def test_fibonacci():
    assert [fibonacci(n) for n in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]
    assert fibonacci(90) == 2880067194370816120
