"""The echo path a satellite process learned, kept for the next one (satellite.aec_state, satellite.echo_keeper).

A fresh process started speex from a zero filter: over its first reply the canceller was untrusted (ERLE
4-9 dB in the room) and the first barge-in of every process was heard 0.18-0.81 s after the onset (later
ones ~0.06 s). Now the path is kept in a state file (atomic, versioned, tied to the audio devices; a bad
file is ignored) and a new process starts as after a speaker restart with its filter kept.

Scene: the room's echo model around the satellite's real chain (``bench/echo_interrupt_room.py``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from speech import speak  # noqa: E402

from bench.aec_bench import FRAME  # noqa: E402
from bench.echo_interrupt_room import Room  # noqa: E402
from bench.room_bench import INTERRUPTION, REPLY  # noqa: E402
from satellite.aec_state import FILE_NAME, EchoState, device_key, load, save  # noqa: E402
from satellite.audio_io import AudioConfig  # noqa: E402
from satellite.echo_keeper import audio_key  # noqa: E402
from satellite.vad import VadEvent  # noqa: E402

RATE = 16000


def _state(key: str = "mic cat mic.fifo snd") -> EchoState:
    path = np.random.default_rng(1).standard_normal(5120) * np.exp(-np.arange(5120) / 800)
    return EchoState(key, 1590, 1590.25, 1430.09, path)


def test_the_state_file_round_trip(tmp_path: Path) -> None:
    state = _state()
    save(tmp_path / "sat", state)
    back = load(tmp_path / "sat", state.key)
    assert back is not None
    assert (back.key, back.lag, back.fine, back.bulk) == (state.key, state.lag, state.fine, state.bulk)
    assert np.allclose(back.path, state.path, rtol=1e-6, atol=1e-6)
    assert [p.name for p in (tmp_path / "sat").iterdir()] == [FILE_NAME]  # no temporary file left


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated"], ids=["empty", "text", "cut"])
def test_a_corrupt_state_file_is_logged_and_ignored(tmp_path: Path, content: bytes,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / FILE_NAME).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="satellite.aec"):
        assert load(tmp_path, _state().key) is None
    assert "unreadable" in caplog.text


def test_a_state_of_other_devices_or_values_out_of_range_is_ignored(tmp_path: Path) -> None:
    save(tmp_path, _state())
    assert load(tmp_path, "mic arecord -D hw:2 snd") is None
    bad = _state()
    save(tmp_path, EchoState(bad.key, bad.lag, bad.fine, bad.bulk, bad.path * np.nan))
    assert load(tmp_path, bad.key) is None


def test_the_device_key_follows_devices_and_rates_not_a_fifos_folder() -> None:
    a = AudioConfig(mic_command=("cat", "/tmp/run1/mic.fifo"), snd_command=("play", "/tmp/run1/snd.fifo"))
    b = AudioConfig(mic_command=("cat", "/tmp/run2/mic.fifo"), snd_command=("play", "/tmp/run2/snd.fifo"))
    assert audio_key(a, 22050) == audio_key(b, 22050)
    assert audio_key(a, 22050) != audio_key(a, 48000)
    assert audio_key(AudioConfig(mic_device="hw:1"), 22050) != audio_key(AudioConfig(mic_device="hw:2"), 22050)
    assert device_key("arecord", "-D", "hw:1") != device_key("arecord", "-D", "hw:2")


def _learned(gain_db: float) -> EchoState:
    room = Room(speak(REPLY), gain_db, seed=5)
    room.warm_up(16.0)
    assert room.chain.frontend is not None
    state = room.chain.frontend.kept_state("k")
    assert state is not None, "nothing to keep after 16 s of replies"
    return state


def _first_reply(room: Room, seconds: float) -> tuple[list[int], float]:
    """The reply nobody interrupts from a new process: frames it would hold on, and the ERLE (dB) over 0.5-1.5 s."""
    holds, mic, out = [], 0.0, 0.0
    quiet = np.zeros(FRAME)
    for i in range(int(seconds * RATE / FRAME)):
        cleaned, raw, _ = room._tick(i % (len(room.reply16) // FRAME), quiet)
        if room._event == VadEvent.START or room.chain.guard.onset:
            holds.append(i)
        if 0.5 * RATE <= i * FRAME < 1.5 * RATE:
            mic += float(np.sum(np.square(np.frombuffer(raw, "<i2").astype(np.float64))))
            out += float(np.sum(np.square(np.frombuffer(cleaned, "<i2").astype(np.float64))))
    return holds, 10 * np.log10(mic / max(out, 1.0))


@pytest.mark.parametrize("gain_db", [-6.0, 0.0])
def test_a_new_process_cancels_its_first_reply_and_hears_the_first_barge_in_at_once(gain_db: float) -> None:
    """Measured (-6 / 0 dB): the first reply's echo 0.5-1.5 s in cancelled 24.0 / 26.5 dB warm, 1.6 / 1.5 dB
    cold (main); "Stop" 1.5 s into the first reply held 0.06 s after its onset warm, 0.30 s cold (main)."""
    state = _learned(gain_db)
    room = Room(speak(REPLY), gain_db, seed=9)
    assert room.chain.frontend is not None and room.chain.frontend.warm_start(state)
    holds, erle = _first_reply(room, 6.0)
    assert holds == [], "the echo alone held the first reply"
    assert erle >= 20.0, erle
    room = Room(speak(REPLY), gain_db, seed=9)
    assert room.chain.frontend is not None and room.chain.frontend.warm_start(state)
    turn = room.turn(INTERRUPTION, np.frombuffer(speak(INTERRUPTION), "<i2").astype(np.float64), 1.5)
    assert turn.hold is not None and turn.hold > turn.onset, "not held, or held on the echo"
    assert (turn.hold - turn.onset) / RATE <= 0.12, (turn.hold - turn.onset) / RATE


def test_a_path_learned_in_another_room_is_dropped_for_a_cold_start(caplog: pytest.LogCaptureFixture) -> None:
    """Learned at -6 dB, started at 0 dB (a speaker moved closer): the kept path is never proven (it cancels
    ~6 dB), speex starts again from zero once the delay is measured, and the echo alone never holds."""
    state = _learned(-6.0)
    room = Room(speak(REPLY), 0.0, seed=9)
    assert room.chain.frontend is not None and room.chain.frontend.warm_start(state)
    with caplog.at_level(logging.INFO, logger="satellite.aec"):
        holds, _ = _first_reply(room, 6.0)
    assert "not this room's" in caplog.text
    assert holds == []


async def test_a_folder_it_cannot_write_is_warned_once_not_every_30_s(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A state folder that cannot be written (a read-only home under a unit, a file in its place) used
    to be retried, and warned about, at every 30 s check; now as a written path is: after REWRITE_S
    or when the delay moves. The front end and judge are stand-ins giving a trusted, kept path."""
    from types import SimpleNamespace
    from typing import Any, cast

    from satellite.echo_keeper import EVERY_S, REWRITE_S, EchoKeeper

    state = _state()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    frontend = SimpleNamespace(kept_state=lambda key: state)
    guard = SimpleNamespace(converged=True, erle_db=30.0)
    keeper = EchoKeeper(blocked / "sat", state.key, cast(Any, frontend), cast(Any, guard))
    assert keeper.due(0.0) is state
    with caplog.at_level(logging.WARNING, logger="satellite.aec"):
        await keeper.write(state, 0.0)
    assert [r.getMessage() for r in caplog.records if "cannot keep" in r.getMessage()]
    assert keeper.due(EVERY_S) is None  # not again at the next check
    assert keeper.due(REWRITE_S + 1.0) is state
