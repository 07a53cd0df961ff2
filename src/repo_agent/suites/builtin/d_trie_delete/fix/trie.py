"""Prefix tree (trie) of words with deletion."""


class Trie:
    """A set of words; nodes are dicts {"kids": {...}, "end": bool}."""

    def __init__(self):
        self.root = {"kids": {}, "end": False}

    def insert(self, word):
        """Add word to the trie."""
        node = self.root
        for ch in word:
            node = node["kids"].setdefault(ch, {"kids": {}, "end": False})
        node["end"] = True

    def _walk(self, text):
        node = self.root
        for ch in text:
            node = node["kids"].get(ch)
            if node is None:
                return None
        return node

    def contains(self, word):
        """Return True if word is stored."""
        node = self._walk(word)
        return node is not None and node["end"]

    def starts_with(self, prefix):
        """Return True if some stored word begins with prefix."""
        return self._walk(prefix) is not None

    def delete(self, word, node=None, i=0):
        """Remove word if present; return True if node can be pruned."""
        node = self.root if node is None else node
        if i == len(word):
            node["end"] = False
            return not node["kids"]
        child = node["kids"].get(word[i])
        if child is not None and self.delete(word, child, i + 1):
            del node["kids"][word[i]]
        return not node["kids"] and not node["end"]
