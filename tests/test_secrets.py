"""Scrubbing API keys: whole, without their provider prefix, any 12+ character run of them, from
the environment or registered at runtime; messages; and fast enough to run on every text."""

from __future__ import annotations

import random
import string
import time

import pytest
from conftest import fake_key

from repo_agent import secrets
from repo_agent.records import Message, NativeToolCall
from repo_agent.secrets import (
    MASK,
    api_key_from_env,
    register_secret,
    scrub,
    scrub_message,
    unprefixed,
)

PROJ_KEY = fake_key("sk-proj-", 4, 33)
SVC_KEY = fake_key("sk-svcacct-", 6, 20)
SHORT_KEY = fake_key("sk-", 7, 16)
TOGETHER_KEY = fake_key("tgp_v1_", 5)


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key from the machine's environment or from other tests' registrations."""
    for var in secrets.SECRET_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(secrets, "_registered", ())


def test_env_keys_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PROJ_KEY)
    monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
    out = scrub(f"a={PROJ_KEY}\nb={TOGETHER_KEY}.")
    assert out == "a=***\nb=***."


@pytest.mark.parametrize(
    ("key", "bodies"),
    [
        (PROJ_KEY, [PROJ_KEY.removeprefix("sk-"), PROJ_KEY.removeprefix("sk-proj-")]),
        (TOGETHER_KEY, [TOGETHER_KEY.removeprefix("tgp_v1_")]),
        (SVC_KEY, [SVC_KEY.removeprefix("sk-"), SVC_KEY.removeprefix("sk-svcacct-")]),
        (SHORT_KEY, [SHORT_KEY.removeprefix("sk-")]),
    ],
)
def test_the_key_without_its_prefix_is_masked(key: str, bodies: list[str]) -> None:
    assert unprefixed(key) == bodies
    for body in bodies:
        assert scrub(f"401: bad key '{body}'", [key]) == "401: bad key '***'"


def test_any_run_of_twelve_or_more_characters_is_masked_whole() -> None:
    key = PROJ_KEY
    for start, length in [(0, 12), (5, 15), (20, 21), (len(key) - 12, 12), (3, 30)]:
        frag = key[start : start + length]
        out = scrub(f"<{frag}>", [key])
        assert out == "<***>", (start, length, out)  # the maximal run, not 12-char chunks


def test_a_run_of_eleven_characters_stays() -> None:
    frag = PROJ_KEY[9:20]
    assert scrub(f"<{frag}>", [PROJ_KEY]) == f"<{frag}>"


def test_overlapping_and_adjacent_fragments_become_one_mask() -> None:
    k = PROJ_KEY
    assert scrub(k[10:30] + k[25:40], [k]) == MASK
    assert scrub(f"x{k}{k}y", [k]) == "x***y"
    assert scrub(f"{k[:14]} and {k[-14:]}", [k]) == "*** and ***"


def test_a_fragment_beside_other_characters_keeps_them() -> None:
    k = PROJ_KEY
    text = f"zz{k[8:25]}!{k[28:]}"
    assert scrub(text, [k]) == "zz***!***"


def test_short_keys_are_masked_only_whole() -> None:
    short = "Ab3dE6gH9j"  # 10 characters
    assert scrub(f"k={short};", [short]) == "k=***;"
    assert scrub(f"k={short[:9]};", [short]) == f"k={short[:9]};"
    # Placeholders are no keys: masking "no-key" or "test" would mangle every text.
    assert scrub("no-key test dummy", ["no-key", "test", "dummy"]) == "no-key test dummy"


def test_registered_keys_are_masked_from_then_on() -> None:
    custom = "my-corp-key-7f3a9c2e5b8d1f4a"
    assert scrub(custom) == custom
    register_secret(custom)
    register_secret(custom)  # idempotent
    register_secret(None)
    register_secret("  ")
    assert secrets.registered_secrets() == (custom,)
    assert scrub(f"echo {custom[5:20]}") == "echo ***"


def test_a_custom_api_key_env_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_KEY", f"  {TOGETHER_KEY}\n")
    assert api_key_from_env("MY_PROVIDER_KEY") == TOGETHER_KEY
    assert scrub(TOGETHER_KEY[7:30]) == MASK
    monkeypatch.delenv("MY_PROVIDER_KEY")
    assert api_key_from_env("MY_PROVIDER_KEY", required=False) is None
    with pytest.raises(ValueError, match="MY_PROVIDER_KEY"):
        api_key_from_env("MY_PROVIDER_KEY")


def test_bearer_tokens_and_sk_keys_of_unknown_keys() -> None:
    out = scrub("Authorization: Bearer abc.DEF-123 / key sk-abcdefgh12 / bearer   xyz")
    assert out == "Authorization: Bearer *** / key *** / Bearer ***"
    assert scrub("task-identifier risk-assessment sk-short") == (
        "task-identifier risk-assessment sk-short"
    )


def test_text_without_keys_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PROJ_KEY)
    text = 'def f(x):\n    """Bisect."""\n    return x + 1  # sk- prefix: no key\n'
    assert scrub(text) == text
    assert scrub("") == ""


def test_scrub_message_covers_content_and_tool_calls() -> None:
    k = PROJ_KEY
    msg = Message(
        role="assistant",
        content=f"my key {k}",
        tool_calls=[
            NativeToolCall(
                id=f"call_{k[5:20]}",
                function={"name": "grep", "arguments": f'{{"pattern": "{k[8:]}"}}'},
            )
        ],
    )
    out = scrub_message(msg, [k])
    assert out.content == "my key ***"
    assert out.tool_calls[0].id == "call_***"
    assert out.tool_calls[0].function.arguments == '{"pattern": "***"}'
    assert k[8:20] not in out.model_dump_json()
    plain = Message(role="assistant", content="nothing here", tool_calls=None)
    assert scrub_message(plain, [k]) is plain
    assert scrub_message(Message(role="assistant", content=None), [k]).content is None


def test_scrub_is_fast_on_every_observation(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-" + "".join(rng.choices(alphabet, k=156)))
    monkeypatch.setenv("TOGETHER_API_KEY", "tgp_v1_" + "".join(rng.choices(alphabet, k=43)))
    text = "".join(rng.choices(alphabet + " \n_.()=:", k=2048))
    scrub(text)  # compile once
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        scrub(text)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 2e-3  # ~50 µs here; generous for a loaded CI machine
