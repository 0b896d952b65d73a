"""The honesty guard lets the first clause's safe words through before the clause ends, so
text-to-speech can start its first piece sooner, and still never lets a claim be spoken."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.clock_claims import fix_clock_claim
from orchestrator.honesty import ClaimGuard, claims_action
from orchestrator.intents import NO_HOME_REPLY
from wyoming_kokoro.text import SentenceSplitter

NOW = dt.datetime(2026, 3, 14, 15, 9, 30)

# First clauses SmolLM2-135M wrote in bench/results/answers.json (long, with no early comma).
PLAIN = [
    "The largest planet in our solar system is Jupiter, but in a different perspective, it's the Moon.",
    "Mount Everest is the tallest mountain on Earth and is the highest mountain in Asia.",
    "The closest star to the Earth is actually Sirius, a planet in the constellation Canis.",
    "Serbian and Portuguese are the primary languages spoken in Brazil.",
    "The boiling point of water is 100 degrees Celsius at sea level.",
    "The capital of the United Kingdom is London, United Kingdom.",
]
# Claims after words that are let through early, and claims that open the reply.
CLAIMS = [
    "The whole house is now locked up tight.",
    "Well my good friend the front door is locked.",
    "As requested the living room lights are now off.",
    "Alright then I have turned off the kitchen lights.",
    "Turned on the kitchen lights for you.",
    "Okay turned on the porch light.",
    "Sure thing I've set a timer for ten minutes.",
    "Good question and the answer is that it's 4:20 PM right now.",
    "Good question and the answer is that today is Monday, March 2.",
    "Your music is now playing in the kitchen.",
    "The heating has been switched on.",
    "Everything is done and the garage is closed.",
    "23:12. Have a good evening.",
    "Good question and the current time is 4:20 PM.",
    "Right now in your area the date is March 2, 2026.",
    "It has been switched on.",
    "It is now locked.",
    "It's locked.",
    "It takes a moment and the front door is now locked.",
    "It turns out I have turned off the kitchen lights.",
    "The time it takes is short and I have locked the front door.",
    "The time is 4:20 PM.",
    "The speed of light is fast and I have turned on the kitchen light.",
]


def stream(guard: ClaimGuard, text: str, step: int = 2) -> list[str]:
    """What the guard lets out, delta by delta, for ``text`` arriving ``step`` characters at a time."""
    outs = [guard.feed(text[i : i + step]) for i in range(0, len(text), step)]
    return [*outs, guard.flush()]


@pytest.mark.parametrize("reply", PLAIN)
def test_the_first_piece_reaches_text_to_speech_before_the_first_clause_ends(reply: str) -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    splitter = SentenceSplitter()  # the TTS server's, with its defaults
    clause_end = reply.index(",") if "," in reply else len(reply) - 1
    first_piece_at = None
    fed = 0
    for i in range(0, len(reply), 2):
        out = guard.feed(reply[i : i + 2])
        fed = i + 2
        if splitter.feed(out) and first_piece_at is None:
            first_piece_at = fed
    splitter.feed(guard.flush())
    assert first_piece_at is not None and first_piece_at < clause_end, (first_piece_at, clause_end)
    assert guard.text == reply and not guard.replaced  # nothing changed, only sooner


@pytest.mark.parametrize("reply", PLAIN)
def test_without_early_words_nothing_goes_out_before_the_first_clause_ends(reply: str) -> None:
    """The comparison the test above is measured against (the guard as it was)."""
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW, early=False)
    clause_end = reply.index(",") if "," in reply else len(reply) - 1
    assert not "".join(guard.feed(reply[i : i + 2]) for i in range(0, clause_end - 1, 2))


@pytest.mark.parametrize("reply", CLAIMS)
@pytest.mark.parametrize("step", [1, 3, 7])
def test_a_claim_is_never_spoken_when_the_first_words_go_out_early(reply: str, step: int) -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    spoken = "".join(stream(guard, reply, step))
    plain = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW, early=False)
    "".join(stream(plain, reply, step))
    assert guard.replaced == plain.replaced and guard.clock_fixed == plain.clock_fixed
    assert guard.replaced or guard.clock_fixed, spoken
    for clause in spoken.replace(NO_HOME_REPLY, ".").split("."):
        assert not claims_action(clause), spoken
        assert fix_clock_claim(clause + ".", NOW) is None, spoken
    assert "4:20" not in spoken and "Monday" not in spoken


def test_only_the_first_clause_goes_out_word_by_word() -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("Paris is the capital of ") == "Paris is the capital of "
    assert guard.feed("France, and a lovely ") == "France, "
    assert guard.feed("city to visit.") == ""
    assert guard.flush() == "and a lovely city to visit."
    assert guard.text == "Paris is the capital of France, and a lovely city to visit."


# Words in curly quotes or with a curly apostrophe are the same words to every early check
# (honesty._bare: once the three checks normalised a word three ways, and the opener check
# missed "“Okay,”", the risky-word check "“I").
@pytest.mark.parametrize("reply", ["\u201cOkay,\u201d I turned on the porch light.",
                                   "\u201cI\u2019ve turned on the porch light.\u201d"])
@pytest.mark.parametrize("step", [1, 3, 7])
def test_a_quoted_opening_word_is_held_like_a_bare_one(reply: str, step: int) -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert "".join(stream(guard, reply, step)) == NO_HOME_REPLY + " "


# SmolLM2-135M's replies in the room (session 24, bench/llm_turn_pair_bench.py): an opening "It" was
# risky, so the whole first clause waited ("It takes 8 hours ... miles.": 20 tokens, the first piece
# the whole sentence).
@pytest.mark.parametrize("reply", ["It takes 8 hours and 20 minutes to travel 1000 miles.",
                                   "It depends on the size of the egg and the altitude."])
def test_an_opening_it_before_a_verb_of_its_own_goes_out_early(reply: str) -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    splitter = SentenceSplitter()
    pieces_at = [i for i in range(0, len(reply), 2) if splitter.feed(guard.feed(reply[i : i + 2]))]
    splitter.feed(guard.flush())
    assert pieces_at and pieces_at[0] < len(reply) - 10, pieces_at  # before: at the full stop
    assert guard.text == reply and not guard.replaced


def test_an_opening_it_waits_for_its_verb() -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("It ") == ""
    assert guard.feed("is ") == ""  # "It is ...": held to the clause's end, as before
    assert guard.feed("locked. ") == NO_HOME_REPLY + " "
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("It ") == ""
    assert guard.feed("takes ") == "It takes "


# Session 25: "How long does it take to boil an egg?" was answered "The time it takes to boil an egg is
# approximately 11 minutes." in the room, and "time" (a clock claim's word) held the whole sentence:
# its first audio came 0.45-0.50 s after the first token (bench/results/s24_llm.md).
def test_the_time_it_takes_goes_out_early() -> None:
    reply = "The time it takes to boil an egg is approximately 11 minutes."
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    splitter = SentenceSplitter()
    pieces_at = [i for i in range(0, len(reply), 2) if splitter.feed(guard.feed(reply[i : i + 2]))]
    splitter.feed(guard.flush())
    assert pieces_at and pieces_at[0] < reply.index(" is "), pieces_at  # before: at the full stop
    assert guard.text == reply and not guard.replaced


def test_time_goes_out_early_only_before_it_takes_and_a_figure_after_it_waits() -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("The time it ") == "The "  # the next word decides
    assert guard.feed("is ") == ""  # "The time it is ...": held to the clause's end, as before
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("The time it takes is ") == "The time it takes is "
    assert guard.feed("4:20 ") == ""  # a figure in that clause holds its rest
    assert guard.feed("PM. ") == "4:20 PM. "


# Session 25: "light" is a device word, so "The speed of light is ..." (SmolLM2-135M's reply to "What is the
# speed of light?") held its first clause: 9 tokens to the first piece instead of 6.
def test_light_after_of_is_not_a_lamp() -> None:
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("The speed of light is ") == "The speed of light is "
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)  # a token at a time, as the LLM sends them
    assert "".join(guard.feed(token) for token in ("The", " speed", " of", " light", " is", " not")) == (
        "The speed of light is ")
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("The kitchen light is ") == "The kitchen "  # a lamp: held as before


def test_the_first_clause_goes_out_at_its_comma_without_the_next_token() -> None:
    """A comma right after a word ends the clause as it arrives (the LLM's next token brings the
    space): checked and let through one token earlier; not after a digit ("1,000") nor in a quote."""
    guard = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert guard.feed("To boil an ") == "To boil an "
    assert guard.feed("egg") == ""
    assert guard.feed(",") == "egg,"
    assert guard.feed(" it takes ") == ""
    assert guard.flush() == " it takes "
    held = ClaimGuard(NO_HOME_REPLY, now=lambda: NOW)
    assert held.feed("I turned on the light,") == NO_HOME_REPLY + " "  # a claim is still checked whole
    for text in ("It is 1,", "\u201cOkay,"):
        assert ClaimGuard(NO_HOME_REPLY, now=lambda: NOW).feed(text) == "", text
