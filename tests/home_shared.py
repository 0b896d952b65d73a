"""Recognisers the offline home tests share: compiling the templates costs ~1-1.5 s per
recogniser, so each is built once per session (not once per module or per test). For
recognition and no-home answers only: a test that leaves a question open (a home backend that
asks "did you mean ...") builds its own."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is imported as a package

from bench.home_bench import SnapshotHome, corpus_home
from orchestrator.intents import IntentRecognizer

__all__ = ["SnapshotHome", "bench_home", "no_home"]  # SnapshotHome: tests build their own homes from it


@cache
def no_home() -> IntentRecognizer:
    """No home connected: device requests get the honest answer."""
    return IntentRecognizer()


@cache
def bench_home() -> IntentRecognizer:
    """The bench home (bench/home_corpus.py's entities), commands not executed."""
    return IntentRecognizer(home=SnapshotHome(corpus_home()))
