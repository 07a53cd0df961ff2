"""Reading a policy's reply: the next assistant message and its parsed action."""

from __future__ import annotations

import pytest
from conftest import fake_key

from repo_agent.records import Completion, FinalAction, Message
from repo_agent.runtime.policy import read_reply
from repo_agent.runtime.protocol import ParseError, ParseErrorCode


def test_read_reply_masks_keys_also_where_escapes_spell_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = fake_key("sk-proj-", 3)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)
    text = '{"type":"final","summary":"' + escaped + '"} ' + key
    msg, parsed = read_reply(Completion(message=Message(role="user", content=text)), "json")
    assert msg.role == "assistant" and key not in msg.content and "***" in msg.content
    assert isinstance(parsed, ParseError) and parsed.code == ParseErrorCode.NOT_ONE_OBJECT
    assert key not in parsed.detail
    final = '{"type":"final","summary":"' + escaped + '"}'
    _, parsed = read_reply(Completion(message=Message(role="assistant", content=final)), "json")
    assert parsed == FinalAction(summary="***")
    # A native reply without text gets empty content.
    msg, _ = read_reply(Completion(message=Message(role="assistant", content=None)), "native")
    assert msg.content == ""


def test_read_reply_marks_a_cut_reply_that_does_not_parse() -> None:
    cut = Completion(message=Message(role="assistant", content='{"type":"fi'), truncated=True)
    _, parsed = read_reply(cut, "json")
    assert isinstance(parsed, ParseError) and parsed.code == ParseErrorCode.TRUNCATED
    assert "(invalid_json:" in parsed.detail
    whole = '{"type":"final","summary":"ok"}'
    _, parsed = read_reply(
        cut.model_copy(update={"message": Message(role="assistant", content=whole)}), "json"
    )
    assert parsed == FinalAction(summary="ok")  # a cut reply that parses is kept
