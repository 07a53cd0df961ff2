"""`repo-agent run` and `view` against hostile inputs, as real subprocesses: each bad input ends
in one `error:` line and exit 2 (no traceback, no temp dir left), concurrent writers and
changed settings never mix runs in one --out, a dead API request ends in seconds."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import fake_key
from fake_api import FakeAPI, Fault

from repo_agent.traces import read_results, read_trace

SCRIPT = Path(sys.executable).with_name("repo-agent")
TASK = ["--task", "a_gcd_lcm"]


class CLI:
    """Runs the console script with TMPDIR inside the test's tmp dir, so leftovers show."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.env = {
            **os.environ,
            "COLUMNS": "250",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "TMPDIR": str(self.tmp),
            "OPENAI_API_KEY": fake_key("sk-test-", 61, 20),
        }
        self.env.pop("OPENAI_BASE_URL", None)

    def argv(self, *args: str | Path) -> list[str]:
        return [str(SCRIPT), *map(str, args)]

    def __call__(self, *args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=timeout,
        )

    def start(self, *args: str | Path) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.cwd,
        )

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.tmp.iterdir())


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def one_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The single `error:` line a refused command prints (and nothing else but the sandbox-off
    warning a machine without bubblewrap adds), exit status 2."""
    lines = [
        line
        for line in output(proc).splitlines()
        if line.strip() and not line.startswith("warning: test sandbox off")
    ]
    assert proc.returncode == 2, output(proc)
    assert "Traceback" not in output(proc)
    assert len(lines) == 1 and lines[0].startswith("error: "), output(proc)
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture
def failing_repo(tmp_path: Path) -> Path:
    """A repository whose one test fails: what the repo suite wants."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n", encoding="utf-8")
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n", encoding="utf-8"
    )
    return repo


# API policies write code we do not control: without bubblewrap they need `--sandbox none`
# (tests/test_cli_sandbox.py covers the refusal).
REPO_API = ["--suite", "repo", "--policy", "openai", "--model", "m", "--max-steps", "1"]
REPO_API += ["--sandbox", "none"]
API = ["--policy", "openai", "--model", "m", "--no-cache", "--sandbox", "none", "--base-url"]
API_M = ["--policy", "openai", "--model", "m"]
DEAD_API = ["--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0", "--no-cache"]


# --- one writer per --out --------------------------------------------------------------------


