"""Wake word: true accepts, false accepts per hour, detection latency, satellite CPU.

Corpus (synthesised here, nothing downloaded):

- wake utterances: "Okay Nabu" phrasings spoken by six Kokoro voices (American/British,
  female/male, 3 speeds) and Piper (3 playback speeds), each clean and with noise, at gains 0,
  −10, −20 dB (near and far);
- a held-out split: four more Kokoro voices (``HELD_OUT_VOICES``), two phrasings each, under
  the same conditions, reported apart and never used to choose anything;
- non-wake audio, at least ``--negative-minutes`` in all: speech (160 sentences of this repo's
  own documentation spoken by Piper, 12 by Kokoro voices, replayed at three speeds and two
  levels to fill the time), music-like audio
  (random chords of harmonic tones with envelopes) and TV-like audio (speech of another voice
  under noise and music).

microWakeWord's probability trace over all of it gives true and false accepts at each cutoff
of ``THRESHOLDS`` (the sweep); then all of it is fed through the satellite's own detector
(:class:`satellite.wake.WakeGate`, its default cutoff or ``--threshold``) in 30 ms frames,
faster than real time. Latency = end of the wake phrase (energy offset of the clean clip) → the
frame in which the detection fires (``bench/wake_tone.py`` measures the listening tone on the
satellite process). CPU: process time per second of audio (detector alone), and the whole
satellite process (``python -m satellite``, armed, real-time mic, AEC + noise suppression +
wake word) over ``--cpu-seconds``.

    python bench/wake_bench.py [--engines micro] [--threshold T] [--negative-minutes 60] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RATE = 16000
FRAME_BYTES = 960
WAKE_TEXTS = ["Okay Nabu.", "Okay, Nabu.", "Okay Nabu, what time is it?", "Ok Nabu, turn on the lights."]
KOKORO_SPEEDS = (0.9, 1.0, 1.15)
GAINS_DB = (0.0, -10.0, -20.0)
TUNE_VOICES = ("af_heart", "am_michael", "bf_emma", "bm_george", "af_sky", "am_adam")
HELD_OUT_VOICES = ("af_nicole", "am_eric", "bf_isabella", "bm_lewis")  # never looked at while tuning
THRESHOLDS = (0.85, 0.75, 0.65, 0.55, 0.45)  # the sweep (0.85 is okay_nabu's own cutoff)


def pcm(x: np.ndarray) -> bytes:
    return bytes(np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes())


def floats(audio: bytes) -> np.ndarray:
    return np.frombuffer(audio, "<i2").astype(np.float64)


def resample(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (pitch and tempo, like a different talker)."""
    n = int(len(x) / factor)
    out: np.ndarray = np.interp(np.arange(n) * factor, np.arange(len(x)), x)
    return out


def noise(n: int, db: float, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    pinkish = np.convolve(white, np.ones(8) / 8, mode="same")  # a little less hiss, more rumble
    return pinkish / max(float(np.std(pinkish)), 1e-9) * 32768 * 10 ** (db / 20)


def music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(seconds * RATE))
    pos = 0
    while pos < len(out):
        dur = int(rng.uniform(0.25, 1.2) * RATE)
        root = 110 * 2 ** (rng.integers(0, 24) / 12)
        t = np.arange(dur) / RATE
        env = np.minimum(1, t / 0.02) * np.exp(-t * rng.uniform(1, 4))
        chord = sum(np.sin(2 * np.pi * root * 2 ** (s / 12) * h * t) / h
                    for s in rng.choice([0, 3, 4, 7, 10, 12], 3, replace=False) for h in (1, 2, 3))
        seg = chord * env * 3000
        end = min(len(out), pos + dur)
        out[pos:end] += seg[: end - pos]
        pos += int(dur * rng.uniform(0.5, 1.0))
    return out


def speech_offset(x: np.ndarray) -> float:
    """End of speech in ``x`` (s): the last 10 ms block above −45 dBFS."""
    blocks = len(x) // 160
    rms = np.sqrt(np.mean(x[: blocks * 160].reshape(blocks, 160) ** 2, axis=1)) / 32768
    loud = np.nonzero(rms > 10 ** (-45 / 20))[0]
    return float((loud[-1] + 1) * 0.01) if len(loud) else 0.0


