"""The TTS engines' ONNX sessions give their memory arena back after each run (real models),
calls to one engine are served earliest deadline first, and short texts said again come from a
bounded audio cache.

Without it onnxruntime keeps its CPU arena at the largest size any input needed; the soak
(`bench/soak_bench.py`) saw the TTS process grow 100 MB before it levelled off.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Iterator

import numpy as np
import pytest
from wyoming.event import Event

from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices, resolve_piper
from wyoming_kokoro.engine import Samples, ShrinkingSession
from wyoming_kokoro.kokoro_engine import KokoroEngine
from wyoming_kokoro.pipeline import Reply, ReplyOptions
from wyoming_kokoro.piper_engine import PiperEngine
from wyoming_kokoro.synthesizer import AudioCache, DeadlineGate, Synthesizer

SHRINK = "memory.enable_memory_arena_shrinkage"


def test_piper_voice_runs_with_arena_shrinkage_and_still_speaks() -> None:
    engine = PiperEngine({"joe": resolve_piper()})
    session = engine.load("joe").session
    assert isinstance(session, ShrinkingSession)
    assert session.run_options.get_run_config_entry(SHRINK) == "cpu:0"
    # One onnxruntime thread by default (steadier beside Home Assistant on 2 busy cores); 0: one per core.
    assert session.session.get_session_options().intra_op_num_threads == 1
    per_core = PiperEngine({"joe": resolve_piper()}, threads=0).load("joe").session
    assert per_core.session.get_session_options().intra_op_num_threads == 0
    audio = np.concatenate(list(engine.synthesize("The kitchen light is on.", "joe")))
    assert audio.size > engine.sample_rate // 2 and float(np.abs(audio).max()) > 0.05


def _faults_and_rss(engine: PiperEngine, text: str) -> tuple[int, float]:
    """Page faults of this thread (onnxruntime's one intra-op thread is the caller's) while ``text`` is
    spoken, and the process's resident MB after it."""
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    audio = np.concatenate(list(engine.synthesize(text, "joe")))
    faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
    assert audio.size > engine.sample_rate // 2
    with open("/proc/self/statm") as fh:
        return faults, int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def test_piper_keeps_a_first_piece_s_memory_warm_and_gives_back_the_rest() -> None:
    """A reply's first piece after a longer one: before (session 27), the arena given back after every
    run was mapped again page by page (~8,000 faults of a 6-word piece, ~0.03 s of its first audio); now
    the arena's first 96 MB stay (a short piece faults almost nothing, whichever piece came before) and
    what a long run added beyond them is still given back.

    The last run is one of ~370 characters (max_run_chars 400): kept, its arena would add ~220 MB to the
    process (measured with shrinkage off); given back, 1-35 MB stay (glibc's heap). A 120-character run
    kept only ~80 MB more, too close to the same noise for a fixed bound (CI once saw 40 MB)."""
    engine = PiperEngine({"joe": resolve_piper()}, max_run_chars=400)
    long = ("The tallest mountain in the world is Mount Everest, which is the highest mountain on Earth "
            "and stands tall above the clouds.")
    rest = ("which is the highest mountain on Earth and stands tall above the clouds, about 8,849 meters "
            "above the level of the sea.")  # one full run
    first = "The tallest mountain in the world,"
    for before in (long, rest):  # warm: the model's first runs, glibc's thresholds
        _faults_and_rss(engine, first)
        _faults_and_rss(engine, before)
    for before in (long, rest):
        _faults_and_rss(engine, before)
        faults, after_first = _faults_and_rss(engine, first)
        assert faults < 1000, before
    _faults, after_long = _faults_and_rss(engine, long + " " + rest + " " + long[:120])
    assert after_long < after_first + 110  # a longer run's extra memory is given back (kept: ~220 MB)


def test_piper_is_given_a_long_run_on_sentence_in_clause_runs() -> None:
    """Piper's memory grows with one sentence's length (~1.2 MB a character): a run-on
    sentence goes to it in runs of at most max_run_chars, ending at clauses."""
    engine = PiperEngine({"joe": resolve_piper()}, max_run_chars=120)
    model = engine.load("joe")
    given: list[str] = []
    synthesize = model.synthesize

    def noting(text: str, **kwargs: object) -> object:
        given.append(text)
        return synthesize(text, **kwargs)

    model.synthesize = noting
    run_on = ", ".join(f"the {n}th lamp in the hall is on" for n in range(1, 10)) + "."
    audio = np.concatenate(list(engine.synthesize(run_on, "joe")))
    assert len(given) > 1 and all(len(t) <= 120 for t in given) and " ".join(given) == run_on
    assert audio.size > 8 * engine.sample_rate  # all of it was spoken


