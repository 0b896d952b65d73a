"""bench/stall_played.py: did the room's card run dry where the satellite counted an underrun?

Synthetic streams at the room's 22050 Hz: the written stream is a noise-modulated "reply"; the played one is
what a card plays from it, 0.5 s later, with or without a block of silence it played on its own (ran dry).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.stall_played import anchor, check, counted

RATE = 22050
LAG = RATE // 2  # the played stream starts 0.5 s after the written one's first sample


def _streams(dry_at_s: float | None, dry_samples: int = 220) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    written = rng.standard_normal(6 * RATE) * 3000.0
    played = np.concatenate([np.zeros(LAG), written])
    if dry_at_s is not None:
        i = round(dry_at_s * RATE)
        played = np.concatenate([played[:i], np.zeros(dry_samples), played[i:]])
    return played, written


def test_a_card_that_ran_dry_by_one_block_moves_the_offset_by_it() -> None:
    played, written = _streams(3.0)
    rows = check(played, written, RATE, offset_s=0.0, events=[{"at": 3.0, "underrun": 1}])
    assert rows[0]["moved"] == -220
    assert rows[0]["moved_ms"] == pytest.approx(-10.0, abs=0.1)


def test_an_underrun_the_card_never_had_moves_nothing() -> None:
    played, written = _streams(None)
    rows = check(played, written, RATE, offset_s=0.0, events=[{"at": 3.0, "underrun": 1}])
    assert rows[0]["moved"] == 0


def test_silence_on_one_side_is_not_measurable() -> None:
    played, written = _streams(None)
    played[: round(3.5 * RATE)] = 0.0  # nothing audible before the underrun
    rows = check(played, written, RATE, offset_s=0.0, events=[{"at": 3.0, "underrun": 1}])
    assert rows[0]["moved"] is None


def test_the_offset_is_written_minus_played() -> None:
    played, written = _streams(None)
    found = anchor(played, written, RATE, 2.0, +1)
    assert found is not None and found[1] == -LAG


def test_underruns_are_read_where_the_taps_count_rises() -> None:
    meta = "".join(f"{100.0 + k * 0.03:.6f}\t1322\t0\t0\t{k // 4}\t{30 * (k + 1)}\t441\t{u}\n"
                   for k, u in enumerate([0, 0, 1, 1, 1, 2, 2]))
    events = counted(meta, t0=98.0, scenario0=1.0)
    assert [(round(e["at"], 2), e["underrun"], e["kills"]) for e in events] == [(1.06, 1, 0), (1.15, 2, 1)]


def test_a_scan_finds_one_offset_until_the_card_ran_dry_then_another() -> None:
    from bench.stall_played import scan

    played, written = _streams(3.0, dry_samples=441)
    found = scan(played, written, RATE, 1.0, 5.0)
    offsets = {off for t, off, corr in found if corr > 0.98}
    assert offsets == {-LAG, -LAG - 441}
    assert all(off == -LAG for t, off, corr in found if t + 0.1 < 3.0 and corr > 0.98)


def test_a_frame_the_sink_dropped_is_no_silence_played() -> None:
    rng = np.random.default_rng(5)
    written = rng.standard_normal(6 * RATE) * 3000.0
    i = round(2.6 * RATE)  # the sink dropped the 661 samples written at 2.1 s (they would have played at 2.6 s)
    played = np.concatenate([np.zeros(LAG), written[: i - LAG], written[i - LAG + 661 :]])
    meta = "".join(f"{t:.6f}\t1322\t{int(t >= 2.6)}\t0\t0\t{round(t * 1000)}\t0\t{int(t >= 2.6)}\n"
                   for t in np.arange(2.0, 3.5, 0.03))
    rows = check(played, written, RATE, offset_s=0.0, events=[{"at": 2.6, "underrun": 1}], meta=meta)
    assert rows[0]["moved"] == 661
    assert rows[0]["dropped_between"] == 661
    assert rows[0]["silence_ms"] == 0.0
