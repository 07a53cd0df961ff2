"""The sandbox: hostile tool inputs give clear errors and never touch anything outside."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Sandbox

from repo_agent.runtime import workspace as workspace_module
from repo_agent.runtime.diff import Opaque
from repo_agent.runtime.tools import ToolLimits, execute_tool
from repo_agent.runtime.workspace import TimeLimitError, Workspace, WorkspaceError

Setup = Callable[[Sandbox], None]


def nothing(_: Sandbox) -> None:
    pass


def link(name: str, target: Callable[[Sandbox], str | Path]) -> Setup:
    def setup(sb: Sandbox) -> None:
        dest = sb.ws.root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target(sb), dest)

    return setup


def write_bytes(name: str, data: bytes) -> Setup:
    def setup(sb: Sandbox) -> None:
        (sb.ws.root / name).write_bytes(data)

    return setup


def sparse_gib(sb: Sandbox) -> None:
    with open(sb.ws.root / "huge.dat", "wb") as f:
        f.truncate(1 << 30)


def link_loop(sb: Sandbox) -> None:
    os.symlink("loop_b", sb.ws.root / "loop_a")
    os.symlink("loop_a", sb.ws.root / "loop_b")


def secret(sb: Sandbox) -> Path:
    return sb.secret


def outside_dir(sb: Sandbox) -> Path:
    return sb.outside


def outside_new(sb: Sandbox) -> Path:
    return sb.outside / "created_through_link.txt"


SECRET_REL = "../outside/secret.txt"

# (id, setup, tool, args, words expected in the error)
HOSTILE: list[tuple[str, Setup, str, dict, tuple[str, ...]]] = [
    ("dotdot_read", nothing, "read_file", {"rel_path": SECRET_REL}, ("'..'",)),
    ("dotdot_inner", nothing, "read_file", {"rel_path": "pkg/../../outside/secret.txt"}, ("'..'",)),
    ("dotdot_spaces", nothing, "read_file", {"rel_path": "  ../outside/secret.txt "}, ("'..'",)),
    (
        "dotdot_write",
        nothing,
        "write_file",
        {"rel_path": SECRET_REL, "content": "pwned"},
        ("'..'",),
    ),
    ("dotdot_list", nothing, "list_files", {"rel_dir": ".."}, ("'..'",)),
    ("dotdot_grep", nothing, "grep", {"pattern": "secret", "rel_dir": "../outside"}, ("'..'",)),
    ("backslash_dotdot", nothing, "read_file", {"rel_path": "..\\outside\\secret.txt"}, ("'..'",)),
    (
        "backslash_inner",
        nothing,
        "write_file",
        {"rel_path": "pkg\\..\\..\\x", "content": "x"},
        ("'..'",),
    ),
    ("absolute_read", nothing, "read_file", {"rel_path": "/etc/passwd"}, ("absolute",)),
    (
        "absolute_write",
        nothing,
        "write_file",
        {"rel_path": "/tmp/ra-pwned.txt", "content": "x"},
        ("absolute",),
    ),
    ("absolute_list", nothing, "list_files", {"rel_dir": "/"}, ("absolute",)),
    ("home_tilde", nothing, "read_file", {"rel_path": "~/.bashrc"}, ("absolute",)),
    ("home_tilde_user", nothing, "list_files", {"rel_dir": "~root"}, ("absolute",)),
    ("windows_drive", nothing, "read_file", {"rel_path": "C:\\Windows\\win.ini"}, ("absolute",)),
    (
        "windows_drive_fwd",
        nothing,
        "write_file",
        {"rel_path": "c:/evil.py", "content": "x"},
        ("absolute",),
    ),
    ("windows_unc", nothing, "read_file", {"rel_path": "\\\\server\\share\\x"}, ("absolute",)),
    ("nul_byte", nothing, "read_file", {"rel_path": "pkg/mod.py\x00.txt"}, ("NUL",)),
    ("nul_byte_write", nothing, "write_file", {"rel_path": "a\x00b", "content": "x"}, ("NUL",)),
    (
        "link_to_etc_passwd",
        link("passwd", lambda sb: "/etc/passwd"),
        "read_file",
        {"rel_path": "passwd"},
        ("outside",),
    ),
    ("link_to_secret", link("s.txt", secret), "read_file", {"rel_path": "s.txt"}, ("outside",)),
    (
        "linked_dir_read",
        link("out", outside_dir),
        "read_file",
        {"rel_path": "out/secret.txt"},
        ("outside",),
    ),
    ("linked_dir_list", link("out", outside_dir), "list_files", {"rel_dir": "out"}, ("outside",)),
    (
        "linked_dir_grep",
        link("out", outside_dir),
        "grep",
        {"pattern": "secret", "rel_dir": "out"},
        ("outside",),
    ),
    (
        "linked_dir_write_new",
        link("out", outside_dir),
        "write_file",
        {"rel_path": "out/new.txt", "content": "x"},
        ("outside",),
    ),
    (
        "linked_dir_write_deep",
        link("out", outside_dir),
        "write_file",
        {"rel_path": "out/a/b/c.txt", "content": "x"},
        ("outside",),
    ),
    (
        "write_through_link",
        link("s.txt", secret),
        "write_file",
        {"rel_path": "s.txt", "content": "pwned"},
        ("outside",),
    ),
    (
        "write_dangling_link",
        link("d.txt", outside_new),
        "write_file",
        {"rel_path": "d.txt", "content": "x"},
        ("outside",),
    ),
    (
        "nested_link_write",
        link("pkg/up", lambda sb: "../.."),
        "write_file",
        {"rel_path": "pkg/up/outside/secret.txt", "content": "x"},
        ("outside",),
    ),
    ("link_loop_read", link_loop, "read_file", {"rel_path": "loop_a"}, ("loop",)),
    ("link_loop_write", link_loop, "write_file", {"rel_path": "loop_b", "content": "x"}, ("loop",)),
    ("git_read", nothing, "read_file", {"rel_path": ".git/config"}, (".git",)),
    ("git_dot_slash", nothing, "read_file", {"rel_path": "./.git/config"}, (".git",)),
    (
        "git_write",
        nothing,
        "write_file",
        {"rel_path": ".git/hooks/post-checkout", "content": "#!/bin/sh"},
        (".git",),
    ),
    ("git_list", nothing, "list_files", {"rel_dir": ".git"}, (".git",)),
    ("git_grep", nothing, "grep", {"pattern": "core", "rel_dir": ".git"}, (".git",)),
    (
        "oversize_write",
        nothing,
        "write_file",
        {"rel_path": "big.py", "content": "x" * 200_001},
        ("limit",),
    ),
    (
        "oversize_multibyte",
        nothing,
        "write_file",
        {"rel_path": "big.py", "content": "é" * 100_001},
        ("limit",),
    ),
    (
        "binary_read",
        write_bytes("blob.bin", b"\x7fELF\x00\x01\x02" * 50),
        "read_file",
        {"rel_path": "blob.bin"},
        ("binary",),
    ),
    (
        "non_utf8_read",
        write_bytes("latin.py", "café = 1\n".encode("latin-1")),
        "read_file",
        {"rel_path": "latin.py"},
        ("UTF-8",),
    ),
    ("invalid_regex", nothing, "grep", {"pattern": "def (unclosed"}, ("regular expression",)),
    ("invalid_regex_class", nothing, "grep", {"pattern": "[a-"}, ("regular expression",)),
    (
        "regex_repeat_overflow",
        nothing,
        "grep",
        {"pattern": "a{4294967296}"},
        ("regular expression",),
    ),
    (
        "regex_too_deep",
        nothing,
        "grep",
        {"pattern": "(" * 2000 + ")" * 2000},
        ("regular expression",),
    ),
    (
        "max_chars_zero",
        nothing,
        "read_file",
        {"rel_path": "pkg/mod.py", "max_chars": 0},
        ("max_chars",),
    ),
    (
        "max_chars_negative",
        nothing,
        "read_file",
        {"rel_path": "pkg/mod.py", "max_chars": -5},
        ("max_chars",),
    ),
    ("max_hits_zero", nothing, "grep", {"pattern": "def", "max_hits": 0}, ("max_hits",)),
    ("read_directory", nothing, "read_file", {"rel_path": "pkg"}, ("directory",)),
    ("read_root", nothing, "read_file", {"rel_path": "."}, ("directory",)),
    ("write_root_dot", nothing, "write_file", {"rel_path": ".", "content": "x"}, ("directory",)),
    ("write_root_empty", nothing, "write_file", {"rel_path": "", "content": "x"}, ("directory",)),
    (
        "write_directory",
        nothing,
        "write_file",
        {"rel_path": "pkg/", "content": "x"},
        ("directory",),
    ),
    (
        "write_through_file",
        nothing,
        "write_file",
        {"rel_path": "pkg/mod.py/inner.py", "content": "x"},
        ("pkg/mod.py",),
    ),
    (
        "name_too_long",
        nothing,
        "write_file",
        {"rel_path": "x" * 300 + ".py", "content": "x"},
        ("too long",),
    ),
    (
        "lone_surrogate",
        nothing,
        "write_file",
        {"rel_path": "a.py", "content": "\ud800"},
        ("Unicode",),
    ),
    ("missing_file", nothing, "read_file", {"rel_path": "nope.py"}, ("no such file",)),
    ("missing_dir", nothing, "list_files", {"rel_dir": "nope"}, ("no such directory",)),
    ("url_path", nothing, "read_file", {"rel_path": "file:///etc/passwd"}, ("no such file",)),
    ("unknown_tool", nothing, "run_shell", {"cmd": "cat /etc/passwd"}, ("unknown tool",)),
    # Patterns the linear-time engine cannot run are refused, naming the feature.
    ("regex_backreference", nothing, "grep", {"pattern": r"(\w)\1"}, ("backreference", "linear")),
    ("regex_lookahead", nothing, "grep", {"pattern": "def(?= f)"}, ("lookahead", "linear")),
    ("regex_lookbehind", nothing, "grep", {"pattern": "(?<!x)def"}, ("lookbehind", "linear")),
    ("regex_conditional", nothing, "grep", {"pattern": "(a)?(?(1)b|c)"}, ("conditional",)),
    ("regex_possessive", nothing, "grep", {"pattern": "a*+b"}, ("possessive", "linear")),
    ("regex_atomic", nothing, "grep", {"pattern": "(?>a+)b"}, ("atomic", "linear")),
    ("regex_repeat_1001", nothing, "grep", {"pattern": "a{1001}"}, ("above 1000",)),
    # Names that could forge lines or reorder text are refused.
    ("newline_path_read", nothing, "read_file", {"rel_path": "pkg\nREADME.md"}, ("control",)),
    (
        "bidi_path_write",
        nothing,
        "write_file",
        {"rel_path": "evil\u202eyp.py", "content": "x"},
        ("bidirectional", "\\u202e"),
    ),
    ("escape_seq_list", nothing, "list_files", {"rel_dir": "pkg\x1b[2J"}, ("control", "\\x1b")),
    ("cr_grep_dir", nothing, "grep", {"pattern": "x", "rel_dir": "a\rb"}, ("control",)),
    ("lrm_path_read", nothing, "read_file", {"rel_path": "a\u200e.py"}, ("bidirectional",)),
    # Big files are refused before they are read.
    ("sparse_gib_read", sparse_gib, "read_file", {"rel_path": "huge.dat"}, ("binary",)),
    (
        "huge_text_read",
        write_bytes("big.txt", b"x" * 2_000_001),
        "read_file",
        {"rel_path": "big.txt"},
        ("2000001 bytes", "2000000"),
    ),
]


def outside_state(sb: Sandbox) -> dict[str, bytes]:
    return sb.outside_snapshot()


@pytest.mark.parametrize(
    ("setup", "tool", "args", "words"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_input_is_a_clear_error(
    sandbox: Sandbox, setup: Setup, tool: str, args: dict, words: tuple[str, ...]
) -> None:
    setup(sandbox)
    before = outside_state(sandbox)
    listing_before = sorted(p.name for p in sandbox.outside.iterdir())
    result = execute_tool(sandbox.ws, tool, args)
    assert result.ok is False
    assert result.text.startswith("error:"), result.text
    for word in words:
        assert word in result.text, result.text
    assert outside_state(sandbox) == before
    assert sorted(p.name for p in sandbox.outside.iterdir()) == listing_before
    assert sandbox.secret.read_text(encoding="utf-8") == "top secret\n"
    assert not Path("/tmp/ra-pwned.txt").exists()


def test_at_least_twenty_hostile_inputs() -> None:
    assert len(HOSTILE) >= 20
    assert len({c[0] for c in HOSTILE}) == len(HOSTILE)


def test_error_messages_do_not_leak_host_paths(sandbox: Sandbox) -> None:
    link("s.txt", secret)(sandbox)
    for tool, args in [
        ("read_file", {"rel_path": "s.txt"}),
        ("write_file", {"rel_path": "pkg/mod.py/x.py", "content": "x"}),
        ("read_file", {"rel_path": "nope.py"}),
    ]:
        text = execute_tool(sandbox.ws, tool, args).text
        assert str(sandbox.ws.root) not in text and str(sandbox.outside) not in text, text


def test_outbound_links_are_not_listed_or_searched(sandbox: Sandbox) -> None:
    link("s.txt", secret)(sandbox)
    link("out", outside_dir)(sandbox)
    link("passwd", lambda sb: "/etc/passwd")(sandbox)
    link_loop(sandbox)
    listing = execute_tool(sandbox.ws, "list_files", {})
    assert listing.ok
    assert listing.text.splitlines() == ["README.md", "pkg/mod.py", "tests/test_mod.py"]
    found = execute_tool(sandbox.ws, "grep", {"pattern": "secret|root:"})
    assert found.ok and found.text == "(no matches)"


def test_inward_links_work(sandbox: Sandbox) -> None:
    link("alias.py", lambda sb: "pkg/mod.py")(sandbox)
    assert execute_tool(sandbox.ws, "read_file", {"rel_path": "alias.py"}).text.startswith("def f")
    assert "alias.py" in execute_tool(sandbox.ws, "list_files", {}).text


def test_catastrophic_regex_finishes_at_once(sandbox: Sandbox) -> None:
    # Backtracking `re` took 77 s on 30 a's (doubling per a); RE2 is linear.
    (sandbox.ws.root / "evil.txt").write_text("a" * 30 + "!\n", encoding="utf-8")
    start = time.monotonic()
    result = execute_tool(sandbox.ws, "grep", {"pattern": r"^(a+)+$"})
    assert time.monotonic() - start < 5
    assert result.ok and result.text == "(no matches)"


def test_quadratic_regex_on_a_minified_megabyte_line_finishes(sandbox: Sandbox) -> None:
    unit = "function f(a){if(a)return a.b;return c}"
    line = (unit * 25_000)[:999_000]
    (sandbox.ws.root / "app.min.js").write_text(line + "\n", encoding="utf-8")
    start = time.monotonic()
    result = execute_tool(sandbox.ws, "grep", {"pattern": ".*return.*None"})
    hit = execute_tool(sandbox.ws, "grep", {"pattern": ".*return.*c}$"})
    assert time.monotonic() - start < 5
    assert result.ok and result.text == "(no matches)"
    assert hit.ok and hit.text.startswith("app.min.js:1: function f(a)")


def slow_after_first_file(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    read = sandbox.ws.read_text_or_none

    def slow(rel: str, max_bytes: int) -> str | None:
        text = read(rel, max_bytes)
        time.sleep(0.6)
        return text

    monkeypatch.setattr(sandbox.ws, "read_text_or_none", slow)


def test_grep_out_of_time_returns_the_hits_so_far(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_after_first_file(sandbox, monkeypatch)
    limits = ToolLimits(max_tool_s=0.3)
    result = execute_tool(sandbox.ws, "grep", {"pattern": "hello|def"}, limits)
    assert result.ok and result.text == "README.md:1: hello\n(stopped: time limit)"


def test_grep_out_of_time_without_hits_is_an_error(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_after_first_file(sandbox, monkeypatch)
    result = execute_tool(sandbox.ws, "grep", {"pattern": "zzz"}, ToolLimits(max_tool_s=0.3))
    assert not result.ok
    assert result.text.startswith(
        "error: grep ran out of time (at most 0.3s per call) after 1 of 3 files"
    )


def test_an_expired_run_deadline_stops_grep_and_listing(sandbox: Sandbox) -> None:
    past = time.monotonic() - 1
    found = execute_tool(sandbox.ws, "grep", {"pattern": "def"}, deadline=past)
    assert not found.ok and "ran out of time" in found.text
    listed = execute_tool(sandbox.ws, "list_files", {}, deadline=past)
    assert listed.ok and listed.text == "... (stopped: time limit)"
    later = time.monotonic() + 60
    assert execute_tool(sandbox.ws, "grep", {"pattern": "def"}, deadline=later).ok


def test_listing_out_of_time_keeps_what_it_found(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = iter([False, False, True])
    monkeypatch.setattr(workspace_module, "_expired", lambda deadline: next(checks))
    with pytest.raises(TimeLimitError) as caught:
        sandbox.ws.list_files(".", deadline=0.0)
    assert caught.value.partial == ["README.md", "pkg/mod.py"]


def test_a_sparse_gib_file_is_refused_unread(sandbox: Sandbox) -> None:
    sparse_gib(sandbox)
    with open(sandbox.ws.root / "huge.txt", "wb") as f:  # text first, then a hole
        f.write(b"x" * 9000)
        f.truncate(1 << 30)
    tracemalloc.start()
    try:
        start = time.monotonic()
        binary = execute_tool(sandbox.ws, "read_file", {"rel_path": "huge.dat"})
        text = execute_tool(sandbox.ws, "read_file", {"rel_path": "huge.txt"})
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert binary.text == "error: 'huge.dat' is a binary file"
    assert text.text == (
        "error: 'huge.txt' is 1073741824 bytes; files over 2000000 bytes are not read (use grep)"
    )
    assert elapsed < 2 and peak < 1_000_000


def test_control_and_bidi_names_cannot_forge_lines(sandbox: Sandbox) -> None:
    forged = "x\nREADME.md"
    for name in (forged, "evil\u202etxt.py", "bell\x07.py"):
        (sandbox.ws.root / name).write_text("hit\n", encoding="utf-8")
    listing = execute_tool(sandbox.ws, "list_files", {}).text.splitlines()
    assert listing == [
        "README.md",
        "bell\\x07.py",
        "evil\\u202etxt.py",
        "pkg/mod.py",
        "tests/test_mod.py",
        "x\\nREADME.md",
    ]
    hits = execute_tool(sandbox.ws, "grep", {"pattern": "^hit$"}).text.splitlines()
    assert hits == ["bell\\x07.py:1: hit", "evil\\u202etxt.py:1: hit", "x\\nREADME.md:1: hit"]
    refused = execute_tool(sandbox.ws, "read_file", {"rel_path": forged})
    assert not refused.ok and "control" in refused.text
    # Whitespace around a path is still trimmed, as before.
    assert execute_tool(sandbox.ws, "read_file", {"rel_path": "README.md\n"}).text == "hello\n"


def test_grep_on_a_huge_tree_notes_the_file_limit(tmp_path: Path) -> None:
    root = tmp_path / "huge"
    for d in range(30):
        sub = root / f"d{d:02d}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:03d}.py").write_text(f"value = {d * 100 + f}\n", encoding="utf-8")
    ws = Workspace(root)
    limits = ToolLimits()
    result = execute_tool(ws, "grep", {"pattern": "value = 2999$"}, limits)
    assert result.ok
    assert f"(note: searched only the first {limits.max_grep_files} files)" in result.text
    many = execute_tool(ws, "grep", {"pattern": "value"}, limits)
    assert many.ok and f"(stopped at max_hits={limits.default_grep_hits})" in many.text
    listing = execute_tool(ws, "list_files", {}, limits)
    assert listing.ok and listing.text.endswith("... (more files not shown)")
    assert len(listing.text.splitlines()) == limits.max_list_entries + 1


def test_resolve_rejects_non_strings(sandbox: Sandbox) -> None:
    with pytest.raises(WorkspaceError, match="string"):
        sandbox.ws.resolve(5)  # type: ignore[arg-type]
    assert sandbox.ws.resolve("") == sandbox.ws.root
    assert sandbox.ws.resolve("./pkg/") == sandbox.ws.root / "pkg"


def test_create_copies_files_and_skips_vcs_dirs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / ".git").mkdir(parents=True)
    (src / ".git" / "HEAD").write_text("ref", encoding="utf-8")
    (src / ".venv" / "lib").mkdir(parents=True)
    (src / ".venv" / "lib" / "x.py").write_text("x", encoding="utf-8")
    (src / "pkg.egg-info").mkdir()
    (src / "pkg.egg-info" / "PKG-INFO").write_text("x", encoding="utf-8")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "m.pyc").write_bytes(b"\x00")
    (src / ".env").write_text("KEY=secret\n", encoding="utf-8")
    (src / ".env.local").write_text("KEY=secret\n", encoding="utf-8")
    (src / "cfg" / ".env.d").mkdir(parents=True)
    (src / "cfg" / ".env.d" / "k").write_text("KEY=secret\n", encoding="utf-8")
    (src / "m.py").write_text("m = 1\n", encoding="utf-8")
    extra = tmp_path / "extra.py"
    extra.write_text("e = 1\n", encoding="utf-8")
    with Workspace.create({"sub/extra.py": extra}, source_root=src) as ws:
        assert ws.root != src.resolve()
        assert ws.list_files(".") == ["m.py", "sub/extra.py"]
        assert not (ws.root / ".git").exists() and not (ws.root / ".venv").exists()
        assert ws.baseline == {"m.py": "m = 1\n", "sub/extra.py": "e = 1\n"}
        assert not (ws.root / ".env").exists() and not (ws.root / ".env.local").exists()
        assert not (ws.root / "cfg" / ".env.d").exists()
        ws.write_text("m.py", "m = 2\n")
        assert (src / "m.py").read_text(encoding="utf-8") == "m = 1\n"  # the source is untouched
    assert not ws.root.exists()


def test_a_workspace_is_removed_when_its_block_raises(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a = 1\n", encoding="utf-8")
    with pytest.raises(KeyError), Workspace.create({}, tmp_path) as ws:
        assert ws.read_text("a.py") == "a = 1\n"
        raise KeyError
    assert not ws.root.exists()


def test_dotenv_files_are_not_listed(sandbox: Sandbox) -> None:
    (sandbox.ws.root / ".env").write_text("KEY=secret\n", encoding="utf-8")
    (sandbox.ws.root / "pkg" / ".env.production").write_text("KEY=secret\n", encoding="utf-8")
    assert execute_tool(sandbox.ws, "list_files", {}).text.splitlines() == [
        "README.md",
        "pkg/mod.py",
        "tests/test_mod.py",
    ]
    assert execute_tool(sandbox.ws, "grep", {"pattern": "secret"}).text == "(no matches)"


def create_within(seconds: float, *args) -> Workspace:
    """Workspace.create in a thread, failing the test (not hanging) if it blocks."""
    box: dict = {}

    def target() -> None:
        try:
            box["ws"] = Workspace.create(*args)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "Workspace.create blocked"
    if "error" in box:
        raise box["error"]
    return box["ws"]


def test_pipes_and_sockets_are_skipped_never_opened(tmp_path: Path) -> None:
    src = tmp_path / "s"
    (src / "sub").mkdir(parents=True)
    (src / "m.py").write_text("m = 1\n", encoding="utf-8")
    os.mkfifo(src / "pipe")
    os.mkfifo(src / "sub" / "pipe2")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(src / "sock"))
        ws = create_within(10, {}, src)
    finally:
        sock.close()
    try:
        assert sorted(ws.skipped) == ["pipe", "sock", "sub/pipe2"]
        assert ws.list_files(".") == ["m.py"] and not (ws.root / "pipe").exists()
        assert ws.baseline == {"m.py": "m = 1\n"}
    finally:
        ws.cleanup()


@pytest.fixture
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


def test_a_too_deep_tree_is_refused_and_cleaned_up(tmp_path: Path, own_tempdir: Path) -> None:
    src = deep = tmp_path / "s"
    for _ in range(1501):  # one mkdir at a time: Path.mkdir(parents=True) would recurse
        deep.mkdir()
        deep = deep / "d"
    (deep.parent / "x.py").write_text("x = 1\n", encoding="utf-8")
    try:
        with pytest.raises(WorkspaceError, match="deeper than 64 levels"):
            create_within(30, {}, src)
        assert list(own_tempdir.iterdir()) == []
    finally:  # bottom up: a recursive rmtree could not remove it
        (deep.parent / "x.py").unlink()
        while deep != src:
            deep = deep.parent
            deep.rmdir()


def test_64_levels_are_fine(tmp_path: Path) -> None:
    src = tmp_path / "s"
    deep = src.joinpath(*["d"] * 64)
    deep.mkdir(parents=True)
    (deep / "x.py").write_text("x = 1\n", encoding="utf-8")
    ws = Workspace.create({}, src)
    try:
        assert ws.list_files(".") == ["d/" * 64 + "x.py"]
    finally:
        ws.cleanup()


def test_any_failure_removes_the_temp_dir(tmp_path: Path, own_tempdir: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    for files in ({"a.py": tmp_path / "missing.py"}, {"a.py": tmp_path / "pipe"}):
        with pytest.raises(WorkspaceError, match="cannot copy"):
            create_within(10, files)
        assert list(own_tempdir.iterdir()) == []


def test_the_start_snapshot_marks_binary_and_huge_files(tmp_path: Path) -> None:
    src = tmp_path / "s"
    src.mkdir()
    (src / "a.bin").write_bytes(b"\x00\x01")
    (src / "latin.txt").write_bytes("café".encode("latin-1"))
    (src / "big.txt").write_bytes(b"y" * 101)
    os.symlink("a.bin", src / "link.bin")
    ws = Workspace.create({}, src, max_file_bytes=100)
    try:
        base = ws.baseline
        assert set(base) == {"a.bin", "latin.txt", "big.txt"}  # links are not files
        assert base["big.txt"] == Opaque(101, None)
        assert isinstance(base["a.bin"], Opaque) and base["a.bin"].size == 2
        assert isinstance(base["latin.txt"], Opaque)
    finally:
        ws.cleanup()
