"""`finetune.remote.serve: endpoint`: a Together dedicated endpoint for a fine-tuned model,
open only while an eval uses it. It bills by the minute, so `dedicated_endpoint` refuses to
start without `allow_endpoint`, prints the cost bound first, stops the endpoint once it has run
`max_endpoint_minutes`, and always stops and deletes it on the way out (errors and Ctrl-C too).

Together's v1 endpoints API (POST/GET/PATCH/DELETE /v1/endpoints) is called through the SDK
client's own request methods: SDK 3.1's `client.endpoints` speaks only the project-scoped v2 API.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from repo_agent.files import write_json
from repo_agent.retries import describe_error
from repo_agent.secrets import scrub
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import RemoteFinetuneError

SERVING = "STARTED"
FAILED = {"ERROR", "FAILED", "STOPPED"}
STATE_FORMAT = "repo-agent.endpoint/1"


class EndpointError(RemoteFinetuneError):
    """A dedicated endpoint was refused, failed to start, or ran past its time limit."""


def cost_line(config: RemoteFinetuneConfig) -> str:
    """The most the endpoint can cost, stated with what the estimate assumes."""
    hours = config.max_endpoint_minutes / 60
    return (
        f"dedicated endpoint on {config.endpoint_hardware}: at most "
        f"{config.max_endpoint_minutes:g} min x ${config.endpoint_price_per_hour:g}/h = "
        f"${hours * config.endpoint_price_per_hour:.2f} (assumes finetune.remote."
        "endpoint_price_per_hour is the price of that hardware, 1 replica, billed per minute "
        "from creation to deletion, start-up included)"
    )


def check_allowed(config: RemoteFinetuneConfig) -> None:
    """The opt-in, checked before anything is created."""
    if not config.allow_endpoint:
        raise EndpointError(
            "serve: endpoint starts a dedicated endpoint that bills by the minute; set "
            "finetune.remote.allow_endpoint: true to allow it (or use serve: name | download)"
        )


class EndpointClient:
    """Together's v1 dedicated-endpoint routes through the SDK client."""

    def __init__(self, config: RemoteFinetuneConfig) -> None:
        from together import Together

        from repo_agent.secrets import api_key_from_env

        self.secret = api_key_from_env(config.api_key_env or "TOGETHER_API_KEY") or ""
        self.client = Together(
            api_key=self.secret,
            base_url=config.base_url or None,
            timeout=config.request_timeout_s,
            max_retries=0,  # a retried create after a timeout could start a second endpoint
        )

    def create(self, model: str, hardware: str, display_name: str) -> dict[str, Any]:
        body = {
            "model": model,
            "hardware": hardware,
            "display_name": display_name,
            "autoscaling": {"min_replicas": 1, "max_replicas": 1},
        }
        return self.client.post("/v1/endpoints", cast_to=object, body=body)  # type: ignore[return-value]

    def get(self, endpoint_id: str) -> dict[str, Any]:
        return self.client.get(f"/v1/endpoints/{endpoint_id}", cast_to=object)  # type: ignore[return-value]

    def stop(self, endpoint_id: str) -> None:
        self.client.patch(f"/v1/endpoints/{endpoint_id}", cast_to=object, body={"state": "STOPPED"})

    def delete(self, endpoint_id: str) -> None:
        self.client.delete(f"/v1/endpoints/{endpoint_id}", cast_to=object)


