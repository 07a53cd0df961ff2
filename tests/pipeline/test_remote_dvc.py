"""The finetune stages of a remote backend through `dvc repro`, against the local fake API, in
a temporary git + DVC repository: every declared out is written (curves included), and the eval
stage then serves the remote model through the fake chat API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import fake_key
from fake_api import FakeAPI
from test_pipeline_dvc import ROOT, copy_project, sh, tiny_params

from repo_agent.files import write_json, write_jsonl
from repo_agent.pipeline import paths

pytestmark = pytest.mark.slow

SYSTEM = {"role": "system", "content": "You fix bugs."}
USER = {"role": "user", "content": "Task: fix f"}
GOOD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_files","args":{}}'}
BAD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_fils","args":{}}'}
BASE_URL = {"together": "{url}", "openai": "{url}/v1"}


def remote_repo(tmp: Path, backend: str, url: str) -> Path:
    """A repo with the stages' inputs written by hand (train rows, held-out task), so only the
    finetune and eval stages run: `dvc repro -s` of each."""
    repo = tmp / "repo"
    repo.mkdir()
    copy_project(repo)
    params = tiny_params()
    base_url = BASE_URL[backend].format(url=url)
    # A section of another kind is replaced whole: an API student has no `build`.
    params["student"] = {"kind": backend, "model": "base-model", "base_url": base_url}
    params["agent"].update(max_steps=2, test_policy="never")
    params["eval"].update(samples=0)
    params["finetune"].update(backend=backend, base_model="Qwen/Qwen2.5-7B-Instruct")
    params["finetune"]["remote"].update(base_url=base_url, poll_interval_s=0.01, retry_base_s=0.01)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_jsonl(repo / paths.SPLIT_TRAIN / "sft.jsonl", [{"messages": [SYSTEM, USER, GOOD]}] * 2)
    pair = {"input": {"messages": [SYSTEM, USER]}, "preferred_output": [GOOD]}
    write_jsonl(repo / paths.DPO_PAIRS, [pair | {"non_preferred_output": [BAD]}] * 3)
    (repo / paths.MODELS_BASE).mkdir(parents=True)
    (repo / paths.MODELS_BASE / "README").write_text("remote base model\n")
    write_json(repo / paths.HELDOUT_TASKS, {"tasks": ["a_binary_search"]})
    for folder in (paths.MUTANTS, paths.RENAMED):
        (repo / folder).mkdir(parents=True, exist_ok=True)
        (repo / folder / ".keep").write_text("")
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    shutil.copy(ROOT / ".dvcignore", repo / ".dvcignore")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "init")
    return repo


@pytest.mark.parametrize("backend", ["together", "openai"])
def test_remote_finetune_stages_repro_and_eval_serves_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", fake_key("tgp_v1_", 21))
    monkeypatch.setenv("OPENAI_API_KEY", fake_key("sk-", 21))
    with FakeAPI() as api:
        repo = remote_repo(tmp_path, backend, api.url)
        for stage in ("finetune@sft", "finetune@dpo", "eval@dpo"):
            out = sh(repo, "dvc", "repro", "-s", stage)
            assert f"Running stage '{stage}'" in out, out[-3000:]
        chats = [json.loads(r.body) for r in api.calls("POST", "/v1/chat/completions")]
    dpo = json.loads((repo / paths.MODELS_DPO / paths.REMOTE_MODEL_FILE).read_text())
    for method in ("sft", "dpo"):  # every out dvc.yaml declares for finetune@<method>
        assert (repo / "models" / method / paths.REMOTE_MODEL_FILE).is_file()
        assert (repo / paths.MODELS_REMOTE / method / f"{method}.json").is_file()
        metrics = json.loads((repo / paths.LIVE / method / "metrics.json").read_text())
        assert metrics["loss"] == 1.0
        assert (repo / paths.LIVE / method / "plots" / "metrics" / "loss.tsv").is_file()
        assert (repo / paths.REPORTS / f"{method}_curve.png").is_file()
    assert chats and {c["model"] for c in chats} == {dpo["model"]}
    assert (repo / paths.eval_trace("dpo")).read_text().strip()
    status = sh(repo, "dvc", "status", "finetune@sft", "finetune@dpo", "eval@dpo")
    assert "changed" not in status, status
