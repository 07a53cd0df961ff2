"""Diffs from the start snapshot: git-style headers where needed, and real `git apply` accepts
them (run in a real git repository holding the original files)."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import fake_key

from repo_agent.runtime.diff import Opaque, file_diff, quote_path, split_lines
from repo_agent.runtime.workspace import Workspace, ignore_dirs

SECRET = fake_key("sk-live-", 3, 24)


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)}
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )


def git_repo_of(source: Path, dest: Path) -> Path:
    """A git repository holding the files of `source` the agent saw (not its ignored dirs)."""
    shutil.copytree(source, dest, ignore=ignore_dirs, symlinks=True)
    assert git(dest, "init", "-q").returncode == 0
    return dest


def apply(repo: Path, diff: str) -> None:
    patch = repo.parent / "change.patch"
    patch.write_bytes(diff.encode("utf-8"))
    check = git(repo, "apply", "--check", str(patch))
    assert check.returncode == 0, check.stderr + "\n" + diff
    done = git(repo, "apply", str(patch))
    assert done.returncode == 0, done.stderr


def assert_applies(source: Path, ws: Workspace, paths: list[str], tmp_path: Path) -> str:
    diff = ws.diff(paths)
    repo = git_repo_of(source, tmp_path / "repo")
    apply(repo, diff)
    for rel in paths:
        assert (repo / rel).read_bytes() == (ws.root / rel).read_bytes(), rel
    return diff


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("def f(x):\n    return x - 1\n", encoding="utf-8")
    (src / "nonl.py").write_text("a = 1\nb = 2", encoding="utf-8")
    (src / "my file.py").write_text("x = 1\n", encoding="utf-8")
    (src / "café.py").write_text("y = 1\n", encoding="utf-8")
    (src / "feed.py").write_text("a = 1\x0cb = 2\r\nc = 3\u2028d\n", encoding="utf-8")
    (src / "blob.bin").write_bytes(b"\x00\x01" * 10)
    return src


@pytest.fixture
def ws(source: Path):
    ws = Workspace.create({}, source)
    yield ws
    ws.cleanup()


def test_a_modified_file_keeps_the_old_difflib_format(
    source: Path, ws: Workspace, tmp_path: Path
) -> None:
    ws.write_text("pkg/mod.py", "def f(x):\n    return x + 1\n")
    diff = assert_applies(source, ws, ["pkg/mod.py"], tmp_path)
    old = "def f(x):\n    return x - 1\n"
    expected = difflib.unified_diff(
        old.splitlines(keepends=True),
        ["def f(x):\n", "    return x + 1\n"],
        fromfile="a/pkg/mod.py",
        tofile="b/pkg/mod.py",
    )
    assert diff == "".join(expected)


def test_a_new_file_gets_git_headers(source: Path, ws: Workspace, tmp_path: Path) -> None:
    ws.write_text("pkg/new.py", "n = 1\n")
    ws.write_text("pkg/empty.py", "")
    diff = assert_applies(source, ws, ["pkg/new.py", "pkg/empty.py"], tmp_path)
    assert diff == (
        "diff --git a/pkg/new.py b/pkg/new.py\nnew file mode 100644\n"
        "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+n = 1\n"
        "diff --git a/pkg/empty.py b/pkg/empty.py\nnew file mode 100644\n"
    )


@pytest.mark.parametrize(
    ("rel", "after"),
    [
        ("nonl.py", "a = 1\nb = 3\n"),  # no newline before
        ("nonl.py", "a = 1\nb = 3"),  # nor after
        ("pkg/mod.py", "def f(x):\n    return x + 1"),  # newline before, none after
        ("feed.py", "a = 1\x0cb = 3\r\nc = 3\u2028d\n"),  # form feed, CR LF, U+2028
    ],
)
def test_missing_final_newlines_and_odd_line_ends_apply(
    source: Path, ws: Workspace, tmp_path: Path, rel: str, after: str
) -> None:
    ws.write_text(rel, after)
    diff = assert_applies(source, ws, [rel], tmp_path)
    assert diff.count("\\ No newline at end of file\n") == (rel == "nonl.py") + (
        not after.endswith("\n")
    )


@pytest.mark.parametrize("rel", ["my file.py", "café.py", "new dir/ünï cödé.py"])
def test_names_with_spaces_and_unicode_apply(
    source: Path, ws: Workspace, tmp_path: Path, rel: str
) -> None:
    ws.write_text(rel, "z = 2\n")
    diff = assert_applies(source, ws, [rel], tmp_path)
    assert diff.startswith("diff --git ")
    assert all(ord(c) < 128 for c in diff)  # non-ASCII bytes are octal-quoted, as git does


def test_several_files_in_one_diff_apply(source: Path, ws: Workspace, tmp_path: Path) -> None:
    ws.write_text("pkg/mod.py", "def f(x):\n    return x + 1\n")
    ws.write_text("café.py", "y = 2\n")
    ws.write_text("pkg/new.py", "n = 1")
    ws.write_text("nonl.py", "a = 1\nb = 2\n")
    assert_applies(source, ws, ["pkg/mod.py", "café.py", "pkg/new.py", "nonl.py"], tmp_path)


def test_a_deleted_file_shows_as_deleted(source: Path, ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "pkg" / "mod.py").unlink()
    diff = ws.diff(["pkg/mod.py"])
    assert diff.startswith("diff --git a/pkg/mod.py b/pkg/mod.py\ndeleted file mode 100644\n")
    repo = git_repo_of(source, tmp_path / "repo")
    apply(repo, diff)
    assert not (repo / "pkg" / "mod.py").exists()


def test_unchanged_and_unknown_paths_give_no_diff(ws: Workspace) -> None:
    ws.write_text("pkg/mod.py", "def f(x):\n    return x - 1\n")  # same content
    assert ws.diff(["pkg/mod.py", "nope.py", "./pkg/mod.py"]) == ""


def test_a_write_into_a_skipped_linked_dir_leaks_no_secret(tmp_path: Path) -> None:
    """The source links `build` outside, where a same-named file holds a secret, and has a
    `.env`: the diff shows the agent's files as new and holds neither secret."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_text(f"TOKEN = '{SECRET}'\n", encoding="utf-8")
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text("m = 1\n", encoding="utf-8")
    (src / ".env").write_text(f"API_KEY={SECRET}\n", encoding="utf-8")
    os.symlink(outside, src / "build")
    ws = Workspace.create({}, src)
    try:
        assert not (ws.root / "build").exists() and not (ws.root / ".env").exists()
        ws.write_text("build/x.py", "x = 1\n")
        ws.write_text(".env", "API_KEY=\n")
        diff = assert_applies(src, ws, ["build/x.py", ".env"], tmp_path)
    finally:
        ws.cleanup()
    assert SECRET not in diff
    assert "new file mode 100644\n--- /dev/null\n+++ b/build/x.py\n" in diff
    assert "+++ b/.env\n" in diff
    # Applied to the source itself, git refuses to write through its `build` link.
    raw = tmp_path / "raw"
    shutil.copytree(src, raw, symlinks=True)
    git(raw, "init", "-q")
    (tmp_path / "p.patch").write_text(diff, encoding="utf-8")
    refused = git(raw, "apply", "--check", str(tmp_path / "p.patch"))
    assert refused.returncode != 0 and "symbolic link" in refused.stderr
    assert (outside / "x.py").read_text(encoding="utf-8") == f"TOKEN = '{SECRET}'\n"


