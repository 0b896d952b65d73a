"""Piper's first piece per onnxruntime memory setting, paired (session 27, llm).

Four sessions of the real ``en_US-joe-medium`` voice (one thread each) in one process: ``main(shrink)``
(the service's: the arena shrunk after every run, ``ShrinkingSession``), ``no-shrink`` (the arena kept),
``no-arena`` (``enable_cpu_mem_arena`` off), ``shrink+nomempattern``; the room's 9 uncached first pieces
(``bench/llm_room_first_piece.py``), each arm in turn (rotating order), ``ROUNDS`` rounds; the time from the
call to Piper's first audio, and each arm's paired difference against ``main(shrink)``.

    .venv/bin/python bench/tts_piper_arena_probe.py [ROUNDS]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_runtime.models import resolve_piper  # noqa: E402
from wyoming_kokoro.engine import ShrinkingSession  # noqa: E402

PIECES = [
    "The tallest mountain in the world,", "The next song of my playlist,", "To boil an egg,",
    "The nearest pharmacy is typically located,", "Mars is,", "You can walk the front door,",
    "The store closes at 10:30 PM.", "This thought was a thought-provoking question,", "Read with the news headlines,",
]


def voice(*, shrink: bool, arena: bool = True, mem_pattern: bool = True) -> Any:
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    model = resolve_piper("en_US-joe-medium")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = arena
    options.enable_mem_pattern = mem_pattern
    session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(model.with_suffix(".onnx.json").read_text()))
    return PiperVoice(config=config, session=ShrinkingSession(session) if shrink else session)


def first_audio(piper: Any, text: str) -> float:
    from piper import SynthesisConfig

    started = time.monotonic()
    next(iter(piper.synthesize(text, syn_config=SynthesisConfig())))
    return time.monotonic() - started


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    arms = {"main(shrink)": voice(shrink=True), "no-shrink": voice(shrink=False),
            "no-arena": voice(shrink=False, arena=False), "shrink+nomempattern": voice(shrink=True, mem_pattern=False)}
    for piper in arms.values():
        first_audio(piper, "Warm up.")
    names = list(arms)
    times: dict[str, list[float]] = {name: [] for name in names}
    print("load", os.getloadavg(), time.strftime("%H:%M:%S UTC", time.gmtime()))
    for r in range(rounds):
        for i, piece in enumerate(PIECES):
            k = (r + i) % len(names)
            for name in names[k:] + names[:k]:
                times[name].append(first_audio(arms[name], piece))
    base = times[names[0]]
    for name in names:
        diff = [a - b for a, b in zip(times[name], base, strict=True)]
        print(f"{name:22s} p50 {statistics.median(times[name]):.3f} max {max(times[name]):.3f}  paired vs main p50 "
              f"{statistics.median(diff):+.3f} faster in {sum(d < 0 for d in diff)}/{len(diff)}")
    print("load", os.getloadavg(), time.strftime("%H:%M:%S UTC", time.gmtime()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
