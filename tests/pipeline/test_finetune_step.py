"""The finetune step as the finetune@sft and finetune@dpo stages run it, on a remote backend
served by a real local HTTP server: every declared output is written, eval serves the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import fake_key
from fake_api import FakeAPI

from repo_agent.files import write_jsonl
from repo_agent.pipeline import paths
from repo_agent.pipeline.eval import model_policy_config
from repo_agent.pipeline.finetune import run_finetune
from repo_agent.pipeline.params import parse_params

KEY = fake_key("together-test-", 31, 20)
SYSTEM = {"role": "system", "content": "You fix bugs."}
USER = {"role": "user", "content": "Task: fix f"}
GOOD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_files","args":{}}'}
BAD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_fils","args":{}}'}


@pytest.fixture
def train_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    write_jsonl(paths.SPLIT_TRAIN / "sft.jsonl", [{"messages": [SYSTEM, USER, GOOD]}] * 2)
    pair = {
        "input": {"messages": [SYSTEM, USER]},
        "preferred_output": [GOOD],
        "non_preferred_output": [BAD],
    }
    write_jsonl(paths.DPO_PAIRS, [pair] * 3)
    return tmp_path


def test_remote_sft_then_dpo_write_every_declared_output(train_files: Path) -> None:
    with FakeAPI() as api:
        remote = {"base_url": api.url, "poll_interval_s": 0.01, "retry_base_s": 0.001}
        params = parse_params(
            {
                "student": {"kind": "together", "model": "Qwen/Qwen2.5-7B-Instruct-Turbo"},
                "agent": {"tool_protocol": "json"},
                "finetune": {
                    "backend": "together",
                    "base_model": "Qwen/Qwen2.5-7B-Instruct",
                    "remote": remote,
                },
            }
        )
        sft = run_finetune(params, "sft")
        dpo = run_finetune(params, "dpo")
        creates = [json.loads(r.body) for r in api.calls("POST", "/v1/fine-tunes")]
    assert (sft["rows"], dpo["rows"]) == (2, 3)
    assert (
        creates[1]["from_checkpoint"]
        == json.loads((paths.MODELS_SFT / paths.REMOTE_MODEL_FILE).read_text())["job_id"]
    )
    for method in ("sft", "dpo"):  # what dvc.yaml declares for finetune@<method>
        assert (paths.LIVE / method / "metrics.json").is_file()
        assert (paths.LIVE / method / "plots" / "metrics").is_dir()
        assert (paths.REPORTS / f"{method}_curve.png").is_file()
        assert (paths.MODELS_REMOTE / method / f"{method}.json").is_file()
    served = model_policy_config(params, "dpo")
    assert (served.kind, served.model) == ("together", dpo["model"])
    for path in Path().rglob("*.json"):
        assert KEY not in path.read_text(), path


def test_dpo_without_a_remote_sft_record_says_what_to_run(train_files: Path) -> None:
    params = parse_params({"finetune": {"backend": "together", "base_model": "m"}})
    with pytest.raises(FileNotFoundError, match="run finetune@sft"):
        run_finetune(params, "dpo")


def test_an_unknown_method_is_refused(train_files: Path) -> None:
    with pytest.raises(ValueError, match="choose sft or dpo"):
        run_finetune(parse_params({}), "ppo")  # type: ignore[arg-type]
