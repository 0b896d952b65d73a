"""Preemptive replies (orchestrator/preemptive.py): the decision on recorded sequences of
speculative transcripts (what our whisper server sent at each pause, then the final transcript),
and the output that holds a prepared reply."""

from __future__ import annotations

import asyncio
import functools

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from orchestrator.intents import IntentRecognizer
from orchestrator.preemptive import HeldOutput, HeldOverflow, Preemptor, SpecAction, SpecPhase, Speculation


@functools.cache
def recognizer() -> IntentRecognizer:
    return IntentRecognizer()


def replay(speculative: list[str], final: str, *, enabled: bool = True) -> tuple[list[SpecAction], Speculation]:
    spec = Speculation(enabled=enabled)
    actions = [spec.speculative(text, recognizer().recognize(text)) for text in speculative]
    actions.append(spec.final(final))
    return actions, spec


# (speculative transcripts in order, final transcript, actions, final phase)
SEQUENCES = [
    # A question the user finished: prepared during the silence, used at once.
    (["What is the tallest mountain in the world?"], "What is the tallest mountain in the world?",
     [SpecAction.START, SpecAction.USE], SpecPhase.HIT),
    # Room run 2026-12-01: "Can you play some music ... by the Beatles?" reads as finished at the
    # pause; the user goes on, so the final differs: dropped, the turn answers the whole question.
    (["Can you play some music?"], "Can you play some music by the Beatles?",
     [SpecAction.START, SpecAction.CANCEL], SpecPhase.MISS),
    # A second pause with a longer text: the first preparation is replaced by the second.
    (["How far away?", "How far away is the moon from the earth?"], "How far away is the moon from the earth?",
     [SpecAction.START, SpecAction.RESTART, SpecAction.USE], SpecPhase.HIT),
    # The same text sent twice (two decodes of the same speech): kept, not restarted.
    (["Tell me a joke.", "Tell me a joke."], "Tell me a joke.", [SpecAction.START, SpecAction.NONE, SpecAction.USE],
     SpecPhase.HIT),
    # No speculative transcript at all (an external ASR, or the turn ended at audio-stop).
    ([], "What is the capital of France?", [SpecAction.NONE], SpecPhase.IDLE),
]


@pytest.mark.parametrize(("speculative", "final", "actions", "phase"), SEQUENCES)
def test_recorded_sequences(speculative: list[str], final: str, actions: list[SpecAction], phase: SpecPhase) -> None:
    got, spec = replay(speculative, final)
    assert got == actions and spec.phase is phase


@pytest.mark.parametrize("command", ["Turn on the kitchen lights.", "Set a timer for 15 minutes.",
                                     "Lock the front door.", "What time is it?"])
def test_a_command_is_never_prepared_before_the_end_of_turn(command: str) -> None:
    """Commands (home, timers, and the local answers) happen only after the end of the turn, as
    always: nothing is started for them, whether the final text is the same or not."""
    assert recognizer().recognize(command), command  # the recogniser does see a command
    actions, spec = replay([command], command)
    assert SpecAction.START not in actions and SpecAction.USE not in actions and spec.text is None


def test_a_question_that_turns_into_a_command_drops_the_prepared_reply() -> None:
    """"Can you ..." then, after another pause, "Can you turn on the kitchen lights?": the reply
    prepared for the question is dropped as soon as the text is a command."""
    actions, spec = replay(["Why is the sky blue?", "Turn on the kitchen lights."], "Turn on the kitchen lights.")
    assert actions == [SpecAction.START, SpecAction.CANCEL, SpecAction.NONE] and spec.phase is SpecPhase.IDLE


def test_switched_off_prepares_nothing() -> None:
    actions, _ = replay(["What is the tallest mountain in the world?"], "What is the tallest mountain in the world?",
                        enabled=False)
    assert actions == [SpecAction.NONE, SpecAction.NONE]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def event(self, event: Event) -> None:
        self.events.append(event)


async def test_held_output_sends_nothing_until_released_then_everything_in_order() -> None:
    held, out = HeldOutput(), Recorder()
    chunk = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x01\x00" * 160).event()
    await held.event(AudioStart(rate=16000, width=2, channels=1).event())
    await held.event(chunk)
    assert out.events == [] and held.held == 2
    heard: list[int] = []
    assert await held.release(out, lambda: heard.append(len(out.events))) == 2
    await held.event(AudioStop().event())  # after the release: straight through
    assert [e.type for e in out.events] == ["audio-start", "audio-chunk", "audio-stop"] and held.audio_chunks == 1
    assert heard == [2]  # told once, right after the first audio chunk went out


async def test_held_output_is_bounded() -> None:
    held = HeldOutput(max_events=2)
    await held.event(AudioStop().event())
    await held.event(AudioStop().event())
    with pytest.raises(HeldOverflow):
        await held.event(AudioStop().event())


class RecordingPreparation:
    """Stands for the pipeline's prepared reply: records whether it was dropped."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.dropped = False

    async def drop(self) -> None:
        self.dropped = True


async def test_preemptor_prepares_in_order_and_hands_over_only_a_hit() -> None:
    started: list[RecordingPreparation] = []

    def prepare(text: str) -> RecordingPreparation:
        started.append(RecordingPreparation(text))
        return started[-1]

    async def recognize(text: str) -> list[object]:
        return list(await asyncio.to_thread(recognizer().recognize, text))

    hit = Preemptor(recognize, prepare)
    hit.speculative("How far away?")
    hit.speculative("How far away is the moon from the earth?")
    used = await hit.final("How far away is the moon from the earth?")  # both decided first, in order
    assert [p.text for p in started] == ["How far away?", "How far away is the moon from the earth?"]
    assert used is started[1] and started[0].dropped and not started[1].dropped
    await hit.close()

    miss = Preemptor(recognize, prepare)
    miss.speculative("Can you play some music?")
    miss.speculative("Turn on the kitchen lights.")  # a command: nothing prepared for it
    assert await miss.final("Can you play some music by the Beatles?") is None
    assert started[-1].text == "Can you play some music?" and started[-1].dropped
    await miss.close()
