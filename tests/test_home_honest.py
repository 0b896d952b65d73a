"""Honest without a home: device commands are never confirmed, the LLM's action claims are
replaced, and time/date/timer questions are answered locally from the official templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from speech import speak, transcribe
from stack import Stack, ask_llm_at_once
from test_orchestrator_peers import chunks
from wyoming.asr import Transcript
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk
from wyoming.info import Attribution, HandleProgram, Info

from orchestrator.honesty import ClaimGuard, claims_action
from orchestrator.intents import LLM_CANNOT_ACT, NO_HOME_REPLY, IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from orchestrator.wavio import WavSink
from voice_runtime.handler import ServiceHandler
from voice_runtime.server import ServerConfig, WyomingServer

NOW = dt.datetime(2026, 3, 14, 15, 9)


@pytest.fixture(scope="module")
def intents() -> IntentRecognizer:
    return IntentRecognizer(now=lambda: NOW)


@pytest.mark.parametrize("text", [
    "Turn off the lights in the living room.",
    "Turn on the kitchen lights.",
    "turn on the kitchen lights and close the garage door",
    "Lock the front door.",
    "Unlock the back door please",
    "Open the garage door.",
    "Is the front door locked?",
    "Set the thermostat to 21 degrees.",
    "Dim the bedroom lamp.",
    "Pause the music.",
    "What's the weather like?",
])
async def test_device_commands_without_a_home_get_the_honest_answer(intents: IntentRecognizer, text: str) -> None:
    match = await intents.answer(text, "ask")
    assert match is not None, text
    assert match.response == NO_HOME_REPLY


async def test_the_no_home_answer_is_configurable() -> None:
    custom = IntentRecognizer(no_home_reply="Nothing is connected yet.")
    match = await custom.answer("switch off the fan", "ask")
    assert match is not None and match.response == "Nothing is connected yet."


@pytest.mark.parametrize(("text", "intent", "reply"), [
    ("What time is it right now?", "HassGetCurrentTime", "It is 3:09 PM."),
    ("what time is it", "HassGetCurrentTime", "It is 3:09 PM."),
    ("What's the time?", "HassGetCurrentTime", "It is 3:09 PM."),
    ("Tell me the time.", "HassGetCurrentTime", "It is 3:09 PM."),
    ("What's today's date?", "HassGetCurrentDate", "Today is Saturday, March 14, 2026."),
    ("What is the date today?", "HassGetCurrentDate", "Today is Saturday, March 14, 2026."),
    ("What day is it?", "HassGetCurrentDate", "Today is Saturday, March 14, 2026."),
    ("Never mind.", "HassNevermind", ""),
])
async def test_time_date_and_nevermind_are_answered_locally(
    intents: IntentRecognizer, text: str, intent: str, reply: str,
) -> None:
    match = await intents.answer(text, "ask")
    assert match is not None and (match.name, match.response) == (intent, reply)


@pytest.mark.parametrize("text", [
    "What is the capital of France?",
    "Tell me a long story about a brave little dragon.",
    "How do I make pancakes?",
    "Who wrote Pride and Prejudice?",
])
async def test_questions_still_go_to_the_llm(intents: IntentRecognizer, text: str) -> None:
    assert await intents.answer(text, "ask") is None


def test_user_templates_still_win(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text('language: en\nintents:\n  Greeting:\n    response: "Hi {who}"\n    data:\n'
                     '      - sentences:\n          - "say hi to {who}"\nlists:\n  who:\n    wildcard: true\n')
    found = IntentRecognizer((extra,)).recognize("Say hi to Ann")
    assert [(r.name, r.source, r.slots) for r in found] == [("Greeting", "user", {"who": "ann"})]


@pytest.mark.parametrize("claim", [
    "I turned on the kitchen lights.", "I've locked the front door.", "The front door is now locked.",
    "Turned off the lights in the living room.", "Timer set for ten minutes.", "Done!",
    "I'll set a timer for you.", "The lights have been turned off.", "I have set the thermostat to 20 degrees.",
])
def test_action_claims_are_recognised(claim: str) -> None:
    assert claims_action(claim)


@pytest.mark.parametrize("fine", [
    "I can't control devices.", "Paris is the capital of France.", "Open the window to cool down.",
    "I am not able to lock doors.", "I'm sorry, I can't do that.", "It is set in Paris.",
])
def test_ordinary_sentences_are_not_claims(fine: str) -> None:
    assert not claims_action(fine)


def test_the_guard_replaces_the_first_claim_and_drops_later_ones_as_text_streams() -> None:
    guard = ClaimGuard("I can't do that.")
    pieces = ["Sure", ", I turned", " on the li", "ghts. They are now on", ". Enjoy your ", "evening!"]
    out = [guard.feed(p) for p in pieces] + [guard.flush()]
    assert "".join(out) == "Sure, I can't do that. Enjoy your evening!"
    assert out[1] == "Sure, "  # a clause without a claim is let through as soon as it ends
    assert guard.replaced and guard.text == "".join(out)


@pytest.mark.slow
async def test_the_real_default_model_never_claims_an_action_it_cannot_do(stack: Stack) -> None:
    """No templates (``--no-intents``): device commands reach SmolLM2-135M itself. Whatever it
    writes, what is spoken must not claim the action was done."""
    texts = ["Lock the front door.", "Turn off the lights in the living room.", "Set a timer for ten minutes.",
             "Please turn on the heating."]
    results = await ask_llm_at_once(stack, texts, "honest")
    for text, result in zip(texts, results, strict=True):
        assert result.error is None, result.error
        assert result.reply.strip(), text
        assert not claims_action(result.reply) or NO_HOME_REPLY in result.reply, result.reply
        for sentence in result.reply.replace(NO_HOME_REPLY, "").split("."):
            assert not claims_action(sentence), (text, result.reply)
    replaced = sum(NO_HOME_REPLY in result.reply for result in results)
    print(f"claims replaced in {replaced} of 4 replies")


class FakeClaimingLlm(ServiceHandler):
    """Fault injection: a conversation service that claims an action it cannot have done,
    streamed in pieces that split the claim."""

    PIECES = ("Sure", ", I've lo", "cked the front door", ". Anything else?")

    async def handle_event(self, event: Event) -> bool:
        if Transcript.is_type(event.type):
            for piece in self.PIECES:
                await self.write_event(HandledChunk(text=piece).event())
            await self.write_event(Handled(text="".join(self.PIECES)).event())
            return True
        return await super().handle_event(event)


async def test_a_streamed_action_claim_is_replaced_before_it_is_spoken(stack: Stack) -> None:
    whisper, piper = stack.whisper, stack.tts  # the session's real servers (whisper, Piper TTS)
    info = Info(handle=[HandleProgram(name="liar", description="", attribution=Attribution("tests", ""),
                                      installed=True, version="1", models=[], supports_handled_streaming=True)])
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"),
                           lambda r, w: FakeClaimingLlm(r, w, info=lambda: info))
    await server.start()
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", [f"tcp://127.0.0.1:{server.port}"]),
                        ServicePool("tts", [piper.uri]))
    sink = WavSink()
    try:
        result = await pipeline.run_turn(chunks(speak("Lock the front door.")), sink, conversation_id="liar")
    finally:
        await pipeline.close()
        await server.stop()
    assert result.error is None, result.error
    assert result.reply == f"Sure, {NO_HOME_REPLY} Anything else?"
    heard = transcribe(bytes(sink.audio)).lower()
    # tiny.en hears Piper's "no home is connected" as "no homeless connected" now and then (CI, session 22).
    assert "no home" in heard and "connected" in heard and "locked" not in heard, heard


def test_the_honest_line_says_what_is_true_with_and_without_a_home() -> None:
    class NoNames:
        def slot_lists(self) -> dict[str, Any]:
            return {}

        async def execute(self, command: Any) -> str:
            return ""

        async def converse(self, text: str, conversation_id: str, *, part: bool = False) -> str | None:
            return None

    assert IntentRecognizer().honest_line == NO_HOME_REPLY
    assert IntentRecognizer(home=NoNames()).honest_line == LLM_CANNOT_ACT