def test_a_second_writer_is_refused_while_the_lock_is_held(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "r.jsonl"
    assert cli("run", *TASK, "--out", out).returncode == 0
    before = snapshot(out.parent)
    lock = out.parent / "r.jsonl.lock"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running writer holds it
        proc = cli("run", *TASK, "--out", out)
    finally:
        os.close(fd)
    one_error(proc, f"error: another repo-agent run is writing {out} (lock {lock})")
    assert snapshot(out.parent) == before


def test_two_concurrent_runs_on_one_out_never_duplicate(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with FakeAPI() as api:
        api.latency_s = 0.2  # one request at a time: the first run takes ~9 s for 44 tasks
        args = ["run", "--all", *API, f"{api.url}/v1", "--test-policy", "never", "--out", out]
        first = cli.start(*args, "--concurrency", "1")
        try:
            deadline = time.monotonic() + 60
            while not (tmp_path / "r.settings.json").exists():  # written under the lock
                assert first.poll() is None and time.monotonic() < deadline, first.communicate()
                time.sleep(0.05)
            second = cli(*args)
            assert first.poll() is None, "the first run ended too soon to test the race"
        finally:
            first.terminate()
            first.communicate(timeout=60)
        one_error(second, "another repo-agent run is writing", "r.jsonl.lock")

        # What the killed first run left resumes cleanly: every run id exactly once.
        again = cli(*args, "--concurrency", "16")
    assert again.returncode == 0, output(again)
    ids = [r.run_id for r in read_results(out)]
    assert len(ids) == len(set(ids)) == 44
    assert [r.result.run_id for r in read_trace(tmp_path / "r.traces.jsonl").results] == ids


# --- settings fingerprint ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "listed"),
    [
        (
            ["--max-steps", "1", "--explore", "0.9", "--test-policy", "never"],
            "test_policy 'on_final' → 'never'; max_steps 12 → 1; explore 0.0 → 0.9",
        ),
        (["--policy", "openai", "--model", "other"], "policy 'oracle' → 'openai'"),
        (["--seed", "3"], "seed 0 → 3"),
        (["--tool-protocol", "native"], "tool_protocol 'json' → 'native'"),
        (["--sandbox", "none"], "sandbox 'auto' → 'none'"),
    ],
)
def test_a_rerun_with_other_settings_is_refused(
    cli: CLI, tmp_path: Path, changed: list[str], listed: str
) -> None:
    out = tmp_path / "r.jsonl"
    assert cli("run", *TASK, "--out", out).returncode == 0
    before = snapshot(tmp_path)
    proc = cli("run", *TASK, "--out", out, *changed)
    one_error(proc, f"{out} holds runs made with other settings: {listed}", "--force")
    assert snapshot(tmp_path) == before


def test_same_settings_resume_and_may_add_tasks_and_rollouts(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    assert cli("run", *TASK, "--out", out).returncode == 0
    [first] = read_results(out)
    more = [*TASK, "--task", "a_binary_search", "--rollouts", "2"]
    proc = cli("run", *more, "--out", out)
    assert proc.returncode == 0, output(proc)
    assert "resuming, 1 of 4 runs on disk" in output(proc)
    results = read_results(out)
    assert results[0] == first and len({r.run_id for r in results}) == 4
    settings = json.loads((tmp_path / "r.settings.json").read_text())
    assert settings["format"] == "repo-agent.run-settings/1" and settings["max_steps"] == 12
    assert not {"concurrency", "timeout", "timeout_s", "rollouts", "task"} & settings.keys()


def test_force_moves_the_old_runs_aside_and_starts_over(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    assert cli("run", *TASK, "--out", out).returncode == 0
    old = snapshot(tmp_path)
    proc = cli("run", *TASK, "--out", out, "--max-steps", "2", "--force")
    assert proc.returncode == 0, output(proc)
    assert "--force: moved the old runs aside" in output(proc)
    for name in ("r.jsonl", "r.traces.jsonl", "r.settings.json"):
        assert (tmp_path / name.replace("r.", "r.old.", 1)).read_bytes() == old[name]
    [result] = read_results(out)
    assert result.error == "step limit reached (max_steps=2)"
    assert json.loads((tmp_path / "r.settings.json").read_text())["max_steps"] == 2
    # The moved runs stay a whole, viewable --out of their own.
    site = cli("view", tmp_path / "r.old.jsonl", "--out", tmp_path / "site")
    assert site.returncode == 0 and "1 runs" in site.stdout, output(site)


def test_runs_without_a_settings_record_are_not_mixed(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    assert cli("run", *TASK, "--out", out).returncode == 0
    (tmp_path / "r.settings.json").unlink()  # as an older repo-agent left it
    one_error(cli("run", *TASK, "--out", out), "holds runs of unknown settings", "--force")
    (tmp_path / "r.settings.json").write_text("{not json", encoding="utf-8")
    one_error(cli("run", *TASK, "--out", out), "cannot read", "r.settings.json")
    assert cli("run", *TASK, "--out", out, "--force").returncode == 0


def test_the_run_id_names_the_model_without_a_colon(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    model = ["--policy", "openai", "--model", "ft:gpt:org:x", *DEAD_API, "--sandbox", "none"]
    proc = cli("run", *TASK, *model, "--out", out)
    assert proc.returncode == 0, output(proc)
    [result] = read_results(out)  # the request fails; the run is recorded under its id
    assert result.run_id == "a_gcd_lcm:openai@ft%3Agpt%3Aorg%3Ax:0"
    assert result.run_id.rsplit(":", 1)[-1] == "0"
    assert "openai@ft%3Agpt%3Aorg%3Ax on builtin" in proc.stdout


# --- bad --out ---------------------------------------------------------------------------------


def test_out_is_a_directory(cli: CLI, tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    one_error(cli("run", *TASK, "--out", tmp_path / "runs"), "is a directory", "runs/runs.jsonl")
    assert list((tmp_path / "runs").iterdir()) == []


def test_out_under_a_file(cli: CLI, tmp_path: Path) -> None:
    (tmp_path / "f.jsonl").write_text("x\n")
    one_error(cli("run", *TASK, "--out", tmp_path / "f.jsonl" / "r.jsonl"), "is a file")


def test_traces_path_is_a_directory(cli: CLI, tmp_path: Path) -> None:
    (tmp_path / "r.traces.jsonl").mkdir()
    one_error(cli("run", *TASK, "--out", tmp_path / "r.jsonl"), "r.traces.jsonl is a directory")


# --- API timeouts ------------------------------------------------------------------------------


def test_a_hanging_api_request_ends_in_seconds(cli: CLI, tmp_path: Path) -> None:
    with FakeAPI() as api:
        api.fail("chat", *[Fault(status=500, delay_s=30)] * 4)
        start = time.monotonic()
        proc = cli(
            "run",
            *TASK,
            "--policy",
            "openai",
            "--model",
            "m",
            "--base-url",
            f"{api.url}/v1",
            "--timeout",
            "1",
            "--max-retries",
            "0",
            "--no-cache",
            "--sandbox",
            "none",
            "--out",
            tmp_path / "r.jsonl",
            timeout=60,
        )
        elapsed = time.monotonic() - start
        assert len(api.calls("POST", "/v1/chat/completions")) == 1  # no retry
    assert proc.returncode == 0, output(proc)
    assert elapsed < 20, elapsed  # the defaults (120 s x 6 attempts) took over 12 minutes
    [result] = read_results(tmp_path / "r.jsonl")
    assert result.error.startswith("policy error: openai m: request timed out after 1.0s")
    assert result.run_id == "a_gcd_lcm:openai@m:0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (API_M + ["--timeout", "0"], "--timeout: Input should be greater than 0"),
        (API_M + ["--timeout", "-5"], "--timeout: Input should be greater than 0"),
        (["--model", "m"], "--model: not an option of --policy oracle"),
        (["--no-cache"], "--cache: not an option of --policy oracle"),
        (["--test-policy", "sometimes"], "--test-policy: Input should be 'never'"),
    ],
)
def test_out_of_range_options_name_the_option(cli: CLI, args: list[str], message: str) -> None:
    one_error(cli("run", *TASK, *args), message)


def test_bad_sandbox_and_retries_are_usage_errors(cli: CLI) -> None:
    for args in (["--sandbox", "docker"], ["--max-retries", "-1"], ["--explore", "2"]):
        proc = cli("run", *TASK, *args)
        assert proc.returncode == 2 and "Invalid value" in proc.stderr, output(proc)


# --- hostile repositories ----------------------------------------------------------------------


def test_an_unbalanced_quote_in_the_test_command(cli: CLI, failing_repo: Path) -> None:
    proc = cli("run", *REPO_API, *DEAD_API, "--path", failing_repo, "--test-cmd", "pytest 'tests")
    one_error(proc, "quotation")
    assert cli.leftovers() == []


def test_a_test_command_that_is_not_installed(cli: CLI, failing_repo: Path) -> None:
    proc = cli("run", *REPO_API, *DEAD_API, "--path", failing_repo, "--test-cmd", "pytset -q")
    one_error(proc, "pytset")
    assert cli.leftovers() == []


def test_a_repo_holding_a_named_pipe(cli: CLI, failing_repo: Path, tmp_path: Path) -> None:
    # Copying used to open the pipe (a hang) or fail with a traceback. The workspace now skips
    # special files; refusing the repo in one line would do as well.
    os.mkfifo(failing_repo / "pipe")
    out = tmp_path / "r.jsonl"
    proc = cli("run", *REPO_API, *DEAD_API, "--path", failing_repo, "--out", out, timeout=60)
    if proc.returncode == 2:
        one_error(proc, "pipe")
    else:
        assert proc.returncode == 0 and "Traceback" not in output(proc), output(proc)
        [result] = read_results(out)
        assert result.task_id == "repo" and "Connection refused" in (result.error or "")
    assert cli.leftovers() == []


def chain(top: Path, depth: int, build: bool) -> None:
    """Build (or remove) `top/d/d/…/d`, `depth` levels, one relative step at a time: the full
    path nears PATH_MAX, and recursive tools (os.makedirs, shutil.rmtree) overflow the stack."""
    here = os.getcwd()
    os.chdir(top)
    try:
        for _ in range(depth):
            if build:
                os.mkdir("d")
            os.chdir("d")
        for _ in range(depth if not build else 0):
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(here)


def test_a_directory_tree_1500_deep(cli: CLI, failing_repo: Path) -> None:
    chain(failing_repo, 1500, build=True)
    try:
        proc = cli("run", *REPO_API, *DEAD_API, "--path", failing_repo, timeout=120)
        one_error(proc, "deep")
        assert cli.leftovers() == []
    finally:
        chain(failing_repo, 1500, build=False)  # else pytest's own cleanup overflows later


# --- damaged and unexpected files --------------------------------------------------------------


def test_a_corrupted_trace_line_is_skipped_and_its_run_redone(cli: CLI, tmp_path: Path) -> None:
    out, traces = tmp_path / "r.jsonl", tmp_path / "r.traces.jsonl"
    assert cli("run", *TASK, "--task", "a_binary_search", "--out", out).returncode == 0
    lines = traces.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2][:40]  # a step of the first run, cut in the middle of the file
    traces.write_text("\n".join(lines), encoding="utf-8")

    site = cli("view", traces, "--out", tmp_path / "site")
    assert site.returncode == 0 and "1 runs" in site.stdout, output(site)
    assert "r.traces.jsonl: skipped 1 corrupted line(s) lines 3" in site.stderr

    proc = cli("run", *TASK, "--task", "a_binary_search", "--out", out)
    assert proc.returncode == 0, output(proc)
    assert "Traceback" not in output(proc) and "lines 3" in proc.stderr
    assert "resuming, 1 of 2 runs on disk" in output(proc)
    trace = read_trace(traces)
    assert trace.skipped_lines == [] and len(trace.results) == 2
    assert {r.run_id for r in read_results(out)} == {r.result.run_id for r in trace.results}


def test_a_newer_trace_format_is_refused_not_dropped(cli: CLI, tmp_path: Path) -> None:
    out, traces = tmp_path / "r.jsonl", tmp_path / "r.traces.jsonl"
    assert cli("run", *TASK, "--out", out).returncode == 0
    traces.write_text(
        traces.read_text().replace("repo-agent.trace/1", "repo-agent.trace/2"), encoding="utf-8"
    )
    before = snapshot(tmp_path)
    one_error(cli("run", *TASK, "--out", out), "unknown trace format 'repo-agent.trace/2'")
    assert snapshot(tmp_path) == before
    one_error(cli("view", traces, "--out", tmp_path / "site"), "unknown trace format")


def test_view_of_a_results_file_reads_the_traces_beside_it(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    assert cli("run", *TASK, "--out", out).returncode == 0
    proc = cli("view", out, "--out", tmp_path / "site")
    assert proc.returncode == 0 and "1 runs" in proc.stdout, output(proc)
    assert "a_gcd_lcm" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")

    (tmp_path / "r.traces.jsonl").unlink()
    one_error(
        cli("view", out, "--out", tmp_path / "site"),
        f"{out} is a results file",
        f"{tmp_path / 'r.traces.jsonl'}, which is missing",
    )


def test_view_of_a_missing_file(cli: CLI, tmp_path: Path) -> None:
    one_error(
        cli("view", tmp_path / "nope.jsonl", "--out", tmp_path / "site"), "no such trace file"
    )
