"""Remote fine-tuning (Together, OpenAI) against a real local HTTP server speaking their APIs:
SFT then DPO, records, resume without a second job, failed jobs, local validation, no key leaks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fake_api import FakeAPI, Fault
from rich.console import Console

from repo_agent.pipeline.params import ParamsError, parse_params
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import FinetuneBackend, RemoteFinetuneError
from repo_agent.training.remote.runner import make_backend, run_remote_finetune
from repo_agent.training.remote.state import STATE_FILE

OPENAI_KEY = "sk-test-FTSECRET0123456789"
TOGETHER_KEY = "together-test-FTSECRET9876543210"
SYSTEM = {"role": "system", "content": "You fix bugs."}
USER = {"role": "user", "content": "Task: fix binary_search"}
GOOD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_files","args":{}}'}
BAD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_fils","args":{}}'}


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    call = {"id": "c1", "type": "function", "function": {"name": "list_files", "arguments": "{}"}}
    native = [  # a native-protocol row: tool calls and a tool result
        SYSTEM,
        USER,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "a.py"},
        {"role": "assistant", "content": "Fixed."},
    ]
    rows = [{"messages": [SYSTEM, USER, GOOD]}] * 2 + [{"messages": native}]
    sft = write_jsonl(tmp_path / "sft.jsonl", rows)
    pair = {
        "input": {"messages": [SYSTEM, USER]},
        "preferred_output": [GOOD],
        "non_preferred_output": [BAD],
    }
    return sft, write_jsonl(tmp_path / "pairs.jsonl", [pair] * 2)


def config(api: FakeAPI, backend: str, **kw: object) -> RemoteFinetuneConfig:
    base = api.url if backend == "together" else f"{api.url}/v1"
    defaults = dict(
        poll_interval_s=0.01, retry_base_s=0.001, retry_max_s=0.01, max_retries=2, base_url=base
    )
    return RemoteFinetuneConfig(**{**defaults, **kw})


def run(backend: str, data: tuple[Path, Path], cfg: RemoteFinetuneConfig, out: Path) -> dict:
    base = "Qwen/Qwen2.5-7B-Instruct" if backend == "together" else "gpt-4.1-mini"
    quiet = Console(file=io.StringIO())
    return run_remote_finetune(backend, data[0], data[1], base, 0.1, cfg, out, console=quiet)


def test_together_sft_then_dpo(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        result = run("together", data, config(api, "together"), out)
        uploads = api.calls("PUT", r"/upload/.*")
        creates = [json.loads(r.body) for r in api.calls("POST", "/v1/fine-tunes")]
        assert len(api.calls("POST", r"/v1/files/.*/preprocess")) == 2
        assert api.calls("GET", "/v1/fine-tunes/models/limits")
        assert api.calls("POST", "/v1/fine-tunes/estimate-price")
    assert sorted(u.body for u in uploads) == sorted(p.read_bytes() for p in data)
    sft_body, dpo_body = creates
    assert sft_body["model"] == "Qwen/Qwen2.5-7B-Instruct" and sft_body["n_epochs"] == 3
    assert sft_body["training_method"]["method"] == "sft"
    assert dpo_body["training_method"] == {
        "method": "dpo",
        "dpo_beta": 0.1,
        "dpo_normalize_logratios_by_length": False,
        "dpo_reference_free": False,
    }
    assert "model" not in dpo_body and dpo_body["from_checkpoint"] == result["sft"]["job_id"]
    for method in ("sft", "dpo"):
        rec = json.loads((out / f"{method}.json").read_text())
        assert rec["backend"] == rec["provider"] == "together" and rec["status"] == "completed"
        assert rec["model"].endswith(rec["job_id"]) and rec["checkpoints"] and rec["events"]
    assert result["provider"] == "together" and result["model"] == result["dpo"]["model"]


def test_rerun_resumes_the_recorded_job(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        with pytest.raises(RemoteFinetuneError, match="rerun the stage to resume polling"):
            run("together", data, config(api, "together", timeout_s=0.001), out)
        state = json.loads((out / STATE_FILE).read_text())
        assert list(state["jobs"]) == ["sft"]
        result = run("together", data, config(api, "together"), out)
        again = run("together", data, config(api, "together"), out)
        sft_creates = [
            r
            for r in api.calls("POST", "/v1/fine-tunes")
            if json.loads(r.body)["training_method"]["method"] == "sft"
        ]
        assert len(sft_creates) == 1  # the server saw one SFT create across three runs
        assert len(api.calls("POST", "/v1/fine-tunes")) == 2
        assert len(api.calls("POST", "/v1/files")) == 2  # no re-upload either
    assert result["sft"]["job_id"] == state["jobs"]["sft"] == again["sft"]["job_id"]
    # Changed inputs are new jobs.
    data[0].write_text(data[0].read_text() + data[0].read_text().splitlines()[0] + "\n")
    with FakeAPI() as api2:
        run("together", data, config(api2, "together"), out)
        assert len(api2.calls("POST", "/v1/fine-tunes")) == 2


def test_together_job_error_gives_the_server_message(
    tmp_path: Path, data: tuple[Path, Path]
) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        api.job_failures["sft"] = "CUDA out of memory at step 3"
        with pytest.raises(RemoteFinetuneError, match="status error: CUDA out of memory at step 3"):
            run("together", data, config(api, "together"), out)
        assert len(api.calls("POST", "/v1/fine-tunes")) == 1  # no DPO after a failed SFT
    rec = json.loads((out / "sft.json").read_text())
    assert rec["status"] == "error" and rec["error"] == "CUDA out of memory at step 3"
    assert not (out / "dpo.json").exists()


def test_openai_supervised_then_dpo_with_retry(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        api.fail("jobs", Fault(503, "overloaded"))  # the first create is refused, then retried
        result = run("openai", data, config(api, "openai"), out)
        uploads = api.calls("POST", "/v1/files")
        creates = [json.loads(r.body) for r in api.calls("POST", "/v1/fine_tuning/jobs")]
    assert len(uploads) == 2 and all(b"fine-tune" in u.body for u in uploads)
    assert data[0].read_bytes() in uploads[0].body
    assert len(creates) == 3 and creates[0] == creates[1]
    sft, dpo = creates[1], creates[2]
    assert sft["model"] == "gpt-4.1-mini" and sft["method"]["type"] == "supervised"
    assert dpo["method"] == {
        "type": "dpo",
        "dpo": {"hyperparameters": {"beta": 0.1, "n_epochs": 1}},
    }
    assert dpo["model"] == result["sft"]["model"]
    assert json.loads((out / "dpo.json").read_text())["model"] == result["model"]
    assert result["provider"] == "openai" and result["model"].startswith("ft:")


def test_openai_failed_job(tmp_path: Path, data: tuple[Path, Path]) -> None:
    with FakeAPI() as api:
        api.job_failures["dpo"] = "preference data has an empty output"
        with pytest.raises(RemoteFinetuneError, match="status failed: preference data has an"):
            run("openai", data, config(api, "openai"), tmp_path / "m")
    assert json.loads((tmp_path / "m" / "sft.json").read_text())["status"] == "succeeded"


@pytest.mark.parametrize(
    ("which", "row", "problem"),
    [
        ("sft", {"messages": [SYSTEM, USER, USER, GOOD]}, "two user messages in a row"),
        ("sft", {"messages": [SYSTEM, USER, GOOD], "weight": 1}, "Extra inputs"),
        (
            "pairs",
            {
                "input": {"messages": [SYSTEM, USER]},
                "preferred_output": [GOOD, GOOD],
                "non_preferred_output": [BAD],
            },
            "at most 1 item",
        ),
        (
            "pairs",
            {
                "input": {"messages": [SYSTEM, USER]},
                "preferred_output": [USER],
                "non_preferred_output": [BAD],
            },
            "must be assistant messages",
        ),
    ],
)
def test_invalid_rows_are_rejected_before_upload(
    tmp_path: Path, data: tuple[Path, Path], which: str, row: dict, problem: str
) -> None:
    target = data[0] if which == "sft" else data[1]
    with target.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    with FakeAPI() as api:
        with pytest.raises(RemoteFinetuneError, match=problem):
            run("together", data, config(api, "together"), tmp_path / "m")
        assert api.requests == []


def test_keys_stay_out_of_records(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        api.job_failures["sft"] = f"denied for key {TOGETHER_KEY}"
        with pytest.raises(RemoteFinetuneError) as err:
            run("together", data, config(api, "together"), out)
        assert TOGETHER_KEY in api.requests[0].headers["authorization"]
    assert TOGETHER_KEY not in str(err.value)
    for path in out.iterdir():
        assert TOGETHER_KEY not in path.read_text(), path


def test_remote_config_is_strict() -> None:
    with pytest.raises(ValueError):
        RemoteFinetuneConfig(epochs=3)
    params = parse_params({"finetune": {"backend": "together", "remote": {"n_epochs": 2}}})
    assert params.finetune.remote.n_epochs == 2
    with pytest.raises(ParamsError, match="finetune.remote.bogus"):
        parse_params({"finetune": {"remote": {"bogus": 1}}})


@pytest.mark.parametrize("backend", ["together", "openai"])
def test_backends_satisfy_the_protocol(backend: str) -> None:
    api = make_backend(backend, RemoteFinetuneConfig())  # builds the client; sends nothing
    assert isinstance(api, FinetuneBackend) and api.provider == backend
    assert api.secret == {"together": TOGETHER_KEY, "openai": OPENAI_KEY}[backend]
