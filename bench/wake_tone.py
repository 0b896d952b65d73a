"""End of the wake word → the listening tone, measured on the satellite process itself.

``python -m satellite`` with its defaults (microWakeWord okay_nabu, speex canceller) hears a WAV
of "Okay Nabu" utterances (Piper, 4 phrasings × 3 playback speeds, at 0 and −20 dB, 8 s apart)
with ``--mic-wav-fast`` and writes its speaker to ``--snd-wav``, which is on the mic's timeline
(one speaker frame per mic frame, as a full-duplex sound card). A scripted controller arms it,
reads its events and ends each turn with an ``error`` once the command has streamed (so the
satellite listens for the next wake word at once, whatever its wall-clock timeouts). For each
utterance: end of the wake phrase (energy offset of the clean clip, as in ``wake_bench``) → the
first 30 ms window of the speaker WAV dominated by the 880 Hz tone. This is what the satellite
adds (detection, the frame it is heard in, the tone queued on the next speaker frame); a real
sound device adds its own output buffer on top (not measured here).

    python bench/wake_tone.py [--merge bench/results/wake.json]
    python bench/wake_tone.py --voices af_river,bf_lily --cache /tmp/c.npz --corpus-only   # then --realtime …
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.audio import AudioStop
from wyoming.error import Error
from wyoming.event import async_read_event, async_write_event
from wyoming.ping import Ping
from wyoming.satellite import RunSatellite

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_compat import tone_runs  # noqa: E402
from bench.wake_bench import RATE, WAKE_TEXTS, Voices, pcm, resample, wake_offset  # noqa: E402
from satellite.tones import LISTEN_HZ  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, read_wav, write_wav  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from voice_runtime.tasks import cancel_and_wait  # noqa: E402


def clips(kokoro_voices: list[str]) -> list[tuple[str, str, float, np.ndarray]]:
    """Piper at 3 playback speeds (default), or each Kokoro voice at speed 1.0 (--voices)."""
    if not kokoro_voices:
        return [(text, "piper", factor, resample(base, factor))
                for text in WAKE_TEXTS for base in [Voices.piper_say(text)] for factor in (0.92, 1.0, 1.08)]
    voices = Voices()
    return [(text, voice, 1.0, voices.kokoro_say(text, voice)) for voice in kokoro_voices for text in WAKE_TEXTS]


def corpus(kokoro_voices: list[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    parts, items, pos = [], [], 0
    for text, voice, factor, clean in clips(kokoro_voices):
        end = wake_offset(clean, text)  # on the clean clip (a quieter copy ends at the same time)
        for gain in (0.0, -20.0):
            x = clean * 10 ** (gain / 20)
            lead, tail = np.zeros(RATE), np.zeros(7 * RATE)  # > the 5 s "nothing said" timeout
            start = (pos + len(lead)) / RATE
            items.append({"text": text, "voice": voice, "speed": factor, "gain_db": gain, "start": start,
                          "wake_end": start + end})
            parts += [lead, x, tail]
            pos += len(lead) + len(x) + len(tail)
    return np.concatenate(parts), items


async def run(mic: Path, speaker: Path, seconds: float, realtime: bool, flags: list[str]) -> list[str]:
    """Arm the satellite, read its events until its mic WAV has been heard; their types."""
    sat = await start_service("satellite", "--mic-wav", str(mic), *([] if realtime else ["--mic-wav-fast"]),
                              "--snd-wav", str(speaker), "--snd-rate", "16000", *flags)
    types: list[str] = []
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", sat.port)
        await async_write_event(RunSatellite().event(), writer)

        async def read() -> None:
            while (event := await async_read_event(reader)) is not None:
                if event.type != "audio-chunk":
                    types.append(event.type)
                if AudioStop.is_type(event.type):  # the command streamed: end the turn at once, as
                    await async_write_event(Error(text="no reply here", code="bench").event(), writer)  # HA may

        async def ping() -> None:  # as Home Assistant does every 2 s (the satellite disarms after 15 s of silence)
            while True:
                await asyncio.sleep(2.0)
                await async_write_event(Ping().event(), writer)

        reading = asyncio.create_task(read(), name="satellite events")
        pinging = asyncio.create_task(ping(), name="controller pings")
        await sat.wait_log("mic wav finished", timeout=seconds)
        await cancel_and_wait(pinging)
        await cancel_and_wait(reading)
        writer.close()
        await writer.wait_closed()
    finally:
        await sat.stop()
        if log := os.environ.get("WAKE_TONE_LOG"):  # the satellite's log, to look into a run
            await asyncio.to_thread(Path(log).write_text, "\n".join(sat.log) + "\n")
    return types


def cached_corpus(kokoro_voices: list[str], cache: Path | None) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """:func:`corpus`, synthesised once into ``cache`` (so a locked real-time run does not wait for Kokoro)."""
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            return data["audio"].astype(np.float64), json.loads(str(data["items"]))
    audio, items = corpus(kokoro_voices)
    if cache is not None:
        np.savez(cache, audio=audio.astype(np.float32), items=json.dumps(items))
    return audio, items


async def measure(kokoro_voices: list[str], realtime: bool, cache: Path | None = None,
                  flags: list[str] | None = None) -> dict[str, Any]:
    audio, items = cached_corpus(kokoro_voices, cache)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        mic, speaker = Path(tmp) / "mic.wav", Path(tmp) / "speaker.wav"
        write_wav(str(mic), pcm(audio), PCM16_MONO_16K)
        types = await run(mic, speaker, 600.0, realtime, flags or [])
        out, _fmt = read_wav(str(speaker))
    tones = tone_runs(out, LISTEN_HZ, 0.5)
    latencies = []
    for item in items:
        after = [t for t in tones if item["start"] <= t <= item["start"] + 4.0]
        item["tone_after_wake_end_s"] = round(after[0] - item["wake_end"], 3) if after else None
        if after:
            latencies.append(after[0] - item["wake_end"])
    return {"utterances": len(items), "tones": len(latencies), "detections": types.count("detection"),
            "tone_after_wake_end_s": {"p50": round(float(np.percentile(latencies, 50)), 3),
                                      "p95": round(float(np.percentile(latencies, 95)), 3),
                                      "max": round(float(max(latencies)), 3)} if latencies else None,
            "voices": kokoro_voices or ["piper"], "realtime_mic": realtime, "satellite_flags": flags or [],
            "items": items,
            "load_avg_at_start": load_at_start, "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "audio_s": round(len(audio) / RATE)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merge", type=Path, help="add the result to this wake.json as 'listening_tone'")
    parser.add_argument("--key", default="listening_tone", help="its key in the --merge file")
    parser.add_argument("--voices", default="", help="Kokoro voices instead of Piper (comma-separated)")
    parser.add_argument("--realtime", action="store_true",
                        help="the mic WAV in real time (the cascade's verifier thread then runs as it would live)")
    parser.add_argument("--cache", type=Path, help="the corpus, synthesised once (.npz)")
    parser.add_argument("--corpus-only", action="store_true", help="only synthesise the corpus into --cache")
    parser.add_argument("--flag", action="append", default=[], help="an extra satellite flag (repeatable)")
    args = parser.parse_args()
    voices = [v for v in args.voices.split(",") if v]
    if args.corpus_only:
        cached_corpus(voices, args.cache)
        return
    result = asyncio.run(measure(voices, args.realtime, args.cache, args.flag))
    print(json.dumps({k: v for k, v in result.items() if k != "items"}, indent=1))
    if args.merge:
        data = json.loads(args.merge.read_text()) if args.merge.exists() else {}
        data[args.key] = result
        args.merge.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
