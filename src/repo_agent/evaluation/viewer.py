"""A static HTML site of agent runs from trace files: an index with filters, one page per run.

No server, no network: every page carries its own CSS (and the index its own script), so the
site opens from disk (`file://…/index.html`). All trace text is HTML-escaped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from repo_agent.records import FinalAction, Message, ResultLine, StepRecord, ToolCallAction
from repo_agent.traces import read_trace

LONG_CHARS = 1200  # tool results longer than this (or LONG_LINES lines) start collapsed
LONG_LINES = 30

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 1.5em;
color:#1d1d1f;background:#fafafa}
h1{font-size:1.5em;margin:.3em 0}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
h3{margin:.2em 0 .5em}h4{margin:.8em 0 .2em;font-size:.9em;color:#555;text-transform:uppercase}
pre{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.6em;overflow-x:auto;
white-space:pre-wrap;word-break:break-word;margin:.2em 0}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}.action th{width:8em}tr:hover td{background:#f6f9ff}
.badge{display:inline-block;border-radius:10px;padding:0 .6em;font-size:.85em;margin-right:.3em;
background:#e8e8e8;color:#333}
.badge.ok{background:#d7f5dd;color:#11672a}.badge.fail{background:#fde2e1;color:#9b1c1c}
.badge.parse-error{background:#fbd5d5;color:#9b1c1c;font-weight:600}
.badge.loop{background:#fff0c2;color:#7a5900;font-weight:600}
.badge.tool-error{background:#ffe4cc;color:#8a3b00}.badge.action{background:#dce9ff;color:#1d4ed8}
.badge.final{background:#e4dcff;color:#5b21b6}
.step{background:#fff;border:1px solid #ddd;border-left:4px solid #8aa8e6;border-radius:4px;
padding:.6em 1em;margin:1em 0}.step.has-parse-error{border-left-color:#d33}
.step.has-loop{border-left-color:#e0a800}
.meta{color:#666}.filters{display:flex;flex-wrap:wrap;gap:1em;align-items:center;margin:1em 0}
.diff .add{color:#11672a;background:#eefbf0}.diff .del{color:#9b1c1c;background:#fdf0f0}
.diff .hunk{color:#6b21a8}details>summary{cursor:pointer;color:#1d4ed8}
"""

INDEX_JS = """
(function () {
  var q = new URLSearchParams(location.search);
  var task = document.getElementById('f-task'), policy = document.getElementById('f-policy'),
      success = document.getElementById('f-success'), parse = document.getElementById('f-parse'),
      loops = document.getElementById('f-loops'), shown = document.getElementById('shown');
  if (q.has('task')) task.value = q.get('task');
  if (q.has('policy')) policy.value = q.get('policy');
  if (q.has('success')) success.value = q.get('success');
  parse.checked = q.get('parse_errors') === '1';
  loops.checked = q.get('loops') === '1';
  function apply() {
    var rows = document.querySelectorAll('#runs tbody tr'), n = 0, text = task.value.toLowerCase();
    rows.forEach(function (r) {
      var d = r.dataset;
      var ok = d.task.toLowerCase().indexOf(text) !== -1 &&
        (!policy.value || d.policy === policy.value) &&
        (!success.value || d.success === success.value) &&
        (!parse.checked || Number(d.parseErrors) > 0) &&
        (!loops.checked || Number(d.loops) > 0);
      r.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + ' of ' + rows.length + ' runs shown';
  }
  [task, policy, success, parse, loops].forEach(function (el) {
    el.addEventListener('input', apply); el.addEventListener('change', apply);
  });
  apply();
})();
"""


@dataclass
class RunView:
    """One run: its result line, its steps in order, and where its page goes."""

    source: Path
    result: ResultLine
    steps: list[StepRecord]
    page: str  # path relative to the site root


def collect_runs(paths: list[Path]) -> list[RunView]:
    """Every finished run in the trace files, in file order (steps matched within a file)."""
    runs: list[RunView] = []
    for path in paths:
        trace = read_trace(path)
        by_run = trace.steps_by_run()
        for line in trace.results:
            steps = sorted(by_run.get(line.result.run_id, []), key=lambda s: s.step)
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", line.result.run_id)[:80]
            runs.append(RunView(path, line, steps, f"runs/{len(runs):04d}-{slug}.html"))
    return runs


