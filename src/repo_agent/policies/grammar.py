"""Grammar-constrained decoding for local transformers models: the action schema compiled by
llguidance (docs/spikes/constrained-decoding.md says why this engine) and applied as a
logits processor, one token mask per batch row and step."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# Compact JSON as the SFT data writes it (json.dumps' separators, no free whitespace): with
# flexible whitespace an untrained model pads the object until the token budget runs out.
JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


class ActionGrammar:
    """A JSON schema compiled for one tokenizer; `processor()` makes the per-call processor."""

    def __init__(
        self, tokenizer: Any, vocab_size: int, schema: dict[str, Any], eos: int | list[int]
    ) -> None:
        import llguidance
        import llguidance.hf

        self.llguidance = llguidance
        self.vocab_size = vocab_size
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=eos)
        self.grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=JSON_OPTIONS)
        failed, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
            self.grammar, self.tokenizer
        )
        if failed:
            raise ValueError(f"the action schema does not compile: {'; '.join(messages)}")
        for message in messages:
            log.warning("action grammar: %s", message)
        self.eos = {eos} if isinstance(eos, int) else set(eos)
        self.closers = closing_tokens(tokenizer)

    def processor(self, prompt_width: int = 0, budget: int | None = None) -> SchemaLogitsProcessor:
        """A fresh processor (it holds one matcher per row, so it serves one generate() call)
        for prompts `prompt_width` tokens wide and `budget` new tokens."""
        return SchemaLogitsProcessor(self, prompt_width, budget)


def closing_tokens(tokenizer: Any) -> list[int]:
    """Token ids of `"`, `}` and `0`, in that order: near the end of the token budget, the
    processor takes the first of them that the grammar allows, which closes the open string,
    the open objects, and fills a missing required argument with the shortest value."""
    ids = []
    for char in ('"', "}", "0"):
        encoded = tokenizer.encode(char, add_special_tokens=False)
        if len(encoded) == 1:
            ids.append(encoded[0])
    return ids


# Tokens kept at the end of the budget to close the action: the longest shortest-closing of the
# protocol's schema is about 20 characters (inside a `\u` escape of write_file's first argument:
# finish it, close the string, add `"content": ""`, close both objects); 48 leaves room for a
# model that picks a longer key or an optional argument on the way.
RESERVE = 48


class SchemaLogitsProcessor:
    """A transformers logits processor that keeps each row inside the grammar.

    A row is finished once it has produced an end-of-sequence token; after that transformers
    writes pad tokens into it, which must not reach the matcher. A matcher whose object is
    complete (`is_stopped`) is still masked: its mask then allows only end-of-sequence.
    """

    def __init__(self, grammar: ActionGrammar, prompt_width: int, budget: int | None) -> None:
        import torch

        self.g = grammar
        self.prompt_width = prompt_width
        self.budget = budget
        self.torch = torch
        self.matchers: list[Any] = []
        self.done: list[bool] = []
        self.free: list[bool] = []  # rows left unconstrained after an engine error
        self.mask: Any = None
        self.bits = torch.arange(32, dtype=torch.int32)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import llguidance.torch as llt

        rows = input_ids.shape[0]
        if not self.matchers:  # the prefill step: nothing generated yet
            self.matchers = [
                self.g.llguidance.LLMatcher(self.g.tokenizer, self.g.grammar) for _ in range(rows)
            ]
            self.done = [False] * rows
            self.free = [False] * rows
            self.mask = llt.allocate_token_bitmask(rows, self.g.vocab_size)
        else:
            last = input_ids[:, -1].tolist()  # one device-to-host copy for the whole batch
            for i, matcher in enumerate(self.matchers):
                if self.done[i] or self.free[i]:
                    continue
                token = last[i]
                self.done[i] = token in self.g.eos
                if not self.done[i]:
                    matcher.consume_token(token)
        for i, matcher in enumerate(self.matchers):
            if not (self.done[i] or self.free[i]) and matcher.is_error():
                log.warning("grammar engine error, row left unconstrained: %s", matcher.get_error())
                self.free[i] = True
            if self.done[i] or self.free[i]:
                self.mask[i].fill_(-1)  # every token allowed
            else:
                llt.fill_next_token_bitmask(matcher, self.mask, i)
        # Unpacked here rather than with llguidance.torch.apply_token_bitmask_inplace, which is
        # torch.compile'd (on a CPU that needs a C++ compiler and compiles on first use).
        allowed = ((self.mask.unsqueeze(-1) >> self.bits) & 1).reshape(rows, -1)
        allowed = allowed[:, : scores.shape[1]]
        if allowed.shape[1] < scores.shape[1]:  # logits wider than the grammar's vocabulary
            pad = self.torch.zeros(rows, scores.shape[1] - allowed.shape[1], dtype=allowed.dtype)
            allowed = self.torch.cat([allowed, pad], dim=1)
        if self.budget is not None:
            left = self.budget - (input_ids.shape[1] - self.prompt_width)
            if left <= RESERVE:
                allowed = self._closing(allowed)
        # The masks are built on the CPU; the scores may be on a GPU.
        return scores.masked_fill((allowed == 0).to(scores.device), float("-inf"))

    def _closing(self, allowed: Any) -> Any:
        """Near the end of the budget: where the grammar allows a closing token, only that one
        (the first of `"`, `}`, `0`); elsewhere (a forced key, `, `) the model still chooses."""
        for i in range(allowed.shape[0]):
            if self.done[i] or self.free[i]:
                continue
            for token in self.g.closers:
                if token < allowed.shape[1] and allowed[i, token]:
                    allowed[i].zero_()
                    allowed[i, token] = 1
                    break
        return allowed
