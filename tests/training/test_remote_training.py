"""Remote fine-tuning (Together, OpenAI) against a real local HTTP server speaking their APIs:
SFT then DPO as separate phases, records, resume without a second job, failed jobs, local
validation, no key leaks."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import fake_key
from fake_api import FakeAPI, Fault
from rich.console import Console

from repo_agent.pipeline.params import ParamsError, parse_params
from repo_agent.runtime.tools import openai_tool_schemas
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import FinetuneBackend, RemoteFinetuneError
from repo_agent.training.remote.runner import (
    make_backend,
    run_remote_dpo,
    run_remote_sft,
)
from repo_agent.training.remote.state import STATE_FILE

OPENAI_KEY = fake_key("sk-test-", 21, 20)
TOGETHER_KEY = fake_key("together-test-", 22, 20)
SYSTEM = {"role": "system", "content": "You fix bugs."}
USER = {"role": "user", "content": "Task: fix binary_search"}
GOOD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_files","args":{}}'}
BAD = {"role": "assistant", "content": '{"type":"tool_call","name":"list_fils","args":{}}'}
BASE = {"together": "Qwen/Qwen2.5-7B-Instruct", "openai": "gpt-4.1-mini"}
CREATE = {"together": "/v1/fine-tunes", "openai": "/v1/fine_tuning/jobs"}
QUIET = Console(file=io.StringIO())


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
    """SFT into out/sft, then DPO from the SFT record it wrote into out/dpo, as the finetune@sft
    and finetune@dpo stages run them; the two records."""
    run_remote_sft(backend, data[0], BASE[backend], cfg, out / "sft", console=QUIET)
    sft = json.loads((out / "sft" / "sft.json").read_text())
    dpo = run_remote_dpo(backend, data[1], sft, 0.1, cfg, out / "dpo", console=QUIET)
    return {"sft": sft, "dpo": dpo}


def run_phase(
    which: str, backend: str, data: tuple[Path, Path], cfg: RemoteFinetuneConfig, out: Path
) -> None:
    """The phase that reads `which` file: SFT, or DPO from a finished SFT record."""
    if which == "sft":
        run_remote_sft(backend, data[0], BASE[backend], cfg, out, console=QUIET)
    else:
        sft = {"provider": backend, "job_id": "ft-1", "model": "ft:m"}
        run_remote_dpo(backend, data[1], sft, 0.1, cfg, out, console=QUIET)


def created(api: FakeAPI, backend: str) -> list[str]:
    """The methods of the jobs the server was asked to create, in order."""
    bodies = [json.loads(r.body) for r in api.calls("POST", CREATE[backend])]
    if backend == "together":
        return [b["training_method"]["method"] for b in bodies]
    return ["dpo" if b["method"]["type"] == "dpo" else "sft" for b in bodies]


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
        rec = json.loads((out / method / f"{method}.json").read_text())
        assert rec == result[method]
        assert rec["backend"] == rec["provider"] == "together" and rec["status"] == "completed"
        assert rec["model"].endswith(rec["job_id"]) and rec["checkpoints"] and rec["events"]
        state = json.loads((out / method / STATE_FILE).read_text())
        assert state["method"] == method and state["jobs"] == {method: rec["job_id"]}
        assert state["inputs_hash"] == rec["inputs_hash"]
    assert result["dpo"]["from_job"] == result["sft"]["job_id"]
    assert result["dpo"]["base_model"] == result["sft"]["base_model"]


def test_rerun_resumes_the_recorded_job(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        with pytest.raises(RemoteFinetuneError, match="rerun the stage to resume polling"):
            run("together", data, config(api, "together", timeout_s=0.001), out)
        state = json.loads((out / "sft" / STATE_FILE).read_text())
        assert list(state["jobs"]) == ["sft"] and not (out / "dpo").exists()
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
    assert result["dpo"]["job_id"] == again["dpo"]["job_id"]
    # Changed SFT inputs are a new SFT job, and so a new DPO job from it.
    data[0].write_text(data[0].read_text() + data[0].read_text().splitlines()[0] + "\n")
    with FakeAPI() as api2:
        fresh = run("together", data, config(api2, "together"), out)
        assert created(api2, "together") == ["sft", "dpo"]
    assert fresh["sft"]["inputs_hash"] != result["sft"]["inputs_hash"]
    assert json.loads((out / "dpo" / "dpo.json").read_text()) == fresh["dpo"]


def test_together_job_error_gives_the_server_message(
    tmp_path: Path, data: tuple[Path, Path]
) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        api.job_failures["sft"] = "CUDA out of memory at step 3"
        with pytest.raises(RemoteFinetuneError, match="status error: CUDA out of memory at step 3"):
            run("together", data, config(api, "together"), out)
        assert len(api.calls("POST", "/v1/fine-tunes")) == 1  # no DPO after a failed SFT
    rec = json.loads((out / "sft" / "sft.json").read_text())
    assert rec["status"] == "error" and rec["error"] == "CUDA out of memory at step 3"
    assert json.loads((out / "sft" / STATE_FILE).read_text())["jobs"] == {"sft": rec["job_id"]}
    assert not (out / "dpo").exists()


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
    assert json.loads((out / "dpo" / "dpo.json").read_text()) == result["dpo"]
    assert result["dpo"]["provider"] == "openai" and result["dpo"]["model"].startswith("ft:")


def test_openai_failed_job(tmp_path: Path, data: tuple[Path, Path]) -> None:
    with FakeAPI() as api:
        api.job_failures["dpo"] = "preference data has an empty output"
        with pytest.raises(RemoteFinetuneError, match="status failed: preference data has an"):
            run("openai", data, config(api, "openai"), tmp_path / "m")
    sft = json.loads((tmp_path / "m" / "sft" / "sft.json").read_text())
    dpo = json.loads((tmp_path / "m" / "dpo" / "dpo.json").read_text())
    assert sft["status"] == "succeeded" and dpo["status"] == "failed"
    assert dpo["error"] == "preference data has an empty output"
    assert dpo["from_model"] == sft["model"]


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
            run_phase(which, "together", data, config(api, "together"), tmp_path / "m")
        assert api.requests == []


def test_keys_stay_out_of_records(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        api.job_failures["sft"] = f"denied for key {TOGETHER_KEY}"
        with pytest.raises(RemoteFinetuneError) as err:
            run("together", data, config(api, "together"), out)
        assert TOGETHER_KEY in api.requests[0].headers["authorization"]
    assert TOGETHER_KEY not in str(err.value)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} == {"sft.json", STATE_FILE}
    for path in written:
        assert TOGETHER_KEY not in path.read_text(), path


@pytest.mark.parametrize("backend", ["together", "openai"])
def test_dpo_reruns_alone_on_new_pairs(
    tmp_path: Path, data: tuple[Path, Path], backend: str
) -> None:
    sft_dir, dpo_dir = tmp_path / "sft", tmp_path / "dpo"
    with FakeAPI() as api:
        cfg = config(api, backend)
        sft = run_remote_sft(backend, data[0], BASE[backend], cfg, sft_dir, console=QUIET)
        first = run_remote_dpo(backend, data[1], sft, 0.1, cfg, dpo_dir, console=QUIET)
        assert created(api, backend) == ["sft", "dpo"]
        n_requests = len(api.requests)
        sft_bytes = (sft_dir / "sft.json").read_bytes()
        # A rubric change: only the preference pairs differ. The DPO stage reads sft.json.
        data[1].write_text(data[1].read_text().splitlines()[0] + "\n", encoding="utf-8")
        recorded = json.loads(sft_bytes)
        second = run_remote_dpo(backend, data[1], recorded, 0.1, cfg, dpo_dir, console=QUIET)
        assert created(api, backend) == ["sft", "dpo", "dpo"]  # one new DPO job, no SFT job
        uploads = [r for r in api.requests[n_requests:] if r.method in ("POST", "PUT")]
        uploads = [r for r in uploads if r.path == "/v1/files" or r.path.startswith("/upload/")]
        assert uploads and all(data[0].read_bytes() not in r.body for r in uploads)
        assert sum(data[1].read_bytes() in r.body for r in uploads) == 1  # the new pairs
        assert len(api.calls("POST", "/v1/files")) == 3
    assert (sft_dir / "sft.json").read_bytes() == sft_bytes  # the SFT phase is untouched
    assert second["job_id"] != first["job_id"] and second["rows"] == 1
    assert second["from_job"] == sft["job_id"] and second["from_model"] == sft["model"]
    assert json.loads((dpo_dir / "dpo.json").read_text()) == second
    assert json.loads((dpo_dir / STATE_FILE).read_text())["jobs"] == {"dpo": second["job_id"]}


@pytest.mark.parametrize("backend", ["together", "openai"])
def test_sft_rerun_with_same_inputs_sends_no_create(
    tmp_path: Path, data: tuple[Path, Path], backend: str
) -> None:
    out = tmp_path / "sft"
    with FakeAPI() as api:
        first = run_remote_sft(
            backend, data[0], BASE[backend], config(api, backend), out, console=QUIET
        )
        n_requests = len(api.requests)
        # Operational settings (how we wait) are not inputs: still the same job.
        cfg = config(api, backend, poll_interval_s=0.02, timeout_s=60)
        again = run_remote_sft(backend, data[0], BASE[backend], cfg, out, console=QUIET)
        later = api.requests[n_requests:]
        assert later and all(r.method == "GET" for r in later)  # polls only: no upload, no create
        assert created(api, backend) == ["sft"]
    assert again == first
    # Another base model is another job.
    with FakeAPI() as api2:
        cfg = config(api2, backend)
        other = run_remote_sft(backend, data[0], "other/model", cfg, out, console=QUIET)
        assert created(api2, backend) == ["sft"] and other["base_model"] == "other/model"


@pytest.mark.parametrize(
    ("sft", "problem"),
    [
        ({"provider": "openai", "job_id": "ft-1", "model": "ft:m"}, "for backend 'openai'"),
        ({"backend": "openai", "job_id": "ft-1", "model": "ft:m"}, "not 'together'"),
        ({"job_id": "ft-1", "model": "user/m"}, "for backend None"),
        ({"provider": "together", "job_id": "ft-1", "model": None}, "has no model"),
        ({"provider": "together", "job_id": "ft-1", "status": "error"}, "status 'error'"),
        ({"provider": "together", "model": "user/m"}, "has no job_id"),
    ],
)
def test_dpo_needs_a_finished_sft_of_the_same_backend(
    tmp_path: Path, data: tuple[Path, Path], sft: dict, problem: str
) -> None:
    with FakeAPI() as api:
        cfg = config(api, "together")
        with pytest.raises(RemoteFinetuneError, match=problem):
            run_remote_dpo("together", data[1], sft, 0.1, cfg, tmp_path / "dpo", console=QUIET)
        assert api.requests == []
    assert not (tmp_path / "dpo").exists()


def test_phases_refuse_to_share_a_dir(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "models"
    with FakeAPI() as api:
        cfg = config(api, "together")
        sft = run_remote_sft("together", data[0], BASE["together"], cfg, out, console=QUIET)
        n_requests = len(api.requests)
        with pytest.raises(RemoteFinetuneError, match="holds the sft phase"):
            run_remote_dpo("together", data[1], sft, 0.1, cfg, out, console=QUIET)
        assert len(api.requests) == n_requests
    assert json.loads((out / STATE_FILE).read_text())["jobs"] == {"sft": sft["job_id"]}


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


# --- native-protocol rows upload with their tools ---

TOOLS = openai_tool_schemas()
CALL = {"id": "c1", "type": "function", "function": {"name": "list_files", "arguments": "{}"}}
NATIVE_GOOD = {"role": "assistant", "content": "", "tool_calls": [CALL]}
UNKNOWN = {"id": "c2", "type": "function", "function": {"name": "list_fils", "arguments": "{}"}}
NATIVE_BAD = {"role": "assistant", "content": "", "tool_calls": [UNKNOWN]}


@pytest.fixture
def native_data(tmp_path: Path) -> tuple[Path, Path]:
    """Rows as extract and pair write them under the native protocol: SFT rows with `tools` next
    to `messages`, preference rows with `tools` inside `input`."""
    sft = {"messages": [SYSTEM, USER, NATIVE_GOOD], "tools": TOOLS}
    pair = {
        "input": {"messages": [SYSTEM, USER], "tools": TOOLS},
        "preferred_output": [NATIVE_GOOD],
        "non_preferred_output": [NATIVE_BAD],
    }
    return (
        write_jsonl(tmp_path / "sft.jsonl", [sft] * 2),
        write_jsonl(tmp_path / "pairs.jsonl", [pair] * 2),
    )


@pytest.mark.parametrize("backend", ["together", "openai"])
def test_native_rows_are_uploaded_with_their_tools(
    tmp_path: Path, native_data: tuple[Path, Path], backend: str
) -> None:
    with FakeAPI() as api:
        result = run(backend, native_data, config(api, backend), tmp_path / "m")
        uploaded = {
            phase: api.files[result[phase]["training_file"]]["content"] for phase in ("sft", "dpo")
        }
    assert uploaded["sft"] == native_data[0].read_bytes()
    assert uploaded["dpo"] == native_data[1].read_bytes()
    for line in uploaded["sft"].decode().splitlines():
        assert json.loads(line)["tools"] == TOOLS
    for line in uploaded["dpo"].decode().splitlines():
        row = json.loads(line)
        assert row["input"]["tools"] == TOOLS and "tools" not in row


@pytest.mark.parametrize("backend", ["together", "openai"])
@pytest.mark.parametrize(
    ("which", "change", "problem"),
    [
        ("sft", lambda r: r.update(tools=[]), "at least 1 item"),
        ("sft", lambda r: r["tools"][0].update(type="tool"), "'function'"),
        ("sft", lambda r: r["tools"][1]["function"].pop("name"), "tools.1.function.name"),
        ("pairs", lambda r: r.update(tools=r["input"].pop("tools")), "tools inside input"),
        (
            "pairs",
            lambda r: r["input"]["tools"][0]["function"].update(parameters={"type": "array"}),
            '"type": "object"',
        ),
    ],
    ids=["sft-empty", "sft-type", "sft-no-name", "pairs-top-level", "pairs-parameters"],
)
def test_malformed_tools_are_rejected_before_upload(
    tmp_path: Path,
    native_data: tuple[Path, Path],
    backend: str,
    which: str,
    change: Callable[[dict], object],
    problem: str,
) -> None:
    target = native_data[0] if which == "sft" else native_data[1]
    row = json.loads(target.read_text().splitlines()[0])
    change(row)
    with target.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    with FakeAPI() as api:
        with pytest.raises(RemoteFinetuneError) as err:
            run_phase(which, backend, native_data, config(api, backend), tmp_path / "m")
        assert api.requests == []
    assert f"{target.name}:3: invalid" in str(err.value) and problem in str(err.value)
