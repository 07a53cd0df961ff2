"""The `openai` policy: Chat Completions through the official SDK, for OpenAI itself and for every
OpenAI-compatible server (vLLM, llama.cpp server, Ollama, Together's endpoint) by `base_url`."""

from __future__ import annotations

import os
from typing import Any

from repo_agent.policies.api import APIPolicy
from repo_agent.secrets import api_key_from_env


class OpenAIPolicy(APIPolicy):
    """Key from OPENAI_API_KEY (or `api_key_env`); endpoint from `base_url` or OPENAI_BASE_URL.

    A local server needs no key: with a base URL set and no key in the environment, a
    placeholder is sent.
    """

    provider = "openai"
    default_key_env = "OPENAI_API_KEY"

    def _api_key(self) -> str | None:
        local = bool(self.config.base_url or os.environ.get("OPENAI_BASE_URL"))
        return api_key_from_env(self.key_env, required=not local) or ("no-key" if local else None)

    def _make_client(self, api_key: str | None) -> Any:
        import openai

        return openai.OpenAI(
            api_key=api_key,
            base_url=self.config.base_url or None,  # None: OPENAI_BASE_URL or api.openai.com
            timeout=self.config.timeout_s,
            max_retries=0,  # retries are ours (api.call_with_retries)
        )

    def _send(self, body: dict[str, Any]) -> Any:
        from openai.types.chat import ChatCompletion

        # The SDK's documented raw-request path: same auth, headers, errors and response type
        # as `chat.completions.create`, without its typed-params transform, which costs ~10 ms
        # of CPU per request under the GIL and so caps the speed-up of concurrent rollouts.
        return self.client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        import openai

        return (openai.APIConnectionError,)