def test_kokoro_runs_with_arena_shrinkage_and_still_speaks() -> None:
    engine = KokoroEngine(resolve_kokoro_model(), resolve_kokoro_voices())
    assert isinstance(engine.session, ShrinkingSession)
    assert engine.session.run_options.get_run_config_entry(SHRINK) == "cpu:0"
    audio = np.concatenate(list(engine.synthesize("Hello there.", "af_heart")))
    assert audio.size > 12000 and float(np.abs(audio).max()) > 0.05


# --- scheduling: one engine, many replies ------------------------------------------------------
async def _queued(gate: DeadlineGate, count: int) -> None:
    """One pass of the event loop runs every task just created up to its first wait."""
    await asyncio.sleep(0)
    assert gate.busy and gate.waiting == count


async def test_engine_calls_wait_earliest_deadline_first() -> None:
    """While Piper speaks one reply, a later sentence of a long reply (due in 5 s) queues first
    and a new reply's first words (due now) second: the first words are spoken first."""
    synth = Synthesizer(PiperEngine({"joe": resolve_piper()}))
    done: list[str] = []

    async def say(text: str, deadline: float) -> None:
        await synth.speak(text, "joe", deadline=deadline)
        done.append(text)

    now = time.monotonic()
    holding = asyncio.create_task(say("This sentence keeps the engine busy for a moment.", now))
    await _queued(synth.gate, 0)
    later = asyncio.create_task(say("The third sentence of a long answer.", now + 5.0))
    await _queued(synth.gate, 1)
    first = asyncio.create_task(say("Turned on the kitchen lights.", now + 0.1))
    await _queued(synth.gate, 2)
    await asyncio.gather(holding, later, first)
    assert done == ["This sentence keeps the engine busy for a moment.", "Turned on the kitchen lights.",
                    "The third sentence of a long answer."]
    assert not synth.gate.waiting


async def test_a_cancelled_waiter_gives_the_gate_to_the_next() -> None:
    gate = DeadlineGate()
    await gate.acquire(0.0)
    cancelled = asyncio.create_task(gate.acquire(1.0))
    served = asyncio.create_task(gate.acquire(2.0))
    await _queued(gate, 2)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    gate.release()
    await asyncio.wait_for(served, 10)  # granted though an earlier deadline was queued
    assert gate.waiting == 0
    gate.release()
    await asyncio.wait_for(gate.acquire(3.0), 10)  # free again: acquired at once


def recording_piper() -> tuple[PiperEngine, list[str]]:
    """Real Piper; the texts of its calls are noted."""
    engine = PiperEngine({"joe": resolve_piper()})
    calls: list[str] = []
    synthesize = engine.synthesize

    def counting(text: str, voice: str, speaker: str | None = None) -> Iterator[Samples]:
        calls.append(text)
        return synthesize(text, voice, speaker)

    engine.synthesize = counting  # type: ignore[method-assign]
    return engine, calls


async def test_a_reply_joins_less_text_per_call_while_another_reply_shares_the_engine() -> None:
    """A call cannot be interrupted: with another listener waiting on the same engine, a long
    answer goes in calls of at most merge_first characters instead of up to merge_max."""
    engine, calls = recording_piper()
    synth = Synthesizer(engine)
    voice = engine.voices()[0]
    events: list[Event] = []

    async def write(event: Event) -> None:
        events.append(event)

    async def no_error(code: str, text: str) -> None:
        raise AssertionError(f"{code}: {text}")

    def reply() -> Reply:
        return Reply(synth, voice, None, streaming=True, write=write, send_error=no_error, options=ReplyOptions())

    answer = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 10))
    alone = reply()
    await alone.feed(answer)
    await alone.finish()
    await alone.wait()
    alone_calls, calls[:] = list(calls), []
    # (the first piece is cut after about six words, with a comma: "... number 1 of a long, answer")
    assert max(len(c) for c in alone_calls) > 100 and " ".join(alone_calls).replace(",", "") == answer

    other = reply()  # another listener's reply, its text still to come
    shared = reply()
    await shared.feed(answer)
    await shared.finish()
    await shared.wait()
    assert max(len(c) for c in calls) <= ReplyOptions().merge_first and " ".join(calls).replace(",", "") == answer
    assert len(calls) > len(alone_calls)
    await other.abort(close_framing=False)
    assert synth.replies == 0


