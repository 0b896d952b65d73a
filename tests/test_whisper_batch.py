"""Batched decoding: the real model gives the same texts batched as alone; the scheduler's order.

The scheduler tests drive :class:`DecodeScheduler` with a runner that records its calls and
blocks until released (a stand-in for the model, to control *when* a call ends); the engine
tests use the real tiny.en model.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest
from speech import speak

from voice_runtime.models import resolve_whisper
from wyoming_whisper.engine import SAMPLE_RATE, Decoded, EngineConfig, FloatArray, WhisperEngine, pcm16_to_float
from wyoming_whisper.scheduler import DecodeScheduler, SchedulerClosed

QUESTIONS = ["What is the capital of France?", "Turn on the kitchen lights.", "Set a timer for five minutes.",
             "Switch off the bedroom lamp."]


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))


def test_batched_texts_equal_one_by_one_including_silence_and_noise(engine: WhisperEngine) -> None:
    noise = (np.random.default_rng(7).standard_normal(SAMPLE_RATE) * 0.05).astype(np.float32)
    audios = [pcm16_to_float(speak(q)) for q in QUESTIONS] + [np.zeros(SAMPLE_RATE, np.float32), noise]
    alone = [engine.transcribe(a) for a in audios]
    batched = engine.transcribe_batch(audios)
    assert texts(batched) == texts(alone)
    assert "kitchen lights" in alone[1].text and alone[4].text == ""
    # each audio its own scores, as decoded alone (the batch's arithmetic differs in the last digits)
    for one, together in zip(alone[:4], batched[:4], strict=True):
        assert one.avg_logprob == pytest.approx(together.avg_logprob, abs=0.02)
        assert one.no_speech_prob == pytest.approx(together.no_speech_prob, abs=0.02)
    assert len({d.avg_logprob for d in batched[:4]}) == 4
    # greedy (the partials' decode) too
    assert texts(engine.transcribe_batch(audios[:3], beam_size=1)) == texts(
        [engine.transcribe_partial(a) for a in audios[:3]])


def test_the_last_word_end_is_the_same_batched_and_alone_and_only_when_asked(engine: WhisperEngine) -> None:
    """Where the last word ends (the end of turn's check for a word Whisper left out, .stream):
    inside the speech, the same batched as alone, None without words or unless asked for."""
    speech = [pcm16_to_float(speak(q)) for q in QUESTIONS[:2]]
    after = np.zeros(SAMPLE_RATE, np.float32)  # a second of silence after the speech
    audios = [np.concatenate([s, after]) for s in speech] + [np.zeros(SAMPLE_RATE, np.float32)]
    alone = [engine.transcribe(a, word_end=True) for a in audios]
    batched = engine.transcribe_batch(audios, word_end=True)
    for one, together, s in zip(alone[:2], batched[:2], speech, strict=True):
        assert one.last_word_end is not None and together.last_word_end is not None
        voiced = np.flatnonzero(np.abs(s) > 0.01)[-1] / SAMPLE_RATE  # the speech's last sample over -40 dBFS
        assert voiced - 0.3 < one.last_word_end < voiced + 0.3, (one, voiced)
        assert one.last_word_end == pytest.approx(together.last_word_end, abs=0.04)
    assert alone[2].last_word_end is None and batched[2].last_word_end is None
    assert engine.transcribe(audios[0]).last_word_end is None
    assert all(d.last_word_end is None for d in engine.transcribe_batch(audios[:2]))


def texts(decodes: Sequence[Decoded]) -> list[str]:
    return [d.text for d in decodes]


def test_batch_keeps_the_initial_prompt_and_each_audio_its_own_window() -> None:
    config = EngineConfig(model_dir=resolve_whisper("tiny.en"), initial_prompt="Hearth. Kitchen, hallway.")
    prompted = WhisperEngine(config)
    short = [pcm16_to_float(speak(q)) for q in QUESTIONS]
    # Mostly silence (decoded to few tokens: cheap); what counts is the encoder window. Speech runs
    # past 10 s in ``longer``, so batching it with the commands (their 10 s window) would cut words.
    pause = np.zeros(9 * SAMPLE_RATE, np.float32)
    longer = np.concatenate([pause, short[0], short[1]])  # over 10 s: a wider encoder window than the commands'
    too_long = np.concatenate([pause, pause, pause, *short[:3]])  # over 30 s: more than one window
    assert 10 < longer.size / SAMPLE_RATE < 29 and prompted.batch_key(longer) != prompted.batch_key(short[0])
    assert too_long.size / SAMPLE_RATE > 30 and prompted.batch_key(too_long) is None
    assert prompted.batch_key(short[0]) == prompted.batch_key(short[1]) is not None
    audios = [short[0], longer, short[1], too_long, short[2]]
    assert texts(prompted.transcribe_batch(audios)) == texts([prompted.transcribe(a) for a in audios])
    assert prompted.transcribe_batch([]) == []


def test_finals_that_waited_use_the_busy_beam_and_partials_are_greedy(engine: WhisperEngine) -> None:
    from voice_runtime.models import silero_vad
    from wyoming_whisper.service import WhisperService
    from wyoming_whisper.stream import StreamPolicy
    from wyoming_whisper.vad import SileroVad

    service = WhisperService(engine=engine, vad=SileroVad(silero_vad()), policy=StreamPolicy(), info=lambda: None,  # type: ignore[arg-type,return-value]
                             busy_beam_size=1)
    audios = [pcm16_to_float(speak(q)) for q in QUESTIONS[:2]]
    calls: list[int | None] = []
    batch = engine.transcribe_batch

    def noting(audios: Sequence[FloatArray], language: str | None = None, *, beam_size: int | None = None,
               prompt: str | None = None, word_end: bool = False) -> list[Decoded]:
        calls.append(beam_size)
        return batch(audios, language, beam_size=beam_size, word_end=word_end)

    engine.transcribe_batch = noting  # type: ignore[method-assign]
    try:
        assert texts(service._run("final", audios, "en", False, None)) == texts([engine.transcribe(a) for a in audios])
        assert texts(service._run("final", audios, "en", True, None)) == texts(
            [engine.transcribe(a, beam_size=1) for a in audios])
        service._run("partial", audios, "en", False, None)
    finally:
        del engine.transcribe_batch
    assert calls == [None, 1, 1]


class GatedRunner:
    """Records each call and holds it until ``release()`` (called from the test's loop)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[float], str | None]] = []
        self.waited: list[bool] = []
        self.started = threading.Semaphore(0)
        self._gates: list[threading.Event] = []
        self.fail: Exception | None = None

    def __call__(self, kind: str, audios: Sequence[FloatArray], language: str | None, waited: bool,
                 prompt: str | None = None) -> list[str]:
        gate = threading.Event()
        self._gates.append(gate)
        self.calls.append((kind, [float(a[0]) for a in audios], language))
        self.waited.append(waited)
        self.started.release()
        gate.wait(30)
        if self.fail is not None:
            raise self.fail
        return [f"{kind}:{a[0]:g}" for a in audios]

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.acquire, True, 30)

    def release(self) -> None:
        self._gates[-1].set()


def clip(tag: float, seconds: float = 1.0) -> FloatArray:
    return np.full(int(seconds * SAMPLE_RATE), tag, dtype=np.float32)


def short_only(audio: FloatArray) -> int | None:
    return 1 if audio.size <= 10 * SAMPLE_RATE else None


async def test_waiting_finals_go_first_and_together_then_partials() -> None:
    runner = GatedRunner()
    scheduler = DecodeScheduler(runner, batch_key=short_only, max_batch=3)
    first = asyncio.create_task(scheduler.decode("final", clip(1), "en"))
    await runner.wait_started()
    assert scheduler.busy
    waiting = [asyncio.create_task(scheduler.decode(kind, clip(tag), lang)) for kind, tag, lang in [
        ("partial", 2, "en"), ("final", 3, "en"), ("final", 4, "de"), ("final", 5, "en"), ("final", 6, "en"),
        ("final", 7, "en"), ("final", 8, "en")]]
    await asyncio.sleep(0)  # let them queue (no ordering between them is assumed beyond creation order)
    assert scheduler.waiting == 7
    runner.release()
    assert await first == "final:1"
    for _ in range(4):  # finals 3,5,6 | de 4 (came before 7) | 7,8 | partial 2
        await runner.wait_started()
        runner.release()
    results = await asyncio.gather(*waiting)
    assert results == ["partial:2", "final:3", "final:4", "final:5", "final:6", "final:7", "final:8"]
    assert [(kind, tags) for kind, tags, _ in runner.calls] == [
        ("final", [1.0]), ("final", [3.0, 5.0, 6.0]), ("final", [4.0]), ("final", [7.0, 8.0]), ("partial", [2.0])]
    assert scheduler.largest_batch == 3 and not scheduler.busy
    assert runner.waited == [False, True, True, True, True]  # the first found the model free


async def test_long_audio_is_decoded_alone_and_a_cancelled_waiter_leaves_the_queue() -> None:
    runner = GatedRunner()
    scheduler = DecodeScheduler(runner, batch_key=short_only)
    first = asyncio.create_task(scheduler.decode("final", clip(1), "en"))
    await runner.wait_started()
    long = asyncio.create_task(scheduler.decode("final", clip(2, 12), "en"))
    gone = asyncio.create_task(scheduler.decode("final", clip(3), "en"))
    kept = asyncio.create_task(scheduler.decode("final", clip(4), "en"))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert scheduler.waiting == 2
    runner.release()
    await first
    await runner.wait_started()
    runner.release()
    await runner.wait_started()
    runner.release()
    assert await long == "final:2" and await kept == "final:4"
    assert [tags for _, tags, _ in runner.calls] == [[1.0], [2.0], [4.0]]


async def test_a_failed_call_fails_each_caller_in_it_and_the_next_call_still_runs() -> None:
    runner = GatedRunner()
    scheduler = DecodeScheduler(runner, batch_key=short_only)
    first = asyncio.create_task(scheduler.decode("final", clip(1), "en"))
    await runner.wait_started()
    batch = [asyncio.create_task(scheduler.decode("final", clip(t), "en")) for t in (2, 3)]
    await asyncio.sleep(0)
    runner.release()
    await first
    await runner.wait_started()
    runner.fail = RuntimeError("model fell over")
    runner.release()
    for task in batch:
        with pytest.raises(RuntimeError, match="fell over"):
            await task
    runner.fail = None
    later = asyncio.create_task(scheduler.decode("final", clip(9), "en"))
    await runner.wait_started()
    runner.release()
    assert await later == "final:9"


async def test_a_caller_cancelled_while_its_call_runs_keeps_the_model_busy_until_it_ends() -> None:
    runner = GatedRunner()
    scheduler = DecodeScheduler(runner, batch_key=short_only)
    first = asyncio.create_task(scheduler.decode("final", clip(1), "en"))
    await runner.wait_started()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert scheduler.busy  # the thread cannot be interrupted
    nxt = asyncio.create_task(scheduler.decode("final", clip(2), "en"))
    await asyncio.sleep(0)
    assert scheduler.waiting == 1 and len(runner.calls) == 1
    runner.release()
    await runner.wait_started()
    runner.release()
    assert await nxt == "final:2"


async def test_close_cancels_the_running_and_waiting_decodes_and_refuses_new_ones() -> None:
    runner = GatedRunner()
    scheduler = DecodeScheduler(runner, batch_key=short_only)
    running = asyncio.create_task(scheduler.decode("final", clip(1), "en"))
    await runner.wait_started()
    waiting = asyncio.create_task(scheduler.decode("partial", clip(2), "en"))
    await asyncio.sleep(0)
    assert scheduler.waiting == 1
    await scheduler.close()  # the server's shutdown: no task of the scheduler is left running
    for task in (running, waiting):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not scheduler.busy
    with pytest.raises(SchedulerClosed):
        await scheduler.decode("final", clip(3), "en")
    runner.release()  # the model call's thread ends on its own; nothing is started after it
    await asyncio.sleep(0)
    assert len(runner.calls) == 1 and scheduler.batches == 0
