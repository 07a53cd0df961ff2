"""Constrained decoding of local models (llguidance): untrained tiny models, the embedded
student's tokenizer and a different HF tokenizer with a padded vocabulary, real generate()
calls and real agent runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny import texts_of

from repo_agent.policies.config import HFConfig
from repo_agent.policies.factory import make_policy
from repo_agent.policies.hf import HFPolicy
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.records import Message
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import ParseError, parse_json_action

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def chatml_dir(tmp_path_factory, oracle_steps) -> Path:
    """Another HF model: a ChatML template, eos `<|im_end|>`, no pad token, and a model
    vocabulary 37 ids wider than the tokenizer (as real checkpoints pad theirs)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out = tmp_path_factory.mktemp("chatml") / "model"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts_of(oracle_steps)[::-1], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", additional_special_tokens=specials
    )
    fast.chat_template = CHATML
    fast.save_pretrained(out)
    torch.manual_seed(1)
    config = Qwen2Config(
        vocab_size=len(fast) + 37,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        max_position_embeddings=2048,
        eos_token_id=fast.eos_token_id,
    )
    Qwen2ForCausalLM(config).save_pretrained(out)
    return out


def policy(model: Path, constrain: str = "json_schema", **kw: object) -> HFPolicy:
    cfg = HFConfig(model=str(model), constrain=constrain, **kw)
    made = make_policy(cfg, [], "json")
    assert isinstance(made, HFPolicy)
    return made


def states(oracle_steps, n: int = 8) -> list[PolicyRequest]:
    """Real conversation states (the first and later steps of oracle runs)."""
    picked = oracle_steps[:: max(1, len(oracle_steps) // n)][:n]
    return [
        PolicyRequest(task_id=s.task_id, run_id=s.run_id, seed=i, step=s.step, messages=s.messages)
        for i, s in enumerate(picked)
    ]


def parse_codes(completions) -> list[str | None]:
    out = []
    for c in completions:
        parsed = parse_json_action(c.message.content)
        out.append(parsed.code.value if isinstance(parsed, ParseError) else None)
    return out


@pytest.mark.parametrize("model", ["student_dir", "chatml_dir"])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_every_constrained_action_parses(request, oracle_steps, model, temperature) -> None:
    path = request.getfixturevalue(model)
    reqs = states(oracle_steps)
    free = policy(path, "none", temperature=temperature, max_new_tokens=256, batch_size=4)
    constrained = policy(path, temperature=temperature, max_new_tokens=256, batch_size=4)
    # An untrained model does not write the protocol on its own...
    assert all(code is not None for code in parse_codes(free.complete(reqs)))
    # ...and always does under the grammar: greedy and sampled, batched with left padding.
    outs = constrained.complete(reqs)
    assert parse_codes(outs) == [None] * len(reqs), [o.message.content for o in outs]
    assert not any(o.truncated for o in outs)
    assert all(o.usage.completion_tokens > 0 and o.usage.decode_s > 0 for o in outs)


def test_constrained_runs_have_no_parse_errors(student_dir, builtin_tasks) -> None:
    """Whole agent runs of the untrained student: every step parses, so runs end on the step
    limit or a final, never on parse errors."""
    tasks = builtin_tasks[:4]
    lines = []
    run_episodes(
        [RunSpec(t, f"{t.id}:g:0", seed=7) for t in tasks],
        policy(student_dir, max_new_tokens=256, batch_size=4),
        AgentConfig(test_policy="never", max_steps=4),
        lambda steps, line: lines.append((steps, line)),
    )
    steps = [s for run, _ in lines for s in run]
    assert len(lines) == 4 and len(steps) >= 4
    assert [s.parse_error for s in steps] == [None] * len(steps)
    assert all(line.result.parse_errors == 0 for _, line in lines)


def test_a_reply_cut_by_the_token_budget_is_its_own_parse_error(student_dir, builtin_tasks) -> None:
    outs = policy(student_dir, max_new_tokens=3).complete(states_of(builtin_tasks[:2]))
    assert all(o.truncated and o.usage.completion_tokens == 3 for o in outs)
    records = []
    run_episodes(
        [RunSpec(builtin_tasks[0], "t:g:0")],
        policy(student_dir, max_new_tokens=3),
        AgentConfig(test_policy="never", max_steps=2),
        lambda steps, _line: records.extend(steps),
    )
    assert records[0].parse_error == "truncated"
    assert "token budget" in (records[0].parse_error_detail or "")


def states_of(tasks) -> list[PolicyRequest]:
    from repo_agent.runtime.protocol import goal_message, system_prompt

    return [
        PolicyRequest(
            task_id=t.id,
            run_id=f"{t.id}:x:0",
            messages=[
                Message(role="system", content=system_prompt("json")),
                Message(role="user", content=goal_message(t.spec.goal)),
            ],
        )
        for t in tasks
    ]


def test_the_grammar_accepts_every_teacher_action_token_by_token(
    student_dir, chatml_dir, builtin_tasks
):
    """The processor's masks, fed the tokens of the oracle's actions (writes with newlines,
    quotes and backslashes included), never forbid the next token, and allow only EOS after
    the object closes: the grammar does not change what a model that writes the protocol writes."""
    import torch
    from transformers import AutoTokenizer

    from repo_agent.policies.grammar import ActionGrammar
    from repo_agent.policies.schemas import action_schema
    from repo_agent.runtime.protocol import render_action

    actions = []
    tasks = builtin_tasks[:6]
    run_episodes(
        [RunSpec(t, f"{t.id}:o:0") for t in tasks],
        OraclePolicy(tasks, explore=0.5),
        AgentConfig(test_policy="never"),
        lambda steps, _line: actions.extend(s.action for s in steps),
    )
    texts = [render_action(a) for a in actions]
    assert any("\\n" in t for t in texts) and any('\\"' in t for t in texts)
    for path in (student_dir, chatml_dir):
        tok = AutoTokenizer.from_pretrained(path)
        grammar = ActionGrammar(
            tok, len(tok) + 5, action_schema(max_content_chars=20_000), tok.eos_token_id
        )
        for text in texts:
            ids = tok.encode(text, add_special_tokens=False)
            proc = grammar.processor()
            for n in range(len(ids) + 1):
                scores = proc(torch.tensor([[0, *ids[:n]]]), torch.zeros(1, len(tok) + 5))
                allowed = torch.isfinite(scores[0]).nonzero().flatten().tolist()
                if n < len(ids):
                    assert ids[n] in allowed, (text, tok.decode(ids[:n]))
                else:
                    assert allowed == [tok.eos_token_id], text


@pytest.mark.parametrize("budget", [64, 96])
def test_the_budget_closes_the_action_in_time(
    chatml_dir, oracle_steps, budget, monkeypatch
) -> None:
    """A byte-level model writing 3-byte characters needs ~3 tokens a character, so a string
    bound of 200 characters alone would not fit the budget: the processor closes the action
    in the budget's last tokens instead."""
    from repo_agent.policies import grammar

    reqs = states(oracle_steps)
    outs = policy(chatml_dir, temperature=1.0, max_new_tokens=budget).complete(reqs)
    assert parse_codes(outs) == [None] * len(reqs), [o.message.content for o in outs]
    assert max(o.usage.completion_tokens for o in outs) <= budget
    # Without the reserve the same generation runs out of budget inside a string.
    monkeypatch.setattr(grammar, "RESERVE", 0)
    outs = policy(chatml_dir, temperature=1.0, max_new_tokens=budget).complete(reqs)
    assert any(o.truncated for o in outs)
