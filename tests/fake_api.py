"""A real local HTTP server that speaks the parts of the OpenAI and Together APIs our SDK calls
make: chat completions (JSON content and tool_calls), file uploads (OpenAI multipart; Together's
302 signed-URL flow with PUT and preprocess), fine-tuning jobs with events (loss lines included)
and checkpoints, Together's checkpoint download and its v1 dedicated endpoints.

It is scriptable: queued faults per route (status, body, delay, a malformed body), injected
latency, a chat responder, job outcomes. Every request is recorded (headers included) so tests
can check what the SDKs sent and that no key leaked anywhere else.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from repo_agent.policies.oracle import OraclePolicy
from repo_agent.records import Message
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import action_message, goal_message
from repo_agent.runtime.task import Task

Responder = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Fault:
    """One scripted misbehaviour: an error status, a delay (for timeouts), or a raw body."""

    status: int = 500
    message: str = "internal error"
    delay_s: float = 0.0
    raw: bytes | None = None  # sent as-is with `content_type`
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    echo_auth: bool = False  # put the request's Authorization header in the message


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Job:
    id: str
    provider: str  # openai | together
    method: str  # sft | dpo
    body: dict[str, Any]
    statuses: list[str]
    error: str | None = None
    polls: int = 0
    created_at: int = field(default_factory=lambda: int(time.time()))


TOGETHER_STATUSES = ["pending", "queued", "running", "completed"]
ENDPOINT_STATES = ["PENDING", "STARTING", "STARTED"]  # one step per GET
TRAIN_STEPS = 4  # loss lines in a finished job's events, loss 2.0 falling by 0.25 a step
OPENAI_STATUSES = ["validating_files", "queued", "running", "succeeded"]

MODEL_LIMITS = {
    "model_name": "Qwen/Qwen2.5-7B-Instruct",
    "default_gradient_accumulation_steps": 1,
    "lora_training": {
        "default_rank": 16,
        "max_batch_size": 64,
        "max_batch_size_dpo": 32,
        "max_rank": 64,
        "min_batch_size": 8,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
    },
    "full_training": {"max_batch_size": 32, "max_batch_size_dpo": 16, "min_batch_size": 8},
    "max_learning_rate": 1.0,
    "min_learning_rate": 0.0,
    "max_num_checkpoints": 10,
    "max_num_epochs": 20,
    "max_num_evals": 10,
    "max_seq_length_dpo": 8192,
    "max_seq_length_sft": 8192,
    "merge_output_lora": True,
    "min_max_seq_length": 512,
    "supports_full_training": True,
    "supports_reasoning": False,
    "supports_tools": True,
    "supports_vision": False,
}


def final_responder(body: dict[str, Any]) -> dict[str, Any]:
    """Always answers a json-protocol final action."""
    return {"role": "assistant", "content": '{"type":"final","summary":"done"}'}


def oracle_responder(tasks: list[Task], protocol: ToolProtocol) -> Responder:
    """A server-side brain: answers each conversation with the offline oracle's next action,
    in the protocol's wire shape (JSON content, or a native tool call)."""
    oracle = OraclePolicy(tasks, protocol=protocol)
    by_goal = {goal_message(t.spec.goal): t for t in tasks}

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        messages = [Message.model_validate(m) for m in body["messages"]]
        task = by_goal[messages[1].content or ""]
        req = PolicyRequest(task_id=task.id, run_id="server", messages=messages)
        action = oracle.next_action(req)
        return action_message(action, protocol, call_id=f"call_{len(messages)}").dump()

    return respond


class InvalidRequest(Exception):
    """A request the server refuses with 400 (e.g. a schema strict mode does not accept)."""


STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "anyOf", "enum", "description",
}  # fmt: skip


