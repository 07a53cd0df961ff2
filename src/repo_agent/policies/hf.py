"""A local transformers causal LM as a policy: the embedded student or e.g. Qwen2.5-7B-Instruct."""

from __future__ import annotations

from repo_agent.policies.config import PolicyConfig
from repo_agent.records import Completion, Message, Usage
from repo_agent.runtime.policy import PolicyRequest


def cannot_be_protocol_json(text: str) -> bool:
    """True once an output can no longer be one JSON object (it starts with something else).

    >>> cannot_be_protocol_json('  {"type"'), cannot_be_protocol_json("Sure! {")
    (False, True)
    """
    stripped = text.lstrip()
    return bool(stripped) and not stripped.startswith("{")


class _StopOnNonJson:
    """Stops a sequence whose first characters already make it a parse error, so a model that
    has not learned the protocol costs a few tokens per step instead of max_new_tokens. Only
    for the json protocol; the parse error it gets is the same either way."""

    def __init__(self, tokenizer, prompt_width: int, check_tokens: int = 6) -> None:
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.check_tokens = check_tokens

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        new = input_ids[:, self.prompt_width :]
        stop = torch.zeros(new.shape[0], dtype=torch.bool)
        if new.shape[1] <= self.check_tokens:
            for i, row in enumerate(new.tolist()):
                # Special tokens count: an output that opens with a role marker is no JSON.
                text = self.tokenizer.decode(row, skip_special_tokens=False)
                stop[i] = cannot_be_protocol_json(text)
        return stop


class HFPolicy:
    """Generates with `model.generate`, batching up to `batch_size` states at once."""

    def __init__(self, config: PolicyConfig, name: str = "hf") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        self.name = name
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(config.model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(config.model)
        self.model.eval()

    def _prompt_ids(self, messages: list[Message]) -> list[int]:
        chat = [{"role": m.role, "content": m.content or ""} for m in messages]
        ids = self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        limit = self.config.max_prompt_tokens
        return list(ids[-limit:])

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        out: list[Completion] = []
        size = self.config.batch_size
        for start in range(0, len(requests), size):
            out += self._generate(requests[start : start + size])
        return out

    def _generate(self, requests: list[PolicyRequest]) -> list[Completion]:
        from transformers import StoppingCriteriaList

        torch = self.torch
        prompts = [self._prompt_ids(r.messages) for r in requests]
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        sample = self.config.temperature > 0
        if sample:
            torch.manual_seed(requests[0].seed * 1_000_003 + requests[0].step)
        with torch.no_grad():
            generated = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=self.config.max_new_tokens,
                do_sample=sample,
                temperature=self.config.temperature if sample else None,
                top_p=self.config.top_p if sample else None,
                top_k=None,
                pad_token_id=pad,
                eos_token_id=self.tokenizer.eos_token_id,
                stopping_criteria=StoppingCriteriaList([_StopOnNonJson(self.tokenizer, width)])
                if self.config.stop_on_non_json
                else None,
            )
        completions = []
        for i, prompt in enumerate(prompts):
            new = generated[i, width:].tolist()
            eos = self.tokenizer.eos_token_id
            if eos in new:
                new = new[: new.index(eos)]
            while new and new[-1] == pad:
                new.pop()
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            completions.append(
                Completion(
                    message=Message(role="assistant", content=text),
                    usage=Usage(prompt_tokens=len(prompt), completion_tokens=len(new)),
                )
            )
        return completions
