"""A persistent response cache for API policies: one JSON file per request key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from repo_agent.files import write_text_atomic
from repo_agent.records import Message, Usage
from repo_agent.secrets import scrub_message

CACHE_FORMAT = "repo-agent.response-cache/1"


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

    def get(self, key: str) -> tuple[Message, Usage, bool] | None:
        """(message, usage, truncated) of a stored reply, or None on a miss."""
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT:
                return None
            message = Message.model_validate(data["message"])
            return message, Usage.model_validate(data["usage"]), data.get("truncated") is True
        except (OSError, ValueError, KeyError):
            return None  # a missing or unreadable entry is a miss

    def put(
        self,
        key: str,
        provider: str,
        model: str,
        message: Message,
        usage: Usage,
        truncated: bool = False,
    ) -> None:
        """Store `message` with every known key scrubbed out (a reply may echo one)."""
        entry: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "provider": provider,
            "model": model,
            "message": scrub_message(message).dump(),
            "usage": usage.model_dump(),
        }
        if truncated:
            entry["truncated"] = True
        write_text_atomic(self._path(key), json.dumps(entry, ensure_ascii=False))