def check_strict_schema(schema: dict[str, Any], root: bool = True) -> None:
    """The rules of OpenAI's strict structured outputs that our schemas meet: an object at the
    root (no root anyOf), every object closed with every property required (optional ones are
    nullable), and no keyword outside the supported subset (no maxLength, const, minimum)."""
    if root and (schema.get("type") != "object" or "anyOf" in schema):
        raise InvalidRequest("strict: the root must be an object, not anyOf")
    unknown = set(schema) - STRICT_KEYWORDS
    if unknown:
        raise InvalidRequest(f"strict: unsupported keywords {sorted(unknown)}")
    if schema.get("type") == "object":
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            raise InvalidRequest("strict: additionalProperties must be false")
        if schema.get("required") != list(props):
            raise InvalidRequest(f"strict: every property must be required: {list(props)}")
        for sub in props.values():
            check_strict_schema(sub, root=False)
    for sub in schema.get("anyOf", []):
        check_strict_schema(sub, root=False)


def strict_responder(tasks: list[Task], protocol: ToolProtocol) -> Responder:
    """A strict structured-outputs server with the oracle as its brain. It checks that the
    request's schema is one strict mode accepts, answers in the shape that schema forces (json:
    the action under "action", every optional argument null; native: a strict function call,
    `final` to finish), and validates its own reply against the request's schema."""
    import jsonschema

    from repo_agent.records import FinalAction
    from repo_agent.runtime.tools import THOUGHT, TOOLS

    oracle = OraclePolicy(tasks, protocol=protocol)
    by_goal = {goal_message(t.spec.goal): t for t in tasks}

    def full_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {a.name: args.get(a.name) for a in (*TOOLS[name].args, THOUGHT)}

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        messages = [Message.model_validate(m) for m in body["messages"]]
        task = by_goal[messages[1].content or ""]
        action = oracle.next_action(PolicyRequest(task_id=task.id, run_id="s", messages=messages))
        try:
            if protocol == "json":
                fmt = body.get("response_format") or {}
                if fmt.get("type") != "json_schema" or fmt["json_schema"].get("strict") is not True:
                    raise InvalidRequest(f"expected a strict json_schema, got {fmt}")
                schema = fmt["json_schema"]["schema"]
                check_strict_schema(schema)
                if isinstance(action, FinalAction):
                    inner: dict[str, Any] = {"type": "final", "summary": action.summary}
                else:
                    args = full_args(action.name, action.args)
                    inner = {"type": "tool_call", "name": action.name, "args": args}
                reply = {"action": inner}
                jsonschema.validate(reply, schema)
                return {"role": "assistant", "content": json.dumps(reply)}
            if body.get("tool_choice") != "required":
                raise InvalidRequest(
                    f"expected tool_choice required, got {body.get('tool_choice')}"
                )
            functions = {t["function"]["name"]: t["function"] for t in body["tools"]}
            for fn in functions.values():
                if fn.get("strict") is not True:
                    raise InvalidRequest(f"{fn['name']}: not strict")
                check_strict_schema(fn["parameters"])
            if isinstance(action, FinalAction):
                name, args = "final", {"summary": action.summary}
            else:
                name, args = action.name, full_args(action.name, action.args)
            jsonschema.validate(args, functions[name]["parameters"])
        except jsonschema.ValidationError as exc:
            raise InvalidRequest(f"reply does not fit the schema: {exc.message}") from exc
        call = {"id": f"call_{len(messages)}", "type": "function"}
        call["function"] = {"name": name, "arguments": json.dumps(args)}
        return {"role": "assistant", "content": None, "tool_calls": [call]}

    return respond