def test_diff_never_follows_a_link_in_the_workspace(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("a = 1\n", encoding="utf-8")
    ws = Workspace.create({}, src)
    try:
        (ws.root / "a.py").unlink()
        os.symlink(outside / "secret.txt", ws.root / "a.py")
        os.symlink(outside, ws.root / "out")
        diff = ws.diff(["a.py", "out/secret.txt"])
    finally:
        ws.cleanup()
    assert SECRET not in diff
    assert "deleted file mode" in diff and "out/secret.txt" not in diff


def test_binary_files_show_as_binary(ws: Workspace) -> None:
    ws.write_text("blob.bin", "now text\n")
    assert ws.diff(["blob.bin"]) == (
        "diff --git a/blob.bin b/blob.bin\nBinary files a/blob.bin and b/blob.bin differ\n"
    )


def test_quote_path_follows_git() -> None:
    assert quote_path("a/m.py") == "a/m.py"
    assert quote_path("a/x y.py") == "a/x y.py"
    assert quote_path("a/é.py") == '"a/\\303\\251.py"'
    assert quote_path('a/q"b\\c\td\n\x7f.py') == '"a/q\\"b\\\\c\\td\\n\\177.py"'
    assert quote_path("a/\u202eyp.txt") == '"a/\\342\\200\\256yp.txt"'


def test_file_diff_cases() -> None:
    assert file_diff("a.py", "x\n", "x\n") == ""
    assert file_diff("a.py", None, None) == ""
    assert file_diff("a.py", "x\n", None) == (
        "diff --git a/a.py b/a.py\ndeleted file mode 100644\n"
        "--- a/a.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
    )
    assert file_diff("x y.py", None, "1\n").splitlines()[3] == "+++ b/x y.py\t"
    assert file_diff("a.bin", Opaque(3, "d1"), Opaque(3, "d1")) == ""
    assert "Binary files /dev/null and b/a.bin differ" in file_diff("a.bin", None, Opaque(3, None))
    assert split_lines("") == [] and split_lines("a\n\n") == ["a\n", "\n"]
