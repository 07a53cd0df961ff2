"""Run a task's test command: sandboxed (see sandbox.py), with a timeout that kills every
process the command started, and with bounded output capture."""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from repo_agent.runtime.config import Sandbox
from repo_agent.runtime.sandbox import (
    BWRAP_HOME,
    bwrap_argv,
    find_sandbox,
    kill_marked,
    sandbox_env,
)

CHUNK = 1 << 16
# After the command's main process ends, how long leftover writers may keep the output open.
GRACE_S = 1.0
POLL_S = 0.05  # only where pidfd_open is missing
CANNOT_START = "test command cannot start: "  # line 1 of a could_not_start outcome's output


@dataclass(frozen=True)
class TestOutcome:
    passed: bool
    output: str
    duration_s: float
    timed_out: bool = False
    could_not_start: bool = False  # not found, not executable, unparseable: line 1 says why
    sandbox: str = "none"  # what actually ran the command: "bwrap" or "none"
    cut_chars: int = 0  # output chars dropped between the kept head and tail

    def start_error(self) -> str:
        """Why the command could not start, as line 1 of its output says, with the prefix."""
        lines = self.output.strip().splitlines() or ["no reason given"]
        return CANNOT_START + lines[0].removeprefix(CANNOT_START)


def command_argv(test_cmd: str) -> list[str]:
    """Split a test command; a leading `python` means this interpreter. Raises ValueError on
    unbalanced quotes."""
    argv = shlex.split(test_cmd)
    if argv and argv[0] in {"python", "python3"}:
        argv[0] = sys.executable
    return argv


class HeadTail:
    """Keeps the first quarter and the last three quarters of `limit` chars of a stream;
    what falls between is only counted.

    >>> c = HeadTail(8); c.feed(b"abcdefghijklmnop"); c.text()
    'ab\\n[... 8 chars cut ...]\\nklmnop'
    """

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 4
        self.tail_limit = limit - self.head_limit
        self.head = ""
        self.tail: list[str] = []
        self.tail_len = 0
        self.cut = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self.decoder.decode(data, final)
        if len(self.head) < self.head_limit:
            take = self.head_limit - len(self.head)
            self.head, text = self.head + text[:take], text[take:]
        if text:
            self.tail.append(text)
            self.tail_len += len(text)
        if self.tail_len > 2 * self.tail_limit:
            self._trim()

    def _trim(self) -> None:
        joined = "".join(self.tail)
        self.cut += max(0, len(joined) - self.tail_limit)
        self.tail = [joined[-self.tail_limit :]] if self.tail_limit else []
        self.tail_len = len(self.tail[0]) if self.tail else 0

    def text(self) -> str:
        self.feed(b"", final=True)
        self._trim()
        tail = "".join(self.tail)
        if not self.cut:
            return self.head + tail
        return f"{self.head}\n[... {self.cut} chars cut ...]\n{tail}"


def _cannot_start(why: str, sandbox: str, start: float) -> TestOutcome:
    return TestOutcome(
        False,
        f"{CANNOT_START}{why}",
        time.monotonic() - start,
        could_not_start=True,
        sandbox=sandbox,
    )


def _missing(argv0: str, workdir: Path, path: str) -> str | None:
    """Why `argv0` cannot be executed from `workdir` with this PATH, or None."""
    if "/" in argv0:
        exe = workdir / argv0
        if not exe.is_file():
            return f"{argv0}: not found"
        return None if os.access(exe, os.X_OK) else f"{argv0}: permission denied"
    return None if shutil.which(argv0, path=path) else f"{argv0}: not found"


@dataclass
class _ProcessGroup:
    """Every process of one run: the session the command leads, plus (sandbox "none") any
    process carrying the run's marker. Under bwrap, killing bwrap ends its PID namespace."""

    pid: int
    marker: str | None
    killed: bool = False

    def kill(self) -> None:
        if self.killed:
            return
        self.killed = True
        with contextlib.suppress(OSError):  # pid is not reaped yet, so the group id is ours
            os.killpg(self.pid, signal.SIGKILL)
        if self.marker is not None:
            kill_marked(self.marker)


