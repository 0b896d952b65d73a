"""bench/stall_split.py: a room barge-in's reaction split into the satellite deciding and the sound path.

The inputs are shaped as the room (result.json), the satellite's debug log and the tap (meta.tsv) write
them; the figures are session 26's every-question 0 dB run (/tmp/p26/eq0): the 0.743 s barge-in was
0.739 s of the satellite deciding over an untrusted canceller, 4 ms from its decision to silence.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.stall_split import parse_holds, read_times, split, summary

T0 = 29142.0  # the room's t0_monotonic (the tap's read times are on the same clock)
OFFSET = 2.45  # wav_offset_s: the scenario starts this long after the room's launch
UNREAD = 44  # blocks the room wrote before the satellite's mic reader came: its mic starts 0.44 s in


def _result(barge: list[dict[str, Any]], overruns: int = 0) -> dict[str, Any]:
    return {"barge_in": barge, "wav_offset_s": OFFSET, "t0_monotonic": T0, "config": {"block_ms": 10},
            "stats": {"mic_unread_blocks": UNREAD, "mic_overrun_blocks": overruns, "late_ticks": 0}}


def _barge(n: int, onset: float, silent: float) -> dict[str, Any]:
    return {"utterance": n, "wav": "q0.wav", "reply": n, "onset": onset, "silent_at": silent,
            "reaction_s": round(silent - onset, 3), "cut": True}


def _hold_lines(mic_ms: int, trigger: str, trusted: bool, erle: str, silent_ms: float = 2.54) -> str:
    ts = "ts=2026-12-04T18:16:36.355 level=info logger=satellite.core"
    return (f'{ts} msg="state speaking -> barge-in on {trigger}"\n'
            f'{ts} msg="hold (barge-in): 3.03s after the end of the question, 3.03s of the reply heard"\n'
            f'{ts} msg="barge-in trace action=hold mic_ms={mic_ms} voiced_frames=3 read_to_cleaned_ms=1.35 '
            f'cleaned_to_judged_ms=0.25 judged_to_silent_ms={silent_ms} sink_queued_bytes=0 reply_buffered_ms=4223"\n'
            f'{ts} msg="barge-in judge action=hold trusted={trusted} suspended=False erle_db={erle} cancelling=True '
            f'double_talk=True echo_only=False excess_db=7.0 coupling_db=-13.9 hi_excess_db=-4.7 hi_learned=62 '
            f'span_ms=980"\n')


def _meta(reads: dict[int, float]) -> str:
    return "".join(f"{t:.6f}\t1322\t1\t1\t1\t{ms}\t441\t0\n" for ms, t in reads.items())


def test_the_slow_barge_in_is_the_satellite_deciding() -> None:
    # mic 17.370 s on the satellite's timeline = scenario 17.370 + 2.45 - 0.44 = 15.360
    log = _hold_lines(17370, "speech-start", False, "7.0") + _hold_lines(25530, "onset", True, "20.5")
    reads = {17370: T0 + OFFSET + 15.361, 25530: T0 + OFFSET + 23.521}
    rows = split(_result([_barge(12, 14.621, 15.364), _barge(13, 23.451, 23.526)]), log, read_times(_meta(reads)))
    slow, fast = rows
    assert slow["hold_at"] == pytest.approx(15.360)
    assert slow["detect_s"] == pytest.approx(0.739)
    assert slow["deliver_s"] == pytest.approx(0.001)
    assert slow["stop_s"] == pytest.approx(0.003)
    assert (slow["trigger"], slow["trusted"], slow["erle_db"], slow["late_stop"]) == ("speech-start", False, 7.0, False)
    assert (fast["detect_s"], fast["trigger"], fast["trusted"]) == (pytest.approx(0.069), "onset", True)
    s = summary(rows)
    assert s["untrusted_holds"] == [12] and s["late_stop"] == [] and s["held"] == 2
    assert s["detect_s"]["max"] == pytest.approx(0.739) and s["stop_s"]["max"] == pytest.approx(0.005)


def test_a_silence_late_after_our_sink_was_silent_is_the_rooms() -> None:
    # The satellite read and held at 15.361 and silenced its sink 2.5 ms later; the room went silent only at 15.600.
    log = _hold_lines(17370, "onset", True, "25.0")
    rows = split(_result([_barge(12, 15.300, 15.600)]), log, read_times(_meta({17370: T0 + OFFSET + 15.361})))
    assert rows[0]["stop_s"] == pytest.approx(0.239)
    assert rows[0]["late_stop"] is True
    assert summary(rows)["late_stop"] == [12]
    # ... but not when the satellite itself took that long to silence its sink (ours, not the room's)
    slow_sink = split(_result([_barge(12, 15.300, 15.600)]), _hold_lines(17370, "onset", True, "25.0", 230.0))
    assert slow_sink[0]["late_stop"] is False


def test_a_satellite_behind_its_mic_shows_as_deliver() -> None:
    # The frame ended at 15.360 but the satellite's read of it returned 120 ms later (a stall of ours).
    rows = split(_result([_barge(12, 15.300, 15.485)]), _hold_lines(17370, "onset", True, "25.0"),
                 read_times(_meta({17370: T0 + OFFSET + 15.480})))
    assert rows[0]["deliver_s"] == pytest.approx(0.120)
    assert rows[0]["stop_s"] == pytest.approx(0.005)
    assert rows[0]["late_stop"] is False


def test_without_a_tap_stop_counts_from_the_frame_and_a_barge_in_without_a_hold_is_kept() -> None:
    log = _hold_lines(17370, "onset", True, "25.0")
    rows = split(_result([_barge(12, 15.300, 15.364), _barge(13, 30.0, 31.5)], overruns=2), log)
    assert rows[0]["deliver_s"] is None and rows[0]["stop_s"] == pytest.approx(0.004)
    assert rows[1]["hold"] is None
    s = summary(rows)
    assert s["held"] == 1 and s["barge_ins"] == 2 and s["deliver_s"] is None and s["mic_overrun_blocks"] == 2


def test_holds_parse_in_order_with_their_trigger_and_judge() -> None:
    log = _hold_lines(7770, "speech-start", False, "n/a") + "noise line\n" + _hold_lines(25530, "onset", True, "20.5")
    holds = parse_holds(log)
    assert [(h.mic_ms, h.trigger, h.trusted, h.erle_db) for h in holds] == [
        (7770, "speech-start", False, None), (25530, "onset", True, 20.5)]
    assert holds[0].judged_to_silent_ms == pytest.approx(2.54)
