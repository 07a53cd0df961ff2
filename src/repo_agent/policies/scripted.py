"""A scripted policy: replays fixed assistant outputs (for tests and demos)."""

from __future__ import annotations

from collections.abc import Sequence

from repo_agent.records import Completion, Message, Usage
from repo_agent.runtime.policy import PolicyRequest


class ScriptedPolicy:
    """Answers each run with the next item of a script (a string is JSON-protocol content).

    Each run_id has its own cursor, so batched runs each replay the script from the start.
    After the script ends it keeps answering with `fallback`.
    """

    trusted = True  # the code it writes is ours: may run tests unsandboxed (auto)

    def __init__(
        self,
        script: Sequence[str | Message],
        fallback: str = '{"type":"final","summary":"done"}',
        name: str = "scripted",
    ) -> None:
        self.script = list(script)
        self.fallback = fallback
        self.name = name
        self._cursor: dict[str, int] = {}
        self.seen: list[PolicyRequest] = []

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        out = []
        for req in requests:
            self.seen.append(req)
            i = self._cursor.get(req.run_id, 0)
            self._cursor[req.run_id] = i + 1
            item = self.script[i] if i < len(self.script) else self.fallback
            msg = item if isinstance(item, Message) else Message(role="assistant", content=item)
            out.append(
                Completion(message=msg, usage=Usage(completion_tokens=len(msg.content or "") // 4))
            )
        return out
