"""The on-policy steps on real files: a fine-tuned student served by an API (a local server
that speaks Together's API) acts on the train tasks, the oracle labels every state, and
dpo_pairs joins the on-policy pairs to the train tasks' pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import fake_key
from fake_api import FakeAPI

from repo_agent.data.pairs import PairExample
from repo_agent.files import read_jsonl, write_json, write_jsonl
from repo_agent.pipeline import paths
from repo_agent.pipeline.dpo_pairs import dpo_train_pairs
from repo_agent.pipeline.onpolicy import run_onpolicy_rollouts, train_tasks
from repo_agent.pipeline.params import Params
from repo_agent.records import Message
from repo_agent.traces import read_trace

TASKS = ["a_binary_search", "a_gcd_lcm", "a_palindrome"]
TRAIN, HELDOUT = TASKS[:2], TASKS[2:]
MEMORISED = {"type": "tool_call", "name": "read_file", "args": {"rel_path": "minheap.py"}}
LIST = {"type": "tool_call", "name": "list_files", "args": {"rel_dir": "."}}


def sft_student(body: dict[str, Any]) -> dict[str, Any]:
    """Like our SFT student: reads a file name remembered from training, then lists, then
    repeats the list until the step limit."""
    turns = sum(1 for m in body["messages"] if m["role"] == "assistant")
    action = MEMORISED if turns == 0 else LIST
    return {"role": "assistant", "content": json.dumps(action)}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOGETHER_API_KEY", fake_key("together-test-", 41, 20))
    write_json(paths.SPLIT_TASKS, {"train": TRAIN, "heldout": HELDOUT})
    return tmp_path


def params_for(api: FakeAPI, **onpolicy: Any) -> Params:
    return Params.model_validate(
        {
            "suite": {"names": ["builtin"], "tasks": TASKS},
            "agent": {"max_steps": 4, "test_policy": "never"},
            "student": {
                "kind": "together",
                "model": "Qwen/Qwen2.5-7B-Instruct",
                "base_url": api.url,
                "cache": False,
            },
            "onpolicy": {"rollouts": 2, "temperature": 0.7} | onpolicy,
        }
    )


def serve_fine_tune(model: str) -> None:
    write_json(paths.MODELS_SFT / paths.REMOTE_MODEL_FILE, {"provider": "together", "model": model})


def rollouts(params: Params) -> dict[str, Any]:
    tasks = train_tasks(params, paths.SPLIT_TASKS, paths.MUTANTS)
    return run_onpolicy_rollouts(
        params, paths.MODELS_SFT, tasks, paths.ONPOLICY, paths.CACHE_ONPOLICY
    )


def test_the_fine_tuned_api_student_acts_on_train_tasks_only(project: Path) -> None:
    serve_fine_tune("me/Qwen2.5-7B-sft-1")
    with FakeAPI(sft_student) as api:
        summary = rollouts(params_for(api))
        chats = api.calls("POST", "/v1/chat/completions")
    trace = read_trace(paths.ONPOLICY / paths.ONPOLICY_TRACE)
    assert sorted({r.result.task_id for r in trace.results}) == TRAIN
    assert len(trace.results) == summary["runs"] == 4  # 2 tasks x 2 rollouts
    assert {json.loads(c.body)["model"] for c in chats} == {"me/Qwen2.5-7B-sft-1"}
    assert {json.loads(c.body)["temperature"] for c in chats} == {0.7}
    labels = read_jsonl(paths.ONPOLICY / paths.ONPOLICY_LABELS)
    assert len(labels) == summary["labels"] == summary["steps"] == len(trace.steps)
    assert summary["tool_errors"] == 4  # each run's memorised read


def test_a_rerun_resumes_and_another_model_starts_over(project: Path) -> None:
    serve_fine_tune("me/Qwen2.5-7B-sft-1")
    with FakeAPI(sft_student) as api:
        params = params_for(api)
        rollouts(params)
        first = len(api.calls("POST", "/v1/chat/completions"))
        rollouts(params)
        assert len(api.calls("POST", "/v1/chat/completions")) == first  # nothing asked again
        serve_fine_tune("me/Qwen2.5-7B-sft-2")
        summary = rollouts(params)
        assert len(api.calls("POST", "/v1/chat/completions")) == 2 * first
    assert summary["runs"] == 4
    models = {json.loads(c.body)["model"] for c in api.calls("POST", "/v1/chat/completions")}
    assert models == {"me/Qwen2.5-7B-sft-1", "me/Qwen2.5-7B-sft-2"}


def test_no_rollouts_writes_empty_files(project: Path) -> None:
    serve_fine_tune("me/x")
    with FakeAPI(sft_student) as api:
        summary = rollouts(params_for(api, rollouts=0))
        assert api.calls("POST", "/v1/chat/completions") == []
    assert summary["runs"] == 0
    assert (paths.ONPOLICY / paths.ONPOLICY_TRACE).read_text() == ""


def _pair(task_id: str, source: str, reason: str) -> dict[str, Any]:
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": task_id}]
    row = {
        "input": {"messages": msgs},
        "preferred_output": [{"role": "assistant", "content": json.dumps(LIST)}],
        "non_preferred_output": [{"role": "assistant", "content": "{"}],
    }
    return PairExample(
        task_id=task_id, source=source, reason=reason, margin=10, row=row
    ).model_dump()


def test_dpo_pairs_join_the_train_pairs_and_the_onpolicy_pairs(project: Path) -> None:
    serve_fine_tune("me/Qwen2.5-7B-sft-1")
    with FakeAPI(sft_student) as api:
        params = params_for(api)
        rollouts(params)
    pairs = [_pair(TRAIN[0], "corruption", "broken_json"), _pair(HELDOUT[0], "corruption", "x")]
    pairs.append(_pair(TRAIN[1], "corruption", "missing_arg"))
    write_jsonl(paths.PAIR / "pairs.jsonl", pairs)
    out = paths.DPO_PAIRS
    m = dpo_train_pairs(
        paths.PAIR / "pairs.jsonl",
        paths.SPLIT_TASKS,
        paths.ONPOLICY,
        out,
        params.rubric.model_copy(update={"loop_penalty": 1.0}),
        params.agent,
    )
    rows = read_jsonl(out)
    assert rows[:2] == [pairs[0]["row"], pairs[2]["row"]]  # held-out pairs never trained on
    onpolicy = m["onpolicy"]
    # Per run: the memorised read (teacher: list_files, margin 2: unseen path) and the repeats
    # of list_files after the first (exact_repeat, margin 1 < 1.5: dropped).
    assert onpolicy["by_reason"] == {"missing_path": 4}
    assert onpolicy["dropped_by_reason"] == {"exact_repeat": 8}
    assert m["by_source"] == {"corruption": 2, "onpolicy": 4}
    assert m["pairs"] == len(rows) == 6
    for row in rows[2:]:
        assert row["non_preferred_output"] == [
            Message(role="assistant", content=json.dumps(MEMORISED)).dump()
        ]


def test_onpolicy_runs_on_a_heldout_task_are_refused(project: Path) -> None:
    serve_fine_tune("me/x")
    with FakeAPI(sft_student) as api:
        params = params_for(api)
        rollouts(params)
    write_json(paths.SPLIT_TASKS, {"train": TRAIN[:1], "heldout": TRAIN[1:] + HELDOUT})
    write_jsonl(paths.PAIR / "pairs.jsonl", [])
    with pytest.raises(ValueError, match="non-train task"):
        dpo_train_pairs(
            paths.PAIR / "pairs.jsonl",
            paths.SPLIT_TASKS,
            paths.ONPOLICY,
            paths.DPO_PAIRS,
            params.rubric,
            params.agent,
        )
