"""Small dense matrix helpers on lists of lists."""


def identity(n):
    """Return the n x n identity matrix."""
    return [[1 if i == j else 0 for j in range(n)] for i in range(n)]


def matmul(a, b):
    """Return the product a @ b; a is r x m and b is m x c."""
    if len(a[0]) != len(b):
        raise ValueError("incompatible shapes")
    rows, cols = len(a), len(b[0])
    out = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            for k in range(len(a)):
                out[i][j] += a[i][k] * b[k][j]
    return out


def mat_pow(m, p):
    """Return the square matrix m raised to the non-negative power p."""
    result = identity(len(m))
    while p > 0:
        if p % 2 == 1:
            result = matmul(result, m)
        m = matmul(m, m)
        p //= 2
    return result


def fibonacci(n):
    """Return the n-th Fibonacci number (fibonacci(0) == 0)."""
    return mat_pow([[1, 1], [1, 0]], n)[0][1]
