"""The echo path one satellite process learned, kept for the next one (a restart, an update).

A fresh process knew nothing of its room: speex started from a zero filter (4-9 dB of ERLE over the
first reply, 25-35 dB later), and the echo judge trusted it only once it had converged, so the first
barge-in of every process was heard on the VAD's speech start over an untrusted canceller, 0.18-0.81 s
after the onset (later ones ~0.06 s; the room, sessions 16-28). A household meets it after every restart.

Kept (:func:`save`, an ``.npz`` in the state folder, written to a temporary file and renamed): the echo
delay the meter measured, the reference's delay, and the held shadow canceller's filter
(:mod:`satellite.aec_shadow`: the echo path after that delay, in real scale), with a format version and the
audio devices and rates it was learned on (:func:`device_key`). A file of another version or other devices
is ignored, a corrupt one is logged and ignored: the process starts cold, as before.

At start (:meth:`KeptEchoPath.warm_start`) speex is trained on that path (``TRAIN_S`` of white noise through
it, offline: ~20 ms of CPU a second here; 20 s took speex from 0 to 28-30 dB on a synthetic room) and the
start is then a speaker restart with its filter kept: the kept path is tried at the old delay and near it
on the first frames of echo (:mod:`satellite.aec_prior`), and once it is proven speex resumes on it; the
judge is told as after a restart (its early trust: the kept path proven). Not proven by the time the delay
is measured (a moved speaker, another room): speex and the shadow start again from zero (a cold start).
Pure and synchronous (the file's reads and writes are the caller's to put off the loop).
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .aec_prior import REACH_MS, PriorPath, echo_of
from .aec_shadow import PROVEN_BLOCKS, ShadowCanceller
from .delay import EchoDelay
from .speex import SpeexEchoCanceller

_LOGGER = logging.getLogger("satellite.aec")
VERSION = 1
FILE_NAME = "echo_path.npz"
RATE = 16000
TRAIN_S = 20.0  # seconds of white noise speex is trained on through the kept path
_TRAIN_RMS = 3000.0  # ... at this level (-21 dBFS)
MIN_ERLE_DB = 20.0  # a path is kept only from a shadow canceller (and a judge) cancelling this much
Real = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class EchoState:
    key: str  # the devices and rates it was learned on (device_key)
    lag: int  # the echo delay measured (samples, 16 kHz)
    fine: float  # ... to a fraction of a sample
    bulk: float  # the reference's delay (whole samples and a fraction)
    path: Real  # the shadow canceller's filter after that delay (taps, 16 kHz)


def device_key(*parts: object) -> str:
    """The audio devices and rates as one string. A path in a command counts by its file name only (a FIFO
    in another folder is the same device; ``hw:1`` and ``hw:2`` are not)."""
    words: list[str] = []
    for part in parts:
        for word in str(part).split():
            words.append(os.path.basename(word) if "/" in word else word)
    return " ".join(words)


def save(folder: Path, state: EchoState) -> None:
    """Writes ``state`` to ``folder`` (created if missing): a temporary file renamed over the old one."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".echo_path.", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, version=np.int64(VERSION), key=np.str_(state.key), lag=np.int64(state.lag),
                     fine=np.float64(state.fine), bulk=np.float64(state.bulk), path=state.path.astype(np.float32))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, folder / FILE_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(folder: Path, key: str, *, any_key: bool = False) -> EchoState | None:
    """The state kept in ``folder`` for these devices (``key``; ``any_key``: whatever devices), or None (none,
    another version or devices, or a file that cannot be read: logged)."""
    file = folder / FILE_NAME
    if not file.exists():
        return None
    try:
        with file.open("rb") as raw, np.load(raw, allow_pickle=False) as data:  # (np.load leaked a bad zip's fd)
            version = int(data["version"])
            if version != VERSION:
                _LOGGER.info("kept echo path %s: version %d, not %d: ignored", file, version, VERSION)
                return None
            if str(data["key"]) != key and not any_key:
                _LOGGER.info("kept echo path %s: learned on other audio devices: ignored", file)
                return None
            state = EchoState(key, int(data["lag"]), float(data["fine"]), float(data["bulk"]),
                              np.asarray(data["path"], dtype=np.float64))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        _LOGGER.warning("kept echo path %s unreadable (%s): ignored", file, err)
        return None
    if state.path.ndim != 1 or not 0 < len(state.path) <= RATE or not np.isfinite(state.path).all() or not (
        0 <= state.lag <= RATE and 0 <= state.bulk <= RATE and np.isfinite(state.fine)
    ):
        _LOGGER.warning("kept echo path %s out of range: ignored", file)
        return None
    return state


