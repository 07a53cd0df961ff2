"""A throw-away copy of a task's repository; every path is confined to it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

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


class WorkspaceError(Exception):
    """A tool request the workspace refuses; the message is shown to the agent."""


def is_ignored(name: str) -> bool:
    """Whether a directory entry is VCS, virtualenv, cache or build output (never copied)."""
    return name in IGNORED_DIRS or name.endswith(".egg-info")


def ignore_dirs(_dir: str, names: list[str]) -> list[str]:
    """`shutil.copytree(..., ignore=ignore_dirs)`: skip the entries `is_ignored` names."""
    return [n for n in names if is_ignored(n)]


class Workspace:
    """A temporary copy of a repository. Paths given to it are relative and stay inside."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @classmethod
    def create(
        cls, files: dict[str, Path], source_root: Path | None = None, prefix: str = "ra-"
    ) -> Workspace:
        """Copy `source_root` (minus VCS/virtualenv/build dirs) and then `files` into a temp dir."""
        root = Path(tempfile.mkdtemp(prefix=prefix))
        if source_root is not None:
            shutil.copytree(
                source_root, root, ignore=ignore_dirs, dirs_exist_ok=True, symlinks=True
            )
        for rel, src in files.items():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        return cls(root)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

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

    def list_files(self, rel_dir: str = ".", limit: int = 10_000) -> list[str]:
        """Sorted relative file paths under rel_dir, skipping ignored dirs and outbound links."""
        base = self.resolve(rel_dir)
        if not base.exists():
            raise WorkspaceError(f"no such directory: {rel_dir!r}")
        if base.is_file():
            return [self.relative(base)]
        out: list[str] = []
        stack = [base]
        while stack and len(out) < limit:
            current = stack.pop()
            try:
                entries = sorted(current.iterdir(), key=lambda p: p.name, reverse=True)
            except OSError:
                continue
            for entry in entries:
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

    def read_text(self, rel_path: str) -> str:
        path = self.resolve(rel_path)
        if path.is_dir():
            raise WorkspaceError(f"{rel_path!r} is a directory; use list_files")
        if not path.is_file():
            raise WorkspaceError(f"no such file: {rel_path!r}")
        data = path.read_bytes()
        if b"\x00" in data[:8192]:
            raise WorkspaceError(f"{rel_path!r} is a binary file")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkspaceError(f"{rel_path!r} is not UTF-8 text") from exc

    def read_text_or_none(self, rel_path: str, max_bytes: int) -> str | None:
        """Text of a file for searching, or None for binary, huge or unreadable files."""
        path = self.resolve(rel_path)
        try:
            if path.stat().st_size > max_bytes:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        if b"\x00" in data[:8192]:
            return None
        return data.decode("utf-8", errors="replace")

    def write_text(self, rel_path: str, content: str) -> None:
        path = self.resolve(rel_path)
        if path == self.root or path.is_dir():
            raise WorkspaceError(f"{rel_path!r} is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Re-check after mkdir: a parent could be a link created earlier.
        self.resolve(rel_path)
        if path.is_symlink():
            raise WorkspaceError(f"{rel_path!r} is a symbolic link; refusing to write through it")
        path.write_text(content, encoding="utf-8")

    def snapshot(self) -> dict[str, str]:
        """All text files, relative path -> content (for diffs)."""
        out = {}
        for rel in self.list_files("."):
            text = self.read_text_or_none(rel, 1_000_000)
            if text is not None:
                out[rel] = text
        return out
