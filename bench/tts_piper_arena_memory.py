"""Piper's resident memory per onnxruntime memory setting (session 27, llm): one process per arm.

After a warm-up, 40 pieces of 20-120 characters (the engine's ``max_run_chars`` bounds a run at 120);
the RSS before and after, and the peak. Arms: ``shrink`` (the service's ``ShrinkingSession``),
``no-shrink`` (the arena kept), ``no-arena``; ``engine:N`` (session 28): the service's ``PiperEngine`` with
``kept_arena_mb=N`` (0: main's), each piece spoken whole through its ``synthesize``.

    for a in shrink no-shrink no-arena; do .venv/bin/python bench/tts_piper_arena_memory.py $a; done
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tts_piper_arena_probe import first_audio, voice  # noqa: E402

TEXT = ("The tallest mountain in the world is Mount Everest, which is the highest mountain on Earth "
        "and stands tall above.")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> int:
    arm = sys.argv[1]
    speak: Callable[[str], object]
    if arm.startswith("engine:"):
        from voice_runtime.models import resolve_piper
        from wyoming_kokoro.piper_engine import PiperEngine

        engine = PiperEngine({"joe": resolve_piper()}, kept_arena_mb=int(arm.split(":")[1]))

        def speak(text: str) -> object:
            return list(engine.synthesize(text, "joe"))
    else:
        piper = voice(shrink=arm == "shrink", arena=arm != "no-arena")

        def speak(text: str) -> object:
            return first_audio(piper, text)
    speak("Warm up.")
    before = rss_mb()
    for n in range(40):
        speak(TEXT[: 20 + (n * 7) % 100])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
    print(f"{arm}: rss after warm-up {before:.0f} MB, after 40 pieces {rss_mb():.0f} MB, peak {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
