"""Unified diffs of recorded file contents, in the form `git apply` accepts."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

NO_NEWLINE = "\\ No newline at end of file\n"
_GIT_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
_GIT_ESCAPES |= {ord('"'): '\\"', ord("\\"): "\\\\"}


@dataclass(frozen=True)
class Opaque:
    """A file kept as no text (binary, not UTF-8, or too big): its size and sha256, if hashed."""

    size: int
    digest: str | None


Content = str | Opaque


def quote_path(path: str) -> str:
    """A path as git writes it in a diff header: C-quoted when it holds a quote, a backslash,
    a control character or a non-ASCII byte (bytes as octal escapes); otherwise unchanged.

    >>> quote_path("a/m.py"), quote_path("a/x y.py"), quote_path("a/é\\n.py")
    ('a/m.py', 'a/x y.py', '"a/\\\\303\\\\251\\\\n.py"')
    """
    raw = path.encode("utf-8", "surrogateescape")
    if not any(b < 0x20 or b >= 0x7F or b in (0x22, 0x5C) for b in raw):
        return path
    body = "".join(
        _GIT_ESCAPES.get(b) or (f"\\{b:03o}" if b < 0x20 or b >= 0x7F else chr(b)) for b in raw
    )
    return f'"{body}"'


def split_lines(text: str) -> list[str]:
    """Lines as git sees them: split at "\\n" only, each keeping its end.

    >>> split_lines("a\\fb\\nc")
    ['a\\x0cb\\n', 'c']
    """
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


def file_diff(path: str, before: Content | None, after: Content | None) -> str:
    """The diff taking `before` to `after` (None: the file does not exist) for `path`.

    A plain modification of a plainly named file keeps difflib's `--- a/x` / `+++ b/x` form;
    new, deleted and binary files and quoted names get git's `diff --git` header too.

    >>> print(file_diff("m.py", "x = 1", "x = 2\\n"), end="")
    --- a/m.py
    +++ b/m.py
    @@ -1 +1 @@
    -x = 1
    \\ No newline at end of file
    +x = 2
    """
    if before == after:
        return ""
    a_name, b_name = quote_path(f"a/{path}"), quote_path(f"b/{path}")
    header = f"diff --git {a_name} {b_name}\n"
    if before is None:
        header += "new file mode 100644\n"
    elif after is None:
        header += "deleted file mode 100644\n"
    if isinstance(before, Opaque) or isinstance(after, Opaque):
        old = "/dev/null" if before is None else a_name
        new = "/dev/null" if after is None else b_name
        return header + f"Binary files {old} and {new} differ\n"
    # git ends a name holding a space with a tab, so that patch tools find where it ends.
    tab = "\t" if " " in path and not a_name.startswith('"') else ""
    hunks = difflib.unified_diff(
        split_lines(before or ""),
        split_lines(after or ""),
        fromfile="/dev/null" if before is None else a_name + tab,
        tofile="/dev/null" if after is None else b_name + tab,
    )
    body = "".join(line if line.endswith("\n") else line + "\n" + NO_NEWLINE for line in hunks)
    plain = before is not None and after is not None and a_name == f"a/{path}" and not tab
    return body if plain else header + body
