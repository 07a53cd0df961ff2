"""A throw-away copy of a task's repository; every path is confined to it."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from repo_agent.runtime.diff import Content, Opaque, file_diff

IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "node_modules",
        "build",
        "dist",
        ".tox",
        ".dvc",
        ".eggs",
        "site-packages",
    }
)
MAX_DEPTH = 64  # directory levels a copied repository may have
MAX_FILE_BYTES = 2_000_000  # read_text refuses bigger files; the start snapshot keeps no text
BINARY_PROBE = 8192  # a NUL byte in this many leading bytes marks a binary file

# Characters that could forge lines or reorder text where a file name is shown: C0 and C1
# controls, DEL, the line/paragraph separators and the bidirectional marks and overrides.
_UNSAFE = frozenset(
    [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029]
    + [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class WorkspaceError(Exception):
    """A tool request the workspace refuses; the message is shown to the agent."""


class TimeLimitError(WorkspaceError):
    """A walk ran out of its time budget; `partial` holds what it had found by then."""

    def __init__(self, message: str, partial: list[str]) -> None:
        super().__init__(message)
        self.partial = partial


def is_secret(name: str) -> bool:
    """Whether a directory entry is a dotenv file or directory (never copied, never listed).

    >>> is_secret(".env"), is_secret(".env.local"), is_secret(".envrc"), is_secret("env.py")
    (True, True, False, False)
    """
    return name == ".env" or name.startswith(".env.")


def is_ignored(name: str) -> bool:
    """Whether a directory entry is VCS, virtualenv, cache, build output or a dotenv secret
    (never copied)."""
    return name in IGNORED_DIRS or name.endswith(".egg-info") or is_secret(name)


def ignore_dirs(_dir: str, names: list[str]) -> list[str]:
    """`shutil.copytree(..., ignore=ignore_dirs)`: skip the entries `is_ignored` names."""
    return [n for n in names if is_ignored(n)]


def _escape_char(c: str) -> str:
    code = ord(c)
    return _SHORT_ESCAPES.get(c) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_name(name: str) -> str:
    """A file name shown on one line: control and bidirectional characters escaped.

    >>> print(escape_name("a\\nb\\u202ec.py"), escape_name("ok é.py"))
    a\\nb\\u202ec.py ok é.py
    """
    if not any(ord(c) in _UNSAFE for c in name):
        return name
    return "".join(_escape_char(c) if ord(c) in _UNSAFE else c for c in name)


def check_name(rel: str) -> None:
    """Refuse a tool path holding a NUL, control or bidirectional character (the whitespace
    around it is trimmed first, as `Workspace.resolve` does)."""
    if not isinstance(rel, str):
        return  # resolve() says it must be a string
    if "\x00" in rel:
        raise WorkspaceError("path contains a NUL byte")
    bad = next((c for c in rel.strip() if ord(c) in _UNSAFE), None)
    if bad is not None:
        raise WorkspaceError(
            f"path contains a control or bidirectional character ({_escape_char(bad)}): "
            f"{escape_name(rel.strip())}; such names are not allowed"
        )


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _open_regular(path: Path, follow_links: bool = True) -> BinaryIO | None:
    """`path` opened for reading if it is a regular file, else None; never blocks on a pipe."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link, with follow_links off
            return None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _read_content(path: Path, max_bytes: int) -> Content | None:
    """What the regular file at `path` holds (not following a final link); None if none."""
    try:
        f = _open_regular(path, follow_links=False)
    except OSError:
        return None
    if f is None:
        return None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            return Opaque(size, None)
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        return Opaque(len(data), None)
    if b"\x00" not in data[:BINARY_PROBE]:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return Opaque(len(data), hashlib.sha256(data).hexdigest())