@contextmanager
def dedicated_endpoint(
    model: str,
    config: RemoteFinetuneConfig,
    state_file: Path,
    *,
    poll_interval_s: float = 10.0,
    console: Console | None = None,
) -> Iterator[str]:
    """Serve `model` on a new dedicated endpoint; yields the name to send as `model` in chat
    requests. The endpoint's id is kept in `state_file` while it exists, so a run killed
    outright leaves it on record and the next run deletes it before starting a new one."""
    check_allowed(config)
    out = console or Console(stderr=True)
    api = EndpointClient(config)
    _delete_leftover(api, state_file, out)
    out.print(cost_line(config))
    started = time.monotonic()
    display = f"repo-agent eval {model}"
    ep = _call(
        api, "creating the endpoint", lambda: api.create(model, config.endpoint_hardware, display)
    )
    endpoint_id = str(ep["id"])
    write_json(state_file, {"format": STATE_FORMAT, "id": endpoint_id, "model": model})
    limit_s = config.max_endpoint_minutes * 60
    expired = threading.Event()

    def stop_on_time() -> None:  # stops the billing even while the eval is mid-request
        expired.set()
        out.print(f"endpoint {endpoint_id}: max_endpoint_minutes reached, stopping it")
        _end(api, "stop", endpoint_id, out)

    watchdog = threading.Timer(limit_s, stop_on_time)
    watchdog.daemon = True
    watchdog.start()
    try:
        name = _wait_serving(api, ep, config, poll_interval_s, expired, out)
        out.print(f"endpoint {endpoint_id} serves {name}")
        yield name
    except Exception as exc:
        if expired.is_set():
            raise EndpointError(_expired(endpoint_id, config)) from exc
        raise
    finally:
        watchdog.cancel()
        _end(api, "stop", endpoint_id, out)  # stopped first: billing ends even if the delete fails
        if _end(api, "delete", endpoint_id, out):
            state_file.unlink(missing_ok=True)
        out.print(f"endpoint {endpoint_id}: ran {(time.monotonic() - started) / 60:.1f} min")
    if expired.is_set():
        raise EndpointError(_expired(endpoint_id, config))


def _expired(endpoint_id: str, config: RemoteFinetuneConfig) -> str:
    return (
        f"endpoint {endpoint_id} ran past finetune.remote.max_endpoint_minutes "
        f"({config.max_endpoint_minutes:g}) and was stopped; raise it or evaluate fewer runs"
    )


def _call(api: EndpointClient, what: str, fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:
        text = scrub(describe_error(exc), [api.secret])
        raise EndpointError(f"together: {what} failed: {text}") from None


def _wait_serving(
    api: EndpointClient,
    ep: dict[str, Any],
    config: RemoteFinetuneConfig,
    poll_interval_s: float,
    expired: threading.Event,
    out: Console,
) -> str:
    deadline = time.monotonic() + config.endpoint_start_timeout_s
    endpoint_id, state = str(ep["id"]), str(ep.get("state"))
    while state != SERVING:
        if expired.is_set():
            raise EndpointError(_expired(endpoint_id, config))
        if state in FAILED:
            raise EndpointError(f"endpoint {endpoint_id} is {state} instead of starting")
        if time.monotonic() > deadline:
            raise EndpointError(
                f"endpoint {endpoint_id} still {state} after endpoint_start_timeout_s "
                f"({config.endpoint_start_timeout_s:g}); it was deleted, try other hardware"
            )
        time.sleep(poll_interval_s)
        ep = _call(api, f"status of endpoint {endpoint_id}", lambda: api.get(endpoint_id))
        state = str(ep.get("state"))
        out.print(f"endpoint {endpoint_id}: {state}")
    return str(ep["name"])


def _end(
    api: EndpointClient, verb: Literal["stop", "delete"], endpoint_id: str, out: Console
) -> bool:
    """Stop or delete the endpoint: True, or False with a warning to do it by hand (it may
    still bill)."""
    try:
        (api.stop if verb == "stop" else api.delete)(endpoint_id)
        return True
    except Exception as exc:
        why = scrub(describe_error(exc), [api.secret])
        _warn(out, f"could not {verb} endpoint {endpoint_id}: {why}; {verb} it yourself")
        return False


def _warn(out: Console, text: str) -> None:
    out.print(text, style="bold red", markup=False, highlight=False)


def _delete_leftover(api: EndpointClient, state_file: Path, out: Console) -> None:
    """An endpoint a killed run left behind may still bill: delete it first."""
    if not state_file.is_file():
        return
    leftover = json.loads(state_file.read_text(encoding="utf-8")).get("id")
    if leftover:
        out.print(f"endpoint {leftover}: left by an earlier run, deleting it")
        if not _end(api, "delete", leftover, out):
            raise EndpointError(
                f"endpoint {leftover} from an earlier run could not be deleted; delete it "
                f"(together endpoints delete {leftover}), then remove {state_file}"
            )
    state_file.unlink()