def build_site(paths: list[Path], out_dir: Path) -> tuple[Path, int]:
    """Write `out_dir/index.html` and one page per run; return the index path and run count."""
    runs = collect_runs(paths)
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    for run in runs:
        (out_dir / run.page).write_text(run_page(run), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(index_page(runs, paths), encoding="utf-8")
    return index, len(runs)


# --- pages ----------------------------------------------------------------------------------


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _document(title: str, body: str, script: str = "") -> str:
    js = f"<script>{script}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}{js}</body></html>\n"
    )


def _success_badge(ok: bool) -> str:
    return '<span class="badge ok">success</span>' if ok else '<span class="badge fail">fail</span>'


def index_page(runs: list[RunView], paths: list[Path]) -> str:
    policies = sorted({r.result.policy for r in runs})
    options = "".join(f'<option value="{_e(p)}">{_e(p)}</option>' for p in policies)
    rows = []
    for i, run in enumerate(runs):
        res = run.result.result
        parse = (
            f'<span class="badge parse-error">{res.parse_errors}</span>'
            if res.parse_errors
            else "0"
        )
        loops = (
            f'<span class="badge loop">{res.loop_detections}</span>' if res.loop_detections else "0"
        )
        rows.append(
            f'<tr data-task="{_e(res.task_id)}" data-policy="{_e(run.result.policy)}" '
            f'data-success="{"yes" if res.success else "no"}" '
            f'data-parse-errors="{res.parse_errors}" data-loops="{res.loop_detections}">'
            f'<td>{i + 1}</td><td><a href="{_e(run.page)}">{_e(res.task_id)}</a></td>'
            f"<td>{_e(run.result.policy)}</td><td>{_e(run.result.role)}</td>"
            f"<td>{_success_badge(res.success)}</td><td>{res.steps}</td><td>{parse}</td>"
            f"<td>{loops}</td><td>{_e(res.error or '')}</td><td>{res.duration_s:.1f}</td></tr>"
        )
    ok = sum(r.result.result.success for r in runs)
    sources = ", ".join(_e(p.name) for p in paths)
    head = "".join(
        f"<th>{c}</th>"
        for c in ("#", "task", "policy", "role", "success", "steps", "parse errors", "loops",
                  "error", "seconds")
    )  # fmt: skip
    body = (
        f'<h1>Agent runs</h1><p class="meta">{len(runs)} runs from {sources} · '
        f"{ok} succeeded</p>"
        '<div class="filters">'
        '<label>task <input id="f-task" type="search" placeholder="filter by task"></label>'
        f'<label>policy <select id="f-policy"><option value="">all</option>{options}</select>'
        "</label>"
        '<label>success <select id="f-success"><option value="">all</option>'
        '<option value="yes">yes</option><option value="no">no</option></select></label>'
        '<label><input id="f-parse" type="checkbox"> has parse errors</label>'
        '<label><input id="f-loops" type="checkbox"> has loops</label>'
        f'<span id="shown" class="meta">{len(runs)} of {len(runs)} runs shown</span></div>'
        f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    return _document("Agent runs", body, INDEX_JS)


def _pre(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<pre{attr}>{_e(text)}</pre>"


def _maybe_collapsed(text: str, label: str, scale: int = 1) -> str:
    lines = text.count("\n") + 1
    if len(text) <= LONG_CHARS * scale and lines <= LONG_LINES * scale:
        return _pre(text)
    return (
        f"<details><summary>{_e(label)} ({len(text)} chars, {lines} lines)</summary>"
        f"{_pre(text)}</details>"
    )


def _message_text(msg: Message) -> str:
    text = msg.content or ""
    if msg.tool_calls:
        calls = [c.model_dump() for c in msg.tool_calls]
        text += ("\n" if text else "") + json.dumps(calls, indent=1, ensure_ascii=False)
    return text


def _last_seen(step: StepRecord) -> Message | None:
    return next((m for m in reversed(step.messages) if m.role in ("user", "tool")), None)


def _action_html(action: ToolCallAction | FinalAction) -> str:
    if isinstance(action, FinalAction):
        return f"<table><tr><th>final</th><td>{_pre(action.summary)}</td></tr></table>"
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td>"
        f"{_maybe_collapsed(v if isinstance(v, str) else json.dumps(v), k)}</td></tr>"
        for k, v in action.args.items()
    )
    return f'<table class="action"><tr><th>tool</th><td>{_e(action.name)}</td></tr>{rows}</table>'


def _step_section(step: StepRecord) -> str:
    badges = []
    if step.parse_error:
        badges.append(f'<span class="badge parse-error">parse error: {_e(step.parse_error)}</span>')
    elif step.action is not None and step.action.type == "final":
        badges.append('<span class="badge final">final</span>')
    elif step.action is not None:
        badges.append(f'<span class="badge action">{_e(step.action.name)}</span>')
    badges += [f'<span class="badge loop">loop: {_e(f)}</span>' for f in step.loop_flags]
    if step.tool_error:
        badges.append('<span class="badge tool-error">tool error</span>')
    classes = "step" + (" has-parse-error" if step.parse_error else "")
    classes += " has-loop" if step.loop_flags else ""
    seen = _last_seen(step)
    parts = [
        f'<section class="{classes}" id="step-{step.step}"><h3>Step {step.step + 1} '
        f"{''.join(badges)}</h3>",
        "<h4>What the policy saw last</h4>",
        _maybe_collapsed(f"[{seen.role}] {_message_text(seen)}", "last message", scale=3)
        if seen
        else "<p>(nothing)</p>",
        "<h4>Raw output</h4>",
        _pre(_message_text(step.raw_output)),
    ]
    if step.parse_error:
        parts += [
            "<h4>Parse error</h4>",
            f'<p><span class="badge parse-error">{_e(step.parse_error)}</span> '
            f"{_e(step.parse_error_detail or '')}</p>",
        ]
    elif step.action is not None:
        parts += ["<h4>Parsed action</h4>", _action_html(step.action)]
    if step.observation is not None:
        label = "reply" if step.parse_error or step.loop_flags else "tool result"
        parts += [f"<h4>{label}</h4>", _maybe_collapsed(step.observation, label)]
    context = "".join(f"<h4>{_e(m.role)}</h4>{_pre(_message_text(m))}" for m in step.messages)
    parts.append(
        f"<details><summary>Full context ({len(step.messages)} messages)</summary>"
        f"{context}</details></section>"
    )
    return "".join(parts)


def _diff_html(diff: str) -> str:
    if not diff:
        return "<p>(no changes to the repository)</p>"
    lines = []
    for line in diff.splitlines():
        cls = ""
        if line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+") and not line.startswith("+++"):
            cls = "add"
        elif line.startswith("-") and not line.startswith("---"):
            cls = "del"
        lines.append(f'<span class="{cls}">{_e(line)}</span>' if cls else _e(line))
    return '<pre class="diff">' + "\n".join(lines) + "</pre>"


def run_page(run: RunView) -> str:
    line, res = run.result, run.result.result
    goal = ""
    if run.steps:
        first_user = next((m for m in run.steps[0].messages if m.role == "user"), None)
        goal = _pre(first_user.content or "") if first_user else ""
    tools = ", ".join(f"{k} {v}" for k, v in sorted(res.tool_breakdown.items())) or "none"
    stats = (
        f"{_success_badge(res.success)}"
        f'<span class="badge" id="step-count">{res.steps} steps</span>'
        f'<span class="badge{" parse-error" if res.parse_errors else ""}">'
        f"{res.parse_errors} parse errors</span>"
        f'<span class="badge{" loop" if res.loop_detections else ""}">'
        f"{res.loop_detections} loops</span>"
        f'<span class="badge">{res.test_runs} test runs</span>'
    )
    body = [
        '<p><a href="../index.html">← all runs</a></p>',
        f"<h1>{_e(res.task_id)}</h1>",
        f'<p class="meta">run {_e(res.run_id)} · policy {_e(line.policy)} · role '
        f"{_e(line.role)} · seed {line.seed} · {res.duration_s:.1f}s · "
        f"{res.metadata.difficulty} {_e(res.metadata.category)} · from {_e(run.source.name)}</p>",
        f"<p>{stats}</p>",
        f"<p>tool calls: {res.tool_calls} ({_e(tools)}) · files touched: "
        f"{_e(', '.join(res.files_touched) or 'none')}</p>",
    ]
    if res.error:
        body.append(f'<p><span class="badge fail">ended</span> {_e(res.error)}</p>')
    if res.final_summary:
        body.append(f"<p>final summary: {_e(res.final_summary)}</p>")
    body += [goal and f"<h2>Goal</h2>{goal}", "<h2>Steps</h2>"]
    body += [_step_section(s) for s in run.steps] or ["<p>(no steps recorded)</p>"]
    body += ["<h2>Final diff</h2>", _diff_html(line.diff), "<h2>Test output</h2>"]
    body.append(_pre(res.test_output) if res.test_output else "<p>(tests not run)</p>")
    return _document(f"{res.task_id} · {line.policy}", "".join(body))
