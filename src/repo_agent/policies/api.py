"""Shared machinery for API policies: bounded concurrency, retries with backoff and jitter, a
persistent response cache, token and cost accounting, and keeping API keys out of every text
we write (errors, logs, traces, cache files)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from repo_agent.policies.base import PolicyRequest
from repo_agent.records import Completion, FunctionCall, Message, NativeToolCall, Usage

if TYPE_CHECKING:
    from repo_agent.policies.factory import PolicyConfig

log = logging.getLogger(__name__)

CACHE_FORMAT = "repo-agent.response-cache/1"
SECRET_ENV_VARS = ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY", "TOGETHER_API_KEY")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
_SK_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")
RETRY_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER_S = 60.0

T = TypeVar("T")


class MalformedResponseError(Exception):
    """The server answered 2xx with a body that is not a usable chat completion."""


# --- secrets ---------------------------------------------------------------------------------


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove API keys from text: the given secrets, the provider keys in the environment,
    bearer tokens and `sk-…` keys.

    >>> scrub("401: bad key sk-abcdefgh1234, header Bearer xyz123")
    '401: bad key ***, header Bearer ***'
    """
    known = {*secrets, *(os.environ.get(v) for v in SECRET_ENV_VARS)}
    for secret in sorted((s for s in known if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _BEARER.sub("Bearer ***", text)
    return _SK_KEY.sub("***", text)


def api_key_from_env(env_var: str, required: bool = True) -> str | None:
    """The API key in `env_var` (keys are never taken from params or the command line)."""
    key = os.environ.get(env_var, "").strip()
    if not key and required:
        raise ValueError(f"set the API key in the environment variable {env_var}")
    return key or None


# --- cost ------------------------------------------------------------------------------------


def usage_cost(
    prompt_tokens: int, completion_tokens: int, price_in: float, price_out: float
) -> Usage:
    """Tokens and their price (prices per million tokens).

    >>> usage_cost(1_000_000, 500_000, 0.4, 1.6).cost_usd
    1.2
    """
    cost = (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000
    return Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=round(cost, 10)
    )


# --- cache -----------------------------------------------------------------------------------


def cache_key(provider: str, body: dict[str, Any]) -> str:
    """sha256 over the provider (and its endpoint) and the request body: model, messages,
    tools and sampling params. Canonical JSON, so key order does not matter."""
    text = json.dumps({"provider": provider, "request": body}, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """One JSON file per key under `root` (`root/ab/abcd….json`); writes are atomic, so
    concurrent workers and interrupted runs never leave a half-written entry."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> tuple[Message, Usage] | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT:
                return None
            return Message.model_validate(data["message"]), Usage.model_validate(data["usage"])
        except (OSError, ValueError, KeyError):
            return None  # a missing or unreadable entry is a miss

    def put(self, key: str, provider: str, model: str, message: Message, usage: Usage) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "format": CACHE_FORMAT,
            "provider": provider,
            "model": model,
            "message": message.dump(),
            "usage": usage.model_dump(),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)


# --- retries ---------------------------------------------------------------------------------


def is_retryable(exc: BaseException, connection_errors: tuple[type[BaseException], ...]) -> bool:
    """429, 408, 409 and 5xx answers, timeouts and connection errors are worth another try."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in RETRY_STATUSES or status >= 500
    return isinstance(exc, (*connection_errors, TimeoutError, ConnectionError))


def _retry_after(exc: BaseException | None) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return min(float(value), MAX_RETRY_AFTER_S) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, at least the server's Retry-After when it sends one."""

    base_s: float
    max_s: float

    def __call__(self, state: RetryCallState) -> float:
        ceiling = min(self.max_s, self.base_s * 2 ** (state.attempt_number - 1))
        wait = random.uniform(0, ceiling)
        exc = state.outcome.exception() if state.outcome else None
        return max(wait, _retry_after(exc) or 0.0)


def call_with_retries(
    fn: Callable[[], T],
    *,
    max_retries: int,
    backoff: Backoff,
    retryable: Callable[[BaseException], bool],
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Call `fn`; on a retryable error try again up to `max_retries` more times, then re-raise."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if on_retry is not None and exc is not None:
            on_retry(state.attempt_number, exc)

    retrying = Retrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=backoff,
        retry=retry_if_exception(retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)


def describe_error(exc: BaseException, timeout_s: float | None = None) -> str:
    """A short, clear text for an API failure, with the server's status and message."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}: {_server_message(exc)}"
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return f"request timed out after {timeout_s}s" if timeout_s else "request timed out"
    if "Connection" in name or isinstance(exc, ConnectionError):
        cause = exc.__cause__ or exc.__context__
        return f"connection error: {cause or exc}"
    if isinstance(exc, MalformedResponseError | json.JSONDecodeError):
        return f"malformed response body: {exc}"
    return f"{name}: {exc}"


def _server_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(body.get("message"), str):
            return body["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return str(getattr(exc, "message", None) or exc)


# --- responses -------------------------------------------------------------------------------


def parse_chat_response(resp: Any) -> tuple[Message, int, int]:
    """(assistant message, prompt tokens, completion tokens) from an SDK chat completion.

    Works on the OpenAI and Together SDK objects alike (they share the OpenAI shape); anything
    else (an HTML page, no choices, no message) is a MalformedResponseError.
    """
    choices = getattr(resp, "choices", None)
    if not choices:
        shown = resp if isinstance(resp, str) else type(resp).__name__
        raise MalformedResponseError(f"no choices in the response ({str(shown)[:200]!r})")
    msg = getattr(choices[0], "message", None)
    if msg is None:
        raise MalformedResponseError("the first choice has no message")
    calls = []
    for i, call in enumerate(getattr(msg, "tool_calls", None) or []):
        fn = getattr(call, "function", None)
        if fn is None:  # a non-function tool call: keep its name, let the protocol reject it
            name, arguments = str(getattr(call, "type", "unknown")), "{}"
        else:
            name, arguments = str(fn.name), fn.arguments or "{}"
        call_id = getattr(call, "id", None) or f"call_{i}"
        calls.append(
            NativeToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments))
        )
    message = Message(role="assistant", content=msg.content or "", tool_calls=calls or None)
    usage = getattr(resp, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    return message, prompt, completion


# --- the policy ------------------------------------------------------------------------------


@dataclass
class APIStats:
    """Live counts for progress displays: API answers (cache hits apart), retries, errors and
    usage (cache hits included, at cost 0)."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    errors: int = 0
    usage: Usage = field(default_factory=Usage)


class APIPolicy:
    """A chat-completions policy: one request per conversation state, sent concurrently.

    Subclasses make the SDK client (`_make_client`), send one request (`_send`) and name the
    SDK's connection-error classes (`_connection_errors`).
    """

    provider: ClassVar[str] = "api"
    default_key_env: ClassVar[str] = ""

    def __init__(self, config: PolicyConfig, name: str) -> None:
        if not config.model:
            raise ValueError(f"policy {config.kind!r} needs a model name (--model / model:)")
        self.config = config
        self.name = name
        self.model = config.model
        self.key_env = config.api_key_env or self.default_key_env
        api_key = self._api_key()
        self._secrets = [api_key]
        self.client = self._make_client(api_key)
        self.endpoint = str(getattr(self.client, "base_url", "") or "")
        self.cache = ResponseCache(Path(config.cache_dir)) if config.cache else None
        self.stats = APIStats()
        self._lock = threading.Lock()
        self._backoff = Backoff(config.retry_base_s, config.retry_max_s)
        self._pool: ThreadPoolExecutor | None = None

    # subclass hooks
    def _api_key(self) -> str | None:
        return api_key_from_env(self.key_env)

    def _make_client(self, api_key: str | None) -> Any:
        raise NotImplementedError

    def _send(self, body: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        return ()

    # the Policy protocol
    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        """One Completion per request, in order; up to `concurrency` requests in flight."""
        if len(requests) <= 1 or self.config.concurrency == 1:
            return [self._complete_one(r) for r in requests]
        with self._lock:
            if self._pool is None:  # kept for the policy's life: no thread start-up per step
                self._pool = ThreadPoolExecutor(self.config.concurrency, self.provider)
        return list(self._pool.map(self._complete_one, requests))

    def request_body(self, req: PolicyRequest) -> dict[str, Any]:
        """The chat-completions request for one state (also what the cache key is made of)."""
        cfg = self.config
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.dump() for m in req.messages],
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_tokens": cfg.max_new_tokens,
        }
        if req.tools:
            body["tools"] = req.tools
        elif cfg.json_mode:
            body["response_format"] = {"type": "json_object"}
        if cfg.temperature > 0:
            # Sampled rollouts of one state must differ (and stay reproducible), so the run's
            # seed is part of the request and of the cache key.
            body["seed"] = req.seed
        return body

    def _complete_one(self, req: PolicyRequest) -> Completion:
        body = self.request_body(req)
        key = ""
        if self.cache is not None:
            key = cache_key(f"{self.provider}@{self.endpoint}", body)
            hit = self.cache.get(key)
            if hit is not None:
                message, usage = hit
                usage = usage.model_copy(update={"cost_usd": 0.0})  # nothing paid this time
                self._count(usage, cache_hit=True)
                return Completion(message=message, usage=usage)
        try:
            resp = call_with_retries(
                lambda: self._send(body),
                max_retries=self.config.max_retries,
                backoff=self._backoff,
                retryable=lambda e: is_retryable(e, self._connection_errors()),
                on_retry=self._on_retry,
            )
            message, prompt, completion = parse_chat_response(resp)
        except Exception as exc:  # noqa: BLE001 - a failed request ends its run, not the batch
            error = self._error_text(exc)
            log.warning("%s", error)
            with self._lock:
                self.stats.errors += 1
            return Completion(message=Message(role="assistant", content=""), error=error)
        cfg = self.config
        usage = usage_cost(prompt, completion, cfg.price_input_per_mtok, cfg.price_output_per_mtok)
        if self.cache is not None:
            try:
                self.cache.put(key, self.provider, self.model, message, usage)
            except OSError as exc:  # a full disk costs the cache entry, not the run
                log.warning("response cache: cannot write %s: %s", key, exc)
        self._count(usage)
        return Completion(message=message, usage=usage)

    def _count(self, usage: Usage, cache_hit: bool = False) -> None:
        with self._lock:
            self.stats.calls += int(not cache_hit)
            self.stats.cache_hits += int(cache_hit)
            self.stats.usage = self.stats.usage + usage

    def _on_retry(self, attempt: int, exc: BaseException) -> None:
        with self._lock:
            self.stats.retries += 1
        text = scrub(describe_error(exc, self.config.timeout_s), self._secrets)
        log.info(
            "%s %s: attempt %d failed (%s); retrying", self.provider, self.model, attempt, text
        )

    def _error_text(self, exc: BaseException) -> str:
        attempts = self.config.max_retries + 1
        tried = f"after {attempts} attempts" if is_retryable(exc, self._connection_errors()) else ""
        text = f"{self.provider} {self.model}: {describe_error(exc, self.config.timeout_s)}"
        return scrub(f"{text} ({tried})" if tried else text, self._secrets)
