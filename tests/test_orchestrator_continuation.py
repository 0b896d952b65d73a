"""The continuation decision (orchestrator/continuation.py) on recorded event sequences, the
joining of the two parts' audio, and the whisper server's ``endpoint_after`` hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk

from orchestrator.continuation import ContinuationPolicy, HeardAudio, Phase, TurnTrack, may_act
from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer
from orchestrator.timers import TimerManager

# What a turn sent the satellite, as the link's output saw it: (seconds, event type, audio s).
# Recorded from the orchestrator's log of a paused question in the room ("Can you play some
# music ... by the Beatles?": the end of speech was declared after "music").
INTENT_REPLY = [(0.0, "voice-started", 0.0), (2.10, "voice-stopped", 0.0), (2.16, "transcript", 0.0),
                (2.20, "synthesize", 0.0), (2.55, "audio-start", 0.0), (2.56, "audio-chunk", 0.5),
                (2.57, "audio-chunk", 0.5), (2.60, "audio-chunk", 1.2), (2.62, "audio-stop", 0.0)]
LLM_THINKING = [(0.0, "voice-started", 0.0), (3.00, "voice-stopped", 0.0), (3.05, "transcript", 0.0)]


def track(events: list[tuple[float, str, float]], policy: ContinuationPolicy | None = None) -> TurnTrack:
    found = TurnTrack(policy or ContinuationPolicy())
    for at, kind, seconds in events:
        found.sent(kind, at, seconds)
    return found


def test_speech_soon_after_the_end_with_nothing_heard_is_the_same_question() -> None:
    decision = track(LLM_THINKING).decide(3.9)
    assert decision.merge and decision.reply_heard == 0.0


def test_speech_after_the_window_is_a_new_question() -> None:
    decision = track(LLM_THINKING).decide(4.6)
    assert not decision.merge and "after the end of speech" in decision.reason


def test_a_reply_that_has_only_just_begun_is_merged_and_the_part_heard_is_reported() -> None:
    decision = track(INTENT_REPLY).decide(3.16)  # 0.6 s after its first chunk went out
    assert decision.merge and decision.reply_heard == pytest.approx(0.6)


def test_a_reply_heard_for_longer_is_a_barge_in() -> None:
    decision = track(INTENT_REPLY, ContinuationPolicy(window=3.0)).decide(3.7)
    assert not decision.merge and "of the reply heard" in decision.reason


def test_heard_is_bounded_by_the_audio_sent() -> None:
    short = [(0.0, "voice-stopped", 0.0), (0.3, "audio-chunk", 0.2)]
    decision = track(short).decide(1.4)  # 1.1 s after the first chunk, but only 0.2 s was sent
    assert decision.merge and decision.reply_heard == pytest.approx(0.2)


def test_an_intent_that_can_act_seals_the_turn_for_good() -> None:
    found = track(LLM_THINKING)
    assert not found.decide(3.2, acting=True).merge
    assert found.phase is Phase.SEALED
    assert not found.decide(3.3, acting=False).merge  # whatever it did is not undone by merging


def test_speech_while_the_question_is_still_being_taken_is_not_a_continuation() -> None:
    decision = track([(0.0, "voice-started", 0.0)]).decide(0.5)
    assert not decision.merge and "had not ended" in decision.reason


def test_window_zero_turns_it_off_and_missing_audio_prevents_it() -> None:
    assert not track(LLM_THINKING, ContinuationPolicy(window=0)).decide(3.1).merge
    assert not track(LLM_THINKING).decide(3.1, audio_ok=False).merge


def test_which_answers_may_have_acted() -> None:
    assert not may_act(None, "", no_home_reply=NO_HOME_REPLY)  # the LLM cannot act
    assert not may_act("HassGetCurrentTime", "It is 3 PM.", no_home_reply=NO_HOME_REPLY)
    assert not may_act("HassTimerStatus", "No timers.", no_home_reply=NO_HOME_REPLY)
    assert not may_act("HassTurnOn", NO_HOME_REPLY, no_home_reply=NO_HOME_REPLY)  # nothing was done
    assert may_act("HassTurnOn", "Turned on the lights.", no_home_reply=NO_HOME_REPLY)
    assert may_act("HassStartTimer", "Timer set for 5 minutes.", no_home_reply=NO_HOME_REPLY)


def chunk(ms: int, length_ms: int, value: int = 1, timestamp: bool = True) -> AudioChunk:
    audio = value.to_bytes(2, "little", signed=True) * (16 * length_ms)
    return AudioChunk(rate=16000, width=2, channels=1, audio=audio, timestamp=ms if timestamp else None)


def test_the_pre_roll_of_the_second_part_is_not_sent_twice_and_a_gap_is_kept_short() -> None:
    first = HeardAudio(max_gap=0.3)
    for ms in range(0, 2000, 20):
        assert first.add(chunk(ms, 20)) is not None
    assert first.seconds == pytest.approx(2.0)
    second = HeardAudio(max_gap=0.3, prefix=first)
    assert second.prefix_seconds == pytest.approx(2.0) and len(second.pieces()) == 2
    # The satellite's pre-roll of the new turn starts 0.6 s before its speech: its first 0.4 s
    # were streamed with the first part already.
    pre_roll = second.add(chunk(1600, 600, value=2))
    assert pre_roll is not None and len(pre_roll.audio) == 200 * 32
    assert second.add(chunk(1900, 20)) is None  # entirely held already
    gap_then = second.add(chunk(3200, 20, value=3))  # 1 s later: at most 0.3 s of silence between
    assert gap_then is not None and len(gap_then.audio) == (300 + 20) * 32
    assert gap_then.audio[: 300 * 32] == bytes(300 * 32)
    assert second.seconds == pytest.approx(2.0 + 0.2 + 0.3 + 0.02)


def test_without_timestamps_audio_is_appended_and_the_bound_stops_merging() -> None:
    heard = HeardAudio(max_seconds=1.0)
    assert heard.add(chunk(0, 600, timestamp=False)) is not None
    assert heard.add(chunk(0, 600, timestamp=False)) is not None  # nothing to compare: kept
    assert not heard.complete and heard.seconds == pytest.approx(0.6)


def test_endpoint_after_is_a_hold_and_bad_values_are_refused() -> None:
    from wyoming_whisper.policy import request_policy
    from wyoming_whisper.stream import StreamPolicy

    base = StreamPolicy(endpoint_max_windows=47)
    held = request_policy(base, Transcribe(vad_sensitivity="default", context={"endpoint_after": 2.0}))
    assert held.hold_windows == 62 and request_policy(base, Transcribe()).hold_windows == 0
    for bad in ("2", True, -1):
        with pytest.raises(TypeError):
            request_policy(base, Transcribe(context={"endpoint_after": bad}))


@pytest.mark.parametrize(("text", "acts"), [
    ("Turn off the lights.", False),  # no home connected: answered honestly, nothing done
    ("What time is it?", False),
    ("How much time is left on the timer?", False),
    ("Set a timer for five minutes.", True),
])
async def test_a_turn_counts_as_acting_only_from_the_moment_an_action_starts(tmp_path: Path, text: str,
                                                                             acts: bool) -> None:
    """Recognising a command changes nothing: until a timer or the home is about to be changed,
    speech that goes on still continues the question (a full-stack run answered "Turn off the
    lights. ... in the living room" as two turns once the end of turn came 0.15 s sooner)."""
    timers = TimerManager(tmp_path)
    recognizer = IntentRecognizer(timers=timers)
    calls: list[str] = []
    match = await recognizer.answer(text, "satellite:test", on_act=lambda: calls.append(text))
    assert match is not None and bool(calls) is acts, (match, calls)
