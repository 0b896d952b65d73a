"""The clock line goes only into questions that may need it.

The clock line ("It is 6:05 PM, Thursday, December 3, 2026.", ~21 of SmolLM2's tokens) was most of
what every LLM turn evaluated before its first token: on session 19's VM llama-server evaluates a
prompt token in 5-15 ms, and a 12-question conversation asked with and without the line took p50
455 vs 195 ms of prompt evaluation per question (``bench/llama_context_probe.py``, session 20,
``bench/results/s20_llm.md``). A question that names a time, a date, a day or a span of time, or
asks "when" / "how long until" / "how old", or sets an alarm, a timer or a reminder still gets it; "how
long" alone asks for a duration or a length and does not (session 24: with the line SmolLM2-135M put
the time into the duration, "To boil an egg, it takes 11:06 AM, Friday, ...").

The service in this process on a fake OpenAI-compatible server (``tests/test_llama_openai.py``'s).
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_llama_openai import FakeOpenAIServer, fake, in_process  # noqa: F401  (fake: fixture)
from wyoming.asr import Transcript

from wyoming_llama.handler import clock_line, needs_clock

NOW = dt.datetime(2026, 12, 3, 18, 5)
LINE = "It is 6:05 PM, Thursday, December 3, 2026."

TIMELY = ["What time is it?", "What day is it today?", "How long until Christmas?", "How long ago was 1990?",
          "What time does the store close?", "Set an alarm for seven thirty in the morning.",
          "Remind me to call my mother tomorrow.", "How old is the universe?", "When is Christmas?",
          "Is it 5 p.m. yet?", "What's the weather going to be like tomorrow?", "Good morning."]
TIMELESS = ["How far away is Mars?", "What is the tallest mountain in the world?", "Tell me a joke about penguins.",
            "Who wrote the novel Pride and Prejudice?", "Where is the nearest pharmacy?", "Why is the sky blue?",
            # a duration or a length (session 24: with the clock line the model put the time into it)
            "How long does it take to boil an egg?", "How long is the Nile river?"]


@pytest.mark.parametrize("question", TIMELY)
def test_a_question_about_time_or_dates_needs_the_clock(question: str) -> None:
    assert needs_clock(question)


@pytest.mark.parametrize("question", TIMELESS)
def test_a_question_without_time_words_does_not(question: str) -> None:
    assert not needs_clock(question)


async def test_the_model_is_told_the_time_only_when_asked_about_it(fake: FakeOpenAIServer) -> None:  # noqa: F811
    async with in_process(fake) as (client, service):
        service.now = lambda: NOW
        for question in ("How far away is Mars?", "What time is it?"):
            await client.send(Transcript(text=question, context={"conversation_id": "c"}))
            await client.recv_until("handled-stop")
    assert clock_line(NOW) == LINE
    first, second = (request.body["messages"] for request in fake.requests)
    assert first[-1] == {"role": "user", "content": "How far away is Mars?"}  # no clock line: ~21 tokens fewer
    assert second[-1] == {"role": "user", "content": f"{LINE}\n\nWhat time is it?"}
    # the history repeats each question as it was asked (the prompt cache covers it)
    assert second[1] == {"role": "user", "content": "How far away is Mars?"}