def wake_offset(x: np.ndarray, text: str) -> float:
    """End of the wake phrase: for a phrase with a command, the first pause after speech began."""
    if text.rstrip(".").lower().endswith("nabu"):
        return speech_offset(x)
    blocks = len(x) // 160
    rms = np.sqrt(np.mean(x[: blocks * 160].reshape(blocks, 160) ** 2, axis=1)) / 32768
    voiced = rms > 10 ** (-40 / 20)
    start = int(np.argmax(voiced))
    for i in range(start, blocks - 8):
        if not voiced[i:i + 8].any():  # 80 ms pause (the comma after "Nabu")
            return i * 0.01
    return speech_offset(x)


class Voices:
    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert
        from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices
        from wyoming_kokoro.kokoro_engine import KokoroEngine

        self._convert, self._fmt16 = convert, PCM16_MONO_16K
        self._fmt24 = AudioFormat(24000, 2, 1)
        self.kokoro = {s: KokoroEngine(resolve_kokoro_model(), resolve_kokoro_voices(), speed=s) for s in KOKORO_SPEEDS}
        names = [v.name for v in self.kokoro[1.0].voices()]
        self.kokoro_voices = [n for n in TUNE_VOICES if n in names][:6] or names[:6]
        self.held_out_voices = [n for n in HELD_OUT_VOICES if n in names]

    def kokoro_say(self, text: str, voice: str, speed: float = 1.0) -> np.ndarray:
        chunks = [np.asarray(c, dtype=np.float32) for c in self.kokoro[speed].synthesize(text, voice)]
        audio = np.concatenate(chunks) if chunks else np.zeros(1, dtype=np.float32)
        return floats(self._convert(pcm(audio * 32767), self._fmt24, self._fmt16))

    @staticmethod
    def piper_say(text: str) -> np.ndarray:
        from speech import speak

        return floats(speak(text))


def doc_sentences(limit: int) -> list[str]:
    text = " ".join((ROOT / p).read_text(errors="replace") for p in ("README.md", "ARCHITECTURE.md", "RELIABILITY.md",
                                                                       "satellite/README.md") if (ROOT / p).exists())
    text = re.sub(r"`[^`]*`|\([^)]*\)|\[[^\]]*\]|[#*|>_=~]", " ", text)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text)]
    good = [s for s in sentences if 6 <= len(s.split()) <= 30 and re.fullmatch(r"[A-Za-z0-9 ,.;:'?!%-]+", s)]
    return [s for s in good if "nabu" not in s.lower()][:limit]


def prob_trace(audio: np.ndarray) -> np.ndarray:
    """microWakeWord okay_nabu's probability (mean over its sliding window) at the end of each 30 ms frame."""
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures
    from pymicro_wakeword import Model as MicroModel

    model, features = MicroWakeWord.from_builtin(MicroModel("okay_nabu")), MicroWakeWordFeatures()
    data = pcm(audio)
    out = np.zeros(len(data) // FRAME_BYTES)
    for i in range(len(out)):
        probs = [model.process_streaming_prob(f) for f in features.process_streaming(data[i * FRAME_BYTES:
                                                                                          (i + 1) * FRAME_BYTES])]
        out[i] = max([p for p in probs if p is not None], default=0.0)
    return out


def detect(trace: np.ndarray, threshold: float, refractory: float = 1.5) -> list[float]:
    """What :class:`satellite.wake.WakeGate` reports for ``trace`` at ``threshold`` (same refractory rule)."""
    quiet, since, found = round(refractory / 0.03), round(refractory / 0.03), []
    for i, p in enumerate(trace):
        since += 1
        if p > threshold and since > quiet:
            since = 0
            found.append((i + 1) * FRAME_BYTES / 2 / RATE)
    return found


def run_gate(engine: str, audio: np.ndarray, threshold: float | None = None) -> tuple[list[float], float]:
    from satellite.wake import WakeConfig, WakeGate

    gate = WakeGate(WakeConfig(engine=engine, names=("okay_nabu",), threshold=threshold), 0.03)
    data = pcm(audio)
    found, start = [], time.process_time()
    drain = getattr(gate.detector, "drain", None)
    for pos in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES):
        if gate.process(data[pos:pos + FRAME_BYTES]) is not None:
            found.append((pos + FRAME_BYTES) / 2 / RATE)
        if drain is not None:
            drain()
    cpu = time.process_time() - start
    asyncio.run(gate.stop())
    return found, cpu


