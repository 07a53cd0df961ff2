"""Spike for issue 12: grammar-constrained decoding (xgrammar vs llguidance) with the embedded student.

Run: PYTHONPATH=/work/main/src /tmp/spike12/venv/bin/python /tmp/spike12/spike.py [model_dir]
"""

from __future__ import annotations

import json
import sys
import time

import torch

torch.set_num_threads(1)

from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor  # noqa: E402

from repo_agent.runtime.protocol import ParseError, parse_json_action  # noqa: E402
from repo_agent.runtime.tools import THOUGHT, TOOLS  # noqa: E402

MODEL = sys.argv[1] if len(sys.argv) > 1 else "/work/main/models/sft"
MAX_NEW = 256
JSON_TYPES = {str: "string", int: "integer"}
# Bounds so that a grammar-forced generation can always finish inside the token budget.
MAX_STR = 200  # paths, patterns, thought, summary
MAX_CONTENT = 4000  # write_file content (will still be cut by max_new_tokens if the model rambles)
MAX_INT = 1_000_000


def arg_schema(name: str, typ: type) -> dict:
    if typ is int:
        return {"type": "integer", "minimum": 0, "maximum": MAX_INT}
    return {"type": "string", "maxLength": MAX_CONTENT if name == "content" else MAX_STR}


def action_schema() -> dict:
    """anyOf over one object per tool (const name, typed args, optional thought) plus final.
    Property order = the order render_action/json.dumps writes (type, name, args)."""
    options = []
    for spec in TOOLS.values():
        args = (*spec.args, THOUGHT)
        options.append(
            {
                "type": "object",
                "properties": {
                    "type": {"const": "tool_call"},
                    "name": {"const": spec.name},
                    "args": {
                        "type": "object",
                        "properties": {a.name: arg_schema(a.name, a.type) for a in args},
                        "required": [a.name for a in spec.args if a.required],
                        "additionalProperties": False,
                    },
                },
                "required": ["type", "name", "args"],
                "additionalProperties": False,
            }
        )
    options.append(
        {
            "type": "object",
            "properties": {
                "type": {"const": "final"},
                "summary": {"type": "string", "maxLength": MAX_STR},
            },
            "required": ["type", "summary"],
            "additionalProperties": False,
        }
    )
    return {"anyOf": options}


# ---------------------------------------------------------------- llguidance processor
class LLGuidanceProcessor(LogitsProcessor):
    """One LLMatcher per batch row; one instance per generate() call."""

    def __init__(self, lltok, grammar: str, vocab: int) -> None:
        import llguidance

        self.ll = llguidance
        self.lltok = lltok
        self.grammar = grammar
        self.vocab = vocab
        self.matchers = None
        self.eos = lltok.eos_token
        self.width = None
        self.bits = torch.arange(32, dtype=torch.int32)

    def __call__(self, input_ids, scores):
        import llguidance.torch as llt

        b = input_ids.shape[0]
        if self.matchers is None:
            self.matchers = [self.ll.LLMatcher(self.lltok, self.grammar) for _ in range(b)]
            self.done = [False] * b
            self.mask = llt.allocate_token_bitmask(b, self.vocab)
        else:
            for i, m in enumerate(self.matchers):
                if self.done[i]:  # finished rows get pad tokens from HF: don't feed them
                    continue
                token = int(input_ids[i, -1])
                m.consume_token(token)
                self.done[i] = token == self.eos
        for i, m in enumerate(self.matchers):
            if m.is_error():
                raise RuntimeError(m.get_error())
            if self.done[i]:
                self.mask[i].fill_(-1)  # HF overwrites this row's token with pad anyway
            else:
                # NB: once the object is closed the matcher is_stopped() but must still be
                # masked: the mask then allows only EOS. Treating "stopped" as "done" lets the
                # model append '}}}}...' after a complete object.
                llt.fill_next_token_bitmask(m, self.mask, i)
        # Own unpack (llguidance.torch.apply_token_bitmask_inplace is @torch.compile: needs a
        # C++ compiler for inductor on CPU and compiles on first use).
        allowed = ((self.mask.unsqueeze(-1) >> self.bits) & 1).reshape(b, -1)[:, : scores.shape[1]]
        return scores.masked_fill(allowed == 0, float("-inf"))


def build_prompts(tok, n=4, skip=0):
    rows = [json.loads(line) for line in open("/work/main/data/sft/rows.jsonl")]
    picked, seen = [], set()
    for r in rows:  # varied steps: 0,1,2,3 of different tasks
        step = r["step"]
        if step in seen and len(seen) < 8:
            continue
        seen.add(step)
        if skip:
            skip -= 1
            continue
        picked.append(r["row"]["messages"][:-1])
        if len(picked) == n:
            break
    prompts = []
    for msgs in picked:
        chat = [{"role": m["role"], "content": m.get("content") or ""} for m in msgs]
        ids = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        prompts.append(list(ids[-2048:]))
    return prompts


