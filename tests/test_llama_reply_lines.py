"""A reply made of lines with no ``.!?`` (a list, or a line the model repeats) is bounded by
``--max-sentences`` too: a line break after text ends a sentence, and a list item's number
("1. Flour") does not (wyoming_llama/spoken.py).

Before: session 21's room run (--max-sentences 1, as bench/room_turns_bench.py starts the
service) answered "Read me the news headlines from today." with "The news headlines are:" and two
line breaks, over and over, to the 80-token limit (5.4 s of speech); kept in the history, that
reply made each of the conversation's four later replies the same 80 tokens. A numbered list
was cut after its first number: the whole reply was "1. ".
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from helpers import ServiceProcess, connected, start_service
from wyoming.asr import Transcript
from wyoming.handle import Handled

from wyoming_llama.spoken import SentenceBudget

MAX_TOKENS = 80  # wyoming_llama's default --max-tokens
LOOP = ["The", " news", " headlines", " are", ":", "\n\n", "The", " news", " headlines", " are", ":", "\n\n", "The"]


def said(budget: SentenceBudget, pieces: list[str]) -> str:
    return "".join(budget.take(p) for p in pieces)


def test_a_looping_line_is_one_sentence() -> None:
    one = SentenceBudget(1)
    assert said(one, LOOP).strip() == "The news headlines are:" and one.done
    two = SentenceBudget(2)
    assert said(two, LOOP) == "The news headlines are:\n\nThe news headlines are:\n\n" and two.done


def test_each_line_of_a_list_is_a_sentence_whatever_its_first_letter() -> None:
    budget = SentenceBudget(3)
    text = "Here's a shopping list:\n\n* flour\n* sugar\n* milk\n* eggs"
    assert said(budget, list(text)) == "Here's a shopping list:\n\n* flour\n* sugar\n" and budget.done
    lower = SentenceBudget(1)
    assert said(lower, ["ok\nnext line"]) == "ok\n" and lower.done


def test_the_number_opening_a_list_item_is_no_sentence_end() -> None:
    budget = SentenceBudget(1)
    assert said(budget, ["1", ".", " 1 1/2 cups flour", "\n", "2. Milk"]) == "1. 1 1/2 cups flour\n" and budget.done
    sentence = SentenceBudget(1)  # a number ending a sentence still ends it
    assert said(sentence, ["It costs 10. Then more."]) == "It costs 10. " and sentence.done


def test_a_clause_said_three_times_in_a_row_ends_the_reply() -> None:
    budget = SentenceBudget(1)
    pieces = ["You'll need", " a few ingredients:", " flour,", " eggs,", " bacon,", " bacon,", " bacon,", " bacon"]
    assert said(budget, pieces) == "You'll need a few ingredients: flour, eggs, bacon, bacon, bacon," and budget.done
    twice = SentenceBudget(1)  # twice is still speech
    assert said(twice, ["Very, very good. Next"]) == "Very, very good. " and twice.done
    looping = SentenceBudget(3)
    assert said(looping, LOOP[:6] * 4) == "\n\n".join(["The news headlines are:"] * 3) and looping.done


def test_sentences_within_a_line_count_as_before() -> None:
    budget = SentenceBudget(2)
    assert said(budget, ["Pi is 3.14 and e.g. more! Then", " one. Two."]) == "Pi is 3.14 and e.g. more! Then one. "
    leading = SentenceBudget(1)  # a line break before any text ends nothing
    assert said(leading, ["\n\nHello there.\nNext"]) == "\n\nHello there.\n" and leading.done


@pytest.fixture(scope="module")
async def llama() -> AsyncIterator[ServiceProcess]:
    """The service as the room benchmark runs it (one sentence a reply), greedy."""
    service = await start_service("wyoming_llama", "--max-sentences", "1", "--temperature", "0",
                                  "--threads", "1", "--warm-up-slots", "1")
    try:
        yield service
    finally:
        await service.stop()


async def test_a_list_reply_of_the_real_model_stops_after_its_first_line(llama: ServiceProcess) -> None:
    """SmolLM2 answers this (greedy, no history) with "To make a delicious batch of pancakes, you'll
    need:" and a list of "- " lines with no sentence mark: before, on to the 80-token limit."""
    async with connected(llama.port) as client:
        await client.send(Transcript(text="What do I need to make pancakes?", context={"conversation_id": "l"}))
        events = await client.recv_until("handled-stop", timeout=180)
    reply = next(Handled.from_event(e).text or "" for e in events if e.type == "handled")
    assert any(c.isalpha() for c in reply) and "\n" not in reply.strip(), reply  # words, on one line
    # (the same prompt, greedy, once came as one line looping "bacon, bacon, ...": llama-server's
    # batching is not bit-exact. Either way the reply must end well before the token limit.)
    assert await llama.wait_log('msg="reply conversation=l ', timeout=30)
    logged = next(line for line in llama.log if 'msg="reply conversation=l ' in line)
    match = re.search(r" chunks=(\d+) ", logged)
    assert match and int(match.group(1)) < MAX_TOKENS, logged
