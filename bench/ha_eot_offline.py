"""Offline pricing of end-of-turn waits for ``vad_sensitivity: relaxed`` (the satellite's Home
Assistant mode, satellite/ha_turn.py): cuts on paused requests against the wait on plain ones.

The whisper server's own parts run in-process (the rig's settings: ``wyoming_whisper`` tiny.en
int8, its Silero VAD, the ``relaxed`` stream policy a satellite asks for; the speculative final
decoded where the server decodes it, its verdict from :meth:`Utterance.judge`), the audio fed in
30 ms frames. Per request, at every pause the server judges: the text, the verdict (finished /
weak / unfinished), the pitch slope of the voice before it (``bench/prosody_probe.py``) and the
longest silence the VAD counted there. A candidate is a wait per verdict (and cue); a paused
request is cut when some pause before its end lasts that long; a plain one ends its wait after
the VAD's end of speech (end of speech -> end of turn = that wait + the VAD's lag behind the
last sample above -40 dBFS; the decode, ~0.2 s, is done long before a 0.7 s wait).

Requests (``build``):

* ``ha-split``: ``CLOSE_PAUSES`` of bench/ha_end_of_turn.py, each part synthesised alone (final
  intonation at every pause, as session 16 on the rig), pauses MEASURED 0.6 / 0.75 / 0.9 s below
  -40 dBFS (10 ms windows);
* ``ha-aligned``: the same sentence synthesised whole with a comma at each pause (the voice keeps
  its continuing intonation), the comma's gap stretched to the same measured 0.6 / 0.75 / 0.9 s;
* ``plain``: finished requests without a pause (commands, wh- and yes/no questions), and the
  same ``CLOSE_PAUSES`` sentences said in one go;
* ``corpus``: the end-of-turn corpus (bench/turn_corpus.py, 65 requests, 6 voices, clean / far /
  noisy, pauses 0.3-0.9 s inserted), its ends and pauses.

Voices: Piper joe (the rig's) and two Kokoro voices.

    nice -n 10 .venv/bin/python bench/ha_eot_offline.py     # bench/results/ha_eot_offline.{json,md}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ha_eot_audio import join_measured, measured_pauses, stretch, windows_db  # noqa: E402
from bench.prosody_probe import pitch_slope  # noqa: E402
from bench.turn_corpus import Voices, noise_tail  # noqa: E402
from bench.turn_corpus import build as corpus_build  # noqa: E402
from voice_runtime.models import cache_dir  # noqa: E402
from wyoming_whisper.endpoint import Verdict  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE  # noqa: E402
from wyoming_whisper.vad import WINDOW  # noqa: E402

CLOSE_PAUSES = {  # as bench/ha_end_of_turn.py's (parts; words the whole request must have)
    "lights-2x": ("Turn off the lights", "in the kitchen", "and the hall."),
    "jazz-2x": ("Play some jazz", "in the kitchen", "at low volume."),
    "fan-2x": ("Turn on the fan", "in the bedroom", "for an hour."),
    "weather-2x": ("What's the weather", "in Paris", "tomorrow?"),
    "lights-3x": ("Turn off the lights", "in the kitchen", "and the hall", "right now."),
}
PAUSES = (0.6, 0.75, 0.9)
PLAIN = [
    "What time is it?",
    "Turn off the kitchen lights.",
    "Stop.",
    "What's the weather today?",
    "Set a timer for ten minutes.",
    "Is the front door locked?",
    "Turn the volume up.",
    "Thank you.",
    "How old is the universe?",
    "Play some jazz.",
    "Lights off.",
    "Is it going to rain tomorrow?",
    "Can you turn on the fan?",
    "Are the kitchen lights on?",
    "Who won the game last night?",
]
VOICES = ("piper:joe", "af_heart", "am_michael")
FRAME = 480  # samples: the satellite's 30 ms mic frames
TAIL = 2.6  # s after the speech (the relaxed cap is 2.25 s)


@dataclass
class Point:
    """One judged pause (or the end): what the server knew when it judged it."""

    text: str
    verdict: str  # finished / weak / unfinished
    reason: str
    slope: float | None  # semitones per second over the last ~0.3 s of voiced audio
    speech_s: float  # the speech so far (VAD first..last speech window), s
    silence_s: float  # the longest silence the VAD counted before the speech resumed (or the tail)
    vad_end_s: float  # the VAD's end of this speech, s from the start


@dataclass
class Analysed:
    id: str
    group: str  # ha-split, ha-aligned, plain, corpus
    voice: str
    pause_s: float  # the pause asked for (0: none)
    measured: list[float]  # measured pauses below -40 dBFS, s
    speech_end_s: float  # the last 10 ms window above -40 dBFS
    points: list[Point]


def build(
    voices: Voices | None, *, corpus: bool = True
) -> list[tuple[str, str, str, float, np.ndarray[Any, np.dtype[np.float32]], bytes]]:
    """(id, group, voice, pause, speech (float, from the first sound), tail bytes) per request;
    synthesised audio cached in ~/.cache/hearth/ha_eot_offline. ``corpus``: the end-of-turn corpus too."""
    folder = cache_dir() / "ha_eot_offline"
    folder.mkdir(parents=True, exist_ok=True)
    loaded: list[Voices] = [voices] if voices is not None else []

    def say(text: str, voice: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        path = folder / (hashlib.sha1(f"{voice}|{text}".encode()).hexdigest()[:16] + ".raw")
        if not path.exists():
            if not loaded:
                loaded.append(Voices())
            path.write_bytes((np.clip(loaded[0].speak(text, voice), -1, 1) * 32767).astype("<i2").tobytes())
        return (np.frombuffer(path.read_bytes(), "<i2") / 32768).astype(np.float32)

    silent = bytes(int(TAIL * SAMPLE_RATE) * 2)
    out = []
    for voice in VOICES:
        short = voice.split(":")[-1]
        for name, parts in CLOSE_PAUSES.items():
            plain = " ".join(p.rstrip(".?") for p in parts[:-1]) + " " + parts[-1]
            out.append((f"plain-{name}-{short}", "plain", voice, 0.0, say(plain, voice), silent))
            commas = ", ".join(p.rstrip(".?") for p in parts[:-1]) + ", " + parts[-1]
            for pause in PAUSES:
                split = join_measured([say(p, voice) for p in parts], pause)
                out.append((f"split-{name}-{pause}-{short}", "ha-split", voice, pause, split, silent))
                aligned = stretch(say(commas, voice), len(parts) - 1, pause)
                out.append((f"aligned-{name}-{pause}-{short}", "ha-aligned", voice, pause, aligned, silent))
        for i, text in enumerate(PLAIN):
            out.append((f"plain-{i:02d}-{short}", "plain", voice, 0.0, say(text, voice), silent))
    for req in corpus_build() if corpus else []:
        x = (np.frombuffer(req.pcm, "<i2") / 32768).astype(np.float32)
        out.append((f"corpus-{req.id}", "corpus", req.voice, req.pause, x, noise_tail(req, TAIL)))
    return out


def analyse(
    *,
    rid: str,
    group: str,
    voice: str,
    pause: float,
    speech: np.ndarray[Any, np.dtype[np.float32]],
    tail: bytes,
    server: Any,
) -> Analysed:
    """Feed the request to the server's utterance bookkeeping in 30 ms frames; decode each
    speculative final as the server does; record each judged pause."""
    from wyoming_whisper.stream import Utterance

    engine, vad, policy = server
    lead = np.zeros(int(0.3 * SAMPLE_RATE), np.float32) if group != "corpus" else np.zeros(0, np.float32)
    x = np.concatenate([lead, speech])
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes() + tail
    loud = np.flatnonzero(windows_db(x))
    count = len(CLOSE_PAUSES[re.sub(r"^(split|aligned)-|-[\d.]+-\w+$", "", rid)]) - 1 if group.startswith("ha") else 1
    utterance = Utterance(vad.stream(), policy)
    points: list[Point] = []
    for at in range(0, len(pcm), FRAME * 2):
        utterance.add(pcm[at : at + FRAME * 2])
        job = utterance.next_job(model_busy=False)
        if job is not None and job.kind == "final":
            decoded = engine.transcribe_batch([job.audio()], None)[0]
            utterance.speculated = (job.region, decoded)
            verdict: Verdict = utterance.judge(job.region, decoded.text)
            found = utterance._speech()
            assert found is not None
            audio = (np.frombuffer(bytes(utterance._pcm[: (found[1] + 1) * WINDOW * 2]), "<i2") / 32768).astype(
                np.float32
            )
            kind = "finished" if verdict.finished else "weak" if verdict.weak else "unfinished"
            points.append(
                Point(
                    decoded.text,
                    kind,
                    verdict.reason,
                    pitch_slope(audio[len(lead) // 2 :]),
                    round((found[1] - found[0] + 1) * WINDOW / SAMPLE_RATE, 3),
                    0.0,
                    round((found[1] + 1) * WINDOW / SAMPLE_RATE, 3),
                )
            )
        trailing = utterance._trailing_silence()
        if points and trailing is not None:
            points[-1].silence_s = max(points[-1].silence_s, round(trailing * WINDOW / SAMPLE_RATE, 3))
    measured = measured_pauses(x, count) if pause else []
    # the corpus's clips end at their last sample (noisy and far ones are not above -40 dBFS throughout)
    end = len(x) / SAMPLE_RATE if group == "corpus" else (int(loud[-1]) + 1) / 100
    return Analysed(rid, group, voice, pause, measured, round(end, 3), points)


Wait = Callable[[Point], float]


def waits(
    finished: float, *, weak: float = 1.5, cap: float = 2.25, cue: Callable[[Point], float | None] | None = None
) -> Wait:
    """A candidate: the wait for a finished / weak / unfinished verdict; ``cue`` may give a
    finished verdict another wait (None: no change)."""

    def wait(p: Point) -> float:
        if p.verdict == "finished":
            other = cue(p) if cue is not None else None
            return finished if other is None else other
        return min(cap, weak) if p.verdict == "weak" else cap

    return wait


def level_pitch(threshold: float, wait: float) -> Callable[[Point], float | None]:
    """A level or rising voice (slope above ``threshold`` st/s) waits ``wait``."""
    return lambda p: wait if p.slope is not None and p.slope > threshold else None


def short_speech(limit: float, wait: float) -> Callable[[Point], float | None]:
    """Speech shorter than ``limit`` s so far ("Play some jazz") waits ``wait``."""
    return lambda p: wait if p.speech_s < limit else None


CANDIDATES: dict[str, Wait] = {
    "relaxed now: finished 0.7": waits(0.7),
    "finished 0.8": waits(0.8),
    "finished 0.9": waits(0.9),
    "finished 1.0": waits(1.0),
    "finished 1.1": waits(1.1),
    "finished 1.2": waits(1.2),
    "0.7, level pitch (> -5 st/s) 1.5": waits(0.7, cue=level_pitch(-5.0, 1.5)),
    "0.7, level pitch (> 0 st/s) 1.5": waits(0.7, cue=level_pitch(0.0, 1.5)),
    "0.7, level pitch (> -12 st/s) 1.5": waits(0.7, cue=level_pitch(-12.0, 1.5)),
    "0.9, level pitch (> -5 st/s) 1.5": waits(0.9, cue=level_pitch(-5.0, 1.5)),
    "1.0, level pitch (> -5 st/s) 1.5": waits(1.0, cue=level_pitch(-5.0, 1.5)),
    "0.7, speech < 1.2 s 1.2": waits(0.7, cue=short_speech(1.2, 1.2)),
    "silence only 1.25 (HA relaxed)": waits(1.25, weak=1.25, cap=1.25),
}


def price(rows: list[Analysed], name: str, wait: Wait) -> dict[str, Any]:
    """Cuts per group and pause, and end of speech -> end of turn over the ends that end."""
    out: dict[str, Any] = {"candidate": name}
    for group in ("ha-split", "ha-aligned"):
        for pause in PAUSES:
            cell = [r for r in rows if r.group == group and r.pause_s == pause]
            cut = [r.id for r in cell if any(p.silence_s >= wait(p) for p in r.points[:-1])]
            out[f"{group} {pause}"] = f"{len(cut)}/{len(cell)}"
    paused = [r for r in rows if r.group == "corpus" and r.pause_s > 0]
    out["corpus paused cut"] = (
        f"{sum(any(p.silence_s >= wait(p) for p in r.points[:-1]) for r in paused)}/{len(paused)}"
    )
    for group in ("plain", "corpus"):
        delays = [
            r.points[-1].vad_end_s + wait(r.points[-1]) - r.speech_end_s
            for r in rows
            if r.group == group and r.points and not any(p.silence_s >= wait(p) for p in r.points[:-1])
        ]
        if delays:
            out[f"{group} end p50/p95 (n)"] = (
                f"{statistics.median(delays):.2f} / {sorted(delays)[max(0, math.ceil(0.95 * len(delays)) - 1)]:.2f} "
                f"({len(delays)})"
            )
    return out


def load_server() -> tuple[Any, Any, Any]:
    """The rig's whisper (tiny.en, the server's defaults) and the policy a satellite asks for."""
    from wyoming.asr import Transcribe

    from wyoming_whisper.__main__ import load, make_config, parse_args
    from wyoming_whisper.policy import request_policy

    config = make_config(parse_args(["--model", "tiny.en"]))
    engine, vad = load(config)
    request = Transcribe(
        vad_sensitivity="relaxed", context={"partial_transcripts": False, "speculative_transcripts": True}
    )
    return engine, vad, request_policy(config.policy, request)


def markdown(res: dict[str, Any]) -> str:
    """The candidates' table (cuts per group and pause; end of speech -> end of turn p50 / p95)."""
    table = res["table"]
    keys = [k for k in table[0] if k != "candidate"]
    md = [
        f"# relaxed end-of-turn waits, priced offline ({res['started']} UTC, load {' '.join(res['load_before'])} -> "
        f"{' '.join(res['load_after'])}, code {res.get('commit', '?')})",
        "",
        "`bench/ha_eot_offline.py`: the whisper server's parts in-process (tiny.en int8, Silero, the `relaxed` "
        "policy a satellite asks for), 30 ms frames, each speculative final decoded and judged as the server does. "
        "Cut: some pause before the end lasted the candidate's wait. ha-split / ha-aligned: 15 requests per pause "
        "(5 sentences of `CLOSE_PAUSES` x 3 voices; pauses MEASURED below -40 dBFS); corpus: the 50 paused "
        "requests of bench/turn_corpus.py. End: the VAD's end of speech + the wait - the last sample above "
        "-40 dBFS (plain: 60 complete requests; corpus: its ends not cut), p95 by nearest rank.",
        "",
        "| candidate | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    md += ["| " + " | ".join(str(row.get(k, "-")) for k in ["candidate", *keys]) + " |" for row in table]
    return "\n".join(md) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ha_eot_offline")
    parser.add_argument("--reuse", action="store_true", help="price the points in --out.json again, no decoding")
    parser.add_argument("--commit", default="?", help="the code commit the points were measured with")
    args = parser.parse_args()
    res: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "load_before": Path("/proc/loadavg").read_text().split()[:3],
        "commit": args.commit,
    }
    if args.reuse:
        saved = json.loads(args.out.with_suffix(".json").read_text())
        res = {**res, **{k: saved[k] for k in ("started", "load_before", "load_after", "commit") if k in saved}}
        rows = [Analysed(**{**r, "points": [Point(**p) for p in r["points"]]}) for r in saved["rows"]]
    else:
        server = load_server()
        rows = []
        for item in build(None):
            rid, group, voice, pause, speech, tail = item
            rows.append(
                analyse(rid=rid, group=group, voice=voice, pause=pause, speech=speech, tail=tail, server=server)
            )
            print(json.dumps(asdict(rows[-1])), flush=True)
        res["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
    res["table"] = [price(rows, name, wait) for name, wait in CANDIDATES.items()]
    for row in res["table"]:
        print(json.dumps(row), flush=True)
    res["rows"] = [asdict(r) for r in rows]
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