def _copy_tree(source: Path, dest: Path, max_depth: int) -> list[str]:
    """Copy `source` into the existing dir `dest` (links as links, minus ignored entries) and
    return the special files skipped: pipes, sockets and devices are never opened."""
    skipped: list[str] = []
    stack = [(source, dest, 0)]
    while stack:
        src_dir, dest_dir, depth = stack.pop()
        # Keep the source's permissions, as copytree did, but always writable by the owner
        # (the agent writes here, and cleanup must be able to remove everything).
        os.chmod(dest_dir, stat.S_IMODE(os.stat(src_dir).st_mode) | 0o700)
        with os.scandir(src_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            if is_ignored(entry.name):
                continue
            src, target = Path(entry.path), dest_dir / entry.name
            if entry.is_symlink():
                os.symlink(os.readlink(src), target)
            elif entry.is_dir(follow_symlinks=False):
                if depth >= max_depth:
                    where = escape_name(src.relative_to(source).as_posix())[:200]
                    raise WorkspaceError(
                        f"the repository is deeper than {max_depth} levels (at {where}...)"
                    )
                target.mkdir()
                stack.append((src, target, depth + 1))
            elif entry.is_file(follow_symlinks=False):
                shutil.copy2(src, target, follow_symlinks=False)
            else:
                skipped.append(src.relative_to(source).as_posix())
    return skipped


def _scan(root: Path, max_bytes: int) -> dict[str, Content]:
    """Every regular file under `root`, relative path -> content; links are not followed."""
    out: dict[str, Content] = {}
    stack = [root]
    while stack:
        current = stack.pop()
        with os.scandir(current) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    content = _read_content(Path(entry.path), max_bytes)
                    if content is not None:
                        out[Path(entry.path).relative_to(root).as_posix()] = content
    return dict(sorted(out.items()))


class Workspace:
    """A temporary copy of a repository. Paths given to it are relative and stay inside."""

    def __init__(self, root: Path, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.root = root.resolve()
        self.max_file_bytes = max_file_bytes
        # What each file held at creation (`create` fills it); `diff` compares against it.
        self.baseline: dict[str, Content] = {}
        self.skipped: list[str] = []  # special files (pipes, sockets, devices) not copied

    @classmethod
    def create(
        cls,
        files: dict[str, Path],
        source_root: Path | None = None,
        prefix: str = "ra-",
        max_depth: int = MAX_DEPTH,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> Workspace:
        """Copy `source_root` (minus VCS/virtualenv/build dirs, dotenv secrets and special
        files) and then `files` into a temp dir, and record what every file holds (for
        `diff`). Any failure removes the temp dir."""
        root = Path(tempfile.mkdtemp(prefix=prefix))
        try:
            ws = cls(root, max_file_bytes)
            try:
                if source_root is not None:
                    ws.skipped = _copy_tree(Path(source_root), root, max_depth)
                for rel, src in files.items():
                    ws.resolve(rel)  # an earlier copied link must not lead it outside
                    dest = root / rel
                    if dest.is_symlink():
                        dest.unlink()  # replace the link, never write through it
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dest)
                ws.baseline = _scan(ws.root, max_file_bytes)
            except OSError as exc:
                where = escape_name(str(exc.filename)) if exc.filename else "the repository"
                raise WorkspaceError(f"cannot copy {where}: {exc.strerror or exc}") from exc
            return ws
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def resolve(self, rel: str) -> Path:
        """Map a relative path to a real path inside the workspace, or raise WorkspaceError."""
        if not isinstance(rel, str):
            raise WorkspaceError("path must be a string")
        if "\x00" in rel:
            raise WorkspaceError("path contains a NUL byte")
        rel = rel.strip()
        if rel == "":
            rel = "."
        if rel.startswith(("/", "\\", "~")) or (len(rel) > 1 and rel[1] == ":"):
            raise WorkspaceError(f"absolute paths are not allowed: {rel!r}; use a relative path")
        if ".." in Path(rel.replace("\\", "/")).parts:
            raise WorkspaceError(f"'..' is not allowed in paths: {rel!r}")
        try:
            path = (self.root / rel).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
            raise WorkspaceError(f"cannot resolve {rel!r} (a symbolic link loop?)") from exc
        if path != self.root and self.root not in path.parents:
            raise WorkspaceError(f"path leads outside the repository: {rel!r}")
        parts = path.relative_to(self.root).parts
        if parts and parts[0] == ".git":
            raise WorkspaceError("the .git directory is off limits")
        return path

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def list_files(
        self, rel_dir: str = ".", limit: int = 10_000, deadline: float | None = None
    ) -> list[str]:
        """Sorted relative file paths under rel_dir, skipping ignored dirs, dotenv secrets and
        outbound links. Past `deadline` (a time.monotonic() value) raises TimeLimitError."""
        base = self.resolve(rel_dir)
        if not base.exists():
            raise WorkspaceError(f"no such directory: {rel_dir!r}")
        if base.is_file():
            return [self.relative(base)]
        out: list[str] = []
        stack = [base]
        seen = 0
        while stack and len(out) < limit:
            if _expired(deadline):
                raise TimeLimitError("listing ran out of time", sorted(out)[:limit])
            current = stack.pop()
            try:
                entries = sorted(current.iterdir(), key=lambda p: p.name, reverse=True)
            except OSError:
                continue
            for entry in entries:
                seen += 1
                if seen % 1024 == 0 and _expired(deadline):
                    raise TimeLimitError("listing ran out of time", sorted(out)[:limit])
                if is_secret(entry.name):
                    continue
                if entry.is_symlink():
                    try:
                        target = entry.resolve()
                    except (OSError, RuntimeError):  # a symbolic link loop
                        continue
                    if target != self.root and self.root not in target.parents:
                        continue
                    if entry.is_dir():
                        continue  # do not follow directory links (cycles)
                if entry.is_dir():
                    if not is_ignored(entry.name):
                        stack.append(entry)
                elif entry.is_file():
                    out.append(self.relative(entry))
        return sorted(out)[:limit]

    def read_text(self, rel_path: str, max_bytes: int = MAX_FILE_BYTES) -> str:
        """A UTF-8 text file's content; binary files and files over `max_bytes` are refused
        after reading at most their first BINARY_PROBE bytes."""
        path = self.resolve(rel_path)
        if path.is_dir():
            raise WorkspaceError(f"{rel_path!r} is a directory; use list_files")
        f = _open_regular(path)
        if f is None:
            raise WorkspaceError(f"no such file: {rel_path!r}")
        with f:
            head = f.read(BINARY_PROBE)
            if b"\x00" in head:
                raise WorkspaceError(f"{rel_path!r} is a binary file")
            size = os.fstat(f.fileno()).st_size
            data = head + f.read(max_bytes + 1 - len(head)) if size <= max_bytes else b""
        if size > max_bytes or len(data) > max_bytes:
            raise WorkspaceError(
                f"{rel_path!r} is {max(size, len(data))} bytes; files over {max_bytes} bytes "
                "are not read (use grep)"
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkspaceError(f"{rel_path!r} is not UTF-8 text") from exc

    def read_text_or_none(self, rel_path: str, max_bytes: int) -> str | None:
        """Text of a file for searching, or None for binary, huge or unreadable files."""
        path = self.resolve(rel_path)
        try:
            f = _open_regular(path)
            if f is None:
                return None
            with f:
                if os.fstat(f.fileno()).st_size > max_bytes:
                    return None
                head = f.read(BINARY_PROBE)
                if b"\x00" in head:
                    return None
                data = head + f.read(max_bytes + 1 - len(head))
        except OSError:
            return None
        if len(data) > max_bytes:
            return None
        return data.decode("utf-8", errors="replace")

    def write_text(self, rel_path: str, content: str) -> None:
        check_name(rel_path)
        path = self.resolve(rel_path)
        if path == self.root or path.is_dir():
            raise WorkspaceError(f"{rel_path!r} is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Re-check after mkdir: a parent could be a link created earlier.
        self.resolve(rel_path)
        if path.is_symlink():
            raise WorkspaceError(f"{rel_path!r} is a symbolic link; refusing to write through it")
        path.write_text(content, encoding="utf-8")

    def current(self, rel: str) -> Content | None:
        """What the workspace file `rel` holds now; None if it is missing, is not a regular
        file, or is reached through a link (links are never followed)."""
        parts = PurePosixPath(rel).parts
        if not parts or parts[0] == "/" or ".." in parts:
            return None
        path = self.root
        for part in parts[:-1]:
            path = path / part
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):  # a link or a file
                    return None
            except OSError:
                return None
        return _read_content(path / parts[-1], self.max_file_bytes)

    def diff(self, paths: Iterable[str]) -> str:
        """Unified diff (git-applicable) of the workspace-relative `paths` against what they
        held at creation: a path not held then is a new file. Reads only the workspace."""
        chunks = []
        for rel in dict.fromkeys(PurePosixPath(p).as_posix() for p in paths):
            chunks.append(file_diff(rel, self.baseline.get(rel), self.current(rel)))
        return "".join(chunks)
