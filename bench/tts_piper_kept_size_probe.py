"""Page faults of a Piper first piece after a longer piece, per kept arena size (session 28, llm).

One process per size (onnxruntime's shared arena is registered once per process): the service's
``PiperEngine(kept_arena_mb=N)``; 5 rounds of a first piece ("The tallest mountain in the world,") and then
a longer piece (``--before long``: 130 characters, two runs of at most 120; ``rest``: one full 120-character
run), each spoken whole; the calling thread's minor page faults per call (onnxruntime's one intra-op thread
is the caller's). Round 1 is the warm-up (the model's first runs).

    for n in 0 64 96 128; do .venv/bin/python bench/tts_piper_kept_size_probe.py $n --before long; done
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tts_piper_thp_probe import REST  # noqa: E402

LONG = ("The tallest mountain in the world is Mount Everest, which is the highest mountain on Earth "
        "and stands tall above the clouds.")
FIRST = "The tallest mountain in the world,"


def main() -> int:
    from voice_runtime.models import resolve_piper
    from wyoming_kokoro.piper_engine import PiperEngine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("megabytes", type=int)
    parser.add_argument("--before", choices=("long", "rest"), default="long")
    args = parser.parse_args()
    engine = PiperEngine({"joe": resolve_piper()}, kept_arena_mb=args.megabytes)
    before = LONG if args.before == "long" else REST

    def faults(text: str) -> int:
        start = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        list(engine.synthesize(text, "joe"))
        return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - start

    rounds = [(faults(FIRST), faults(before)) for _ in range(5)]
    print(f"kept {args.megabytes} MB, before={args.before}: (first piece, longer piece) faults per round {rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
