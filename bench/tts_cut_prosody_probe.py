"""How a reply sounds where its first piece is cut: ``--first-subject-words 3`` against the default, offline.

Each reply (``REPLIES``: LLM-like answers whose subject is three words, and references the default
already cuts) is streamed as an LLM would stream it (3-character ``synthesize-chunk``s) to two real
``wyoming_kokoro`` servers, the default (first subject words 4) and ``--first-subject-words 3``, per
provider (``--providers``: Kokoro's default voice and Piper's, the room's voice on this box), no audio
cache. The whole reply's audio is kept; tiny.en (word timestamps) finds where the subject's last word
ends and the next word starts, in both renderings. There, per rendering:

* the pause: the run of quiet 10 ms frames (35 dB under the reply's loudest) around the boundary, s;
* the pitch slope over the last 0.3 s of voiced audio before the boundary (semitones/s; falling like
  a sentence's end is the risk of a cut) and the pitch step across it (median F0 of the 0.15 s of
  voiced audio after the boundary minus that before, semitones);
* the reply's length, and the first audio's time from the first chunk sent (median of ``--runs``).

The default's own first cut where it has one is measured alike (the cut a listener already hears).

    .venv/bin/python bench/tts_cut_prosody_probe.py [--providers kokoro,piper] [--out F.json] [--wav-dir D]
    .venv/bin/python bench/tts_cut_prosody_probe.py --reanalyse F.json --wav-dir D --out F2.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.audio import AudioChunk
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from wyoming_kokoro.text import SentenceSplitter  # noqa: E402

REPLIES = [  # three-word subjects (the flag cuts them), then references the default cuts too
    "The nearest pharmacy is in New York City.",
    "The nearest pharmacy is in a hospital.",
    "The tallest mountain is Mount Everest, at 8,849 metres.",
    "The Eiffel Tower is 330 metres tall.",
    "The Pacific Ocean is the largest ocean on Earth.",
    "The blue whale is the largest animal that has ever lived.",
    "The Mona Lisa was painted by Leonardo da Vinci.",
    "The red planet is Mars, the fourth planet from the Sun.",
    "The weather today is sunny with a light breeze.",
    "My favourite book is a mystery novel.",
    "The nearest hospital is about ten minutes away.",
    "The store closes at nine in the evening.",
    "The capital of France is Paris.",
    "The boiling point of water is 100 degrees Celsius.",
    "The first person on the moon was Neil Armstrong.",
    "The speed of light is about 300,000 kilometres per second.",
]
ARMS = {"default": [], "subject3": ["--first-subject-words", "3"]}
Audio = np.ndarray[Any, np.dtype[np.float32]]


def pieces(text: str, subject_words: int) -> list[str]:
    splitter = SentenceSplitter(first_subject_words=subject_words)
    out: list[str] = []
    for i in range(0, len(text), 3):
        out += splitter.feed(text[i:i + 3])
    return out + splitter.finish()


def first_cut_words(text: str, subject_words: int) -> int | None:
    """Words in the first piece when the reply is cut inside its first sentence, else None."""
    got = pieces(text, subject_words)
    if len(got) < 2 or got[0].rstrip().endswith((".", "!", "?")):
        return None
    return len(got[0].split())


async def synthesize(uri: str, text: str) -> tuple[Audio, int, float]:
    """The reply streamed as an LLM streams it: its audio, rate, and the first audio's time."""
    conn = await Connection.open(uri)
    chunks: list[bytes] = []
    rate = 0
    first: float | None = None
    try:
        started = time.monotonic()
        await conn.send(SynthesizeStart().event())
        for i in range(0, len(text), 3):
            await conn.send(SynthesizeChunk(text=text[i:i + 3]).event())
        await conn.send(Synthesize(text=text).event())
        await conn.send(SynthesizeStop().event())
        while True:
            event = await conn.recv(120)
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                first = first if first is not None else time.monotonic() - started
                rate = chunk.rate
                chunks.append(chunk.audio)
            elif SynthesizeStopped.is_type(event.type):
                break  # (after the last piece's audio-stop)
    finally:
        await conn.close()
    pcm = (np.frombuffer(b"".join(chunks), "<i2") / 32768).astype(np.float32)
    return pcm, rate, first if first is not None else float("nan")


