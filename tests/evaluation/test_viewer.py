"""The trajectory viewer: traces from real `repo-agent run --out` runs, checked as HTML and in
a real headless Chromium (what a person sees once the page's script has run)."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CHROMIUM
from typer.testing import CliRunner

from repo_agent.cli import runs as cli_runs
from repo_agent.cli.app import app
from repo_agent.evaluation.viewer import build_site, collect_runs
from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.traces import read_trace

GARBAGE = "<script>alert('pwned')</script> the bug is in bsearch.py"
SCRIPT = [
    '{"type":"tool_call","name":"list_files","args":{"rel_dir":"."}}',
    '{"type":"tool_call","name":"list_files","args":{"rel_dir":"."}}',  # exact repeat: a loop
    GARBAGE,  # not JSON: a parse error
    '{"type":"tool_call","name":"read_file","args":{"rel_path":"tests/test_bsearch.py"}}',
    '{"type":"final","summary":"gave up"}',
]


def _run(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two trace files: the oracle solving a task, and a scripted policy that loops and emits
    garbage, both written by `repo-agent run --out`."""
    root = tmp_path_factory.mktemp("traces")
    base = ["run", "--suite", "builtin", "--task", "a_binary_search", "--policy", "oracle"]
    _run([*base, "--out", str(root / "oracle.jsonl")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli_runs, "make_policy", lambda *a, **k: ScriptedPolicy(SCRIPT, name="scripted"))
        _run([*base, "--out", str(root / "scripted.jsonl")])
    return [root / "oracle.traces.jsonl", root / "scripted.traces.jsonl"]


@pytest.fixture(scope="module")
def site(traces: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(app, ["view", *map(str, traces), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 runs" in result.output
    return out


def _pages(site: Path) -> dict[str, Path]:
    """Run pages by policy name (from the file name the viewer gives each run)."""
    pages = sorted((site / "runs").glob("*.html"))
    assert len(pages) == 2
    return {"oracle": pages[0], "scripted": pages[1]}


def test_traces_are_what_the_site_shows(traces: list[Path]) -> None:
    runs = collect_runs(traces)
    assert [r.result.policy for r in runs] == ["oracle", "scripted"]
    scripted = runs[1].result.result
    assert (scripted.steps, scripted.parse_errors, scripted.loop_detections) == (5, 1, 1)
    assert len(runs[1].steps) == 5
    assert runs[0].result.result.success and runs[0].result.diff


def test_pages_escape_content_and_mark_parse_errors(site: Path) -> None:
    pages = _pages(site)
    scripted = pages["scripted"].read_text(encoding="utf-8")
    assert "<script>alert" not in scripted  # a run page carries no script at all
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in scripted
    assert 'class="badge parse-error"' in scripted
    assert 'class="badge loop">loop: exact_repeat' in scripted
    oracle = pages["oracle"].read_text(encoding="utf-8")
    assert "parse error:" not in oracle
    assert '<span class="add">+' in oracle  # the final diff
    assert "passed" in oracle  # the test output
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="runs/' in index and "http://" not in index and "https://" not in index


def test_long_observations_start_collapsed(tmp_path: Path, traces: list[Path]) -> None:
    # The oracle reads a whole file: short enough to show; a huge one must be collapsed.
    trace = read_trace(traces[0])
    step = next(s for s in trace.steps if s.action and s.action.name == "read_file")
    big = step.model_copy(update={"observation": "x = 1\n" * 500})
    path = tmp_path / "big.traces.jsonl"
    lines = [s.model_dump_json(exclude_none=True) for s in trace.steps if s is not step]
    lines += [big.model_dump_json(exclude_none=True), trace.results[0].model_dump_json()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_site([path], tmp_path / "site")
    page = next((tmp_path / "site" / "runs").glob("*.html")).read_text(encoding="utf-8")
    assert "<details><summary>tool result (3000 chars, 501 lines)</summary>" in page


def test_view_refuses_missing_trace(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["view", str(tmp_path / "nope.jsonl"), "--out", "x"])
    assert result.exit_code == 2
    assert "no such trace file" in result.output


# --- in a real browser ----------------------------------------------------------------------


class _Dom(HTMLParser):
    """Index rows (attributes) and the text of elements with an id, from a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.text_by_id: dict[str, str] = {}
        self.badges: list[tuple[str, str]] = []
        self._open: list[tuple[str, str | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-task" in a:
            self.rows.append(a)
        self._open.append((tag, a.get("id"), a.get("class")))

    def handle_data(self, data: str) -> None:
        for _tag, ident, cls in self._open[-1:]:
            if ident:
                self.text_by_id[ident] = self.text_by_id.get(ident, "") + data
            if cls and cls.startswith("badge"):
                self.badges.append((cls, data))

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()


def _browser_dom(url: str, tmp_path: Path) -> _Dom:
    """The DOM after the page's scripts ran, as headless Chromium renders it."""
    proc = subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = _Dom()
    dom.feed(proc.stdout)
    return dom


@pytest.mark.needs("chromium")
def test_in_headless_chromium(site: Path, tmp_path: Path) -> None:
    pages = _pages(site)
    index = (site / "index.html").resolve().as_uri()

    # The filter runs in the page: only the run with parse errors stays visible.
    dom = _browser_dom(index + "?parse_errors=1", tmp_path)
    visible = [r["data-policy"] for r in dom.rows if "hidden" not in r]
    assert visible == ["scripted"]
    assert dom.text_by_id["shown"] == "1 of 2 runs shown"

    # The scripted run's page: its step count and a parse-error badge on the garbage step.
    dom = _browser_dom(pages["scripted"].resolve().as_uri(), tmp_path)
    assert dom.text_by_id["step-count"] == "5 steps"
    assert ("badge parse-error", "parse error: invalid_json") in dom.badges
    assert ("badge loop", "loop: exact_repeat") in dom.badges

    # The oracle's page: no parse-error badge on any step.
    dom = _browser_dom(pages["oracle"].resolve().as_uri(), tmp_path)
    assert dom.text_by_id["step-count"] == "5 steps"
    assert not [b for b in dom.badges if b[0] == "badge parse-error"]
