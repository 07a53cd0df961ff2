"""Where a test command runs. Agent-written tests are untrusted code: they get an allowlisted
environment (no API keys), and with bubblewrap a read-only system, the workspace as the only
writable path, a private /tmp and $HOME, no network and their own PID namespace.

Without a usable bubblewrap, `sandbox: auto` falls back to unisolated runs (with a warning) only
for the policies whose code we ship (`oracle`, `scripted`); any other policy is refused before
its first request, unless the user chose `sandbox: none`."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from repo_agent.runtime.config import Sandbox

ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "LC_CTYPE")
# Tags every process of one run (sandbox "none"), so a child that left the process group
# can still be found and killed.
RUN_MARKER = "REPO_AGENT_TEST_RUN"
BWRAP_HOME = "/tmp/home"
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap)"
ACCEPT_HINT = "set agent.sandbox: none (--sandbox none) to accept unisolated test runs"
# The policies whose written code is ours (the offline teacher, replayed scripts).
TRUSTED_POLICIES = frozenset({"oracle", "scripted"})


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


_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(message: str) -> None:
    """Print `warning: message` to stderr, once per process (test runs start from threads)."""
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    print(f"warning: {message}", file=sys.stderr, flush=True)


def unsandboxed_warning(why: str) -> str:
    return (
        f"test sandbox off ({why}): agent-written tests run without file and network isolation "
        f"(environment allowlist and process-group kill still apply); {INSTALL_HINT}"
    )


def sandbox_problem() -> str | None:
    """Why bubblewrap cannot sandbox test runs here, or None when it can."""
    bwrap = shutil.which("bwrap")
    return "bubblewrap (bwrap) is not installed" if bwrap is None else bwrap_problem(bwrap)


def refusal(problem: str, who: str) -> str:
    """The one line that refuses an untrusted policy under `auto` without a sandbox; names
    both ways out (on macOS, where bubblewrap cannot exist, only the second).

    >>> refusal("bubblewrap (bwrap) is not installed", "policy 'hf'")[:60]
    "policy 'hf' writes code we do not control and its tests woul"
    """
    way = (
        f"bubblewrap does not exist on macOS: {ACCEPT_HINT}"
        if sys.platform == "darwin"
        else f"{INSTALL_HINT}, or {ACCEPT_HINT}"
    )
    return (
        f"{who} writes code we do not control and its tests would run unsandboxed "
        f"({problem}): {way}"
    )


@dataclass(frozen=True)
class SandboxChoice:
    """How test runs will run: the bwrap executable (None: unisolated) and a line saying so."""

    bwrap: str | None
    note: str


def choose_sandbox(
    requested: Sandbox, trusted: bool = True, who: str = "this policy"
) -> SandboxChoice:
    """Decide, before any work, where test runs go. `bwrap` without a usable bwrap raises
    SandboxError; `auto` without one falls back to unisolated runs with a one-time warning for
    a `trusted` policy and raises SandboxError (naming `who`) for any other; `none` warns."""
    if requested == "none":
        warn_once(unsandboxed_warning("agent.sandbox is none"))
        return SandboxChoice(None, "test runs NOT sandboxed (agent.sandbox: none)")
    problem = sandbox_problem()
    if problem is None:
        return SandboxChoice(shutil.which("bwrap"), "test runs sandboxed (bubblewrap)")
    if requested == "bwrap":
        raise SandboxError(f"sandbox 'bwrap' cannot be used: {problem}; {INSTALL_HINT}")
    if not trusted:
        raise SandboxError(refusal(problem, who))
    warn_once(unsandboxed_warning(problem))
    return SandboxChoice(None, f"test runs NOT sandboxed ({problem})")


def find_sandbox(requested: Sandbox) -> str | None:
    """The bwrap executable to wrap one test command in, or None to run it without one (the
    trusted fallback: an untrusted policy was refused before its first request)."""
    return choose_sandbox(requested).bwrap


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