def resample(x: Audio, rate: int, to: int) -> Audio:
    n = int(len(x) * to / rate)
    return np.interp(np.arange(n) * rate / to, np.arange(len(x)), x).astype(np.float32)


def quiet_frames(x: Audio, rate: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    hop = rate // 100
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    return 20 * np.log10(rms / rms.max()) < -35.0  # type: ignore[no-any-return]


def pause_near(quiet: np.ndarray[Any, np.dtype[np.bool_]], at: float, reach: float = 0.15) -> tuple[float, float]:
    """The longest run of quiet frames within ``reach`` s of ``at``: (start, end) s; (at, at) if none."""
    best, run_start = (at, at), None
    for i, q in enumerate([*quiet.tolist(), False]):
        if q and run_start is None:
            run_start = i
        elif not q and run_start is not None:
            lo, hi = run_start / 100, i / 100
            if lo <= at + reach and hi >= at - reach and hi - lo > best[1] - best[0]:
                best = (lo, hi)
            run_start = None
    return best


def f0_track(x: Audio, rate: int) -> tuple[list[float], list[float]]:
    """(times s, semitones re 100 Hz) of clearly voiced 40 ms frames every 10 ms (autocorrelation, 70-400 Hz)."""
    frame, hop = int(0.04 * rate), rate // 100
    lo, hi = rate // 400, rate // 70
    peak = float(np.max(np.abs(x))) or 1.0
    times: list[float] = []
    pitches: list[float] = []
    for start in range(0, len(x) - frame, hop):
        seg = x[start:start + frame] - np.mean(x[start:start + frame])
        if np.sqrt(np.mean(seg**2)) < peak * 10 ** (-30 / 20):
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1:]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] < 0.45:
            continue
        times.append(start / rate + 0.02)
        pitches.append(float(12 * np.log2(rate / lag / 100.0)))
    return times, pitches


def pitch_at(track: tuple[list[float], list[float]], end: float, start: float) -> dict[str, float | None]:
    """Around a pause from ``end`` to ``start``: the median-pairwise (Theil-Sen) pitch slope over the
    last 15 voiced frames before it (within 0.5 s), and the step from the median of the last 8 voiced
    frames before it to the first 8 after it (within 0.4 s): both robust to the odd octave error."""
    t, p = np.array(track[0]), np.array(track[1])
    before = (t <= end) & (t >= end - 0.5)
    tb, pb = t[before][-15:], p[before][-15:]
    slopes = [(pb[j] - pb[i]) / (tb[j] - tb[i]) for i in range(len(tb)) for j in range(i + 1, len(tb))
              if tb[j] - tb[i] >= 0.03]
    slope = float(np.median(slopes)) if len(tb) >= 6 and slopes else None
    last = p[before][-8:]
    nxt = p[(t >= start) & (t <= start + 0.4)][:8]
    step = float(np.median(nxt) - np.median(last)) if len(last) >= 4 and len(nxt) >= 4 else None
    return {"slope_st_s": slope, "step_st": step}


def boundary(words: list[Any], text: str, k: int) -> tuple[float, float] | None:
    """End of the text's k-th word and start of the next, from tiny.en's words (same count only)."""
    if len(words) != len(text.split()):
        return None
    return float(words[k - 1].end), float(words[k].start)


def measure(whisper: Any, x: Audio, rate: int, text: str, k: int) -> dict[str, Any] | None:
    x16 = resample(x, rate, 16000)
    segments, _ = whisper.transcribe(x16, beam_size=5, word_timestamps=True, language="en")
    words = [w for s in segments for w in (s.words or [])]
    edge = boundary(words, text, k)
    if edge is None:
        return {"asr_words": len(words), "text_words": len(text.split())}
    quiet = quiet_frames(x, rate)
    end, start = pause_near(quiet, (edge[0] + edge[1]) / 2)
    return {"end": end, "start": start, "pause_s": round(start - end, 3), **pitch_at(f0_track(x, rate), end, start)}