def generate(model, tok, prompts, processors=None, sample=False):
    width = max(len(p) for p in prompts)
    pad = tok.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            max_new_tokens=MAX_NEW,
            do_sample=sample,
            temperature=1.0 if sample else None,
            top_p=1.0 if sample else None,
            top_k=None,
            pad_token_id=pad,
            eos_token_id=tok.eos_token_id,
            logits_processor=processors,
        )
    dt = time.perf_counter() - t0
    texts, ntok = [], 0
    eos = tok.eos_token_id
    for i in range(len(prompts)):
        new = out[i, width:].tolist()
        hit_eos = eos in new
        if hit_eos:
            new = new[: new.index(eos)]
        while new and new[-1] == pad:
            new.pop()
        ntok += len(new) + int(hit_eos)
        texts.append((tok.decode(new, skip_special_tokens=True), hit_eos))
    steps = out.shape[1] - width
    return texts, dt, steps, ntok


def report(label, texts, dt, steps, ntok):
    ok = 0
    print(f"== {label}: {dt:.3f}s, {steps} steps, {ntok} tokens, "
          f"{1000 * dt / max(steps, 1):.2f} ms/step, {1000 * dt / max(ntok, 1):.3f} ms/token")
    for text, eos in texts:
        res = parse_json_action(text)
        good = not isinstance(res, ParseError)
        ok += good
        print(f"   eos={eos} parse={'OK ' if good else res.code.value} {text[:150]!r}")
    print(f"   parsed {ok}/{len(texts)}")
    return ok


def main():
    tok = AutoTokenizer.from_pretrained(MODEL)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(MODEL).eval()
    vocab = model.config.vocab_size
    print("model", MODEL, "model vocab", vocab, "len(tok)", len(tok), "eos", tok.eos_token_id)
    prompts = build_prompts(tok)
    schema = action_schema()
    json.dump(schema, open("/tmp/spike12/schema.json", "w"), indent=1)

    # ---- xgrammar
    import xgrammar as xgr

    t = time.perf_counter()
    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=vocab)
    t_info = time.perf_counter() - t
    print(f"xgrammar {xgr.__version__ if hasattr(xgr, '__version__') else ''} tokenizer info {1000*t_info:.1f} ms;"
          f" vocab_type={info.vocab_type} stop={info.stop_token_ids} special={info.special_token_ids[:10]}")
    compiler = xgr.GrammarCompiler(info, max_threads=1)
    t = time.perf_counter()
    compiled = compiler.compile_json_schema(
        json.dumps(schema), any_whitespace=False, separators=(", ", ": "), strict_mode=True
    )
    print(f"xgrammar compile {1000*(time.perf_counter()-t):.1f} ms")
    # whitespace default for contrast (not used for generation)
    compiler.compile_json_schema(json.dumps(schema))

    # ---- llguidance
    import llguidance
    import llguidance.hf

    t = time.perf_counter()
    lltok = llguidance.hf.from_tokenizer(tok, n_vocab=vocab)
    t_lltok = time.perf_counter() - t
    t = time.perf_counter()
    grammar = llguidance.LLMatcher.grammar_from_json_schema(
        schema,
        defaults={"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "},
    )
    is_err, msgs = llguidance.LLMatcher.validate_grammar_with_warnings(grammar, lltok)
    print(f"llguidance {llguidance.__version__} tokenizer {1000*t_lltok:.1f} ms; grammar+validate "
          f"{1000*(time.perf_counter()-t):.1f} ms; error={is_err} msgs={msgs}")
    print("   special tokens:", [i for i in range(10) if lltok.is_special_token(i)],
          "eos", lltok.eos_token if hasattr(lltok, "eos_token") else "?")

    # ---- generation: warm-up, then timed runs
    generate(model, tok, prompts[:1])
    results = {}
    makers = {
        "none": lambda: None,
        "xgrammar": lambda: [xgr.contrib.hf.LogitsProcessor(compiled)],
        "llguidance": lambda: [LLGuidanceProcessor(lltok, grammar, vocab)],
    }
    for rep in range(5):  # keep the fastest of 5 (interleaved) per configuration
        for k, make in makers.items():
            r = generate(model, tok, prompts, make())
            if k not in results or r[1] < results[k][1]:
                results[k] = r
    for k, v in results.items():
        report(k, *v)
    base = results["none"][1] / max(results["none"][2], 1)
    for k in ("xgrammar", "llguidance"):
        per = results[k][1] / max(results[k][2], 1)
        print(f"overhead {k}: {per / base:.2f}x per step")

    # ---- sampled robustness check (temperature 1): 4 batches of 4, each engine
    prompts16 = build_prompts(tok, n=16)
    for name in ("xgrammar", "llguidance"):
        ok = cut = 0
        for k in range(4):
            torch.manual_seed(k)
            proc = (xgr.contrib.hf.LogitsProcessor(compiled) if name == "xgrammar"
                    else LLGuidanceProcessor(lltok, grammar, vocab))
            texts, *_ = generate(model, tok, prompts16[4 * k: 4 * k + 4], [proc], sample=True)
            for text, eos in texts:
                ok += not isinstance(parse_json_action(text), ParseError)
                cut += not eos
                if isinstance(parse_json_action(text), ParseError):
                    print(f"   {name} FAIL eos={eos} {text[:120]!r}...{text[-40:]!r}")
        print(f"sampled {name}: parsed {ok}/16, cut by max_new_tokens {cut}/16")


if __name__ == "__main__":
    main()
