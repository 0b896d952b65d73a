"""bench/stall_dry_replay.py: the tap's underrun count with the low ones left out, and holds attributed to users."""

from __future__ import annotations

from bench.stall_dry_replay import attribute, kept_counts

LOG = "\n".join(f'ts=x level=debug logger=satellite.write_ahead msg="speaker ran dry (or nearly): {ms} ms past its '
                f'estimated end (underrun {n})"' for n, ms in enumerate(["-2.0", "35.5", "4.3", "5.3"], start=1))


def test_low_underruns_are_left_out_of_the_count() -> None:
    assert kept_counts(LOG, 5.0) == {0: 0, 1: 0, 2: 1, 3: 1, 4: 2}
    assert kept_counts(LOG, None) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}


def test_holds_are_the_users_or_nobodys() -> None:
    result = {"wav_offset_s": 2.45, "config": {"block_ms": 10}, "stats": {"mic_unread_blocks": 44},
              "utterances": [{"wav": "q0.wav", "onset": 14.621, "offset": 15.931}]}  # mic 16.631 .. 17.941
    out = attribute(result, [12.0, 17.37, 17.40, 19.5])
    assert out["first_holds"] == [{"wav": "q0.wav", "onset_mic_s": 16.631, "detect_s": 0.739}]
    assert out["nobody"] == [12.0, 19.5]
