"""End-of-turn benchmark: is a request with a pause heard whole, and how fast does a turn end?

Each request of the corpus (``bench/turn_corpus.py``: 65 requests, 6 voices, 50 with a pause of
0.3-0.9 s mid-sentence, clean/far-field/noisy) is streamed into one real ``wyoming_whisper``
server (tiny.en, int8) at real-time pace in 32 ms chunks, the way ``voice-orchestrator serve``
asks for it (``vad_sensitivity``, no partial transcripts), and the server ends the turn. Rules
compared, interleaved request by request so load drift hits all alike:

* ``silence-aggressive``: the old default, 0.25 s of silence (``context.endpoint: silence``);
* ``silence-default``: 0.7 s of silence (Home Assistant's default);
* ``semantic-aggressive``: the transcript decides (``wyoming_whisper/endpoint.py``), 0.25 s
  for a finished request, up to 1.5 s for an unfinished one (the new default);
* ``semantic-default`` (with ``--configs``): 0.4 s / up to 1.875 s.

Reported per rule, for the tune and the held-out split apart: cut-off rate (the transcript
misses the request: under 75 % of its words, or under 60 % of the words after its pause),
and end of speech (the last voiced sample reaching the server, paced) -> ``transcript``
p50/p95 over the requests heard whole. An oracle pass (the whole clip, ``audio-stop``, no
endpointing) checks each clip is intelligible to tiny.en at all; clips it misses are left out.

    .venv/bin/python bench/turn_bench.py [--configs a,b,...] [--limit N] [--corpus fresh]

Results: bench/results/turn.{json,md}; with ``--corpus fresh`` (``bench/fresh_corpus.py``: requests,
voices and speeds never tuned on, split probe / sealed) bench/results/fresh_turn.{json,md}; with
``--corpus fresh2`` (``bench/fresh2_corpus.py``, session 30's probe set of short commands)
bench/results/fresh2_turn.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run_until_signalled  # noqa: E402
from bench.turn_corpus import RATE, Request, build, noise_tail, norm_words  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402

CONFIGS = {  # name: (vad_sensitivity, context.endpoint)
    "silence-aggressive": ("aggressive", "silence"),
    "silence-default": ("default", "silence"),
    "semantic-aggressive": ("aggressive", "semantic"),
    "semantic-default": ("default", "semantic"),
}
DEFAULT_CONFIGS = "silence-aggressive,silence-default,semantic-aggressive"
CHUNK = 512  # samples: 32 ms, about a satellite's read size
TAIL = 3.0  # seconds of silence offered after the speech (the longest cap is 2.25 s)


@dataclass
class Outcome:
    request: str
    config: str
    text: str
    whole: bool
    early: bool  # the transcript came before the speech ended
    latency: float | None  # end of speech -> transcript, seconds (None: cut, or never endpointed)


def recall(reference: list[str], heard: list[str]) -> float:
    if not reference:
        return 1.0
    pool = list(heard)
    hit = 0
    for word in reference:
        if word in pool:
            pool.remove(word)
            hit += 1
    return hit / len(reference)


NUMBERS = {"seven": "7", "fifteen": "15", "twenty": "20", "thirty": "30", "fifty": "50",  # the corpus's
           "six": "6", "ten": "10", "eighteen": "18"}  # and bench/fresh_corpus.py's


FILLERS = {"um", "umm", "uhm", "uh", "uhh", "er", "erm", "hmm"}  # bench/fresh_corpus.py says some; never judged


TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
ONES = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
SAME = {"okay": "ok"}  # Whisper writes either (bench/fresh2_corpus.py's "Okay, stop.")


def comparable(words: list[str]) -> list[str]:
    """Words with the corpus's numbers as digits ("15", "7:30", "50%", "twenty one" -> "21": Whisper's
    spelling), fillers left out."""
    out: list[str] = []
    for i, word in enumerate(words):
        if word in ONES and i and words[i - 1] in TENS:
            out[-1] = str(TENS[words[i - 1]] + ONES[word])
        elif word not in FILLERS:
            out += SAME.get(word, NUMBERS.get(word, word)).replace(":", " ").replace(".", " ").split()
    return out


def is_whole(request: Request, text: str) -> bool:
    heard = comparable(norm_words(text.replace("%", " percent")))
    after = comparable(request.words_after_pause())
    return recall(comparable(norm_words(request.text)), heard) >= 0.75 and (not after or recall(after, heard) >= 0.6)


def word_error_rate(said: str, text: str) -> float:
    """Word error rate of ``text`` against the request ``said`` (word edits over the request's
    words), compared as :func:`is_whole` compares (lower case, no punctuation, the corpus's
    numbers as digits). Unlike :func:`is_whole` the words must be the same and in order: "Set
    the film to stop 2. 20 degrees." for "Set the thermostat to twenty degrees." is whole (5 of
    its 6 words heard) but 0.5 wrong (1 word replaced, 2 inserted)."""
    ref = comparable(norm_words(said.replace("%", " percent")))
    hyp = comparable(norm_words(text.replace("%", " percent")))
    row = list(range(len(hyp) + 1))
    for i, want in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, got in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (want != got))
    return row[-1] / len(ref) if ref else float(len(hyp) > 0)


def miss_kind(request: Request, text: str, ended_mid_speech: int = 0) -> str | None:
    """Why a request was not heard whole (None: it was). ``cut``: the end of turn came while the user
    was still speaking, or the request's first part is there and its rest is missing (the words
    after the pause; without a pause, the second half); ``misheard``: the words heard cover the
    utterance's span but are wrong ("Yeah." for "Yes.": one word cannot be cut); ``lost``: no
    transcript. A cut and a mishearing are both misses: the report counts both."""
    if text and is_whole(request, text):
        return None
    if not text.strip():
        return "lost"
    if ended_mid_speech:
        return "cut"
    words = comparable(norm_words(request.text))
    k = (len(words) + 1) // 2
    if request.pause_after:
        k = len(comparable(norm_words(request.text)[: request.pause_after]))
    before, after = words[:k], words[k:]
    heard = comparable(norm_words(text.replace("%", " percent")))
    # the rest is missing: too few of its words heard, and too few words heard at all to hold it
    # ("where is the nearest tour?" decoded a word for "pharmacy": misheard; "where is the nearest?": cut)
    short = len(heard) < len(before) + 0.6 * len(after)
    if before and after and recall(before, heard) >= 0.6 and recall(after, heard) < 0.6 and short:
        return "cut"
    return "misheard"


async def stream(port: int, request: Request, sensitivity: str, mode: str) -> tuple[str, float | None, bool]:
    """Stream ``request`` paced like a microphone; the text, end of speech -> transcript, early?"""
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    got: asyncio.Future[tuple[str, float]] = asyncio.get_running_loop().create_future()

    async def read() -> None:
        while True:
            event = await client.read_event()
            if event is None:
                if not got.done():
                    got.set_exception(ConnectionError("closed before transcript"))
                return
            if Transcript.is_type(event.type) and not got.done():
                got.set_result((Transcript.from_event(event).text, time.perf_counter()))
                return

    reader = asyncio.create_task(read())
    try:
        await client.write_event(Transcribe(language="en", vad_sensitivity=sensitivity,
                                            context={"partial_transcripts": False, "endpoint": mode}).event())
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        pcm = request.pcm + noise_tail(request, TAIL)
        step = CHUNK * 2
        begin = time.perf_counter()
        for i in range(0, len(pcm), step):
            # A microphone has a chunk once its last sample was spoken.
            await asyncio.sleep(max(0.0, begin + (i + step) / (2 * RATE) - time.perf_counter()))
            if got.done():
                break
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[i : i + step]).event())
        speech_end = begin + request.speech_end
        if not got.done():
            await client.write_event(AudioStop().event())
            text, _ = await asyncio.wait_for(got, 60)
            return text, None, False  # never endpointed: the client's stop ended it
        text, at = got.result()
        return text, at - speech_end, at < speech_end
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await client.disconnect()


# The whisper server every turn bench starts: tiny.en int8, English, the semantic endpoint's 1.5 s cap.
TINY_WHISPER_ARGS = (
    *("--model", "tiny.en", "--compute-type", "int8"),
    *("--language", "en", "--endpoint-max-silence", "1.5"),
)


async def read_transcript(client: AsyncTcpClient, timeout: float) -> str:
    """Read events until the transcript (each read within ``timeout`` s); its text."""
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout)
        if event is None:
            raise ConnectionError("closed before transcript")
        if Transcript.is_type(event.type):
            return Transcript.from_event(event).text


async def oracle(port: int, request: Request) -> str:
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    try:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=request.pcm + bytes(9600)).event())
        await client.write_event(AudioStop().event())
        return await read_transcript(client, 60)
    finally:
        await client.disconnect()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def splits(corpus: Any) -> list[str]:
    """The corpus's splits in their order (tune, held / probe, sealed)."""
    return list(dict.fromkeys(r.split for r in corpus))


