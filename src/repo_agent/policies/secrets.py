"""Keeping API keys out of every text we write: errors, logs, traces, cache files, records."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

SECRET_ENV_VARS = ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY", "TOGETHER_API_KEY")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
_SK_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")


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
