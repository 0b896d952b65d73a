"""Honest about the clock and the home: the LLM is told the real local time each turn, a wrong
time or date it states as "now" is replaced by the real one, and a device state it claims (it
cannot see the home) is replaced by the honest line."""

from __future__ import annotations

import datetime as dt

import pytest
from stack import Stack, ask_llm_at_once

from orchestrator.clock_claims import fix_clock_claim
from orchestrator.honesty import ClaimGuard, claims_action
from orchestrator.intents import NO_HOME_REPLY
from wyoming_llama.handler import clock_line

NOW = dt.datetime(2026, 3, 14, 15, 9, 30)  # a Saturday


@pytest.mark.parametrize("clause", [
    "It's 3:45 PM.", "It is 10:00 in the morning.", "The current time is 09:12.", "It's 11 o'clock.",
    "It is now exactly 4:10 pm.", "23:12.", "Today is Monday.",
    # said by SmolLM2-135M without the clock in its prompt, 2026-12-01
    "It's 12:12.", "Today's date is 2022-02-28.", "The year is 2023.",
    "It's March 15th.", "Today's date is the 2nd of April.",
])
def test_a_wrong_time_or_date_stated_as_now_is_replaced_by_the_real_one(clause: str) -> None:
    fixed = fix_clock_claim(clause, NOW)
    assert fixed in ("It is 3:09 PM. ", "Today is Saturday, March 14, 2026. "), fixed


@pytest.mark.parametrize("clause", [
    "It's 3:09 PM.", "It is 15:10 now.", "It's 3:08 pm.", "Today is Saturday, March 14.", "It's March 14th.",
    "It's 3 am in Tokyo.", "The sun sets at 6 pm.", "The moon landing was on July 20, 1969.", "It is 20 degrees.",
    "Boil it for 5 minutes.", "It's 2026.", "Today's date is 2026-03-14.", "It's 3 in 2 out.",
    "The moon landing was in 1969.",
])
def test_the_real_time_and_times_of_other_things_pass(clause: str) -> None:
    assert fix_clock_claim(clause, NOW) is None


def test_the_guard_does_not_cut_a_clock_time_at_its_colon_and_fixes_it_as_text_streams() -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    pieces = ["Sure", "! It's 4:", "20 PM", " right now. Have a", " nice day!"]
    out = "".join(guard.feed(p) for p in pieces) + guard.flush()
    assert out == "Sure! It is 3:09 PM. Have a nice day!"
    assert guard.clock_fixed and not guard.replaced


@pytest.mark.parametrize("claim", [
    "Yes, it's locked.", "The back door is locked.", "The kitchen lights are still on.", "They are off right now.",
    "You left it on.", "Yes, you did.", "The garage door is currently open.", "It is unlocked",
    # said by SmolLM2-135M (the default model) with no home connected, 2026-12-01
    "You forgot to lock the back door.", "The lights on the kitchen are not on.", "No, you didn't.",
])
def test_a_claimed_device_state_is_a_claim(claim: str) -> None:
    assert claims_action(claim)


@pytest.mark.parametrize("fine", [
    "It is on the table.", "The shop is open until 9.", "The light bulb was invented by Edison.",
    "I can't see your devices.", "Locks keep doors closed when you are away.",
])
def test_sentences_about_other_things_are_not_state_claims(fine: str) -> None:
    assert not claims_action(fine)


def test_the_model_is_told_the_local_time_and_date() -> None:
    assert clock_line(NOW) == "It is 3:09 PM, Saturday, March 14, 2026."


def _checked(reply: str, now: dt.datetime) -> None:
    """Nothing said states a wrong time or date, a device state, or an action."""
    for clause in reply.replace(NO_HOME_REPLY, ".").split(". "):
        assert fix_clock_claim(clause, now) is None, reply
        assert not claims_action(clause), reply


@pytest.mark.slow
async def test_the_real_default_model_says_only_the_real_time_and_no_device_state(stack: Stack) -> None:
    """No templates: the questions reach SmolLM2-135M itself (told the real time in its prompt),
    and what is spoken passes the post-check with the real local clock."""
    texts = ["Could you tell me what time it is?", "Which day of the week is it?", "Did I lock the back door?",
             "Are the lights on in the kitchen?"]
    results = await ask_llm_at_once(stack, texts, "clock")  # (the four at once, as tests/stack.py says)
    for text, result in zip(texts, results, strict=True):
        assert result.error is None, result.error
        assert result.reply.strip(), text
        _checked(result.reply, dt.datetime.now())
        print(f"{text!r} -> {result.reply!r}")
