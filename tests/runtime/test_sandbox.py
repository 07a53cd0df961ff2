"""Agent-written tests are hostile code: what a `tests/conftest.py` (or the test command's
children) can and cannot do from inside `run_tests`. Real files, processes and sockets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from conftest import fake_key

from repo_agent.runtime.sandbox import SandboxError, bwrap_problem, find_sandbox
from repo_agent.runtime.testrun import run_tests

FILE_SECRET = fake_key("sk-", 71, 20)  # a key in a file under $HOME
PARENT_SECRET = fake_key("sk-", 72, 20)  # a key in the agent's environment

PYTEST = "python -m pytest -q -s tests"
needs_bwrap = pytest.mark.needs("bwrap")
MODES = [pytest.param("bwrap", marks=needs_bwrap), "none"]


def _workspace(root: Path, conftest: str) -> Path:
    """A tiny package whose one test passes, plus an agent-written tests/conftest.py."""
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
    )
    (root / "tests" / "conftest.py").write_text(textwrap.dedent(conftest))
    return root


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _stops_growing(path: Path) -> bool:
    before = _size(path)
    time.sleep(1.0)
    return _size(path) == before


APPEND_LOOP = "import time\nwhile True:\n    open({path!r}, 'a').write('x')\n    time.sleep(0.1)\n"


# --- files -----------------------------------------------------------------------------------


@needs_bwrap
def test_conftest_cannot_write_outside_the_workspace(tmp_path: Path, visible_dir: Path) -> None:
    real_home = Path(os.path.expanduser("~")) / f"ra-sandbox-probe-{uuid.uuid4().hex}"
    outside = tmp_path / "outside"
    outside.mkdir()
    targets = [outside / "pwned.txt", visible_dir / "pwned.txt", real_home]
    ws = _workspace(
        tmp_path / "ws",
        f"""
        import pathlib
        for target in {[str(t) for t in targets]!r}:
            try:
                pathlib.Path(target).write_text("pwned")
            except OSError as exc:
                print("BLOCKED", target, type(exc).__name__)
        pathlib.Path("inside.txt").write_text("ok")
        pathlib.Path("/tmp/scratch.txt").write_text("ok")
        print("SCRATCH", pathlib.Path("/tmp/scratch.txt").read_text())
        """,
    )
    try:
        out = run_tests(ws, PYTEST, 60, sandbox="bwrap")
        assert out.passed and out.sandbox == "bwrap", out.output
        assert [t for t in targets if t.exists()] == []
        assert f"BLOCKED {visible_dir / 'pwned.txt'} OSError" in out.output  # read-only system
        assert (ws / "inside.txt").read_text() == "ok"  # the workspace stays writable
        assert "SCRATCH ok" in out.output  # so does a private /tmp
        assert not Path("/tmp/scratch.txt").exists()
    finally:
        real_home.unlink(missing_ok=True)


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="remounting needs root outside the sandbox")
def test_root_in_the_sandbox_cannot_remount_the_system_writable(
    tmp_path: Path, visible_dir: Path
) -> None:
    target = visible_dir / "pwned.txt"
    ws = _workspace(
        tmp_path / "ws",
        f"""
        import pathlib, subprocess
        r = subprocess.run(["mount", "-o", "remount,rw,bind", "/"], capture_output=True)
        print("REMOUNT", r.returncode)
        try:
            pathlib.Path({str(target)!r}).write_text("pwned")
        except OSError as exc:
            print("BLOCKED", type(exc).__name__)
        """,
    )
    out = run_tests(ws, PYTEST, 60, sandbox="bwrap")
    assert out.passed and "BLOCKED" in out.output and "REMOUNT 0" not in out.output, out.output
    assert not target.exists()


@needs_bwrap
def test_secret_files_in_home_are_hidden(
    tmp_path: Path, visible_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = visible_dir / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "token").write_text(FILE_SECRET)
    monkeypatch.setenv("HOME", str(home))
    ws = _workspace(
        tmp_path / "ws",
        f"""
        import pathlib
        try:
            print("READ", pathlib.Path({str(home / ".config" / "token")!r}).read_text())
        except OSError as exc:
            print("HIDDEN", type(exc).__name__)
        """,
    )
    out = run_tests(ws, PYTEST, 60, sandbox="bwrap")
    assert out.passed and "HIDDEN FileNotFoundError" in out.output, out.output
    assert FILE_SECRET not in out.output


def test_none_gives_a_private_home_and_tmpdir_removed_afterwards(tmp_path: Path) -> None:
    ws = _workspace(
        tmp_path / "ws",
        """
        import os, pathlib, tempfile
        print("HOME", os.environ["HOME"], "TMP", tempfile.gettempdir())
        (pathlib.Path.home() / ".cache").mkdir()
        """,
    )
    out = run_tests(ws, PYTEST, 60, sandbox="none")
    line = next(x for x in out.output.splitlines() if x.startswith("HOME"))
    _, home, _, tmp = line.split()
    assert out.passed and home == tmp and "ra-testenv-" in home
    assert home != os.path.expanduser("~") and not Path(home).exists()


# --- network ---------------------------------------------------------------------------------


@needs_bwrap
def test_conftest_cannot_reach_a_local_socket(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.5)
        port = server.getsockname()[1]
        ws = _workspace(
            tmp_path / "ws",
            f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"key")
                print("CONNECTED")
            except OSError as exc:
                print("NO NETWORK", type(exc).__name__)
            """,
        )
        out = run_tests(ws, PYTEST, 60, sandbox="bwrap")
        assert out.passed and "NO NETWORK" in out.output, out.output
        with pytest.raises(TimeoutError):
            server.accept()


