"""--provider auto (the default): the default voice is chosen by measuring Kokoro at start-up.

Kokoro where it speaks a six-word first phrase within --auto-first-audio, Piper elsewhere.
The real-process test uses a budget no machine meets, so the choice does not depend on load.
"""

from __future__ import annotations

from helpers import connected, start_service
from wyoming.audio import AudioStart
from wyoming.tts import Synthesize

from wyoming_kokoro.service import PROBE_TEXT, choose_provider
from wyoming_kokoro.text import SentenceSplitter


def test_choose_provider_uses_the_median_against_the_budget() -> None:
    assert choose_provider([0.2, 0.25, 0.9], 1.6, 0.3)[0] == "kokoro"  # one slow run does not decide
    assert choose_provider([0.2, 0.35, 0.4], 1.6, 0.3)[0] == "piper"
    provider, figures = choose_provider([0.28, 0.28, 0.28], 1.4, 0.3)
    assert provider == "kokoro" and "280 ms" in figures and "0.20" in figures


def test_the_probe_is_a_first_piece_as_the_splitter_cuts_it() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed(PROBE_TEXT + " is Mount Everest.")[0] == PROBE_TEXT + ","


async def test_auto_picks_the_default_voice_by_measurement() -> None:
    """A 1 ms budget no CPU meets: Piper speaks (22050 Hz); the measured figures are logged."""
    service = await start_service("wyoming_kokoro", "--auto-first-audio", "0.001", "--cache-mb", "0")
    try:
        assert any("provider=auto chose piper: Kokoro first phrase" in line for line in service.log), (
            service.log[-10:])
        async with connected(service.port) as client:
            await client.send(Synthesize(text="Hello there."))  # no voice: the default one
            events = await client.recv_until("audio-stop")
        start = AudioStart.from_event(next(e for e in events if AudioStart.is_type(e.type)))
        assert start.rate == 22050
    finally:
        await service.stop()
