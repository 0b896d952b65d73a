"""The mic front end: acoustic echo cancellation, noise suppression, auto gain.

Pure and synchronous (no asyncio, no wyoming). One :class:`AudioFrontend` per satellite;
:meth:`AudioFrontend.process` takes one mic frame (16 kHz, 16-bit mono) and the speaker
frame written at the same tick (the playback reference, at the speaker's own rate) and
returns the cleaned mic frame. The cleaned frame is what the VAD, the echo guard and the
wake word hear and what is streamed to the controller.

Echo cancellers (an adaptive filter from the playback reference to the mic; the predicted
echo is subtracted):

* ``speex`` (default): libspeexdsp's MDF canceller (:mod:`satellite.speex`, Debian
  ``libspeexdsp1``). A linear canceller without a residual suppressor: a question spoken
  over the reply comes through intact (measured: WER 3 % over 0 dB echo) at 30–33 dB ERLE,
  after 4–6 s of reply to converge; the filter stays converged across replies. The filter
  covers ``tail_ms`` of speaker→mic delay plus reverberation. speex adapts on the user's words
  over a reply; while the user is heard a held shadow filter's output is used (:mod:`.aec_shadow`).
* ``webrtc``: WebRTC AEC3 (``pywebrtc-audio``): 36–42 dB ERLE at once, but its suppressor
  eats a question spoken over the reply (WER 30 %).

``bench/aec_bench.py`` measured both; figures in ``satellite/README.md``. Noise
suppression and auto gain are WebRTC's NS and AGC2 (``pywebrtc-audio``). When speex is
asked for but libspeexdsp is not installed, AEC3 is used and the log says so.

Without a playback reference (``aec`` off) the front end only suppresses noise / controls
gain, and says so once in the log.

Delay compensation (speex): :class:`satellite.delay.EchoDelay` measures the speaker→mic delay
while the playback is audible, and the reference is delayed by all but ``KEEP_MS`` of it, so
the canceller always sees the same short delay. A restarted sound command (every barge-in
hold) comes back with another buffer level; without this speex had to adapt again for 3–6 s,
measured in the room as an ERLE of 1–2 dB over the replies after restarts. Until the delay
is known (at start-up, and after :meth:`AudioFrontend.path_changed`: the speaker was
restarted) the canceller is not fed at all, so it does not learn a wrong alignment and keeps
its filter for when the reference is delayed right again; after ``_MAX_WAIT`` of playback
without a clear estimate it runs with the delay it has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from voice_runtime.audio import PCM16_MONO_16K, AudioConverter, AudioFormat

from .aec_catchup import CatchUp
from .aec_config import ENGINES, FrontendConfig, pywebrtc
from .aec_delay import KEEP_MS, DelayView
from .aec_delay import MAX_BULK as _MAX_BULK
from .aec_prior import REACH_MS, PriorPath, agrees, cancel, kept_off_path, warm
from .aec_shadow import ShadowCanceller
from .aec_slip import Slip
from .aec_state import KeptEchoPath
from .delay import EchoDelay
from .estimate import LaterEcho
from .estimate import estimate_corr as _estimate_corr
from .speex import SpeexEchoCanceller, load_library

__all__ = ["ENGINES", "AudioFrontend", "FrontendConfig"]
_LOGGER = logging.getLogger(__name__)
RATE = 16000
_TEN_MS = RATE // 100
_LEAD_BYTES = _TEN_MS * 2
_MAX_WAIT = RATE * 3  # samples of audible playback to wait for a delay estimate at most
TAIL_DB = 35.0  # the echo path's reverberation counts until this far below its peak
Pcm = np.ndarray[Any, np.dtype[np.int16]]


class AudioFrontend(DelayView, KeptEchoPath):
    """Cleans each mic frame; call :meth:`process` once per tick, in order."""

    def __init__(self, config: FrontendConfig, speaker_rate: int | None) -> None:
        self.config = config
        self.engine = "none"
        self._speex: SpeexEchoCanceller | None = None
        if config.aec and speaker_rate is None:
            _LOGGER.warning("no playback reference (no speaker): echo cancellation is off")
        elif not config.aec:
            _LOGGER.warning(
                "echo cancellation off: the reply's echo is held off by the energy gate only, "
                "and a question spoken over a reply reaches the controller with the echo in it"
            )
        elif config.aec_engine == "speex":
            lib = load_library()
            if lib is not None:
                self._speex = SpeexEchoCanceller(lib, RATE, _TEN_MS, config.aec_tail_ms)
                self.engine = "speex"
            else:
                _LOGGER.warning("libspeexdsp not found (apt install libspeexdsp1): using WebRTC AEC3 instead")
                self.engine = "webrtc"
        else:
            self.engine = "webrtc"
        need_webrtc = self.engine == "webrtc" or config.noise_suppression > 0 or config.auto_gain_dbfs > 0
        lib = pywebrtc() if need_webrtc else None
        self._apm = (
            lib.AudioProcessor(
                sample_rate=RATE,
                echo_cancellation=self.engine == "webrtc",
                noise_suppression=config.noise_suppression > 0,
                high_pass_filter=True,
                ns_level=max(0, config.noise_suppression - 1),
            )
            if lib is not None and (self.engine == "webrtc" or config.noise_suppression > 0)
            else None
        )
        self._agc = (
            lib.GainController(sample_rate=RATE, headroom_db=float(config.auto_gain_dbfs))
            if lib is not None and config.auto_gain_dbfs > 0
            else None
        )
        self._to_16k = (
            AudioConverter(AudioFormat(speaker_rate, 2, 1), PCM16_MONO_16K)
            if speaker_rate is not None and self.engine != "none"
            else None
        )
        # The playback reference at 16 kHz not yet paired with a mic frame. It starts with 10 ms
        # of silence so the resampler's few samples of jitter never leave it short (the echo
        # comes later than that anyway: the speaker's buffer plus the room).
        self._ref = bytearray(_LEAD_BYTES)
        self._delay = EchoDelay(RATE) if self._speex is not None else None
        # Beside speex, a canceller whose adaptation is held while the user speaks (satellite.aec_shadow).
        self._shadow = ShadowCanceller() if self._speex is not None and config.aec_shadow else None
        self.shadow_frames = 0  # frames whose output was the shadow's
        self._catch_up = CatchUp(RATE, _TEN_MS)  # the mic while it waits after a move (satellite.aec_catchup)
        self._history = np.zeros(_MAX_BULK + RATE // 2 + self._catch_up.limit, dtype=np.int16)  # recent reference
        self.bulk = 0  # samples the reference is delayed by before the canceller ...
        self._frac = 0.0  # ... and this fraction of one more (satellite.realign)
        self._step = RATE / speaker_rate if speaker_rate else 0.0  # one speaker sample, at 16 kHz
        self._waited: int | None = 0  # playback samples waited for a delay estimate (None: known)
        self.on_path_change: Callable[[], None] | None = None  # told when the bulk delay changes
        self.on_path_confirmed: Callable[[], None] | None = None  # told when a recheck found it unchanged
        self._rechecking = False
        self._prior: PriorPath | None = None  # after a restart: the kept path tried near the old delay (aec_prior)
        self.prior_frames = 0  # frames whose output was the kept path's at a proven shift (aec_prior)
        self.priors_proven = 0  # restarts after which the kept path was proven before the delay was measured
        self._warm = 0  # samples the kept path (proven at kept_erle_db) stands in for speex (its history refilling)
        self._kept_path: PriorPath | None = None
        self.kept_erle_db = 0.0
        self._quiet_left: int | None = None  # after a speaker kill: samples of echo tail still to cancel
        self.frames = 0
        # The canceller's output against what it took out of the mic (its echo estimate), this frame
        # (0 when it did not run): near 1 it left a scaled copy of its estimate, echo it underrated.
        self.estimate_corr = 0.0
        self.later_echo = LaterEcho()  # ... and whether the echo came later than its estimate (the path moved unseen)
        self._slip = Slip(self._step)  # ... or a speaker sample or two off it (aec_slip): re-aligned at once
        self.slips = 0
        self._settle_left = 0  # samples of cancelled audio since a fine move of the reference still to come (settling)
        _LOGGER.info(
            "mic front end: aec=%s noise_suppression=%d auto_gain_dbfs=%d",
            self.engine,
            config.noise_suppression,
            config.auto_gain_dbfs,
        )

    @property
    def cancels_echo(self) -> bool:
        return self.engine != "none"

    def reset(self) -> None:
        for part in (self._speex, self._apm, self._agc, self._shadow):
            if part is not None:
                part.reset()
        self._ref = bytearray(_LEAD_BYTES)
        self._quiet_left = None
        self._catch_up.disarm()

    def _reference(self, played: bytes | None, need: int) -> Pcm:
        assert self._to_16k is not None
        self._ref += self._to_16k.feed(played or b"")
        chunk = bytes(self._ref[:need]).ljust(need, b"\0")
        del self._ref[:need]
        if len(self._ref) > need + 2 * _LEAD_BYTES:  # cannot grow (one frame in, one out); bounded anyway
            del self._ref[: len(self._ref) - _LEAD_BYTES]
        return np.frombuffer(chunk, dtype="<i2")

    def user_speaking(self, speaking: bool) -> None:
        """The user speaks (or may: a barge-in): the shadow canceller holds its adaptation and,
        once it cancels about as well as speex, its output is used (speex adapts on the user's words).
        Nor is speex fed the mic it waited on after a move (satellite.aec_catchup): the user's words are no echo
        (replayed room_cont runs: two continuations no longer held, three held later, when it was)."""
        if self._shadow is not None:
            self._shadow.hold(speaking)
        if speaking:
            self._catch_up.disarm()

    def path_changed(self) -> None:
        """The echo path may have changed (a restarted speaker, a stall that ran it dry): the delay
        is measured afresh from what plays from now on; the canceller waits for it (not reset)."""
        if self._delay is not None:
            self._delay.restart()
            self._waited = 0
            self._warm = 0
            self._catch_up.disarm()  # (the user's words after a hold are no echo to feed it)
        if self._shadow is not None:
            self._shadow.remeasure()
            known = self._delay is not None and self._delay.lag is not None
            self._prior = PriorPath(self._shadow.impulse_response(), RATE * REACH_MS // 1000) if known else None

    def speaker_dropped(self, unplayed: int | None = None) -> None:
        """The speaker's buffer was thrown away (a hold kills the sound command): what was written
        in the last ``unplayed`` samples (16 kHz; None: unknown, the whole ``bulk`` of the delay)
        never plays, so the canceller is not to cancel an echo of it (it would add its prediction,
        an echo that is not there, to the user's words). What was written before it had left the
        speaker and is on its way to the mic (the room's 40 ms, the mic's own buffer): cancelled."""
        pending = len(self._ref) // 2  # the newest reference, not yet in the history: zeroed below
        zeroed = self.bulk if unplayed is None else min(self.bulk, max(0, unplayed - pending))
        if zeroed:
            self._history[-zeroed:] = 0
        self._ref[:] = bytes(len(self._ref))
        # What already left the speaker echoes for the path's reverberation (plus the short delay
        # the canceller keeps); after that the speaker is silent, the mic holds no echo, and
        # speex is not fed until something plays again: fed the user's loud words (a barge-in)
        # with the reply still in its 0.5 s of reference history, it adapted on them, and the
        # next reply began with 13-27 dB of ERLE instead of ~32 (the room, 0 dB: the quiet
        # start of "Stop" no longer cleared the residual, the hold came on the vowel, 0.19 s).
        path = self.echo_path(adapted=True)
        tail = path[1] if path is not None else self.config.aec_tail_ms / 1000.0
        self._quiet_left = self.bulk - zeroed + int((tail + KEEP_MS / 1000.0) * RATE)

    def advance_reference(self, samples: int) -> None:
        """The speaker plays everything ``samples`` (16 kHz) sooner from now on: silence was left
        out of its stream while idle (:mod:`satellite.write_ahead`). Exact: the reference is
        delayed that much less and the filter stays right (re-measured, a sub-sample move cost
        speex ~10 dB: the room with session 14's write-ahead). Skipped reference is silence."""
        if self._delay is None or samples <= 0:
            return
        if self._delay.lag is None or self.bulk < samples:
            self.path_changed()  # nothing to shift yet (or it would go below zero): measured afresh
            # The canceller waits for the new delay: the judge is told (else it went on trusting a
            # canceller that let the echo through whole: the room at 0 dB, session 17, after a 313 ms
            # stall the card held 229 ms, idle trims took the reference delay below the next trim:
            # the next reply's first echo held it, trusted at 27 dB ERLE, cancelling nothing).
            if self.on_path_change is not None:
                self.on_path_change()
            return
        self.bulk -= samples
        self._delay.advance(samples)
        _LOGGER.debug("speaker plays %.2f ms sooner: reference delayed by %.1f ms", samples / 16, self.bulk / 16)

    def recheck(self, *, moved: bool = False, behind_s: float = 0.0) -> None:
        """The echo path may have moved (the satellite fell behind its mic: the speaker may have
        run dry and now plays later): the delay is measured afresh from what plays from now on,
        the canceller keeps running on the delay it has. :attr:`on_path_confirmed` or
        :attr:`on_path_change` says what was found. ``moved``: it has (a frame the speaker
        dropped: what plays from now on is heard a frame earlier): the canceller waits for the
        new delay, as after a restart, so that its filter is kept for it (run on the old delay
        for the 0.2-0.45 s the estimate takes, speex adapted to the shifted echo and the next
        reply's ERLE fell to ~0 dB and took ~10 s back to 27 dB: the room's false holds at 0 dB).
        ``behind_s``: the satellite is that far behind its mic (a stall's backlog, heard before now)."""
        if self._delay is not None:
            self._delay.restart(behind=int(behind_s * RATE))
            self._rechecking = True
            if moved:
                self._waited = 0
                if self.config.aec_catch_up:
                    self._catch_up.arm(int(behind_s * RATE), self.bulk + self._frac)  # (satellite.aec_catchup)

    def echo_path(self, adapted: bool) -> tuple[float | None, float] | None:
        """(delay, tail) in seconds: the echo of a sample played now reaches the mic ``delay``
        later (None while it is being measured) and lasts ``tail`` more: the reverberation in the
        canceller's learned echo path, until ``TAIL_DB`` below its peak (its whole tail while it
        has not ``adapted``). None when there is no such estimate: no speex, or the delay was never
        measured (a listening tone at start-up made the judge expect echo for ~1 s and the user's
        words went unheard)."""
        if self._speex is None or self._delay is None or self._delay.lag is None:
            return None  # never measured (start-up, no echo at all): the judge keeps its default window
        tail = self.config.aec_tail_ms / 1000.0
        known = self._waited is None and not self._delay.fresh
        if adapted and known:
            h = self._speex.impulse_response()
            blocks = len(h) // _TEN_MS
            if blocks:
                energy = np.sum(np.square(h[: blocks * _TEN_MS]).reshape(blocks, _TEN_MS), axis=1)
                peak = float(np.max(energy))
                if peak > 0:
                    loud = np.nonzero(energy >= peak * 10 ** (-TAIL_DB / 10))[0]
                    tail = (int(loud[-1]) + 1) * _TEN_MS / RATE
        return (self.bulk / RATE if known else None), tail

    @property
    def cancelling(self) -> bool:
        """The canceller is running on a known (or given-up-on) delay, not waiting for one."""
        return self.engine == "webrtc" or (self._speex is not None and self._waited is None)

    def _compensated(self, mic: Pcm, far: Pcm) -> Pcm:
        """``far`` delayed by the bulk of the measured echo delay (updated as it is measured)."""
        n = len(far)
        if n > len(self._history):
            return far
        self._history = np.concatenate([self._history[n:], far])
        assert self._delay is not None
        before = self._delay.lag, self._delay.settled_fine
        lag = self._delay.push(mic, far)
        if self._waited is not None and np.any(far):
            self._waited += n
            if self._waited >= _MAX_WAIT:
                waited = _MAX_WAIT // RATE
                _LOGGER.info("no clear echo delay in %d s of playback: cancelling with %.1f ms", waited, self.bulk / 16)
                self._waited = None
                self._prior = None
        if lag is not None:
            waited, self._waited = self._rechecking and self._waited is not None, None  # (a recheck's wait: resumed)
            stand_in = self._kept_stand_in() if waited else None  # (aec_delay: before a move re-measures the shadow)
            prior, self._prior = self._prior, None
            agreed = agrees(prior, lag, before[0])  # the measured delay is the one the kept path proved (aec_prior)
            self._measured_after_warm_start(agreed)  # (aec_state: a kept path from the last run)
            self._warm = self._warm if agreed else 0
            kept = self.bulk + self._frac
            moved = self._moved(lag, before)
            if agreed:  # the kept path's fit, finer than the meter's (0.36 samples off)
                self._delay_reference(kept)
            if moved if agreed is None else not agreed:
                if self.on_path_change is not None:
                    self.on_path_change()  # the canceller is off its path until it adapts: not to be trusted
            elif self._rechecking and self.on_path_confirmed is not None:
                _LOGGER.debug("echo delay %.1f ms: unchanged", lag / 16)
                self.on_path_confirmed()
            self._rechecking = False
            self._stand_in(stand_in)
        return self._aligned(n)

    def process(self, mic: bytes, played: bytes | None = None) -> bytes:
        """The cleaned ``mic`` frame (same length); ``played`` is this tick's speaker frame."""
        out: Pcm = np.frombuffer(mic, dtype="<i2")
        self.estimate_corr = 0.0
        if len(out) % _TEN_MS:
            raise ValueError("front-end frames must be a multiple of 10 ms")
        far = self._reference(played, len(mic)) if self._to_16k is not None else None
        if self._speex is not None and far is not None:
            ref = self._compensated(out, far)
            if self._quiet_left is not None and played and played.strip(b"\0"):
                self._quiet_left = None  # the speaker plays again (not the resampler's last samples)
            if self._waited is None and (self._quiet_left is None or self._quiet_left > 0):
                if self._catch_up.armed:
                    self._caught_up(len(out))
                cancelled = self._speex.process(out, ref)
                self._settle_left = max(0, self._settle_left - len(out))
                # Not while the delay is measured afresh (a restart, a recheck) nor speex's history refills after one.
                warming = self._kept_path is not None and self._warm > 0
                settled = self._delay is not None and not self._delay.fresh and not warming
                if (slipped := self._slip.check(out, cancelled, look=settled)) is not None:
                    cancelled = self._slipped(*slipped)
                self.estimate_corr = _estimate_corr(out, cancelled)
                self.later_echo.feed(out, cancelled)
                if self._shadow is not None:
                    mine = self._shadow.process(out, ref, cancelled)
                    if self._shadow.trusted:
                        cancelled = np.clip(np.round(mine), -32768, 32767).astype(np.int16)
                        self.shadow_frames += 1
                if self._kept_path is not None and self._warm > 0:  # speex's history of the reference refills
                    stand_in = warm(self._kept_path, self._history, self.bulk, self._frac, out)
                    self._warm -= len(out)
                    if kept_off_path(out, stand_in):  # the kept path is not this echo's: the path changed
                        self._warm, self._kept_path = 0, None
                        if self.on_path_change is not None:
                            self.on_path_change()
                    else:
                        cancelled = np.clip(np.round(stand_in), -32768, 32767).astype(np.int16)
                        self.prior_frames += 1
                out = cancelled
            else:
                if self._waited is not None:
                    self._catch_up.keep(out)
                else:  # (not fed after a kill: no wait to catch up on)
                    self._catch_up.disarm()
                self.later_echo.skip()
                self._slip.skip()
                kept = None if self._prior is None else cancel(self._prior, self._history, self.bulk, self._frac, out)
                if self._shadow is not None:  # its history follows the reference
                    self._shadow.follow(ref)
                if kept is not None and self._prior is not None:  # proven: speex resumes on it (aec_prior)
                    out = np.clip(np.round(kept), -32768, 32767).astype(np.int16)
                    self._adopt(self._prior)
            if self._quiet_left is not None:
                self._quiet_left -= len(out)
        if self._apm is not None:
            out = self._apm.process(out, far) if self.engine == "webrtc" else self._apm.process(out)
        if self._agc is not None:
            out = self._agc.process(out)
        self.frames += 1
        return bytes(np.asarray(out, dtype="<i2").tobytes())