def train(speex: SpeexEchoCanceller, path: Real, seconds: float = TRAIN_S, seed: int = 0) -> None:
    """Speex adapts to ``path``: white noise played through it (no room noise), ``seconds`` of it."""
    rng = np.random.default_rng(seed)
    block = RATE  # a second at a time (bounded memory)
    tail = np.zeros(len(path) - 1)
    for _ in range(round(seconds)):
        x = np.clip(rng.standard_normal(block) * _TRAIN_RMS, -32768, 32767).round()
        full = echo_of(path, np.concatenate([tail, x]), len(x))  # (FFT: np.convolve took 3x speex's CPU)
        tail = x[len(x) - len(tail) :] if len(tail) else tail
        mic = np.clip(np.round(full), -32768, 32767).astype(np.int16)
        speex.process(mic, x.astype(np.int16))


class KeptEchoPath:
    """The front end's part (a mixin of :class:`satellite.aec.AudioFrontend`)."""

    _speex: SpeexEchoCanceller | None
    _shadow: ShadowCanceller | None
    _delay: EchoDelay | None
    _prior: PriorPath | None
    _waited: int | None
    bulk: int
    _frac: float
    on_path_change: Callable[[], None] | None
    _warm_started = False  # trained from a kept path: not proven by the first delay measured, started cold

    def kept_state(self, key: str) -> EchoState | None:
        """What to keep now: None unless the delay is known and the shadow cancels ``MIN_ERLE_DB`` or more."""
        shadow, delay = self._shadow, self._delay
        if shadow is None or delay is None or delay.lag is None or self._waited is not None or delay.fresh:
            return None
        if shadow.measured < 2 * PROVEN_BLOCKS or shadow.erle_db < MIN_ERLE_DB:
            return None
        fine = delay.settled_fine if delay.settled_fine is not None else float(delay.lag)
        return EchoState(key, delay.lag, fine, self.bulk + self._frac, shadow.impulse_response())

    def warm_start(self, state: EchoState) -> bool:
        """Starts from ``state`` (see the module): True if it was taken."""
        if self._speex is None or self._shadow is None or self._delay is None:
            return False
        path = state.path[: len(self._shadow.impulse_response())]
        train(self._speex, path)
        self._shadow.set_path(path)
        self._delay.lag, self._delay.settled_fine = state.lag, state.fine
        self.bulk = int(np.floor(state.bulk))
        self._frac = state.bulk - self.bulk
        self._delay.restart()
        self._waited = 0
        self._shadow.remeasure()
        self._prior = PriorPath(self._shadow.impulse_response(), RATE * REACH_MS // 1000)
        self._warm_started = True
        if self.on_path_change is not None:
            self.on_path_change()  # the judge: as after a restart, the filter kept (its early trust)
        _LOGGER.info("echo path kept from the last run: delay %.1f ms, speex trained on it", state.lag / 16)
        return True

    def _measured_after_warm_start(self, agreed: bool | None) -> None:
        """The first delay measured after :meth:`warm_start`: the kept path not proven at it, cold again."""
        if not self._warm_started:
            return
        self._warm_started = False
        if not agreed and self._speex is not None and self._shadow is not None:
            _LOGGER.info("the kept echo path was not this room's: the canceller starts from zero")
            self._speex.reset()
            self._shadow.reset()
