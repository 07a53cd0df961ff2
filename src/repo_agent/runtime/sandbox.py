"""Where a test command runs. Agent-written tests are untrusted code: they get an allowlisted
environment (no API keys), and with bubblewrap a read-only system, the workspace as the only
writable path, a private /tmp and $HOME, no network and their own PID namespace."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from repo_agent.runtime.config import Sandbox

log = logging.getLogger(__name__)

ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "LC_CTYPE")
# Tags every process of one run (sandbox "none"), so a child that left the process group
# can still be found and killed.
RUN_MARKER = "REPO_AGENT_TEST_RUN"
BWRAP_HOME = "/tmp/home"
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap)"


class SandboxError(ValueError):
    """The sandbox asked for cannot be used on this machine."""


def sandbox_env(home: str, tmpdir: str, marker: str | None = None) -> dict[str, str]:
    """The whole environment of a test run: a few allowlisted variables, nothing else.

    >>> env = sandbox_env("/h", "/t")
    >>> env["HOME"], env["TMPDIR"], "OPENAI_API_KEY" in env, "PYTHONPATH" in env
    ('/h', '/t', False, False)
    """
    env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=home,
        TMPDIR=tmpdir,
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        # Plugin autoload costs ~2 s per pytest start with a full ML environment installed.
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    if marker is not None:
        env[RUN_MARKER] = marker
    return env


def _is_under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _rebound(env: dict[str, str], masked: list[str], ws: str) -> list[str]:
    """Directories under a masked one that the command still needs to read: this Python's
    prefixes (a venv may live under $HOME or /tmp) and the PATH directories. A PATH entry
    that would uncover a whole masked directory (`~`, `/`) is left out."""
    python = [sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).parent)]
    path = [
        p
        for p in env.get("PATH", "").split(os.pathsep)
        if os.path.isabs(p) and not any(_is_under(m, p) for m in masked)
    ]
    found = [q for p in [*python, *path] for q in (p, os.path.realpath(p))]
    return [
        p
        for p in dict.fromkeys(found)
        if os.path.isdir(p) and any(_is_under(p, m) for m in masked) and not _is_under(p, ws)
    ]


def bwrap_argv(bwrap: str, workdir: Path, env: dict[str, str]) -> list[str]:
    """The bubblewrap prefix that runs a command in `workdir` with exactly `env`."""
    ws = str(workdir.resolve())
    home = os.path.realpath(os.path.expanduser("~"))
    masked = ["/tmp"]
    # The real $HOME holds credentials (~/.netrc, ~/.config, project .env files).
    if home != "/" and os.path.isdir(home) and not _is_under(home, "/tmp"):
        masked.insert(0, home)
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for hidden in masked:
        argv += ["--tmpfs", hidden]
    for keep in _rebound(env, masked, ws):
        argv += ["--ro-bind", keep, keep]
    argv += ["--dir", BWRAP_HOME, "--bind", ws, ws]
    # --cap-drop ALL: run as root, bwrap keeps capabilities, and a test could remount / rw.
    argv += ["--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    argv += ["--chdir", ws, "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return [*argv, "--"]


@functools.cache
def bwrap_problem(bwrap: str) -> str | None:
    """Why `bwrap` cannot sandbox this Python here, or None when a probe run works (cached
    per process)."""
    with tempfile.TemporaryDirectory(prefix="ra-bwrap-probe-") as d:
        env = sandbox_env(BWRAP_HOME, "/tmp")
        argv = [*bwrap_argv(bwrap, Path(d), env), sys.executable, "-c", "pass"]
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, errors="replace", timeout=30
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{bwrap} does not run: {exc}"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return f"{bwrap} fails: {lines[-1] if lines else f'exit status {proc.returncode}'}"
    return None


@functools.cache
def _warn_no_sandbox(problem: str) -> None:
    log.warning(
        "test sandbox off (%s): agent-written tests run without file and network isolation "
        "(environment allowlist and process-group kill still apply); %s",
        problem,
        INSTALL_HINT,
    )


def find_sandbox(requested: Sandbox) -> str | None:
    """The bwrap executable to wrap test commands in, or None to run them without one.
    `auto` falls back to None with a one-time warning; `bwrap` raises SandboxError."""
    if requested == "none":
        return None
    bwrap = shutil.which("bwrap")
    problem = "bubblewrap (bwrap) is not installed" if bwrap is None else bwrap_problem(bwrap)
    if problem is None:
        return bwrap
    if requested == "bwrap":
        raise SandboxError(f"sandbox 'bwrap' cannot be used: {problem}; {INSTALL_HINT}")
    _warn_no_sandbox(problem)
    return None


def kill_marked(marker: str) -> int:
    """SIGKILL every process whose environment carries this run's marker (Linux /proc);
    finds children that left the process group with setsid. Returns how many were hit."""
    tag = f"{RUN_MARKER}={marker}".encode()
    hit = 0
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if tag not in f.read().split(b"\0"):
                    continue
            os.kill(pid, signal.SIGKILL)
            hit += 1
        except OSError:  # gone, or not ours to read
            continue
    return hit