def load_corpus(name: str) -> list[Request]:
    """The end-of-turn corpus (``turn``), the fresh one (``fresh``, bench/fresh_corpus.py) or the second
    fresh probe set (``fresh2``, bench/fresh2_corpus.py)."""
    if name == "fresh":
        from bench.fresh_corpus import build as build_fresh

        return build_fresh()
    if name == "fresh2":
        from bench.fresh2_corpus import build as build_fresh2

        return build_fresh2()
    return build()


def summarise(outcomes: list[Outcome], requests: dict[str, Request]) -> dict[str, Any]:
    def group(items: list[Outcome]) -> dict[str, Any]:
        lat = [o.latency for o in items if o.whole and o.latency is not None and not o.early]
        # heard whole (not cut) but with wrong words, and the word error rate of every text
        wers = [word_error_rate(requests[o.request].text, o.text) for o in items]
        return {"n": len(items), "cut": sum(not o.whole for o in items),
                "whole_misheard": sum(o.whole and w > 0 for o, w in zip(items, wers, strict=True)),
                "wer_p50": round(statistics.median(wers), 3) if wers else None,
                "wer_max": round(max(wers), 3) if wers else None,
                "cut_rate": round(sum(not o.whole for o in items) / len(items), 3) if items else None,
                "p50": None if not lat else round(statistics.median(lat), 3),
                "p95": None if not lat else round(pct(lat, 0.95) or 0.0, 3)}

    result: dict[str, Any] = {}
    for split in (*splits(requests.values()), "all"):
        part = [o for o in outcomes if split == "all" or requests[o.request].split == split]
        result[split] = {
            "all": group(part),
            "paused": group([o for o in part if requests[o.request].pause_after]),
            "paused-open": group([o for o in part if requests[o.request].pause_kind == "open"]),
            "paused-can-end": group([o for o in part if requests[o.request].pause_kind == "can-end"]),
            "unpaused": group([o for o in part if not requests[o.request].pause_after]),
        }
    return result