# --- environment -----------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", MODES)
def test_conftest_does_not_see_api_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PARENT_SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-parent-secret")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    ws = _workspace(
        tmp_path / "ws",
        """
        import os
        print("ENV", sorted(os.environ.items()))
        """,
    )
    out = run_tests(ws, PYTEST, 60, sandbox=sandbox)
    assert out.passed and out.sandbox == sandbox, out.output
    assert "ENV" in out.output
    for leaked in (PARENT_SECRET, "aws-parent-secret", "/somewhere/else"):
        assert leaked not in out.output
    assert "('PYTEST_DISABLE_PLUGIN_AUTOLOAD', '1')" in out.output


@needs_bwrap
def test_conftest_cannot_read_the_agent_environment_through_proc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a PID namespace a test can read /proc/<agent pid>/environ (sandbox "none" has
    this hole; documented)."""
    monkeypatch.setenv("OPENAI_API_KEY", PARENT_SECRET)
    ws = _workspace(
        tmp_path / "ws",
        f"""
        import os
        for pid in ({os.getpid()}, os.getppid()):
            try:
                print("PROC", open(f"/proc/{{pid}}/environ", "rb").read())
            except OSError as exc:
                print("NO PROC", pid, type(exc).__name__)
        """,
    )
    out = run_tests(ws, PYTEST, 60, sandbox="bwrap")
    assert out.passed and PARENT_SECRET not in out.output, out.output


# --- processes -------------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", MODES)
def test_timeout_kills_grandchildren(tmp_path: Path, sandbox: str) -> None:
    log = tmp_path / "ws" / "grandchild.log"
    ws = _workspace(tmp_path / "ws", "")
    (ws / "spawner.py").write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {APPEND_LOOP.format(path=str(log))!r}])\n"
        "time.sleep(60)\n"
    )
    out = run_tests(ws, "python spawner.py", 1.5, sandbox=sandbox)
    assert out.timed_out and not out.passed
    assert _size(log) > 0 and _stops_growing(log)


@pytest.mark.parametrize("sandbox", MODES)
def test_child_holding_stdout_does_not_keep_us_waiting(tmp_path: Path, sandbox: str) -> None:
    """The main process exits at once; its child keeps stdout open and would run for 30 s."""
    log = tmp_path / "ws" / "child.log"
    ws = _workspace(
        tmp_path / "ws",
        f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", {APPEND_LOOP.format(path=str(log))!r}])
        """,
    )
    started = time.monotonic()
    out = run_tests(ws, PYTEST, 60, sandbox=sandbox)
    assert time.monotonic() - started < 5.0 and out.passed and not out.timed_out
    assert _stops_growing(log)


@pytest.mark.parametrize("sandbox", MODES)
def test_a_child_that_leaves_the_session_is_killed(tmp_path: Path, sandbox: str) -> None:
    log = tmp_path / "ws" / "daemon.log"
    ws = _workspace(
        tmp_path / "ws",
        f"""
        import subprocess, sys
        subprocess.Popen(
            [sys.executable, "-c", {APPEND_LOOP.format(path=str(log))!r}],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        """,
    )
    out = run_tests(ws, PYTEST, 60, sandbox=sandbox)
    assert out.passed, out.output
    time.sleep(0.3)  # the daemon has started appending, if it still lives
    assert _stops_growing(log)


@pytest.mark.parametrize("sandbox", MODES)
def test_huge_output_is_bounded(tmp_path: Path, sandbox: str) -> None:
    code = "import sys; sys.stdout.write('HEAD' + 'x' * 50_000_000 + 'TAIL')"
    out = run_tests(tmp_path, f'python -c "{code}"', 60, sandbox=sandbox, max_output_chars=1000)
    assert out.passed and out.output.startswith("HEAD") and out.output.endswith("TAIL")
    assert out.cut_chars == 50_000_008 - 1000
    assert f"[... {out.cut_chars} chars cut ...]" in out.output
    assert len(out.output) < 1100


# --- choosing the sandbox --------------------------------------------------------------------


@needs_bwrap
def test_auto_picks_bwrap_when_it_works(tmp_path: Path) -> None:
    assert find_sandbox("auto") == shutil.which("bwrap")
    assert run_tests(tmp_path, "python -c pass", 30).sandbox == "bwrap"


def test_auto_without_bwrap_falls_back_with_one_warning(tmp_path: Path) -> None:
    """A fresh interpreter whose PATH has no bwrap: two runs, one warning."""
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from repo_agent.runtime.testrun import run_tests
        for _ in range(2):
            out = run_tests(Path({str(tmp_path)!r}), "python -c pass", 30)
            print(out.sandbox, out.passed)
        """
    )
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PATH": str(empty)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["none", "True", "none", "True"]
    assert proc.stderr.count("test sandbox off") == 1
    assert "bubblewrap (bwrap) is not installed" in proc.stderr
    assert "apt-get install bubblewrap" in proc.stderr


def test_bwrap_requested_but_missing_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="sandbox 'bwrap' cannot be used: .* not installed"):
        run_tests(tmp_path, "python -c pass", 30, sandbox="bwrap")
    assert find_sandbox("none") is None


def test_a_bwrap_that_fails_its_probe_is_not_used(tmp_path: Path) -> None:
    broken = tmp_path / "bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    assert bwrap_problem(str(broken)) == (
        f"{broken} fails: bwrap: No permissions to create new namespace"
    )