def positives(voices: Voices, rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
    clips: list[tuple[np.ndarray, str, str]] = []
    for n, voice in enumerate(voices.kokoro_voices):
        for speed in KOKORO_SPEEDS:  # one phrasing per speed, two at normal speed
            for text in [WAKE_TEXTS[n % 4]] + ([WAKE_TEXTS[(n + 1) % 4]] if speed == 1.0 else []):
                clips.append((voices.kokoro_say(text, voice, speed), f"kokoro:{voice}@{speed}", text))
    for n, voice in enumerate(voices.held_out_voices):  # held out: two phrasings each, normal speed
        for text in (WAKE_TEXTS[n % 4], WAKE_TEXTS[(n + 2) % 4]):
            clips.append((voices.kokoro_say(text, voice), f"held-out:{voice}@1.0", text))
    for text in WAKE_TEXTS:
        for factor in (0.92, 1.0, 1.08):
            clips.append((resample(voices.piper_say(text), factor), f"piper:joe@{factor}", text))
    from bench.wake_splits import lay_out  # (it imports this module's layout constants)

    return lay_out(clips, rng, lambda voice: "held-out" if voice.startswith("held-out:") else "tune")


def negatives(voices: Voices, minutes: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    sentences = doc_sentences(400)
    speech_parts = [voices.piper_say(s) for s in sentences[:160]]
    for i, s in enumerate(sentences[160:172]):  # a few other voices (Kokoro is slow on 2 busy cores)
        speech_parts.append(voices.kokoro_say(s, voices.kokoro_voices[i % len(voices.kokoro_voices)]))
    base = np.concatenate(speech_parts)
    want = int(minutes * 60 * RATE)
    speech_want, music_want, tv_want = int(want * 0.6), int(want * 0.2), want - int(want * 0.6) - int(want * 0.2)
    variants: list[np.ndarray] = []
    k = 0
    while sum(len(v) for v in variants) < speech_want:
        factor = (0.9, 1.0, 1.1)[k % 3]
        gain = (0.0, -10.0)[(k // 3) % 2]
        variants.append(resample(base, factor) * 10 ** (gain / 20))
        k += 1
    speech = np.concatenate(variants)[:speech_want]
    mus = music(music_want / RATE, rng)
    tv_base = resample(base, 1.05)  # shorter than base: count the copies on it
    tv_speech = np.concatenate([tv_base] * (tv_want // len(tv_base) + 1))[:tv_want]
    tv = tv_speech * 0.5 + music(tv_want / RATE, rng) * 0.3 + noise(tv_want, -35, rng)
    return {"speech": speech, "music": mus, "tv": tv}


async def satellite_cpu(seconds: float, flags: list[str]) -> dict[str, Any]:
    import tempfile

    from wyoming.event import async_write_event
    from wyoming.satellite import RunSatellite

    from voice_runtime.audio import PCM16_MONO_16K, write_wav

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "quiet.wav"
        rng = np.random.default_rng(3)
        write_wav(str(wav), pcm(noise(RATE, -60, rng)), PCM16_MONO_16K)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "satellite", "--uri", f"tcp://127.0.0.1:{port}", "--mic-wav", str(wav),
            "--snd-command", "cat", *flags, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            for _ in range(100):
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            await async_write_event(RunSatellite().event(), writer)
            await asyncio.sleep(2.0)
            tick = os.sysconf("SC_CLK_TCK")

            def cpu() -> float:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / tick

            c0, t0 = cpu(), time.monotonic()
            await asyncio.sleep(seconds)
            used, wall = cpu() - c0, time.monotonic() - t0
            writer.close()
            del reader
        finally:
            proc.terminate()
            await proc.wait()
    return {"flags": flags, "seconds": round(wall, 1), "cpu_percent_of_one_core": round(100 * used / wall, 2)}


def score(found: list[float], items: list[dict[str, Any]]) -> dict[str, Any]:
    """True accepts (all, per condition/voice/text) and end of wake phrase -> detection, for ``items``."""
    hits, latencies = 0, []
    tables: dict[str, dict[str, list[int]]] = {"condition": {}, "voice": {}, "text": {}}
    for item in items:
        inside = [t for t in found if item["start"] <= t <= item["end"] + 1.5]
        hits += bool(inside)
        keys = {"condition": f"{item['gain_db']:+.0f}dB{' noisy' if item['noisy'] else ''}",
                "voice": item["voice"], "text": item["text"]}
        for name, key in keys.items():
            cell = tables[name].setdefault(key, [0, 0])
            cell[0] += bool(inside)
            cell[1] += 1
        if inside:
            latencies.append(inside[0] - item["wake_end"])
    row: dict[str, Any] = {"true_accepts": f"{hits}/{len(items)}", "true_accept_rate": round(hits / len(items), 4)}
    row["detection_after_wake_end_s"] = {"p50": round(float(np.percentile(latencies, 50)), 3),
                                         "p95": round(float(np.percentile(latencies, 95)), 3)} if latencies else None
    for name, table in tables.items():
        row[f"true_accepts_by_{name}"] = {k: f"{a}/{n}" for k, (a, n) in sorted(table.items())}
    return row


def sweep(stream: np.ndarray, items: list[dict[str, Any]], neg: dict[str, np.ndarray]) -> dict[str, Any]:
    """microWakeWord at each of THRESHOLDS: true accepts (tune / held-out), false accepts per hour."""
    trace = prob_trace(stream)
    neg_traces = {kind: prob_trace(audio) for kind, audio in neg.items()}
    hours = sum(len(a) for a in neg.values()) / RATE / 3600
    out: dict[str, Any] = {}
    for threshold in THRESHOLDS:
        found = detect(trace, threshold)
        row: dict[str, Any] = {}
        for split in ("tune", "held-out"):
            part = score(found, [i for i in items if i["split"] == split])
            row[split] = {k: part[k] for k in ("true_accepts", "detection_after_wake_end_s")}
        false = sum(len(detect(t, threshold)) for t in neg_traces.values())
        row["false_accepts"] = false
        row["false_accepts_per_hour"] = round(false / hours, 2) if hours else None
        out[f"{threshold:.2f}"] = row
        print("sweep", threshold, json.dumps(row), flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench wake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="micro,open")
    parser.add_argument("--threshold", type=float, help="the satellite's --wake-threshold (default: the model's)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the microWakeWord threshold sweep")
    parser.add_argument("--negative-minutes", type=float, default=60.0)
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    rng = np.random.default_rng(7)
    t0 = time.monotonic()
    voices = Voices()
    stream, items = positives(voices, rng)
    print(f"positives: {len(items)} utterances, {len(set(i['voice'].split('@')[0] for i in items))} voices, "
          f"{len(stream) / RATE / 60:.1f} min ({time.monotonic() - t0:.0f} s)", flush=True)
    neg = negatives(voices, args.negative_minutes, rng) if args.negative_minutes > 0 else {}
    print(f"negatives: {', '.join(f'{k} {len(v) / RATE / 60:.1f} min' for k, v in neg.items())} "
          f"({time.monotonic() - t0:.0f} s)", flush=True)
    results: dict[str, Any] = {"utterances": len(items), "voices": sorted({i["voice"].split("@")[0] for i in items}),
                               "held_out_utterances": sum(i["split"] == "held-out" for i in items),
                               "negative_minutes": {k: round(len(v) / RATE / 60, 1) for k, v in neg.items()},
                               "threshold": args.threshold, "engines": {}}
    if not args.no_sweep:
        results["micro_threshold_sweep"] = sweep(stream, items, neg)
    for engine in args.engines.split(","):
        found, cpu = run_gate(engine, stream, args.threshold)
        row: dict[str, Any] = {split: score(found, [i for i in items if i["split"] == split])
                               for split in ("tune", "held-out")}
        row["all"] = {k: v for k, v in score(found, items).items() if not k.startswith("true_accepts_by")}
        row["cpu_percent_of_one_core"] = round(100 * cpu / (len(stream) / RATE), 2)
        false: dict[str, dict[str, Any]] = {}
        for kind, audio in neg.items():
            got, _ = run_gate(engine, audio, args.threshold)
            false[kind] = {"false_accepts": len(got), "hours": round(len(audio) / RATE / 3600, 3),
                           "times_s": [round(t, 1) for t in got[:20]]}
        total_hours = sum(f["hours"] for f in false.values())
        row["false_accepts"] = false
        row["false_accepts_per_hour"] = (round(sum(f["false_accepts"] for f in false.values()) / total_hours, 2)
                                         if total_hours else None)
        results["engines"][engine] = row
        print(engine, json.dumps(row), flush=True)
    if args.cpu_seconds > 0:
        results["satellite_cpu"] = [
            asyncio.run(satellite_cpu(args.cpu_seconds, ["--no-wake-word", "--no-aec"])),
            asyncio.run(satellite_cpu(args.cpu_seconds, ["--noise-suppression", "2"])),
        ]
        print(json.dumps(results["satellite_cpu"]), flush=True)
    results["load_avg_1m"] = round(os.getloadavg()[0], 2)
    results["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
