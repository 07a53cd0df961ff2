"""The chat-completions policy shared by the `openai` and `together` kinds: bounded
concurrency, retries, the response cache, token and cost accounting, scrubbed errors."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from repo_agent.policies.cache import ResponseCache, cache_key
from repo_agent.policies.config import APIConfig
from repo_agent.policies.responses import parse_chat_response, usage_cost
from repo_agent.policies.schemas import (
    strict_response_format,
    strict_tools,
    unwrap_strict_content,
    unwrap_strict_native,
)
from repo_agent.records import Completion, Message, Usage
from repo_agent.retries import Backoff, call_with_retries, describe_error, is_retryable
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.secrets import api_key_from_env, register_secret, scrub, scrub_message

log = logging.getLogger(__name__)


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

    trusted = False  # model-written code: tests need the sandbox or an explicit `none`

    provider: ClassVar[str] = "api"
    default_key_env: ClassVar[str] = ""

    def __init__(self, config: APIConfig, name: str) -> None:
        if not config.model:
            raise ValueError(f"policy {config.kind!r} needs a model name (--model / model:)")
        self.config = config
        self.name = name
        self.model = config.model
        self.key_env = config.api_key_env or self.default_key_env
        api_key = self._api_key()
        register_secret(api_key)  # also masked in observations, traces, results, the cache
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
        constrained = cfg.constrain == "json_schema"
        if req.tools:
            body["tools"] = strict_tools() if constrained else req.tools
            if constrained:
                body["tool_choice"] = "required"
        elif constrained:
            body["response_format"] = strict_response_format()
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
                message, usage, truncated = hit
                message = scrub_message(message, self._secrets)  # entries from before scrubbing
                usage = usage.model_copy(update={"cost_usd": 0.0})  # nothing paid this time
                self._count(usage, cache_hit=True)
                return Completion(
                    message=self._unwrap(message, req), usage=usage, truncated=truncated
                )
        started = time.perf_counter()
        try:
            resp = call_with_retries(
                lambda: self._send(body),
                max_retries=self.config.max_retries,
                backoff=self._backoff,
                retryable=lambda e: is_retryable(e, self._connection_errors()),
                on_retry=self._on_retry,
            )
            reply = parse_chat_response(resp)
        except Exception as exc:
            error = self._error_text(exc)
            log.warning("%s", error)
            with self._lock:
                self.stats.errors += 1
            return Completion(message=Message(role="assistant", content=""), error=error)
        seconds = time.perf_counter() - started
        # A reply that echoes a key must not reach labels, traces, the cache or a request.
        message = scrub_message(reply.message, self._secrets)
        cfg = self.config
        usage = usage_cost(
            reply.prompt_tokens,
            reply.completion_tokens,
            cfg.price_input_per_mtok,
            cfg.price_output_per_mtok,
        ).model_copy(update={"decode_s": round(seconds, 6)})
        if self.cache is not None:
            try:
                self.cache.put(key, self.provider, self.model, message, usage, reply.truncated)
            except OSError as exc:  # a full disk costs the cache entry, not the run
                log.warning("response cache: cannot write %s: %s", key, exc)
        self._count(usage)
        return Completion(
            message=self._unwrap(message, req), usage=usage, truncated=reply.truncated
        )

    def _unwrap(self, message: Message, req: PolicyRequest) -> Message:
        """A strict reply in the protocol's own shape (the raw reply is what is cached)."""
        if self.config.constrain != "json_schema":
            return message
        if req.tools:
            return unwrap_strict_native(message)
        return message.model_copy(update={"content": unwrap_strict_content(message.content or "")})

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