class FakeAPI:
    """Start with `with FakeAPI() as api:`; `api.url` is the root (`/v1` paths below it)."""

    def __init__(self, responder: Responder = final_responder) -> None:
        self.responder = responder
        self.latency_s = 0.0
        self.usage = (100, 20)  # prompt, completion tokens per chat answer
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.file_polls_before_ready = 1
        self.job_failures: dict[str, str] = {}  # method -> server error message
        self.requests: list[Recorded] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, Job] = {}
        self.checkpoint_archive = b""  # what GET /v1/finetune/download answers
        self.downloads: list[dict[str, str]] = []  # the query of each download
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.endpoint_log: list[tuple[str, str]] = []  # (create|get|stop|delete, endpoint id)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # clients hang up
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, route: str, *faults: Fault) -> None:
        """Queue faults for a route (`chat`, `files`, `jobs`, …): each answers one request."""
        self.faults[route].extend(faults)

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{next(self._ids):04d}"

    # --- routes ---------------------------------------------------------------------------

    def route(self, h: _Handler) -> tuple[int, Any, dict[str, str]] | None:
        path, method = h.path.split("?", 1)[0], h.command
        key = _route_key(path)
        if self.faults[key]:
            fault = self.faults[key].popleft()
            if fault.delay_s:
                time.sleep(fault.delay_s)
                if fault.status == 0:  # a pure delay, then the normal answer
                    return self._answer(h, method, path)
            return self._fault(h, fault)
        if self.latency_s:
            time.sleep(self.latency_s)
        return self._answer(h, method, path)

    def _fault(self, h: _Handler, fault: Fault) -> tuple[int, Any, dict[str, str]]:
        if fault.raw is not None:
            return fault.status, fault.raw, {"Content-Type": fault.content_type, **fault.headers}
        message = fault.message
        if fault.echo_auth:
            message += f" (got {h.headers.get('Authorization', '').removeprefix('Bearer ')})"
        body = {"error": {"message": message, "type": "server_error", "code": fault.status}}
        return fault.status, body, fault.headers

    def _answer(self, h: _Handler, method: str, path: str) -> tuple[int, Any, dict[str, str]]:
        m = re.fullmatch
        if method == "POST" and path == "/v1/chat/completions":
            try:
                return 200, self._chat(json.loads(h.body)), {}
            except InvalidRequest as exc:  # as a real server answers a schema it rejects
                return 400, {"error": {"message": str(exc), "type": "invalid_request_error"}}, {}
        if method == "POST" and path == "/v1/files":
            return self._file_create(h)
        if method == "PUT" and (hit := m(r"/upload/([\w.-]+)", path)):
            self.files[hit.group(1)]["content"] = h.body
            return 200, {"ok": True}, {}
        if method == "POST" and (hit := m(r"/v1/files/([\w.-]+)/preprocess", path)):
            return 200, self._together_file(hit.group(1)), {}
        if method == "GET" and (hit := m(r"/v1/files/([\w.-]+)", path)):
            return self._file_get(hit.group(1))
        if method == "GET" and path == "/v1/fine-tunes/models/limits":
            return 200, MODEL_LIMITS, {}
        if method == "POST" and path == "/v1/fine-tunes/estimate-price":
            return (
                200,
                {
                    "estimation_available": True,
                    "allowed_to_proceed": True,
                    "estimated_total_price": 1.5,
                    "estimated_train_token_count": 1000,
                },
                {},
            )
        if method == "POST" and path == "/v1/fine-tunes":
            return 200, self._job_create("together", json.loads(h.body)), {}
        if method == "POST" and path == "/v1/fine_tuning/jobs":
            return 200, self._job_create("openai", json.loads(h.body)), {}
        if method == "GET" and path == "/v1/finetune/download":
            return self._download(h)
        if path.startswith("/v1/endpoints"):
            return self._endpoint(method, path, h.body)
        if method == "GET" and (hit := m(r"/v1/(fine-tunes|fine_tuning/jobs)/([\w.-]+)", path)):
            return self._job_get(hit.group(2))
        if method == "GET" and (
            hit := m(r"/v1/(?:fine-tunes|fine_tuning/jobs)/([\w.-]+)/(events|checkpoints)", path)
        ):
            return self._job_list(hit.group(1), hit.group(2))
        return 404, {"error": {"message": f"no route {method} {path}"}}, {}

    def _download(self, h: _Handler) -> tuple[int, Any, dict[str, str]]:
        query = dict(urllib.parse.parse_qsl(h.path.partition("?")[2]))
        self.downloads.append(query)
        job = self.jobs.get(query.get("ft_id", ""))
        if job is None or self._job_status(job) != "completed" or not self.checkpoint_archive:
            return 400, {"error": {"message": "job is not downloadable"}}, {}
        return 200, self.checkpoint_archive, {"Content-Type": "application/octet-stream"}

    def _endpoint(self, method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        """Together's v1 dedicated endpoints: create, get (the state advances one step per
        get), PATCH {"state": "STOPPED"} and delete, each logged in `endpoint_log`."""
        endpoint_id = path.removeprefix("/v1/endpoints").strip("/")
        if method == "POST" and not endpoint_id:
            req = json.loads(body)
            ep = {
                "object": "endpoint",
                "id": self.new_id("endpoint"),
                "model": req["model"],
                "hardware": req["hardware"],
                "display_name": req.get("display_name"),
                "type": "dedicated",
                "owner": "user",
                "state": ENDPOINT_STATES[0],
                "autoscaling": req["autoscaling"],
                "created_at": "2025-01-01T00:00:00Z",
            }
            ep["name"] = f"user/{req['model'].rsplit('/', 1)[-1]}-{ep['id']}"
            self.endpoints[ep["id"]] = ep
            self.endpoint_log.append(("create", ep["id"]))
            return 200, ep, {}
        ep = self.endpoints.get(endpoint_id)
        if ep is None:
            return 404, {"error": {"message": f"no endpoint {endpoint_id}"}}, {}
        if method == "GET":
            self.endpoint_log.append(("get", endpoint_id))
            if ep["state"] in ENDPOINT_STATES[:-1]:
                ep["state"] = ENDPOINT_STATES[ENDPOINT_STATES.index(ep["state"]) + 1]
            return 200, ep, {}
        if method == "PATCH":
            ep["state"] = json.loads(body).get("state", ep["state"])
            self.endpoint_log.append(
                ("stop" if ep["state"] == "STOPPED" else "update", endpoint_id)
            )
            return 200, ep, {}
        if method == "DELETE":
            del self.endpoints[endpoint_id]
            self.endpoint_log.append(("delete", endpoint_id))
            return 200, {}, {}
        return 405, {"error": {"message": f"{method} {path}"}}, {}

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        message = dict(self.responder(body))
        finish = message.pop("finish_reason", None) or (
            "tool_calls" if message.get("tool_calls") else "stop"
        )
        prompt, completion = self.usage
        return {
            "id": self.new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "prompt": [],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def _file_create(self, h: _Handler) -> tuple[int, Any, dict[str, str]]:
        fields, files = _multipart(h.headers.get("Content-Type", ""), h.body)
        if files:  # OpenAI: the file is in the form
            file_id = self.new_id("file")
            name, content = next(iter(files.values()))
            self.files[file_id] = {
                "provider": "openai",
                "content": content,
                "name": name,
                "purpose": fields.get("purpose", ""),
                "polls": 0,
            }
            return 200, self._openai_file(file_id), {}
        file_id = self.new_id("file")  # Together: a signed URL to PUT the bytes to
        self.files[file_id] = {
            "provider": "together",
            "content": b"",
            "polls": 0,
            "name": fields.get("file_name", ""),
            "purpose": fields.get("purpose", ""),
        }
        return 302, b"", {"Location": f"{self.url}/upload/{file_id}", "X-Together-File-Id": file_id}

    def _file_get(self, file_id: str) -> tuple[int, Any, dict[str, str]]:
        if file_id not in self.files:
            return 404, {"error": {"message": f"no file {file_id}"}}, {}
        self.files[file_id]["polls"] += 1
        if self.files[file_id]["provider"] == "openai":
            return 200, self._openai_file(file_id), {}
        return 200, self._together_file(file_id), {}

    def _file_valid(self, file_id: str) -> bool:
        try:
            lines = self.files[file_id]["content"].decode().splitlines()
            return bool(lines) and all(isinstance(json.loads(x), dict) for x in lines if x.strip())
        except ValueError:
            return False

    def _openai_file(self, file_id: str) -> dict[str, Any]:
        f = self.files[file_id]
        status = "uploaded"
        if f["polls"] >= self.file_polls_before_ready:
            status = "processed" if self._file_valid(file_id) else "error"
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(f["content"]),
            "created_at": 0,
            "filename": f["name"],
            "purpose": "fine-tune",
            "status": status,
            "status_details": None if status != "error" else "lines are not JSON objects",
        }

    def _together_file(self, file_id: str) -> dict[str, Any]:
        f = self.files[file_id]
        status = "PENDING"
        if f["polls"] >= self.file_polls_before_ready:
            status = "COMPLETED" if self._file_valid(file_id) else "INVALID_FORMAT"
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(f["content"]),
            "created_at": 0,
            "filename": f["name"],
            "FileType": "jsonl",
            "purpose": "fine-tune",
            "processing_status": status,
        }

    def _job_create(self, provider: str, body: dict[str, Any]) -> dict[str, Any]:
        if provider == "together":
            method = body.get("training_method", {}).get("method", "sft")
            statuses = TOGETHER_STATUSES
        else:
            method = "dpo" if body.get("method", {}).get("type") == "dpo" else "sft"
            statuses = OPENAI_STATUSES
        job = Job(
            self.new_id("ft"),
            provider,
            method,
            body,
            list(statuses),
            error=self.job_failures.get(method),
        )
        if job.error:
            job.statuses[-1] = "error" if provider == "together" else "failed"
        self.jobs[job.id] = job
        return self._job_json(job, created=True)

    def _job_status(self, job: Job) -> str:
        return job.statuses[min(job.polls, len(job.statuses) - 1)]

    def _job_get(self, job_id: str) -> tuple[int, Any, dict[str, str]]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": {"message": f"no job {job_id}"}}, {}
        job.polls += 1
        return 200, self._job_json(job), {}

    def _output_model(self, job: Job) -> str:
        if job.provider == "together":
            return f"user/Qwen2.5-7B-Instruct-repo-agent-{job.method}-{job.id}"
        return f"ft:gpt-4.1-mini:org:repo-agent-{job.method}:{job.id}"

    def _job_json(self, job: Job, created: bool = False) -> dict[str, Any]:
        status = self._job_status(job)
        if job.provider == "together":
            data = {
                "id": job.id,
                "status": status,
                "user_id": "user",
                "created_at": "2025-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z",
                "model": job.body.get("model"),
                "from_checkpoint": job.body.get("from_checkpoint"),
                "training_file": job.body.get("training_file"),
                "adapter_output_name": None,
                "model_output_name": self._output_model(job),
            }
            return data
        done = status == "succeeded"
        return {
            "id": job.id,
            "object": "fine_tuning.job",
            "created_at": job.created_at,
            "model": job.body["model"],
            "organization_id": "org",
            "result_files": [],
            "seed": 0,
            "status": status,
            "training_file": job.body["training_file"],
            "hyperparameters": {"n_epochs": "auto"},
            "method": job.body.get("method"),
            "fine_tuned_model": self._output_model(job) if done else None,
            "error": {"code": "invalid_data", "message": job.error} if status == "failed" else None,
        }

    def _job_list(self, job_id: str, what: str) -> tuple[int, Any, dict[str, str]]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": {"message": f"no job {job_id}"}}, {}
        status = self._job_status(job)
        if what == "events":
            done = status in ("completed", "succeeded")
            losses = [(n, 2.0 - 0.25 * n) for n in range(1, TRAIN_STEPS + 1)] if done else []
            if job.provider == "together":
                events = [("job_start", "info", "Job started", None)]
                events += [
                    ("epoch_complete", "info", f"Step {n}/{TRAIN_STEPS}: loss {loss:.4f}", n)
                    for n, loss in losses
                ]
                if job.error and status == "error":
                    events.append(("job_error", "error", job.error, None))
                elif done:
                    events.append(("job_complete", "info", "Job finished", None))
                data = [
                    {
                        "object": "fine-tune-event",
                        "created_at": "2025-01-01T00:00:00Z",
                        "type": t,
                        "level": lv,
                        "message": msg,
                        **({"step": step, "total_steps": TRAIN_STEPS} if step else {}),
                    }
                    for t, lv, msg, step in events
                ]
                return 200, {"data": data}, {}
            rows: list[dict[str, Any]] = [
                {"type": "message", "level": "info", "message": "Job started"}
            ]
            rows += [
                {
                    "type": "metrics",
                    "level": "info",
                    "message": f"Step {n}/{TRAIN_STEPS}: training loss={loss:.4f}",
                    "data": {
                        "step": n,
                        "train_loss": loss,
                        "train_mean_token_accuracy": 0.5 + 0.1 * n,
                        "total_steps": TRAIN_STEPS,
                    },
                }
                for n, loss in losses
            ]
            if job.error and status == "failed":
                rows.append({"type": "message", "level": "error", "message": job.error})
            elif done:
                rows.append({"type": "message", "level": "info", "message": "Job finished"})
            data = [  # OpenAI lists the newest event first
                {"id": f"ev-{i}", "object": "fine_tuning.job.event", "created_at": i, **row}
                for i, row in reversed(list(enumerate(rows)))
            ]
            return 200, {"object": "list", "data": data, "has_more": False}, {}
        done = status in ("completed", "succeeded")
        if job.provider == "together":
            data = (
                [
                    {
                        "checkpoint_type": "Final",
                        "created_at": "2025-01-01T00:00:00Z",
                        "path": f"s3://ckpt/{job.id}/final",
                        "step": 10,
                    }
                ]
                if done
                else []
            )
            return 200, {"data": data}, {}
        data = [
            {
                "id": f"ckpt-{job.id}",
                "object": "fine_tuning.job.checkpoint",
                "created_at": 0,
                "fine_tuned_model_checkpoint": self._output_model(job) + ":ckpt-step-10",
                "fine_tuning_job_id": job.id,
                "metrics": {"train_loss": 0.5},
                "step_number": 10,
            }
        ]
        return 200, {"object": "list", "data": data if done else [], "has_more": False}, {}


def _route_key(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "chat"
    if path.startswith("/upload/"):
        return "upload"
    if "/files" in path:
        return "files"
    if path.startswith("/v1/endpoints"):
        return "endpoints"
    return "jobs"


def _multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """(form fields, files as name -> (filename, bytes)) of a multipart/form-data body."""
    if not content_type.startswith("multipart/form-data"):
        return {}, {}
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    msg = parser.parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename:
            files[str(name)] = (filename, payload)
        else:
            fields[str(name)] = payload.decode()
    return fields, files


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each answer waits ~40 ms for a delayed ACK
    api: FakeAPI
    body: bytes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        self.body = self._read_body()
        with self.api._lock:
            self.api.requests.append(
                Recorded(
                    self.command,
                    self.path.split("?", 1)[0],
                    {k.lower(): v for k, v in self.headers.items()},
                    self.body,
                )
            )
        status, payload, headers = self.api.route(self) or (500, b"", {})
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        if not isinstance(payload, bytes):
            self.send_header("Content-Type", "application/json")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def _make_handler(api: FakeAPI) -> type[_Handler]:
    return type("BoundHandler", (_Handler,), {"api": api})
