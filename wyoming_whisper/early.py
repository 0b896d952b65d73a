"""The speculative final decode started when Silero's score falls, its text kept when the rest of
the pad adds no word (session 23).

With server-side endpointing the speculative final (:mod:`.stream`) decodes the speech plus the pad
(3 Silero windows, 96 ms) once that pad has arrived, and the end of turn (and the orchestrator's
command end, which ends a whole command the moment its text is in) waits for that decode (~0.09 s):
a whole command's text is in ~0.19 s into the silence. Here the decode starts after
``EARLY_WINDOWS`` window of silence instead, when that window scores under ``EARLY_GATE`` (the
score FELL: most short dips between two words stay higher), on the audio heard so far. When the
pad has arrived and every one of its windows scored under ``REUSE_BELOW`` on both grids (the rest
of the pad adds no word: not a soft word end Silero still scores 0.2-0.45),
that early decode IS the speculative final of the whole region (its text, its scores) and no second
decode runs: the text is in ~0.12 s into the silence. Otherwise the region is decoded as before,
after the early one (which then cost up to one decode's time).

Nothing ends sooner than the pad: the server judges the text only once the pad has arrived, as
before; only the decode's wait after it shrinks. Chosen on the end-of-turn corpus's room-like
streams (``bench/eot_reuse_probe.py``, tune chooses, held reports; bench/results/s23_fast.md): at
0.2 / 0.2 no stream's last text changes (0 of 325), no pause is cut more (tune 48/185, held
16/139), whole commands' end of turn p50 0.169 -> 0.145 s (tune), 0.173 -> 0.133 s (held) with
0.09 s decodes. Looser bounds (0.3 / 0.3, the room runs s23-fast-1/-2) reuse 4x as often but
change texts: "Set the thermostat to 20 degrees." -> "Set the firmest off ..." (held-47), and on
the room's held-62 mic "Lights off." -> "Lights after." (the soft "f" in the pad's first window,
0.28). The price: a decode started early and not used (a dip inside the speech, a pad that scored
0.2 or more) delays the regular one behind it: with the corpus's measured decodes (load 5-8) the
p95 of every request's end of turn rose 0.829 -> 0.859 s (tune), 0.530 -> 0.581 s (held).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Region = tuple[int, int]

EARLY_WINDOWS = 1  # windows of silence heard when the early decode starts
EARLY_GATE = 0.2  # ... and that window's Silero score is under this (the score fell)
REUSE_BELOW = 0.2  # every pad window (both grids) scored under this: the pad added no word


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
