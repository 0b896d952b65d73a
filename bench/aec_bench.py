"""Echo cancellers compared on synthetic echo: ERLE, CPU per 10 ms, double-talk.

The far end is real TTS speech (Piper, from the package) played through a synthetic echo
path: a direct path at ``delay_ms`` and ``gain_db``, a decaying reverb tail (RT60), white
noise. The canceller gets the playback at the speaker's rate (22050 Hz) as the satellite
gives it, so its resampling and the real speaker→mic delay are part of the test.

- ERLE (dB): echo power in / residual power out, over the second half of an echo-only reply
  (after convergence), and the time until a 0.5 s window first reaches 20 dB.
- CPU: milliseconds per 10 ms of audio, one thread, on this machine (run ``uptime`` alongside).
- Double-talk: a question spoken over the reply (the user 0 dB relative to the echo) is
  transcribed with Whisper (tiny.en from the package) from the raw mic and from each
  canceller's output; WER per condition; plus the signal-to-distortion ratio of the question.

Engines: WebRTC AEC3 (``pywebrtc-audio``, what the satellite uses), libspeexdsp's MDF
canceller (our ctypes binding, :mod:`satellite.speex`, over Debian's ``libspeexdsp1``), none.
Both through :class:`satellite.aec.AudioFrontend`, exactly as the satellite runs them.

    python -m bench aec [--out bench/results/aec.json]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert

RATE = 16000
SPEAKER_RATE = 22050
FRAME = 480  # 30 ms, the satellite's frame
Array = np.ndarray[Any, np.dtype[np.float64]]

REPLY = ("The weather today is sunny with a high of twenty two degrees. Tomorrow brings light rain in the "
         "morning, clearing by the afternoon, with a gentle wind from the west. The weekend looks warm.")
QUESTIONS = [
    "What time is it in Tokyo right now?",
    "Turn off the lights in the kitchen please.",
    "Set a timer for fifteen minutes.",
    "How far away is the moon from the earth?",
    "Play some jazz music in the living room.",
]


def echo_path(far: Array, *, delay_ms: float, gain_db: float, rt60: float = 0.2, reverb_db: float = -10.0,
              seed: int = 0) -> Array:
    """``far`` (16 kHz float samples) as heard at the mic: delayed, attenuated, with a reverb tail."""
    rng = np.random.default_rng(seed)
    delay = int(RATE * delay_ms / 1000)
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail *= 10 ** (reverb_db / 20) / max(float(np.sqrt(np.sum(tail**2))), 1e-9)
    h = np.zeros(delay + n)
    h[delay] = 1.0
    h[delay:] += tail
    return np.convolve(far, h)[: len(far)] * 10 ** (gain_db / 20)


def noise(n: int, db: float, seed: int = 1) -> Array:
    return np.random.default_rng(seed).standard_normal(n) * 32768 * 10 ** (db / 20)


def pcm(samples: Array) -> bytes:
    return bytes(np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes())


def samples(audio: bytes) -> Array:
    return np.frombuffer(audio, "<i2").astype(np.float64)


def played_frames(far: Array) -> list[bytes]:
    """The playback as the satellite writes it: one speaker-rate frame per 30 ms mic frame."""
    speaker = convert(pcm(far), PCM16_MONO_16K, AudioFormat(SPEAKER_RATE, 2, 1))
    out, pos = [], 0
    for tick in range(len(far) // FRAME):
        end = (tick + 1) * 30 * SPEAKER_RATE // 1000 * 2
        out.append(speaker[pos:end])
        pos = end
    return out


Canceller = Callable[[bytes, bytes], bytes]  # (mic frame 16 kHz, speaker frame 22.05 kHz) -> cleaned


def make_frontend(engine: str) -> Callable[[], Canceller]:
    def make() -> Canceller:
        from satellite.aec import AudioFrontend, FrontendConfig

        return AudioFrontend(FrontendConfig(aec=True, aec_engine=engine), SPEAKER_RATE).process

    return make


def make_none() -> Canceller:
    return lambda mic, played: mic


ENGINES: dict[str, Callable[[], Canceller]] = {
    "webrtc-aec3": make_frontend("webrtc"), "speexdsp": make_frontend("speex"), "none": make_none,
}


def run_engine(engine: Canceller, mic: Array, played: list[bytes]) -> tuple[Array, float]:
    out = np.zeros(len(played) * FRAME)
    t0 = time.process_time()
    for i, frame in enumerate(played):
        out[i * FRAME:(i + 1) * FRAME] = samples(engine(pcm(mic[i * FRAME:(i + 1) * FRAME]), frame))
    cpu_ms_per_10ms = (time.process_time() - t0) * 1000 / (len(played) * 3)
    return out, cpu_ms_per_10ms


def erle(mic: Array, out: Array, start: int, end: int) -> float:
    return float(10 * np.log10(np.sum(mic[start:end] ** 2) / max(float(np.sum(out[start:end] ** 2)), 1.0)))


def convergence_s(mic: Array, out: Array, target_db: float = 20.0) -> float | None:
    win = RATE // 2
    for start in range(0, len(out) - win, RATE // 10):
        if np.sum(mic[start:start + win] ** 2) > 0 and erle(mic, out, start, start + win) >= target_db:
            return start / RATE
    return None


def wer(ref: str, hyp: str) -> float:
    r, h = (re.sub(r"[^a-z0-9 ]", " ", s.lower()).split() for s in (ref, hyp))
    d = np.zeros((len(r) + 1, len(h) + 1), dtype=int)
    d[:, 0] = range(len(r) + 1)
    d[0, :] = range(len(h) + 1)
    for i in range(1, len(r) + 1):
        for j in range(1, len(h) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (r[i - 1] != h[j - 1]))
    return float(d[len(r), len(h)] / max(1, len(r)))


def run(out_path: Path | None, engines: list[str]) -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from speech import speak, transcribe

    far = samples(speak(REPLY))
    far = np.concatenate([far, far])  # ~20 s: convergence, then the measured half
    played = played_frames(far)
    n = len(played) * FRAME
    results: dict[str, Any] = {"reply_seconds": round(n / RATE, 1), "erle": [], "double_talk": []}
    for gain_db in (-6.0, 0.0):
        for delay_ms in (40.0, 60.0, 150.0):
            echo = echo_path(far, delay_ms=delay_ms, gain_db=gain_db)[:n]
            mic = echo + noise(n, -60.0)
            for name in engines:
                out, cpu = run_engine(ENGINES[name](), mic, played)
                row = {"engine": name, "echo_db": gain_db, "delay_ms": delay_ms,
                       "erle_db": round(erle(mic, out, n // 2, n), 1),
                       "converged_20db_s": convergence_s(mic, out), "cpu_ms_per_10ms": round(cpu, 3)}
                results["erle"].append(row)
                print(json.dumps(row), flush=True)
    # Double-talk: a question over the reply, 12 s in (the canceller has converged), user 0 dB re echo.
    for gain_db in (-6.0, 0.0):
        echo = echo_path(far, delay_ms=50.0, gain_db=gain_db)[:n]
        echo_rms = float(np.sqrt(np.mean(echo[n // 2:] ** 2)))
        for qi, question in enumerate(QUESTIONS):
            user = samples(speak(question))
            user *= echo_rms / max(float(np.sqrt(np.mean(user[user != 0] ** 2))), 1.0)
            at = 12 * RATE
            near = np.zeros(n)
            near[at:at + len(user)] = user[: n - at]
            mic = echo + near + noise(n, -60.0, seed=qi + 2)
            for name in engines:
                out, _ = run_engine(ENGINES[name](), mic, played)
                seg = slice(at, at + len(user))
                heard = transcribe(pcm(out[seg]))
                sdr = 10 * np.log10(np.sum(near[seg] ** 2) / max(float(np.sum((out[seg] - near[seg]) ** 2)), 1.0))
                row = {"engine": name, "echo_db": gain_db, "question": question, "heard": heard,
                       "wer": round(wer(question, heard), 3), "sdr_db": round(float(sdr), 1)}
                results["double_talk"].append(row)
                print(json.dumps(row), flush=True)
    summary: dict[str, Any] = {}
    for name in engines:
        rows = [r for r in results["erle"] if r["engine"] == name]
        dt = [r for r in results["double_talk"] if r["engine"] == name]
        summary[name] = {
            "erle_db_min": min(r["erle_db"] for r in rows),
            "erle_db_median": float(np.median([r["erle_db"] for r in rows])),
            "cpu_ms_per_10ms": round(float(np.median([r["cpu_ms_per_10ms"] for r in rows])), 3),
            "double_talk_wer": round(float(np.mean([r["wer"] for r in dt])), 3),
            "double_talk_sdr_db": round(float(np.median([r["sdr_db"] for r in dt])), 1),
        }
    results["summary"] = summary
    print(json.dumps(summary, indent=1))
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench aec", description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args(argv)
    run(args.out, args.engines.split(","))


if __name__ == "__main__":
    main()
