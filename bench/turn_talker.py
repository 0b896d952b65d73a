"""The talker gate (``satellite/talker_gate.py``) against a TV or a far talker (issue 17).

Sessions are a wake word ("Okay Nabu." in the talker's voice, at the talker's level) then:

* ``alone``: background only (``bench/turn_background.py``'s 10 clips: far talker, TV, babble,
  each ending on a home command), going on from 1 s before the wake word, at -15/-25/-35 dB under
  the wake word: transcripts produced, home commands heard (>= 75 % of the command's words);
* ``under``: a tune request right after the wake word with background at -15/-25/-35 dB under
  the request (looped from 1 s before the wake word to 3 s after the request): WER, words lost;
* ``soft``: a tune request alone (its corpus condition: clean, far, noisy) 0 / 6 / 10 dB softer
  than its wake word: WER, words lost (the gate's price).

Each session runs through :class:`satellite.talker_gate.TalkerGate` as the satellite runs it (every
frame ``listen``ed, ``arm`` at the detection, 0.15 s before the wake word's end as microWakeWord
fires, then ``process``), and what it would stream from the detection on is sent unpaced to a real
``wyoming_whisper`` server (tiny.en int8, aggressive, semantic endpoint); the first transcript
is the turn's. ``off`` sends the same audio ungated.

    nice -n 10 .venv/bin/python bench/turn_talker.py --variants off,20,25
    nice -n 10 .venv/bin/python bench/turn_talker.py levels   # frame levels only (no server)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import turn_bench  # noqa: E402
from bench.turn_background import F32, active_db, backgrounds  # noqa: E402
from bench.turn_corpus import RATE, Request, Voices, build, norm_words  # noqa: E402
from satellite.talker_gate import TalkerGate, TalkerGateConfig  # noqa: E402
from voice_runtime.models import cache_dir  # noqa: E402

FRAME = 480  # the satellite's 30 ms frames
FIRES_BEFORE_END = 0.15  # microWakeWord fires 0.14-0.19 s before the wake word's audio ends (wake.py)
LEVELS = [-15.0, -25.0, -35.0]
SOFTER = [0.0, 6.0, 10.0]
ROOM_NOISE_DBFS = -60.0
TAIL = 1.5  # seconds of room noise (or background) streamed after the content


@dataclass
class Session:
    label: str
    kind: str  # alone | under | soft
    audio: F32  # the whole session, the wake word at ``wake_at``
    detect_at: int  # sample of the detection (a frame boundary)
    target: str  # the request's text, or the background's home command


def wake_clip(voices: Voices | None, voice: str) -> tuple[F32, Voices | None]:
    folder = cache_dir() / "turn_talker"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha1(f'okay nabu|{voice}|v1'.encode()).hexdigest()[:16]}.raw"
    if not path.exists():
        voices = voices or Voices()
        x = voices.speak("Okay Nabu.", voice)
        path.write_bytes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return (np.frombuffer(path.read_bytes(), "<i2") / 32768).astype(np.float32), voices


def at_level(x: F32, dbfs: float) -> F32:
    out: F32 = (x * 10 ** ((dbfs - active_db(x)) / 20)).astype(np.float32)
    return out


def speech_of(r: Request) -> F32:
    x: F32 = (np.frombuffer(r.pcm, "<i2") / 32768).astype(np.float32)
    return x


def compose(
    wake: F32, content: F32, bg: F32 | None, bg_dbfs: float, *, noise_dbfs: float, seed: int
) -> tuple[F32, int]:
    """1 s lead, the wake word, 0.3 s, the content, TAIL; background (looped) under all of it."""
    lead, gap = RATE, int(0.3 * RATE)
    n = lead + len(wake) + gap + len(content) + int(TAIL * RATE)
    n = -(-n // FRAME) * FRAME
    x = np.zeros(n, np.float32)
    x[lead : lead + len(wake)] += wake
    start = lead + len(wake) + gap
    x[start : start + len(content)] += content
    if bg is not None:
        loop = np.tile(bg, n // len(bg) + 1)[:n]
        x += loop * 10 ** ((bg_dbfs - active_db(bg)) / 20)
    rng = np.random.default_rng(seed)
    x += rng.standard_normal(n).astype(np.float32) * 10 ** (noise_dbfs / 20)
    detect = (lead + len(wake) - int(FIRES_BEFORE_END * RATE)) // FRAME * FRAME
    return x, detect


def sessions(kinds: list[str], split: str = "tune", softer_db: list[float] | None = None) -> list[Session]:
    corpus = build()
    requests = [r for r in corpus if r.split == split]
    bgs = backgrounds()
    voices: Voices | None = None
    out: list[Session] = []
    talkers = sorted({r.voice for r in requests})
    if "alone" in kinds:
        for level in LEVELS:
            for k, bg in enumerate(bgs):
                wake, voices = wake_clip(voices, talkers[k % len(talkers)])
                ref = -20.0
                x, det = compose(
                    at_level(wake, ref),
                    np.zeros(0, np.float32),
                    bg["audio"],
                    ref + level,
                    noise_dbfs=ROOM_NOISE_DBFS,
                    seed=k,
                )
                # the background clip from the detection on (its command at the end), not looped again
                end = min(len(x), det + len(bg["audio"]) + int(TAIL * RATE))
                out.append(Session(f"{bg['id']}@{level:g}", "alone", x[: -(-end // FRAME) * FRAME], det, bg["command"]))
    for k, r in enumerate(requests):
        speech = speech_of(r)
        level = active_db(speech)
        wake, voices = wake_clip(voices, r.voice)
        noise = r.noise_dbfs if r.noise_dbfs is not None else ROOM_NOISE_DBFS
        if "under" in kinds:
            for bl in LEVELS:
                bg = bgs[k % len(bgs)]["audio"]
                x, det = compose(at_level(wake, level), speech, bg, level + bl, noise_dbfs=noise, seed=k)
                out.append(Session(f"{r.id}@{bl:g}", "under", x, det, r.text))
        if "soft" in kinds:
            for softer in SOFTER if softer_db is None else softer_db:
                x, det = compose(at_level(wake, level + softer), speech, None, 0.0, noise_dbfs=noise, seed=k)
                out.append(Session(f"{r.id}-{softer:g}dB", "soft", x, det, r.text))
    return out


def gated(session: Session, config: TalkerGateConfig | None) -> bytes:
    """What the satellite streams from the detection on (the detection frame first; frames the
    gate still holds at the end are sent before ``audio-stop``, as the satellite does)."""
    pcm = (np.clip(session.audio, -1, 1) * 32767).astype("<i2").tobytes()
    frames = [pcm[i : i + FRAME * 2] for i in range(0, len(pcm), FRAME * 2)]
    first = session.detect_at // FRAME
    if config is None:
        return b"".join(frames[first:])
    gate = TalkerGate(config, FRAME / RATE)
    for f in frames[: first + 1]:
        gate.listen(f)
    gate.arm()
    return b"".join(b"".join(gate.process(f)) for f in frames[first:]) + b"".join(gate.flush())


async def transcribe(port: int, pcm: bytes) -> str:
    from wyoming.asr import Transcribe
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient

    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    try:
        await client.write_event(
            Transcribe(
                language="en",
                vad_sensitivity="aggressive",
                context={"partial_transcripts": False, "endpoint": "semantic"},
            ).event()
        )
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        for i in range(0, len(pcm), 1024):
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[i : i + 1024]).event())
        await client.write_event(AudioStop().event())
        return await turn_bench.read_transcript(client, 120)
    finally:
        await client.disconnect()


def words(text: str) -> list[str]:
    return turn_bench.comparable(norm_words(text.replace("%", " percent")))


def wer_counts(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """(edit distance, reference words missing from the hypothesis)."""
    d = list(range(len(hyp) + 1))
    for i, rw in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[-1], sum(1 for w in ref if w not in hyp)


def variant_config(name: str) -> TalkerGateConfig | None:
    """off | open_db/keep_db[/open_frames/preroll/hangover] (seconds), e.g. 12/20 or 12/20/1/0.09."""
    if name == "off":
        return None
    parts = [float(v) for v in name.split("/")]
    keys = ("open_db", "keep_db", "open_frames", "preroll_seconds", "hangover_seconds")
    fields: dict[str, Any] = dict(zip(keys, parts, strict=False))
    if "open_frames" in fields:
        fields["open_frames"] = int(fields["open_frames"])
    return TalkerGateConfig(**fields)


def score(kind: str, target: str, text: str) -> dict[str, Any]:
    if kind == "alone":
        return {
            "text": text,
            "heard": bool(words(text)),
            "command": turn_bench.recall(words(target), words(text)) >= 0.75,
        }
    edits, lost = wer_counts(words(target), words(text))
    return {"text": text, "edits": edits, "lost": lost, "n": len(words(target))}


def summarise(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    for group, items in groups.items():
        out[group] = {"n": len(items)}
        for n in names:
            got = [i[n] for i in items]
            if items[0]["kind"] == "alone":
                out[group][n] = {"transcript": sum(g["heard"] for g in got), "command": sum(g["command"] for g in got)}
            else:
                total = sum(g["n"] for g in got)
                out[group][n] = {
                    "wer": round(100 * sum(g["edits"] for g in got) / total, 1),
                    "lost": sum(g["lost"] for g in got),
                    "words": total,
                }
    return out


def group_of(s: Session) -> str:
    return f"{s.kind} {s.label.rsplit('@', 1)[-1] if '@' in s.label else s.label.rsplit('-', 1)[-1]}"


async def run(args: argparse.Namespace) -> None:
    from voice_runtime.procs import start_service

    names = args.variants.split(",")
    configs = {n: variant_config(n) for n in names}
    softer = [float(v) for v in args.softer.split(",")] if args.softer else None
    todo = await asyncio.to_thread(sessions, args.kinds.split(","), "tune", softer)
    server = await start_service(
        "wyoming_whisper", *turn_bench.TINY_WHISPER_ARGS, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    load0, began = os.getloadavg(), time.strftime("%H:%M:%S", time.gmtime())
    rows: list[dict[str, Any]] = []
    try:
        for s in todo:
            row: dict[str, Any] = {"id": s.label, "kind": s.kind, "group": group_of(s)}
            for n, config in configs.items():
                row[n] = score(s.kind, s.target, await transcribe(server.port, gated(s, config)))
            rows.append(row)
            print(s.label, " | ".join(f"{n}: {row[n]['text']!r}" for n in names), flush=True)
    finally:
        await server.stop()
    summary = {
        "began": began,
        "ended": time.strftime("%H:%M:%S", time.gmtime()),
        "load": [load0, os.getloadavg()],
        "n": len(rows),
        "groups": summarise(rows, names),
    }
    print(json.dumps(summary, indent=1))
    out = ROOT / "bench" / "results" / "turn_background"
    out.mkdir(exist_ok=True)
    name = f"talker-{args.kinds.replace(',', '_')}-{'_'.join(n.replace('/', '-') for n in names)}{args.tag}.json"
    (out / name).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


def iter_levels(s: Session) -> Iterator[float]:
    from satellite.talker_gate import frame_db

    pcm = (np.clip(s.audio, -1, 1) * 32767).astype("<i2").tobytes()
    for i in range(s.detect_at * 2, len(pcm), FRAME * 2):
        yield frame_db(pcm[i : i + FRAME * 2])


def levels(args: argparse.Namespace) -> None:
    """Frame levels after the detection, relative to the gate's reference (no server)."""
    todo = sessions(args.kinds.split(","))
    for under in (10.0, 15.0, 20.0, 25.0, 30.0):
        config = TalkerGateConfig(open_db=under, keep_db=under)
        passed: dict[str, list[float]] = {}
        for s in todo:
            pcm = gated(s, config)
            x = np.frombuffer(pcm, "<i2")
            passed.setdefault(group_of(s), []).append(float(np.mean(x != 0)))
        print(
            f"under {under:g} dB: frames streamed (mean share per session): "
            + ", ".join(f"{g} {np.mean(v):.2f}" for g, v in sorted(passed.items()))
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "levels"])
    parser.add_argument("--variants", default="off,20")
    parser.add_argument("--kinds", default="alone,under,soft")
    parser.add_argument("--softer", help="soft: dB the request is under its wake word, e.g. 6,12 (default 0,6,10)")
    parser.add_argument("--tag", default="", help="appended to the result file's name")
    args = parser.parse_args()
    if args.mode == "levels":
        levels(args)
    else:
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
