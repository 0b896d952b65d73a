"""The speculative final decode started when Silero's score falls, its text kept when the rest of
the pad adds no word (session 23).

With server-side endpointing the speculative final (:mod:`.stream`) decodes the speech plus the pad
(3 Silero windows, 96 ms) once that pad has arrived, and the end of turn (and the orchestrator's
command end, which ends a whole command the moment its text is in) waits for that decode (~0.09 s):
a whole command's text is in ~0.19 s into the silence. Here the decode starts after
``EARLY_WINDOWS`` window of silence instead, when that window scores under ``EARLY_GATE`` (the
score FELL: most short dips between two words stay higher), on the audio heard so far. When the
pad has arrived and every one of its windows scored under ``REUSE_BELOW`` on both grids (the rest
of the pad adds no word: not a soft word end Silero still scores 0.3-0.45),
that early decode IS the speculative final of the whole region (its text, its scores) and no second
decode runs: the text is in ~0.12 s into the silence. Otherwise the region is decoded as before,
after the early one (which then cost up to one decode's time).

Nothing ends sooner than the pad: the server judges the text only once the pad has arrived, as
before; only the decode's wait after it shrinks. Chosen on the end-of-turn corpus's room-like
streams (``bench/eot_reuse_probe.py``, tune chooses, held reports; bench/results/s23_fast.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Region = tuple[int, int]

EARLY_WINDOWS = 1  # windows of silence heard when the early decode starts
EARLY_GATE = 0.3  # ... and that window's Silero score is under this (the score fell)
REUSE_BELOW = 0.3  # every pad window (both grids) scored under this: the pad added no word


@dataclass
class EarlyFinal:
    """The early decode made for the speech ending at window ``last``: ``region`` decoded, and the
    whole region (speech + pad) it stands for once the pad added no word (``adopted``)."""

    last: int
    region: Region
    adopted: Region | None = None


def may_start(probs: Sequence[float], last: int, trailing: int, pad: int, normal_pad: int) -> bool:
    """Whether an early decode starts now: at least ``EARLY_WINDOWS`` quiet windows after the speech
    ending at ``last`` and fewer than the pad (a chunk may bring several windows), the normal pad
    (not a weak end's longer one), and the first quiet window's score fallen."""
    if not EARLY_WINDOWS <= trailing < pad or pad != normal_pad:
        return False
    return all(p < EARLY_GATE for p in probs[last + 1 : last + 1 + EARLY_WINDOWS])


def adds_no_word(probs: Sequence[float], half: Sequence[float] | None, last: int, pad: int) -> bool:
    """Whether the pad after the speech ending at ``last`` scored under ``REUSE_BELOW`` in every
    window heard (both grids: the half grid's windows that start inside the pad)."""
    quiet = list(probs[last + 1 : last + 1 + pad])
    if len(quiet) < pad:
        return False
    if half is not None:
        quiet += list(half[last + 1 : last + pad])
    return max(quiet) < REUSE_BELOW
