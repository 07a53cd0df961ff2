"""The `together` policy: chat completions through the official Together SDK (3.x)."""

from __future__ import annotations

from typing import Any

from repo_agent.policies.api import APIPolicy


class TogetherPolicy(APIPolicy):
    """Key from TOGETHER_API_KEY (or `api_key_env`); endpoint from `base_url` or
    TOGETHER_BASE_URL (without `/v1`: the SDK's request paths carry it)."""

    provider = "together"
    default_key_env = "TOGETHER_API_KEY"

    def _make_client(self, api_key: str | None) -> Any:
        from together import Together

        return Together(
            api_key=api_key,
            base_url=self.config.base_url or None,  # None: TOGETHER_BASE_URL or api.together.ai
            timeout=self.config.timeout_s,
            max_retries=0,  # retries are ours (api.call_with_retries)
        )

    def _send(self, body: dict[str, Any]) -> Any:
        from together.types.chat import ChatCompletion

        # Raw-request path of the SDK, as in openai_api: same auth, errors and response type as
        # `chat.completions.create`, without the per-request typed-params transform.
        return self.client.post("/v1/chat/completions", body=body, cast_to=ChatCompletion)

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        import together

        return (together.APIConnectionError,)
