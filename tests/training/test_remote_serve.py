"""Evaluating a remote fine-tune (`finetune.remote.serve`) and its training curves, against a
real local HTTP server that speaks Together's and OpenAI's APIs: the downloaded checkpoint is
loaded by the hf policy, a dedicated endpoint is always stopped and deleted, the curves come
from the job events."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import fake_key
from fake_api import FakeAPI, InvalidRequest, final_responder
from tiny import TINY

from repo_agent.files import write_json, write_jsonl
from repo_agent.pipeline import paths
from repo_agent.pipeline.eval import model_policy_config, run_eval
from repo_agent.pipeline.finetune import run_finetune
from repo_agent.pipeline.params import Params, ParamsError, parse_params
from repo_agent.training.remote.endpoint import EndpointError, cost_line
from repo_agent.training.student import build_student

SYSTEM = {"role": "system", "content": "You fix bugs."}
USER = {"role": "user", "content": "Task: fix f"}
GOOD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_files","args":{}}'}
BAD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_fils","args":{}}'}
HELDOUT = ["a_binary_search"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stage's working dir: train rows, a held-out task, a Together key in the env."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOGETHER_API_KEY", fake_key("tgp_v1_", 13))
    monkeypatch.setenv("OPENAI_API_KEY", fake_key("sk-", 13))
    write_jsonl(paths.SPLIT_TRAIN / "sft.jsonl", [{"messages": [SYSTEM, USER, GOOD]}] * 2)
    pair = {"input": {"messages": [SYSTEM, USER]}, "preferred_output": [GOOD]}
    write_jsonl(paths.DPO_PAIRS, [pair | {"non_preferred_output": [BAD]}] * 3)
    write_json(paths.HELDOUT_TASKS, {"tasks": HELDOUT})
    return tmp_path


def raw_params(api: FakeAPI, backend: str = "together", **remote: object) -> dict:
    """Params of a tiny eval of a remote fine-tune, every URL at the fake server."""
    base_url = api.url if backend == "together" else f"{api.url}/v1"
    return {
        "suite": {"names": ["builtin"]},
        "agent": {"max_steps": 2, "test_policy": "never"},
        "student": {"kind": backend, "model": "base-model", "base_url": base_url},
        "eval": {"samples": 0, "models": ["base", "sft", "dpo"], "grammar": []},
        "finetune": {
            "backend": backend,
            "base_model": "Qwen/Qwen2.5-7B-Instruct",
            "remote": {
                "base_url": base_url,
                "poll_interval_s": 0.01,
                "retry_base_s": 0.001,
                **remote,
            },
        },
    }


def remote_params(api: FakeAPI, backend: str = "together", **remote: object) -> Params:
    return parse_params(raw_params(api, backend, **remote))


def tsv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text()), delimiter="\t"))


@pytest.mark.parametrize("backend", ["together", "openai"])
def test_curves_come_from_the_job_events(workdir: Path, backend: str) -> None:
    with FakeAPI() as api:
        params = remote_params(api, backend)
        summary = run_finetune(params, "sft")
    rows = tsv_rows(paths.LIVE / "sft" / "plots" / "metrics" / "loss.tsv")
    assert [(r["step"], float(r["loss"])) for r in rows] == [
        ("1", 1.75),
        ("2", 1.5),
        ("3", 1.25),
        ("4", 1.0),
    ]
    metrics = json.loads((paths.LIVE / "sft" / "metrics.json").read_text())
    assert (metrics["loss"], metrics["rows"]) == (1.0, 2)
    assert (summary["loss_first"], summary["loss_last"]) == (1.75, 1.0)
    assert (paths.REPORTS / "sft_curve.png").stat().st_size > 0
    if backend == "openai":
        assert (paths.LIVE / "sft" / "plots" / "metrics" / "mean_token_accuracy.tsv").is_file()


def test_a_job_without_loss_events_writes_valid_empty_curves(workdir: Path) -> None:
    with FakeAPI() as api:
        api._job_list = lambda job_id, what: (200, {"data": []}, {})  # a provider silent on loss
        run_finetune(remote_params(api), "sft")
    assert list((paths.LIVE / "sft" / "plots" / "metrics").iterdir()) == []
    assert json.loads((paths.LIVE / "sft" / "metrics.json").read_text()) == {"rows": 2}
    assert (paths.REPORTS / "sft_curve.png").is_file()


# --- serve: download -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_archive(tmp_path_factory, builtin_tasks) -> bytes:
    """A tiny student as Together ships a checkpoint: a folder in a zstd-compressed tar."""
    root = tmp_path_factory.mktemp("ckpt")
    texts = [t.spec.goal for t in builtin_tasks] + [GOOD["content"], SYSTEM["content"]]
    build_student(texts, TINY, root / "merged")
    with tarfile.open(root / "model.tar", "w") as tar:
        tar.add(root / "merged", arcname="merged")
    subprocess.run(["zstd", "-q", "-f", str(root / "model.tar")], check=True)
    return (root / "model.tar.zst").read_bytes()


def test_download_unpacks_the_checkpoint_and_eval_runs_it_with_hf(
    workdir: Path, checkpoint_archive: bytes
) -> None:
    with FakeAPI() as api:
        api.checkpoint_archive = checkpoint_archive
        params = remote_params(api, serve="download")
        run_finetune(params, "sft")
        run_finetune(params, "dpo")
        downloads = list(api.downloads)
        chats = api.calls("POST", "/v1/chat/completions")
    assert [d["checkpoint"] for d in downloads] == ["merged", "merged"]  # LoRA jobs
    for method, model_dir in (("sft", paths.MODELS_SFT), ("dpo", paths.MODELS_DPO)):
        assert (model_dir / "config.json").is_file() and (model_dir / "tokenizer.json").is_file()
        record = json.loads((model_dir / paths.REMOTE_MODEL_FILE).read_text())
        assert record["serve"] == "download" and record["download"]["checkpoint"] == "merged"
        assert not list((paths.MODELS_REMOTE / method).glob("*.archive*"))  # unpacked, removed
    served = model_policy_config(params, "dpo")
    assert (served.kind, served.model) == ("hf", str(paths.MODELS_DPO))
    assert run_eval(params, "dpo") == len(HELDOUT)
    lines = [json.loads(x) for x in paths.eval_trace("dpo").read_text().splitlines()]
    assert any(line.get("task_id") == HELDOUT[0] for line in lines)
    assert not chats  # served locally, not through the API


def test_download_is_refused_for_openai_before_any_job(workdir: Path) -> None:
    with pytest.raises(ParamsError, match="serve: download needs backend together.*OpenAI"):
        parse_params({"finetune": {"backend": "openai", "remote": {"serve": "download"}}})


def test_an_unknown_serve_mode_is_a_clear_params_error(workdir: Path) -> None:
    (workdir / "params.yaml").write_text("finetune:\n  remote:\n    serve: deploy\n")
    from repo_agent.pipeline.params import load_params

    with pytest.raises(ParamsError, match=r"finetune\.remote\.serve.*'name', 'download'"):
        load_params(workdir / "params.yaml")


# --- serve: endpoint -------------------------------------------------------------------------

ENDPOINT_RECORD = {
    "provider": "together",
    "model": "user/Qwen2.5-7B-Instruct-repo-agent-dpo-ft-1",
    "job_id": "ft-1",
    "serve": "endpoint",
}


def served_by_endpoint() -> None:
    paths.MODELS_DPO.mkdir(parents=True, exist_ok=True)
    write_json(paths.MODELS_DPO / paths.REMOTE_MODEL_FILE, ENDPOINT_RECORD)


def test_endpoint_lifecycle_create_wait_eval_stop_delete(workdir: Path) -> None:
    served_by_endpoint()
    with FakeAPI() as api:
        params = remote_params(api, allow_endpoint=True)
        assert run_eval(params, "dpo") == len(HELDOUT)
        log = [what for what, _ in api.endpoint_log]
        chats = [json.loads(r.body) for r in api.calls("POST", "/v1/chat/completions")]
        created = json.loads(api.calls("POST", "/v1/endpoints")[0].body)
        assert not api.endpoints  # deleted
    assert log == ["create", "get", "get", "stop", "delete"]  # PENDING → STARTING → STARTED
    assert created["model"] == ENDPOINT_RECORD["model"]
    assert created["hardware"] == params.finetune.remote.endpoint_hardware
    assert chats and {c["model"] for c in chats} == {
        "user/Qwen2.5-7B-Instruct-repo-agent-dpo-ft-1-endpoint-0001"
    }
    assert not (paths.CACHE_EVAL / "dpo" / "endpoint.json").exists()


def test_the_endpoint_is_stopped_when_the_eval_is_interrupted_midway(workdir: Path) -> None:
    """The eval stage as DVC runs it, in its own process, stopped by Ctrl-C (SIGINT) while a
    request to the endpoint is in flight: the endpoint is still stopped and deleted."""
    served_by_endpoint()
    in_flight = threading.Event()

    def slow_answer(body: dict) -> dict:
        in_flight.set()
        time.sleep(1.0)
        return final_responder(body)

    with FakeAPI(slow_answer) as api:
        raw = raw_params(api, allow_endpoint=True)
        (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        cmd = [sys.executable, "-m", "repo_agent.pipeline.eval", "dpo"]
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
        assert in_flight.wait(60), "the eval never called the endpoint"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        log = [what for what, _ in api.endpoint_log]
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert log[-2:] == ["stop", "delete"], err[-2000:]
    assert not (paths.CACHE_EVAL / "dpo" / "endpoint.json").exists()


def test_api_errors_during_the_eval_still_stop_the_endpoint(workdir: Path) -> None:
    """A model that errors on every request: the runs record the errors, the endpoint goes."""
    served_by_endpoint()

    def broken(body: dict) -> dict:
        raise InvalidRequest("the model crashed")

    with FakeAPI(broken) as api:
        params = remote_params(api, allow_endpoint=True)
        run_eval(params, "dpo")
        log = [what for what, _ in api.endpoint_log]
    assert "HTTP 400: the model crashed" in paths.eval_trace("dpo").read_text()
    assert log[-2:] == ["stop", "delete"]


def test_endpoint_mode_without_the_opt_in_creates_nothing(workdir: Path) -> None:
    served_by_endpoint()
    with FakeAPI() as api:
        params = remote_params(api)
        with pytest.raises(EndpointError, match="allow_endpoint: true"):
            run_eval(params, "dpo")
        assert api.endpoint_log == [] and api.calls("POST", "/v1/chat/completions") == []


def test_an_endpoint_past_its_minutes_is_stopped_and_the_eval_fails(workdir: Path) -> None:
    served_by_endpoint()
    with FakeAPI() as api:
        api.latency_s = 0.2  # each request takes longer than the whole allowance
        params = remote_params(api, allow_endpoint=True, max_endpoint_minutes=0.005)
        with pytest.raises(EndpointError, match="max_endpoint_minutes"):
            run_eval(params, "dpo")
        log = [what for what, _ in api.endpoint_log]
    assert "stop" in log and log[-1] == "delete"


def test_a_leftover_endpoint_of_a_killed_run_is_deleted_first(workdir: Path) -> None:
    served_by_endpoint()
    with FakeAPI() as api:
        params = remote_params(api, allow_endpoint=True)
        api._endpoint(
            "POST",
            "/v1/endpoints",
            json.dumps(ENDPOINT_RECORD | {"hardware": "h", "autoscaling": {}}).encode(),
        )
        leftover = next(iter(api.endpoints))
        write_json(paths.CACHE_EVAL / "dpo" / "endpoint.json", {"id": leftover})
        run_eval(params, "dpo")
        assert ("delete", leftover) in api.endpoint_log and not api.endpoints


def test_the_cost_line_states_its_assumptions() -> None:
    cfg = parse_params({}).finetune.remote.model_copy(update={"max_endpoint_minutes": 30.0})
    line = cost_line(cfg)
    assert "$2.00" in line and "1x_nvidia_h100_80gb_sxm" in line and "per minute" in line
