"""Greedy first (session 25, ``EngineConfig.greedy_sure``, on by default): a beam decode searches
greedily first and keeps that text when tiny.en was sure of it; otherwise the beam searches the same
encoder output. Real tiny.en, real speech; the assertions are on words (which search's text came
back), never on time."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from speech import speak

import wyoming_whisper.engine as engine_module
from voice_runtime.models import resolve_whisper
from wyoming_whisper.__main__ import make_config, parse_args
from wyoming_whisper.engine import SAMPLE_RATE, Decoded, EngineConfig, FloatArray, WhisperEngine, pcm16_to_float

REQUESTS = ["Turn on the kitchen lights.", "Set a timer for five minutes.", "What is the capital of France?"]


SURE = engine_module.GREEDY_SURE


@pytest.fixture(scope="module")
def engines() -> tuple[WhisperEngine, WhisperEngine]:
    """(the default: greedy first at ``GREEDY_SURE``, off: always the beam as before)."""
    model = resolve_whisper("tiny.en")
    return (WhisperEngine(EngineConfig(model_dir=model)),
            WhisperEngine(EngineConfig(model_dir=model, greedy_sure=None)))


def never_sure(engine: WhisperEngine) -> WhisperEngine:
    """``engine``'s model with greedy first on but no greedy text sure enough (the model is shared)."""
    other = object.__new__(WhisperEngine)
    other.__dict__.update(engine.__dict__)
    other.config = replace(engine.config, greedy_sure=1.0)
    return other


@pytest.fixture(scope="module")
def audios() -> list[FloatArray]:
    rng = np.random.default_rng(3)
    clean = [pcm16_to_float(speak(text)) for text in REQUESTS]
    # one noisy: the greedy search less sure of it
    noisy = (clean[0] + rng.standard_normal(clean[0].size).astype(np.float32) * 0.08).astype(np.float32)
    return [*clean, noisy]


def test_a_sure_greedy_text_stands_and_equals_the_greedy_decode(
        engines: tuple[WhisperEngine, WhisperEngine], audios: list[FloatArray]) -> None:
    first, old = engines
    for audio, said in zip(audios[:3], REQUESTS, strict=False):
        decoded = first.transcribe(audio, word_end=True)
        greedy = old.transcribe(audio, beam_size=1)
        assert decoded.avg_logprob is not None and decoded.avg_logprob >= SURE
        assert decoded.text == greedy.text  # the greedy text stood: no beam search
        wanted = [w for w in said.lower().strip(".?").split() if w not in ("five",)]
        assert all(w in decoded.text.lower() for w in wanted), (decoded.text, said)
        assert decoded.last_word_end is not None  # aligned with the encoder output of its own search


def test_nothing_sure_enough_gives_every_text_of_the_beam_as_before(
        engines: tuple[WhisperEngine, WhisperEngine], audios: list[FloatArray]) -> None:
    """With no greedy text sure enough the beam decodes the same encoder output: the old texts,
    scores and last word ends (the old path decodes through faster-whisper's transcribe)."""
    first, old = never_sure(engines[0]), engines[1]
    for audio in audios:
        new, before = first.transcribe(audio, word_end=True), old.transcribe(audio, word_end=True)
        assert new.text == before.text
        assert new.avg_logprob == pytest.approx(before.avg_logprob, abs=0.02)
        assert new.last_word_end == pytest.approx(before.last_word_end, abs=0.04)
    # batched the same as alone, with the beam run for the batch
    assert [d.text for d in first.transcribe_batch(audios)] == [old.transcribe(a).text for a in audios]


def test_a_greedy_text_stands_only_sure_unlooped_and_under_its_length_cap(
        engines: tuple[WhisperEngine, WhisperEngine]) -> None:
    first, _ = engines
    audio = np.zeros(2 * SAMPLE_RATE, np.float32)
    cap = first._greedy_cap(audio)
    tokens = list(range(5))
    assert first._greedy_stands(Decoded("Turn on the lights.", -0.1, 0.01), tokens, audio)
    assert not first._greedy_stands(Decoded("Turn on the lights.", SURE - 0.01, 0.01),
                                    tokens, audio)
    assert not first._greedy_stands(Decoded("Lights off. Lights off.", -0.1, 0.01), tokens, audio)
    assert not first._greedy_stands(Decoded("Turn on the lights.", -0.1, 0.01), list(range(cap)), audio)
    assert not first._greedy_stands(Decoded("Turn on the lights", -0.1, 0.01), tokens, audio)  # no final . ? !
    assert first._greedy_stands(Decoded("What time is it?", -0.1, 0.01), tokens, audio)
    assert first._greedy_stands(Decoded("", -2.0, 0.9), tokens, audio)  # silence: nothing to search again


def test_a_greedy_loop_stops_at_its_cap_and_the_beam_decides(
        engines: tuple[WhisperEngine, WhisperEngine], audios: list[FloatArray],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A greedy search cut by its length cap (a loop would run to 448 tokens) is never kept: with a
    cap too short for the request, the beam's text comes back whole."""
    first, old = engines
    monkeypatch.setattr(engine_module, "_GREEDY_TOKENS_PER_SECOND", 0)
    monkeypatch.setattr(engine_module, "_GREEDY_TOKENS_MIN", 3)
    decoded = first.transcribe(audios[2])
    assert decoded.text == old.transcribe(audios[2]).text
    assert "capital of france" in decoded.text.lower()


def test_greedy_first_is_on_by_default_and_off_with_its_flag() -> None:
    args = ["--uri", "tcp://127.0.0.1:0", "--model", str(resolve_whisper("tiny.en"))]
    assert make_config(parse_args(args)).engine.greedy_sure == SURE == -0.6
    assert make_config(parse_args([*args, "--greedy-sure", "-0.4"])).engine.greedy_sure == -0.4
    assert make_config(parse_args([*args, "--greedy-sure", "off"])).engine.greedy_sure is None


def test_the_end_mark_score_comes_with_greedy_first_too(engines: tuple[WhisperEngine, WhisperEngine]) -> None:
    """The end of turn reads ``end_mark_prob`` (session 25's end-mark rule): a final decoded by greedy
    first (the default) carries it as the beam's path does, for a text with its . ? ! (from the
    alignment) and for a text cut before its end (one decoder step: the text may or may not end there)."""
    default, beam = engines
    whole = pcm16_to_float(speak("Turn on the kitchen lights."))
    for engine in (default, beam):
        decoded = engine.transcribe(whole, "en", word_end=True)
        assert decoded.text.rstrip()[-1] in ".?!", decoded
        assert decoded.end_mark_prob is not None and 0.0 < decoded.end_mark_prob <= 1.0, decoded
    pcm = speak("Set a timer for five minutes.")
    cut = pcm16_to_float(pcm[: len(pcm) * 2 // 5 // 2 * 2])  # "Set a timer" and no more
    for engine in (default, beam):
        decoded = engine.transcribe(cut, "en", word_end=True)
        assert decoded.last_word_end is not None, decoded
        assert decoded.end_mark_prob is not None, decoded
