class DisjointSet:
    """Union-find over the integers 0 .. n-1 with path compression."""

    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, x):
        """Return the representative of x's set."""
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a, b):
        """Merge the sets containing a and b; return True if they differed."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True
