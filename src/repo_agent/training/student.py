"""The embedded student: a BPE tokenizer trained on the suite's text and a small Qwen2 model,
built reproducibly from a seed (no pretrained weights can be downloaded here)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from repo_agent.training.config import StudentBuild

BUILTIN_TINY = "builtin-tiny"  # student.model value that builds the embedded student

ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
END = "<|end|>"
PAD = "<|pad|>"
EOS = "<|endoftext|>"
SPECIAL_TOKENS = [PAD, EOS, END, *ROLE_TOKENS]

# Role markers are special tokens so that no BPE merge crosses the prompt/action boundary;
# {% generation %} marks the assistant part for TRL's assistant-only loss.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}<|assistant|>{% generation %}{{ m['content'] }}<|end|>"
    "{% endgeneration %}"
    "{% else %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def student_model_path(model: str, base_dir: Path) -> str:
    """Where the student's weights are: `base_dir` for the embedded one, else `model` itself."""
    return str(base_dir) if model == BUILTIN_TINY else model


def corpus_from_traces(paths: Iterable[Path]) -> Iterable[str]:
    """Every message content and raw output in trace files (tokenizer training text)."""
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            if obj.get("kind") != "step":
                continue
            if obj["step"] == 0:
                yield from (m.get("content") or "" for m in obj["messages"])
            yield obj["raw_output"].get("content") or ""
            yield obj.get("observation") or ""


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: Path):
    """Train a byte-level BPE tokenizer and save it as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        eos_token=END,
        bos_token=None,
        additional_special_tokens=[EOS, *ROLE_TOKENS],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    fast.save_pretrained(out_dir)
    return fast


def build_student(texts: Iterable[str], build: StudentBuild, out_dir: Path) -> Path:
    """Train the tokenizer, initialise a small Qwen2 model from config (seeded), save both."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(texts, build.vocab_size, out_dir)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=build.hidden_size,
        num_hidden_layers=build.num_layers,
        num_attention_heads=build.num_heads,
        num_key_value_heads=build.num_kv_heads,
        intermediate_size=build.intermediate_size,
        max_position_embeddings=build.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(build.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out_dir)
    return out_dir