def _exited(pid: int) -> bool:
    """Whether `pid` ended, without reaping it (its process group id stays valid to kill)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _pump(
    proc: subprocess.Popen[bytes], capture: HeadTail, deadline: float, kill: Callable[[], None]
) -> bool:
    """Read the merged output until the command ends and its output closes; True when the
    deadline passed first. `kill` ends every process of the run."""
    assert proc.stdout is not None
    out = proc.stdout.fileno()
    pidfd = _pidfd(proc.pid)
    poller = select.poll()  # not select.select: fds above 1024 are fine
    poller.register(out, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    timed_out, eof, ended_at = False, False, None
    try:
        while True:
            now = time.monotonic()
            if ended_at is None and (_exited(proc.pid) or now >= deadline):
                timed_out = not _exited(proc.pid)
                ended_at = now
                kill()
                if pidfd is not None:
                    poller.unregister(pidfd)
            if ended_at is not None and (eof or now - ended_at >= GRACE_S):
                return timed_out
            if ended_at is not None:
                wait = GRACE_S - (now - ended_at)
            else:
                wait = deadline - now if pidfd is not None else min(deadline - now, POLL_S)
            ready = {fd for fd, _ in poller.poll(max(0.0, wait) * 1000)}
            if out in ready:
                data = os.read(out, CHUNK)
                if data:
                    capture.feed(data)
                else:
                    eof = True
                    poller.unregister(out)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def run_tests(
    workdir: Path,
    test_cmd: str,
    timeout_s: float,
    *,
    sandbox: Sandbox = "auto",
    max_output_chars: int = 20_000,
) -> TestOutcome:
    """Run `test_cmd` in `workdir`; passed means exit status 0 within the timeout. The output
    (stdout and stderr merged) keeps its head and tail, `max_output_chars` in all."""
    start = time.monotonic()
    bwrap = find_sandbox(sandbox)
    used = "none" if bwrap is None else "bwrap"
    try:
        argv = command_argv(test_cmd)
    except ValueError as exc:
        return _cannot_start(f"cannot parse `{test_cmd}`: {exc}", used, start)
    if not argv:
        return _cannot_start("the command is empty", used, start)
    if "pytest" in test_cmd:
        argv += ["-p", "no:cacheprovider"]
    private = None if bwrap else Path(tempfile.mkdtemp(prefix="ra-testenv-"))
    try:
        if private is None:
            env = sandbox_env(BWRAP_HOME, "/tmp")
            prefix = bwrap_argv(bwrap, workdir, env)
            marker = None
        else:
            marker = uuid.uuid4().hex
            env = sandbox_env(str(private), str(private), marker)
            prefix = []
        missing = _missing(argv[0], Path(workdir), env["PATH"])
        if missing:
            return _cannot_start(missing, used, start)
        try:
            proc = subprocess.Popen(
                [*prefix, *argv],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one process group to kill
            )
        except OSError as exc:
            return _cannot_start(f"{argv[0]}: {exc.strerror or exc}", used, start)
        capture = HeadTail(max_output_chars)
        group = _ProcessGroup(proc.pid, marker)
        try:
            timed_out = _pump(proc, capture, start + timeout_s, group.kill)
        finally:
            group.kill()
            proc.stdout.close()
            proc.wait()
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
    outcome = TestOutcome(
        proc.returncode == 0,
        capture.text(),
        time.monotonic() - start,
        sandbox=used,
        cut_chars=capture.cut,
    )
    if timed_out:
        note = f"[timed out after {timeout_s}s]"
        return replace(outcome, passed=False, output=f"{outcome.output}\n{note}", timed_out=True)
    why = _exit_says_cannot_start(proc.returncode, outcome.output, bwrap is not None)
    if why:
        text = f"{CANNOT_START}`{test_cmd}`: {why}\n{outcome.output}".rstrip("\n")
        return replace(outcome, passed=False, output=text, could_not_start=True)
    return outcome


def _exit_says_cannot_start(rc: int, output: str, in_bwrap: bool) -> str | None:
    """126/127 are the shell's "not executable"/"not found"; bwrap reports a failed exec (or
    setup) as a `bwrap: ...` line with status 1."""
    if rc == 127:
        return "exit status 127 (command not found)"
    if rc == 126:
        return "exit status 126 (not executable)"
    if in_bwrap and rc != 0 and output.startswith("bwrap: "):
        return output.splitlines()[0]
    return None