# --- the audio cache: short texts said again are answered without the engine -----------------
async def test_a_repeated_short_text_is_spoken_once_then_served_from_the_cache() -> None:
    engine, calls = recording_piper()
    synth = Synthesizer(engine, AudioCache(16 * 1024 * 1024))
    first = await synth.speak("Turned on the kitchen lights.", "joe")
    again = await synth.speak("Turned on the kitchen lights.", "joe")
    other = await synth.speak("Turned off the kitchen lights.", "joe")
    assert calls == ["Turned on the kitchen lights.", "Turned off the kitchen lights."]
    assert np.array_equal(first, again) and first.size > engine.sample_rate // 2
    assert not again.flags.writeable  # shared between replies: nobody may change it
    assert other.size > 0 and (synth.cache.hits, synth.cache.misses, len(synth.cache)) == (1, 2, 2)
    long_text = "This reply is much longer than any short confirmation. " * 4
    await synth.speak(long_text, "joe")
    await synth.speak(long_text, "joe")
    assert calls.count(long_text) == 2  # long texts (LLM answers) are not kept


def test_audio_cache_is_bounded_in_bytes_and_drops_the_least_recently_used() -> None:
    second = np.ones(1000, dtype=np.float32)  # 4,000 bytes each
    cache = AudioCache(max_bytes=10_000)
    cache.put("v", None, "one", second)
    cache.put("v", None, "two", second * 2)
    assert cache.get("v", None, "one") is not None  # "one" is now the most recently used
    cache.put("v", None, "three", second * 3)  # 12,000 bytes > 10,000: "two" goes
    assert cache.get("v", None, "two") is None
    assert cache.get("v", None, "one") is not None and cache.get("v", None, "three") is not None
    assert cache.size_bytes == 8000 and len(cache) == 2
    assert cache.get("v", "speaker 2", "one") is None  # another speaker is another key
    off = AudioCache(max_bytes=0)
    off.put("v", None, "one", second)
    assert off.get("v", None, "one") is None and len(off) == 0


def test_trim_leading_silence_keeps_5_ms_before_the_sound() -> None:
    from wyoming_kokoro.engine import trim_leading_silence

    rate = 22050
    sound = np.concatenate([np.zeros(rate // 25, dtype=np.float32), np.full(100, 0.5, dtype=np.float32)])
    trimmed = trim_leading_silence(sound, rate)
    assert len(trimmed) == 100 + int(0.005 * rate) and trimmed[-1] == 0.5
    quiet = np.zeros(500, dtype=np.float32)
    assert trim_leading_silence(quiet, rate) is quiet


def test_the_server_keeps_piper_s_first_96_mb_by_default_and_0_gives_all_back() -> None:
    """``wyoming_kokoro`` passes ``--piper-kept-arena-mb`` (default 96) to its Piper engine; 0 is main's
    behaviour (the whole arena given back after each run, no shared arena asked for)."""
    import wyoming_kokoro.__main__ as kokoro_main
    from wyoming_kokoro.service import load_engines

    config = kokoro_main.make_config(kokoro_main.parse_args(["--provider", "piper", "--engines", "piper"]))
    engine = load_engines(config)["piper"]
    assert isinstance(engine, PiperEngine) and engine.kept_arena_mb == 96
    assert _shares_the_kept_arena(engine)
    off = kokoro_main.make_config(kokoro_main.parse_args(["--provider", "piper", "--engines", "piper",
                                                          "--piper-kept-arena-mb", "0"]))
    engine = load_engines(off)["piper"]
    assert isinstance(engine, PiperEngine) and engine.kept_arena_mb == 0
    assert not _shares_the_kept_arena(engine)


def _shares_the_kept_arena(engine: PiperEngine) -> bool:
    options = engine.load(engine.voices()[0].name).session.session.get_session_options()
    try:
        return bool(options.get_session_config_entry("session.use_env_allocators") == "1")
    except RuntimeError:  # the entry was never set
        return False
