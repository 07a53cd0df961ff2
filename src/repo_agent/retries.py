"""Retries for API calls: which failures are worth another try, exponential backoff with full
jitter (at least the server's Retry-After), and a short clear text for the failure."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

RETRY_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER_S = 60.0

T = TypeVar("T")


class MalformedResponseError(Exception):
    """The server answered 2xx with a body that is not a usable chat completion."""


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
