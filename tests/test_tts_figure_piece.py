"""The piece after a first piece cut before an approximate figure ends after the figure and its unit
(session 19): "Mars is, | approximately 141.2 million miles, | (238.6 million kilometers) away from
the Sun." Before, that piece was the rest of the sentence, one engine call: with Kokoro slower than
real time (load > ~2 here) the listener heard "Mars is," and then waited for the whole sentence
(2.3-13.8 s gaps in session 18's bench/tts_first_piece_bench.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wyoming.event import Event

from voice_runtime.models import resolve_piper
from wyoming_kokoro.engine import Samples
from wyoming_kokoro.pipeline import Reply, ReplyOptions
from wyoming_kokoro.piper_engine import PiperEngine
from wyoming_kokoro.synthesizer import Synthesizer
from wyoming_kokoro.text import SentenceSplitter

# SmolLM2-135M's replies (bench/results/tts_first_piece_s18/replies.json) and how they are cut now.
CUT = {
    "Mars is approximately 141.2 million miles (238.6 million kilometers) away from the Sun.": [
        "Mars is,", "approximately 141.2 million miles,", "(238.6 million kilometers) away from the Sun."],
    "The Mariana Trench is approximately 11,312.17 feet (3.52 meters) deep.": [
        "The Mariana Trench is,", "approximately 11,312.17 feet,", "(3.52 meters) deep."],
    "The Pacific Ocean is approximately 7,981,078 kilometers (4,700,000 miles) in diameter.": [
        "The Pacific Ocean is,", "approximately 7,981,078 kilometers,", "(4,700,000 miles) in diameter."],
    "The moon is approximately 11:31 AM on the 31st of December 2026.": [
        "The moon is,", "approximately 11:31 AM,", "on the 31st of December 2026."],
    "The Sun is about 93 million miles away, give or take a little. It varies.": [
        "The Sun is,", "about 93 million miles away,", "give or take a little.", "It varies."],
    "The Sun is roughly 5,500 degrees Celsius at its surface.": [
        "The Sun is,", "roughly 5,500 degrees Celsius,", "at its surface."],
    "Light is about 299,792 kilometers per second in a vacuum.": [
        "Light is,", "about 299,792 kilometers per second,", "in a vacuum."],
}
# Left whole: the unit ends the sentence, one word follows it, or what follows the figure is no unit.
WHOLE = {
    "A day is approximately 86,400 seconds.": ["A day is,", "approximately 86,400 seconds."],
    "The universe is approximately 13.9 billion years old.": [
        "The universe is,", "approximately 13.9 billion years old."],
    "The world is approximately 7.9 billion people.": ["The world is,", "approximately 7.9 billion people."],
    "Water is about 70% of the surface of the Earth.": ["Water is,", "about 70% of the surface of the Earth."],
    "Mars is approximately 141 million miles from Earth.": ["Mars is,", "approximately 141 million miles from Earth."],
}


def split(text: str, step: int, **kwargs: int) -> tuple[list[str], int | None]:
    """Fed ``step`` characters at a time, as an LLM streams it; the pieces and the figure piece's number."""
    splitter = SentenceSplitter(**kwargs)
    pieces: list[str] = []
    for start in range(0, len(text), step):
        pieces += splitter.feed(text[start : start + step])
    return pieces + splitter.finish(), splitter.figure_piece


@pytest.mark.parametrize("step", [1, 3, 8])
@pytest.mark.parametrize(("text", "pieces"), list(CUT.items()))
def test_the_piece_after_a_figure_cut_ends_after_the_figure_and_its_unit(
        text: str, pieces: list[str], step: int) -> None:
    assert split(text, step) == (pieces, 1)
    # the same words, read whole: only the commas of the two cuts between words are added
    assert " ".join(pieces).replace(",", "") == text.replace(",", "")


@pytest.mark.parametrize("step", [1, 3, 8])
@pytest.mark.parametrize(("text", "pieces"), list(WHOLE.items()))
def test_a_figure_piece_is_not_cut_off_its_last_word_nor_after_no_unit(text: str, pieces: list[str], step: int) -> None:
    # "from Earth." is two words, one of them the sentence's last: too short to be worth a call
    assert split(text, step) == (pieces, None)


def test_the_figure_piece_waits_for_the_words_after_the_unit_and_can_be_turned_off() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Mars is approximately 1") == ["Mars is,"]
    assert splitter.feed("41.2 million miles (238.6 ") == []  # one word after the unit: not yet
    assert splitter.feed("million ") == ["approximately 141.2 million miles,"]
    assert splitter.figure_piece == 1
    assert splitter.finish() == ["(238.6 million"]
    text = next(iter(CUT))
    assert split(text, 3, figure_tail_words=0) == (
        ["Mars is,", "approximately 141.2 million miles (238.6 million kilometers) away from the Sun."], None)
    # Only right after a first piece cut before the figure: not a later sentence's figure.
    assert split("Sure. It is about 93 million miles (150 million km) away.", 3) == (
        ["Sure.", "It is about 93 million miles (150 million km) away."], None)
    assert split("The capital of Australia is about 300 km from Sydney by car, I think.", 3)[1] is None


def _recording_piper() -> tuple[PiperEngine, list[str]]:
    engine = PiperEngine({"joe": resolve_piper()})
    calls: list[str] = []
    synthesize = engine.synthesize

    def recording(text: str, voice: str, speaker: str | None = None) -> Iterator[Samples]:
        calls.append(text)
        return synthesize(text, voice, speaker)

    engine.synthesize = recording  # type: ignore[method-assign]
    return engine, calls


async def test_the_figure_piece_is_an_engine_call_of_its_own() -> None:
    """The whole reply is there before the first call ends (the LLM writes faster than any TTS):
    the pieces waiting are joined into the second call, but not the figure piece and the rest."""
    engine, calls = _recording_piper()
    events: list[Event] = []

    async def write(event: Event) -> None:
        events.append(event)

    async def no_error(code: str, text: str) -> None:
        raise AssertionError(f"{code}: {text}")

    def reply(tail_words: int) -> Reply:
        return Reply(Synthesizer(engine), engine.voices()[0], None, streaming=True, write=write,
                     send_error=no_error, options=ReplyOptions(figure_tail_words=tail_words))

    text = next(iter(CUT)) + " That is quite far."
    for tail_words, expected in (
        (ReplyOptions().figure_tail_words, [
            "Mars is,", "approximately 141.2 million miles,",
            "(238.6 million kilometers) away from the Sun. That is quite far."]),
        (0, ["Mars is,",
             "approximately 141.2 million miles (238.6 million kilometers) away from the Sun. That is quite far."]),
    ):
        calls.clear()
        speaking = reply(tail_words)
        await speaking.feed(text)
        await speaking.finish()
        await speaking.wait()
        assert calls == expected
    assert sum(e.type == "audio-chunk" for e in events) > 10
