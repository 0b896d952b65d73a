"""The controller goes quiet mid-turn: when the satellite's own --reply-timeout or
--thinking-timeout gives up, the error tone plays (once, logged once), as for a turn that failed
with an ``error``; before, the satellite went back to listening in silence. Not for Home
Assistant's run that ended with nothing to say (--answer-timeout: an empty answer is no failure).

The real satellite process, a WAV as the mic and as the speaker, and FakeQuietController: a
scripted controller (tests/test_satellite_service.py) that stays connected and pings, but sends
nothing more of the turn after the events given."""

from __future__ import annotations

from pathlib import Path

import pytest
from speech import piper_voice
from test_satellite_error_tone import _error_tones
from test_satellite_service import ScriptedController, Speech, satellite, silence, speaker
from wyoming.asr import Transcribe, Transcript
from wyoming.event import Event

from voice_runtime.audio import PCM16_MONO_16K, write_wav


@pytest.fixture(scope="module")
def speech() -> Speech:
    return Speech(piper_voice())


class FakeQuietController(ScriptedController):
    """Answers the end of the question with ``then`` (maybe nothing), then goes quiet (a fake: a
    controller that hangs mid-turn)."""

    then: tuple[Event, ...] = ()

    async def _answer(self, turn: int) -> None:
        for event in self.then:
            await self.client.send(event)


async def _run(tmp_path: Path, speech: Speech, then: tuple[Event, ...], *flags: str) -> tuple[bytes, list[str]]:
    write_wav(
        str(tmp_path / "mic.wav"),
        silence(0.5) + speech.mic("What is the capital of Spain?") + silence(3.5),
        PCM16_MONO_16K,
    )
    out = tmp_path / "speaker.wav"
    async with (
        satellite(
            "--mic-wav",
            str(tmp_path / "mic.wav"),
            "--snd-wav",
            str(out),
            "--snd-rate",
            "16000",
            "--reply-timeout",
            "60",
            "--thinking-timeout",
            "60",
            "--answer-timeout",
            "1",
            *flags,
        ) as sat,
        FakeQuietController.connect(sat.port, lambda _t: None) as ctl,
    ):
        assert isinstance(ctl, FakeQuietController)
        ctl.then = then  # (before the question ends: the mic WAV starts with silence)
        await ctl.wait(lambda: "audio-stop" in ctl.events)
        await sat.wait_log("state waiting -> listening", timeout=30)
        await sat.wait_log("mic wav finished", timeout=30)
    return speaker(out), sat.log


TIMEOUTS = {
    "reply": ((), ("--reply-timeout", "1")),
    "thinking": ((Transcript(text="what is the capital of spain").event(),), ("--thinking-timeout", "1")),
}


@pytest.mark.parametrize("kind", TIMEOUTS)
async def test_a_satellite_timeout_plays_the_error_tone_once(speech: Speech, tmp_path: Path, kind: str) -> None:
    then, flags = TIMEOUTS[kind]
    played, log = await _run(tmp_path, speech, then, *flags)  # old code: no tone, silence
    assert any("nothing from the turn for 1s: given up" in line for line in log)
    assert len(_error_tones(played)) == 1
    told = [line for line in log if "error tone:" in line]
    assert len(told) == 1 and f"turn 1 failed ({kind}-timeout)" in told[0], told


async def test_no_error_tone_turns_the_timeout_tone_off(speech: Speech, tmp_path: Path) -> None:
    played, log = await _run(tmp_path, speech, (), "--reply-timeout", "1", "--no-error-tone")
    assert any("nothing from the turn for 1s: given up" in line for line in log)
    assert _error_tones(played) == [] and not any("error tone:" in line for line in log)


async def test_home_assistants_run_with_nothing_to_say_plays_no_tone(speech: Speech, tmp_path: Path) -> None:
    """HA 2026.2.3 skips TTS for an empty answer ("never mind") and forwards no run-end."""
    then = (Transcribe(language="en").event(), Transcript(text="never mind").event())
    played, log = await _run(tmp_path, speech, then)
    assert any("it had nothing to say" in line for line in log)
    assert _error_tones(played) == [] and not any("error tone:" in line for line in log)
