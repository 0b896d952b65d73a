"""The echo path kept across processes (:mod:`satellite.aec_state`): read at start, written while it is good.

The state folder is ``--state-dir`` (``SATELLITE_STATE_DIR``; default ``$HEARTH_DATA_DIR/satellite``,
``~/.local/share/hearth/satellite``; empty: nothing kept). Written every ``EVERY_S`` while the echo judge trusts
the canceller at ``MIN_ERLE_DB`` or more and the shadow canceller cancels as much (at most one write a
``REWRITE_S`` unless the delay moved), and at the end; in a thread, off the mic's loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from voice_runtime.env import env

from .aec import AudioFrontend
from .aec_state import MIN_ERLE_DB, EchoState, device_key, load, save
from .audio_io import AudioConfig
from .echojudge import EchoJudge

_LOGGER = logging.getLogger("satellite.aec")
EVERY_S = 30.0
REWRITE_S = 600.0


def default_state_dir() -> str:
    """``satellite`` in the project's data folder (``HEARTH_DATA_DIR``, default ``~/.local/share/hearth``, as the
    orchestrator's)."""
    return os.path.join(os.path.expanduser(env("HEARTH_DATA_DIR") or "~/.local/share/hearth"), "satellite")


def audio_key(audio: AudioConfig, speaker_rate: int | None) -> str:
    """The devices and rates the echo path depends on (:func:`satellite.aec_state.device_key`)."""
    return device_key("mic", audio.mic_device, *audio.mic_command, audio.mic_wav, audio.mic_rate, audio.mic_width,
                      audio.mic_channels, "snd", audio.snd_device, *audio.snd_command, speaker_rate, audio.snd_lead_ms)


class EchoKeeper:
    def __init__(self, folder: Path, key: str, frontend: AudioFrontend, guard: EchoJudge) -> None:
        self.folder, self.key, self.frontend, self.guard = folder, key, frontend, guard
        self._saved: EchoState | None = None
        self._saved_at = 0.0

    def start(self) -> bool:
        """The front end warm-started from the kept state (True), or left cold."""
        state = load(self.folder, self.key)
        return state is not None and self.frontend.warm_start(state)

    def due(self, now: float) -> EchoState | None:
        """The state to write now, if any."""
        erle = self.guard.erle_db
        if not self.guard.converged or erle is None or erle < MIN_ERLE_DB:
            return None
        state = self.frontend.kept_state(self.key)
        if state is None:
            return None
        last = self._saved
        if last is not None and abs(last.bulk - state.bulk) < 1.0 and now - self._saved_at < REWRITE_S:
            return None
        return state

    def _save(self, state: EchoState) -> bool:
        """Writes ``state`` (False: it could not be, logged)."""
        try:
            save(self.folder, state)
        except OSError as err:
            _LOGGER.warning("cannot keep the echo path in %s: %s", self.folder, err)
            return False
        return True

    async def write(self, state: EchoState, now: float) -> None:
        written = await asyncio.to_thread(self._save, state)
        self._saved, self._saved_at = state, now  # a failed write is tried again as a written one: not every 30 s
        if written:
            _LOGGER.info("echo path kept in %s: delay %.1f ms", self.folder, state.lag / 16)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(EVERY_S)
                now = time.monotonic()
                if (state := self.due(now)) is not None:
                    await self.write(state, now)
        finally:
            state = self.due(float("inf"))
            if state is not None:  # at the end (not awaited: the task is being cancelled)
                self._save(state)
