"""The next question's prompt start (history + clock line) is evaluated once a reply is stored
(``wyoming_llama/prefill.py``), on the real llama-server and SmolLM2: the next question then
evaluates only its own words and the template's few tokens."""

from __future__ import annotations

from helpers import ServiceProcess, connected
from llama_service_harness import PROMPT_NOW, RecordingProvider, ask, check_reply, in_process, ready_url, uncached

from wyoming_llama.handler import clock_line
from wyoming_llama.llm import GenerationSettings
from wyoming_llama.prefill import Prefiller

SETTINGS = GenerationSettings(max_tokens=8, temperature=0.0)
CLOCK_TOKENS = 21  # clock_line's length in SmolLM2's tokens (handler.clock_line)


async def second_turn_uncached(url: str, conversation: str, *, prefill: bool) -> tuple[int, RecordingProvider]:
    """Two questions in one conversation; the prompt tokens the second one evaluated (not cached)."""
    prefiller = Prefiller if prefill else None
    async with (in_process(url, SETTINGS, slots=4,  # the shared service's --parallel
                           prefiller=prefiller) as (server, service, provider),
                connected(server.port or 0) as client):
        check_reply(await ask(client, "Name a fruit.", conversation), conversation)
        if service.prefiller is not None:
            await service.prefiller.wait()  # the user's pause: the prefill is over before the next question
        check_reply(await ask(client, "Name a color for today.", conversation), conversation)
    return uncached(provider), provider


async def test_after_a_stored_reply_the_next_question_finds_its_clock_line_evaluated(llama: ServiceProcess) -> None:
    url = await ready_url(llama)
    before, _ = await second_turn_uncached(url, "prefill-off", prefill=False)
    after, provider = await second_turn_uncached(url, "prefill-on", prefill=True)
    # the clock line (and the template around it) was evaluated before the question came
    assert after <= before - CLOCK_TOKENS, (before, after)
    # what the model was asked is unchanged: the prefill adds no message to the prompt
    # ("today": a question asked with the clock line, handler.needs_clock)
    assert provider.sent[-1][-1]["content"] == f"{clock_line(PROMPT_NOW)}\n\nName a color for today."
    assert [m["role"] for m in provider.sent[-1]] == ["system", "user", "assistant", "user"]


def test_prefill_is_on_by_default() -> None:
    """On by default since session 21 (bench/llama_history_bench.py); --no-prefill turns it off."""
    from wyoming_llama.__main__ import make_config, parse_args

    assert make_config(parse_args([])).prefill is True
    assert make_config(parse_args(["--prefill"])).prefill is True
    assert make_config(parse_args(["--no-prefill"])).prefill is False