async def run(args: argparse.Namespace) -> int:
    corpus = await asyncio.to_thread(load_corpus, args.corpus)
    if args.only:
        corpus = [r for r in corpus if r.id in args.only]
    if args.limit:
        corpus = corpus[: args.limit]
    configs = args.configs.split(",")
    server = await start_service("wyoming_whisper", "--model", "tiny.en", "--compute-type", "int8",
                                 "--language", "en", "--endpoint-max-silence", str(args.max_silence))
    outcomes: list[Outcome] = []
    skipped: dict[str, str] = {}
    verdicts: list[str] = []
    load = os.getloadavg()
    try:
        for request in corpus:
            heard = await oracle(server.port, request)
            if not is_whole(request, heard):
                skipped[request.id] = heard
                print(f"{request.id} skipped (tiny.en hears {heard!r} in the whole clip)", flush=True)
                continue
            for name in configs:
                sensitivity, mode = CONFIGS[name]
                text, latency, early = await stream(server.port, request, sensitivity, mode)
                whole = is_whole(request, text) and not early
                outcomes.append(Outcome(request.id, name, text, whole, early, latency))
                if args.server_log:  # the server's end-of-turn verdicts for this stream (why it waited)
                    kept = [line for line in server.log if "end of turn?" in line or "avg_logprob=" in line]
                    verdicts += [f"{request.id} {name} {line}" for line in kept]
                    del server.log[:]
                print(f"{request.id} {name:20s} {'whole' if whole else 'CUT  '} "
                      f"{'-' if latency is None else f'{latency:+.3f}s'} {text!r}", flush=True)
    finally:
        await server.stop()
        if args.server_log:
            await asyncio.to_thread(Path(args.server_log).write_text, "\n".join(verdicts) + "\n")
    write(args, corpus, configs, outcomes=outcomes, skipped=skipped, load=load)
    return 0


def write(args: argparse.Namespace, corpus: list[Request], configs: list[str], *, outcomes: list[Outcome],
          skipped: dict[str, str], load: tuple[float, float, float]) -> None:
    requests = {r.id: r for r in corpus}
    summary = {c: summarise([o for o in outcomes if o.config == c], requests) for c in configs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    conditions = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                  "loadavg_start": load, "loadavg_end": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                  time.gmtime()), "model": "tiny.en int8", "chunk_ms": CHUNK * 1000 // RATE,
                  "endpoint_max_silence": args.max_silence}
    corpus_info = [{k: v for k, v in vars(r).items() if k not in ("pcm", "clean")} for r in corpus]
    name = {"fresh": "fresh_turn", "fresh2": "fresh2_turn"}.get(args.corpus, "turn")
    (out / f"{name}.json").write_text(json.dumps({"conditions": conditions, "summary": summary,
                                               "skipped": skipped, "corpus": corpus_info,
                                               "outcomes": [vars(o) for o in outcomes]}, indent=1))
    from bench.turn_report import markdown

    (out / f"{name}.md").write_text(markdown(conditions, summary, corpus, outcomes, skipped))
    print((out / f"{name}.md").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--max-silence", type=float, default=1.5, help="the server's --endpoint-max-silence")
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests (a quick look)")
    parser.add_argument("--only", nargs="+", metavar="ID", help="only these requests")
    parser.add_argument("--corpus", choices=["turn", "fresh", "fresh2"], default="turn",
                        help="turn: bench/turn_corpus.py; fresh: bench/fresh_corpus.py (results fresh_turn.*); "
                        "fresh2: bench/fresh2_corpus.py (results fresh2_turn.*)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--server-log", help="write the server's end-of-turn verdicts (per request, config) here")
    return run_until_signalled(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
