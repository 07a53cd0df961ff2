"""A local transformers causal LM as a policy: the embedded student or e.g. Qwen2.5-7B-Instruct."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from repo_agent.policies.config import HFConfig
from repo_agent.policies.schemas import action_schema
from repo_agent.records import Completion, Message, Usage
from repo_agent.runtime.policy import PolicyRequest

if TYPE_CHECKING:
    from repo_agent.policies.grammar import ActionGrammar

# Under a grammar, write_file content may hold this many characters per token of the budget
# (about what this tokenizer fits in one token): a longer string could not close in time.
CHARS_PER_TOKEN = 3


def cannot_be_protocol_json(text: str) -> bool:
    """True once an output can no longer be one JSON object (it starts with something else).

    >>> cannot_be_protocol_json('  {"type"'), cannot_be_protocol_json("Sure! {")
    (False, True)
    """
    stripped = text.lstrip()
    return bool(stripped) and not stripped.startswith("{")


def chat_prompt_ids(tokenizer: Any, messages: list[Message], limit: int) -> list[int]:
    """The state as token ids through the tokenizer's chat template, ready for the assistant's
    turn, cut to its last `limit` tokens (hf and vllm policies prompt the same way)."""
    chat = [{"role": m.role, "content": m.content or ""} for m in messages]
    ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):
        ids = ids["input_ids"]
    return list(ids[-limit:])


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
        stop = torch.zeros(new.shape[0], dtype=torch.bool, device=input_ids.device)
        if new.shape[1] <= self.check_tokens:
            for i, row in enumerate(new.tolist()):
                # Special tokens count: an output that opens with a role marker is no JSON.
                text = self.tokenizer.decode(row, skip_special_tokens=False)
                stop[i] = cannot_be_protocol_json(text)
        return stop


class HFPolicy:
    """Generates with `model.generate`, batching up to `batch_size` states at once on the
    configured device (`device`, `dtype`, `device_map`; see device.py)."""

    trusted = False  # model-written code: tests need the sandbox or an explicit `none`

    def __init__(self, config: HFConfig, name: str = "hf") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from repo_agent.device import load_kwargs, resolve_placement, torch_facts

        self.config = config
        self.name = name
        self.torch = torch
        self.placement = resolve_placement(
            config.device, config.dtype, torch_facts(), config.device_map
        )
        self.tokenizer = AutoTokenizer.from_pretrained(config.model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            config.model, **load_kwargs(self.placement)
        )
        # With a device map the layers are spread over GPUs; inputs go where the embeddings are.
        self.device = self.model.get_input_embeddings().weight.device
        self.model.eval()
        self.grammar: ActionGrammar | None = None
        if config.constrain == "json_schema":
            from repo_agent.policies.grammar import ActionGrammar

            self.grammar = ActionGrammar(
                self.tokenizer,
                self.model.config.vocab_size,
                action_schema(max_content_chars=CHARS_PER_TOKEN * config.max_new_tokens),
                eos=self.tokenizer.eos_token_id,
            )

    def _prompt_ids(self, messages: list[Message]) -> list[int]:
        return chat_prompt_ids(self.tokenizer, messages, self.config.max_prompt_tokens)

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
        padded = [[pad] * (width - len(p)) + p for p in prompts]
        input_ids = torch.tensor(padded, device=self.device)
        attention = torch.tensor(
            [[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device
        )
        sample = self.config.temperature > 0
        if sample:
            torch.manual_seed(requests[0].seed * 1_000_003 + requests[0].step)
        budget = self.config.max_new_tokens
        stopping, processors = None, None
        sampling: dict[str, Any] = {"top_k": None}
        if sample:
            sampling |= {"temperature": self.config.temperature, "top_p": self.config.top_p}
        if self.grammar is not None:
            processors = [self.grammar.processor(width, budget)]
            if sample:  # the mask first, then the warpers (HF would run top_p before the mask)
                from transformers import TemperatureLogitsWarper, TopPLogitsWarper

                processors.append(TemperatureLogitsWarper(self.config.temperature))
                if self.config.top_p < 1:
                    processors.append(TopPLogitsWarper(self.config.top_p))
                sampling = {"temperature": 1.0, "top_p": 1.0, "top_k": 0}
        elif self.config.stop_on_non_json:
            stopping = StoppingCriteriaList([_StopOnNonJson(self.tokenizer, width)])
        started = time.perf_counter()
        with torch.no_grad():
            generated = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=budget,
                do_sample=sample,
                **sampling,
                pad_token_id=pad,
                eos_token_id=self.tokenizer.eos_token_id,
                stopping_criteria=stopping,
                logits_processor=processors,
            )
        seconds = time.perf_counter() - started
        generated = generated.cpu()
        eos = self.tokenizer.eos_token_id
        rows = []
        for i in range(len(prompts)):
            new = generated[i, width:].tolist()
            ended = eos in new
            if ended:
                new = new[: new.index(eos)]
            while new and new[-1] == pad:
                new.pop()
            rows.append((new, not ended and len(new) >= budget))
        total = max(sum(len(new) for new, _ in rows), 1)
        completions = []
        for prompt, (new, truncated) in zip(prompts, rows, strict=True):
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            completions.append(
                Completion(
                    message=Message(role="assistant", content=text),
                    usage=Usage(
                        prompt_tokens=len(prompt),
                        completion_tokens=len(new),
                        decode_s=round(seconds * len(new) / total, 6),
                    ),
                    truncated=truncated,
                )
            )
        return completions
