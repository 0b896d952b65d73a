"""The echo replay follows the write-ahead's idle trims as the live satellite does (bench/sat_tap.py,
bench/echo_replay.py; issue 17).

With the write-ahead on (the default), the speaker's idle silence is partly left out of its stream
(:mod:`satellite.write_ahead`): everything after plays that many samples sooner and the live
satellite advances the canceller's reference by as much, so its filter stays right and it stays
trusted. A tap that does not record the trims replays the next reply with the old delay: the
canceller is off by the trims, the delay meter finds a new delay and the judge stops trusting it,
which the live run never did. Here a tap made to order: the card's stream is the playback less a
20 ms trim in the idle gap between two replies, its echo the mic; the replay must keep the
canceller trusted across the gap with the reference advanced by exactly the trim.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.echo_replay import replay
from satellite.echo import EchoConfig

RATE = 16000  # the speaker at 16 kHz too: a trim unit is one sample, the card's stream exact
FRAME = 480
DELAY = 1600  # 100 ms from the speaker to the mic
TRIM = 320  # 20 ms of idle silence left out
REPLY_FRAMES = 200  # 6 s
GAP_FRAMES = 50  # 1.5 s idle (the write-ahead trims after 0.5 s of it)
TRIM_AT = REPLY_FRAMES + 30


def _tap(folder: Path, *, record_trims: bool) -> None:
    rng = np.random.default_rng(7)
    # Playback: noise through a gentle low-pass (speech-like spectrum), two replies with a gap.
    noise = rng.standard_normal((REPLY_FRAMES * 2) * FRAME)
    voice = np.convolve(noise, np.ones(4) / 4, mode="same") * 3000.0
    played = np.concatenate(
        [voice[: REPLY_FRAMES * FRAME], np.zeros(GAP_FRAMES * FRAME), voice[REPLY_FRAMES * FRAME :]]
    )
    cut = TRIM_AT * FRAME  # the card's stream: the trim's silence left out there
    card = np.concatenate([played[:cut], played[cut + TRIM :], np.zeros(TRIM)])
    echo = np.concatenate([np.zeros(DELAY), card])[: len(played)]
    mic = 0.5 * echo + 30.0 * rng.standard_normal(len(played))  # the room: about -60 dBFS of noise
    (folder / "mic.raw").write_bytes(np.clip(np.round(mic), -32768, 32767).astype("<i2").tobytes())
    (folder / "ref.raw").write_bytes(np.round(played).astype("<i2").tobytes())
    lines = []
    for i in range(len(played) // FRAME):
        trimmed = TRIM if i >= TRIM_AT else 0
        extra = f"\t{trimmed}\t0" if record_trims else ""
        lines.append(f"{100 + i * 0.03:.6f}\t{FRAME * 2}\t0\t0\t0\t{(i + 1) * 30}{extra}")
    (folder / "meta.tsv").write_text("\n".join(lines) + "\n")


def _rows(folder: Path) -> list[dict[str, Any]]:
    features = folder / "features.jsonl"
    holds = replay(folder, EchoConfig(), quiet=True, features=features, speaker_rate=RATE)
    assert holds == []
    return [json.loads(line) for line in features.read_text().splitlines()]


def test_replay_advances_the_reference_by_the_recorded_trims(tmp_path: Path) -> None:
    _tap(tmp_path, record_trims=True)
    rows = _rows(tmp_path)
    before = rows[REPLY_FRAMES - 1]
    assert before["trusted"] and 70 <= before["bulk_ms"] <= 100  # the 100 ms path, measured
    second = rows[REPLY_FRAMES + GAP_FRAMES : REPLY_FRAMES * 2 + GAP_FRAMES]
    assert all(r["bulk_ms"] == before["bulk_ms"] - TRIM / 16 for r in second)  # 20 ms sooner, from its first frame
    assert all(r["trusted"] for r in second)  # never off its path: trusted throughout, as live


def test_a_tap_without_the_trims_replays_the_second_reply_off_its_path(tmp_path: Path) -> None:
    """What the replay did before the tap recorded the trims (a tap of session 15): not what the
    live satellite did."""
    _tap(tmp_path, record_trims=False)
    rows = _rows(tmp_path)
    second = rows[REPLY_FRAMES + GAP_FRAMES : REPLY_FRAMES * 2 + GAP_FRAMES]
    assert second[0]["bulk_ms"] == rows[REPLY_FRAMES - 1]["bulk_ms"]  # the old delay
    assert not all(r["trusted"] for r in second)