def save(path: Path, x: Audio, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from faster_whisper import WhisperModel

    from voice_runtime.models import resolve_whisper

    whisper = WhisperModel(str(resolve_whisper("tiny.en")), device="cpu", compute_type="int8")
    rows: list[dict[str, Any]] = []
    meta = {"started": time.strftime("%H:%M:%S", time.gmtime()), "load_start": os.getloadavg()[0]}
    for provider in args.providers.split(","):
        services = {arm: await start_service("wyoming_kokoro", "--provider", provider, "--cache-mb", "0", *flags)
                    for arm, flags in ARMS.items()}
        try:
            for n, text in enumerate(REPLIES):
                cuts = {arm: first_cut_words(text, 3 if arm == "subject3" else 4) for arm in ARMS}
                row: dict[str, Any] = {"provider": provider, "text": text, "cut_words": cuts,
                                       "pieces": {arm: pieces(text, 3 if arm == "subject3" else 4) for arm in ARMS},
                                       "load": os.getloadavg()[0]}
                order = list(ARMS) if n % 2 == 0 else list(reversed(ARMS))
                firsts: dict[str, list[float]] = {arm: [] for arm in ARMS}
                audio: dict[str, tuple[Audio, int]] = {}
                for _ in range(args.runs):
                    for arm in order:
                        x, rate, first = await synthesize(services[arm].uri, text)
                        firsts[arm].append(first)
                        audio[arm] = (x, rate)
                row["first_audio_s"] = {arm: statistics.median(v) for arm, v in firsts.items()}
                row["length_s"] = {arm: len(x) / rate for arm, (x, rate) in audio.items()}
                at: dict[str, Any] = {}
                for cut_arm, k in cuts.items():
                    if k is None:
                        continue
                    at[f"{cut_arm}_cut@{k}"] = {
                        arm: await asyncio.to_thread(measure, whisper, x, rate, text, k)
                        for arm, (x, rate) in audio.items()}
                row["at"] = at
                if args.wav_dir:
                    args.wav_dir.mkdir(parents=True, exist_ok=True)
                    for arm, (x, rate) in audio.items():
                        save(args.wav_dir / f"{provider}-{n:02d}-{arm}.wav", x, rate)
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            for service in services.values():
                await service.stop()
    meta.update(ended=time.strftime("%H:%M:%S", time.gmtime()), load_end=os.getloadavg()[0])
    return {"meta": meta, "rows": rows}


def reanalyse(path: Path, wav_dir: Path) -> dict[str, Any]:
    """The measures again, from a run's JSON and the renderings it saved (``--wav-dir``)."""
    from faster_whisper import WhisperModel

    from voice_runtime.models import resolve_whisper

    whisper = WhisperModel(str(resolve_whisper("tiny.en")), device="cpu", compute_type="int8")
    result: dict[str, Any] = json.loads(path.read_text())
    for row in result["rows"]:
        n = REPLIES.index(row["text"])
        audio = {}
        for arm in ARMS:
            with wave.open(str(wav_dir / f"{row['provider']}-{n:02d}-{arm}.wav"), "rb") as wav:
                pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
                audio[arm] = ((pcm / 32768).astype(np.float32), wav.getframerate())
        row["at"] = {f"{cut_arm}_cut@{k}": {arm: measure(whisper, x, rate, row["text"], k)
                                            for arm, (x, rate) in audio.items()}
                     for cut_arm, k in row["cut_words"].items() if k is not None}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--providers", default="kokoro,piper")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--wav-dir", type=Path)
    parser.add_argument("--reanalyse", type=Path, help="measure again a run's JSON from its --wav-dir")
    args = parser.parse_args()
    result = reanalyse(args.reanalyse, args.wav_dir) if args.reanalyse else asyncio.run(run(args))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
