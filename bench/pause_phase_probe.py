"""Offline: does a paused request survive every start phase of the stream? (issue 17, held-50)

In the room the far+noise held-50 ("Open the garage door and ... turn on the porch light.", 0.9 s
after "and") ended at its pause in 2 of 3 runs on "Open the garage door." and was whole in the
third, on the same clip. This feeds one request to our whisper handler (tiny.en, real Silero, the
server's defaults, ``vad_sensitivity: default`` with speculative transcripts and no partials, as
``voice-orchestrator serve`` asks) as the satellite streams it: a 0.6 s pre-roll chunk, then 30 ms
chunks, each handled before the next (decodes take no audio time: the room's ~0.1 s decode lands
inside the 0.25 s base silence anyway). The stream starts ``--first`` .. ``--last`` ms before the
clip (``--step`` ms apart), so the Silero window grid (32 ms) and the encoder's input move against
the speech. For each start: every end-of-turn verdict (the text it read, finished or not) and
whether the transcript is whole (has the words after the pause).

Sources: ``--corpus ID`` (``bench/turn_corpus``, generation 2; preceded by its own noise), or
``--room DIR`` (a kept ``bench/room_turns_bench.py`` folder: the room's ``mic.wav`` around the
request ``--wav``, held-50 by default).

    python bench/pause_phase_probe.py --room /tmp/p17/pause/held-p1 --first 0 --last 800 --step 10
    python bench/pause_phase_probe.py --corpus held-50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from handler_pair import tiny_whisper  # noqa: E402
from wyoming.asr import Transcribe, Transcript  # noqa: E402
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.event import async_read_event  # noqa: E402

from voice_runtime.models import silero_vad  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE  # noqa: E402
from wyoming_whisper.stream import StreamPolicy  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad  # noqa: E402

PREROLL = 0.6  # the satellite's first chunk (its pre-roll, preroll_ms=600 in the room's logs)
FRAME = 480  # then one 30 ms frame per chunk
POLICY = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW))  # --endpoint-max-silence 1.5
_VERDICT = re.compile(r"end of turn\? finished=(\w+) \((.*)\) text=(.*)$")


@dataclass
class Outcome:
    start_ms: int
    verdicts: list[str] = field(default_factory=list)
    transcript: str = ""


class _Verdicts(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = _VERDICT.search(record.getMessage())
        if found:
            self.lines.append(f"{'F' if found[1] == 'True' else 'u'} {found[3]}")


async def run(audio: np.ndarray, starts: list[int], lead: float) -> list[Outcome]:
    """``audio`` (float, 16 kHz) holds ``lead`` s before the request; a stream per start (ms before it)."""
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    verdicts = _Verdicts()
    logging.getLogger("wyoming_whisper.handler").addHandler(verdicts)
    logging.getLogger("wyoming_whisper.handler").setLevel(logging.INFO)
    outcomes = []
    async with tiny_whisper(SileroVad(silero_vad()), POLICY) as (whisper, reader):
        for start_ms in starts:
            verdicts.lines = []
            first = int((lead - start_ms / 1000) * SAMPLE_RATE) * 2
            preroll = int(PREROLL * SAMPLE_RATE) * 2
            pieces = [pcm[first : first + preroll]]
            pieces += [pcm[i : i + FRAME * 2] for i in range(first + preroll, len(pcm), FRAME * 2)]
            context = {"partial_transcripts": False, "speculative_transcripts": True}
            events = [
                Transcribe(language="en", vad_sensitivity="default", context=context).event(),
                AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event(),
            ]
            events += [AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=p).event() for p in pieces]
            events.append(AudioStop().event())
            for event in events:
                await whisper.preempt(event)
                await whisper.handle_event(event)
            text = ""
            while True:
                got = await asyncio.wait_for(async_read_event(reader), 60)
                assert got is not None
                if Transcript.is_type(got.type):
                    text = Transcript.from_event(got).text
                if got.type == "transcript-stop":
                    break
            outcomes.append(Outcome(start_ms, list(verdicts.lines), text))
    return outcomes


def room_audio(folder: Path, wav: str, lead: float, after: float) -> np.ndarray:
    result = json.loads((folder / "result.json").read_text())
    u = next(u for u in result["utterances"] if Path(str(u.get("wav"))).name == wav)
    with wave.open(str(folder / "mic.wav")) as w:
        mic = (np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768).astype(np.float32)
    at = u["at"] + result["wav_offset_s"]  # the clip's start on the mic
    return mic[int((at - lead) * SAMPLE_RATE) : int((at + after) * SAMPLE_RATE)]


def corpus_audio(rid: str, lead: float, after: float) -> np.ndarray:
    from bench.turn_corpus import build

    request = next(r for r in build() if r.id == rid)
    x = np.frombuffer(request.pcm, "<i2").astype(np.float32) / 32768
    noise = request.noise_dbfs if request.noise_dbfs is not None else -90.0
    rng = np.random.default_rng(0)
    before = rng.standard_normal(int(lead * SAMPLE_RATE)).astype(np.float32) * 10 ** (noise / 20)
    tail = rng.standard_normal(int(after * SAMPLE_RATE)).astype(np.float32) * 10 ** (noise / 20)
    return np.concatenate([before, x, tail])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--room", type=Path, help="a kept room_turns folder")
    source.add_argument("--corpus", help="a turn-corpus request id (held-50)")
    parser.add_argument("--wav", default="held-50.wav", help="with --room: the request's clip")
    parser.add_argument("--first", type=int, default=0, help="ms before the clip the first stream starts")
    parser.add_argument("--last", type=int, default=800)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--after", default="turn,porch", help="words after the pause (whole = all heard)")
    args = parser.parse_args()
    lead = args.last / 1000 + PREROLL + 0.1
    if args.room is not None:
        audio = room_audio(args.room, args.wav, lead, 6.0)
    else:
        audio = corpus_audio(args.corpus, lead, 2.0)
    after = args.after.split(",")
    starts = list(range(args.first, args.last + 1, args.step))
    outcomes = asyncio.run(run(audio, starts, lead))
    cut = 0
    for o in outcomes:
        whole = all(w.lower() in o.transcript.lower() for w in after)
        cut += not whole
        print(
            f"{o.start_ms:4d} ms {'whole' if whole else 'CUT  '} {o.transcript!r} | " + " | ".join(o.verdicts),
            flush=True,
        )
    print(f"cut {cut} of {len(outcomes)} starts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
