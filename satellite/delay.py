"""The speaker→mic delay, found by cross-correlating the playback with the raw mic.

Pure and synchronous. The echo canceller models the echo path up to its tail; when the delay
changes under it (a restarted sound command starts with another buffer level, the satellite
stalled and the speaker ran dry), speex needs 3–6 s to adapt again. :class:`EchoDelay`
measures the delay (GCC-PHAT over the last ``window_ms`` of audio) so that
:class:`satellite.aec.AudioFrontend` can delay the reference by the bulk of it: the canceller
then always sees the same short delay, whatever the device did.

Two modes:

* **settled**: an estimate every ``every_ms`` while the playback is audible; the delay in use
  changes only when two estimates in a row agree on the new value (one outlier moves nothing).
* **fresh** (at start and after :meth:`restart`: the path has changed): the playback window
  is emptied, so nothing from before the change is correlated, and an estimate is made every
  frame once the playback has been audible for ``min_audible_ms``. The first two estimates in
  a row that agree within ``agree_ms``, with the playback audible for at least the delay plus
  ``min_audible_ms`` (its echo must have been heard), are the new delay. Measured on speech:
  0.2–0.45 s of playback after a change (the old way: a 0.75 s window still half full of the
  old path, every 0.25 s).

Cost: one 32768-point real FFT pair per estimate (1-5 ms on the shared 2-core box) and a
16384-point one for :meth:`EchoDelay._explain` (how much of the mic the playback explains at
any delay: no echo path, double talk); every 90 ms while fresh or :attr:`EchoDelay.watch`-ed,
every 250 ms while audible otherwise. Per frame, the three windows are rings written in place
(:class:`Window`): the chronological arrays are made only for an estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .realign import peak_offset

Pcm = np.ndarray[Any, np.dtype[np.int16]]
Floats = np.ndarray[Any, np.dtype[np.float32]]
ECHO_ONLY_ABOVE = 0.9  # explained this well, a loud mic is the playback's echo alone
_FINE_MOVED = 0.5  # samples: a fine estimate this far from the delay in use has moved (under 1 ms) ...
_FINE_AGREE = 0.25  # ... when the one before agrees this well


class Window:
    """The last ``size`` samples as float32, written in place (a ring: no allocation per frame)."""

    def __init__(self, size: int) -> None:
        self._buf: Floats = np.zeros(size, dtype=np.float32)
        self._end = 0  # where the next sample goes: the oldest sample is here

    def push(self, frame: Pcm) -> None:
        size, k = len(self._buf), len(frame)
        if k >= size:
            self._buf[:] = frame[k - size :]
            self._end = 0
            return
        first = min(k, size - self._end)
        self._buf[self._end : self._end + first] = frame[:first]
        self._buf[: k - first] = frame[first:]
        self._end = (self._end + k) % size

    def clear(self) -> None:
        self._buf[:] = 0

    def array(self) -> Floats:
        """The samples oldest first (a new array)."""
        return np.concatenate([self._buf[self._end :], self._buf[: self._end]])

    def delay(self, n: int) -> None:
        """Move what it holds ``n`` samples later: silence in front, the newest ``n`` samples gone."""
        if n <= 0:
            return
        held = self.array()
        self._buf[:] = 0
        if n < len(held):
            self._buf[n:] = held[: len(held) - n]
        self._end = 0


class EchoDelay:
    def __init__(
        self,
        rate: int = 16000,
        *,
        window_ms: int = 750,
        max_lag_ms: int = 480,
        every_ms: int = 250,
        min_dbfs: float = -50.0,
        min_sharpness: float = 20.0,
        min_audible_ms: int = 150,
        agree_ms: float = 1.0,
        min_coherence: float = 0.25,
        unexplained_below: float = 0.3,
        double_talk_below: float = 0.75,
    ) -> None:
        self.window = rate * window_ms // 1000
        self.max_lag = rate * max_lag_ms // 1000
        self.every = rate * every_ms // 1000
        self._mic = Window(self.window)
        self._ref = Window(self.window + self.max_lag)
        self._min_amplitude = 32768.0 * 10 ** (min_dbfs / 20)
        self._min_power = float(self._min_amplitude**2)
        self._min_sharpness = min_sharpness
        self._min_coherence = min_coherence
        self.coherence = 0.0
        self.explained = 0.0  # the largest plain correlation of the mic with the playback, any delay
        self.unexplained = False  # the mic is loud and no delay explains it: not echo (while fresh)
        self.echo_seen = False  # the playback once explained a loud mic: there is an echo path
        self.echo_only = False  # the playback explains the loud mic as echo alone does (last estimate)
        self._unexplained_below = unexplained_below
        self.double_talk = False  # the mic is loud and the playback explains little of it (any time)
        self._double_talk_below = double_talk_below
        self.watch = False  # estimate every 90 ms also once settled (the canceller is not yet trusted)
        self._min_audible = rate * min_audible_ms // 1000
        self._agree = max(1, round(rate * agree_ms / 1000))
        # While fresh, an estimate every 90 ms, not every frame: one costs ~5 ms on the loaded
        # 2-core box, and per frame it slowed the mic loop into more stalls (room: slow frames
        # p50 25-28 ms vs 19 ms).
        self._fresh_every = rate * 90 // 1000
        self._since = 0
        self._n = 1 << int(np.ceil(np.log2(self.window + self.max_lag)))
        self._recent = rate * 300 // 1000
        self._n_recent = 1 << int(np.ceil(np.log2(self._recent + self.max_lag)))
        self.fresh = True  # the delay is unknown: estimate often, from what came since
        self._audible = 0  # samples of audible playback since the windows were emptied
        self._candidate: int | None = None  # the last estimate, waiting for one that agrees
        self.lag: int | None = None  # the delay in use (samples)
        self.fine = 0.0  # the last estimate to a 1/32 sample (satellite.realign)
        self._candidate_fine: float | None = None
        self.settled_fine: float | None = None  # ... the last such estimate of the delay in use
        self.sharpness = 0.0
        # The playback of the last 0.3 s + max_lag, never emptied (restart() empties _ref): what
        # played before a restart still echoes, so it may explain the mic.
        self._hist = Window(self._recent + self.max_lag)
        self._blind = 0  # samples until the echo of what played before a restart has died away

    def restart(self, behind: int = 0) -> None:
        """The echo path changed (a restarted speaker, a stall): forget the playback before now
        (the mic keeps its past: zeroing both windows at the same point made the edge itself
        correlate, a sharp false 0 ms seen in the room). ``behind``: samples of mic the caller has
        still to read (a stall's backlog): they were heard before now."""
        self._ref.clear()
        self._audible = 0
        self._candidate = self._candidate_fine = None
        self.fresh = True
        self.unexplained = self.double_talk = self.echo_only = False
        # Double talk is judged on the last ``_recent`` of mic against any delay up to ``max_lag``:
        # the echo of what played before now is out of that window ``max_lag`` + ``_recent`` on,
        # plus the backlog (0.78 s + the stall; it was window + max_lag, 1.23 s, the estimator's
        # window, not this one's). Replayed over 19 taps: 3 barge-ins after a stall held 0.33-0.54 s
        # sooner, none later, no echo-only hold more; 0.54 s added one, and without the backlog a
        # storm of 50-400 ms stalls held on echo alone (tests/test_satellite_echopath_stall.py).
        self._blind = self._recent + self.max_lag + max(0, behind)

    def advance(self, n: int) -> None:
        """The speaker plays everything ``n`` samples sooner from now on (silence was left out of
        its stream: :mod:`satellite.write_ahead`): the delay in use, the one waiting for
        agreement and the playback windows move with it (the playback of before now pairs with
        the mic ``n`` samples later than it will: its echo came on the longer path)."""
        if n <= 0:
            return
        if self.lag is not None:
            self.lag = max(0, self.lag - n)
        if self.settled_fine is not None:
            self.settled_fine -= n
        if self._candidate is not None:
            self._candidate = max(0, self._candidate - n)
        if self._candidate_fine is not None:
            self._candidate_fine -= n
        self._ref.delay(n)
        self._hist.delay(n)

    def assume(self, shift: float) -> None:
        """The caller found the echo ``shift`` samples later than the delay in use (the kept echo path after a
        speaker restart, :mod:`satellite.aec_prior`): the delay in use and its fine estimate move with it, so
        that the measurement under way, when it agrees, is no change (still measured: it decides)."""
        if self.lag is not None:
            self.lag = max(0, self.lag + round(shift))
        if self.settled_fine is not None:
            self.settled_fine += shift

    def push(self, mic: Pcm, ref: Pcm) -> int | None:
        """Add one frame of each (same length); returns the delay when one is settled: the first
        after :meth:`restart` (changed or not), then only when it changes."""
        k = len(mic)
        self._mic.push(mic)
        self._ref.push(ref)
        if np.max(np.abs(ref), initial=0) >= self._min_amplitude:
            self._audible += k
        self._since += k
        self._hist.push(ref)
        self._blind = max(0, self._blind - k)
        if self.fresh:
            if self._audible < self._min_audible or self._since < self._fresh_every:
                return None
        elif self._since < (self._fresh_every if self.watch else self.every):
            return None
        self._since = 0
        lag = self._estimate()
        if lag is None or (self.fresh and self._audible < lag + self._min_audible):
            return None  # the echo of this playback may not have reached the mic yet
        agreed = self._candidate is not None and abs(lag - self._candidate) <= self._agree
        fine_agreed = self._candidate_fine is not None and abs(self.fine - self._candidate_fine) <= _FINE_AGREE
        self._candidate, self._candidate_fine = lag, self.fine
        if not agreed:
            return None
        was_fresh, self.fresh = self.fresh, False
        if not was_fresh and self.lag is not None and abs(lag - self.lag) <= self._agree:
            # Under 1 ms: moved all the same when two fine estimates in a row agree on a move of half
            # a sample or more (a speaker that ran dry unseen for a few samples; the caller moves the
            # reference by the fraction, satellite.realign); else the delay in use, measured again.
            moved = self.settled_fine is not None and abs(self.fine - self.settled_fine) >= _FINE_MOVED
            if not (moved and fine_agreed):
                if not moved:
                    self.settled_fine = self.fine
                return None  # unchanged
        self.lag, self.settled_fine = lag, self.fine
        return lag

    def _explain(self, window: Floats) -> None:
        """How much of the mic's last ``_recent`` samples the playback explains at its best delay:
        the largest plain correlation over all delays, as a fraction. Audio not played yet cannot
        echo, and before the playback started the window is empty: so a mic that is loud now,
        explained at no delay, is not echo (no echo path at all, or not yet): :attr:`unexplained`.
        Over the last 0.3 s, not the whole window: a user's first words were still outweighed by
        0.75 s of echo (double talk seen 0.3 s after the onset)."""
        mic = window[-self._recent :]
        ref = self._hist.array()  # ref[k + t] is heard with mic[t] at delay max_lag - k
        mic_energy = float(np.dot(mic, mic))
        plain = np.fft.irfft(
            np.conj(np.fft.rfft(mic, self._n_recent)) * np.fft.rfft(ref, self._n_recent), self._n_recent
        )[: self.max_lag + 1]
        energy = np.concatenate([[0.0], np.cumsum(np.square(ref, dtype=np.float64))])
        ref_energy = energy[self._recent : self._recent + self.max_lag + 1] - energy[: self.max_lag + 1]
        heard = ref_energy >= self._min_power * self._min_audible  # a delay whose playback was audible
        self.explained = float(
            np.max(np.abs(plain[heard]) / np.sqrt(mic_energy * ref_energy[heard] + 1e-9), initial=0.0)
        )
        recent = window[-self._fresh_every :]
        loud = float(np.mean(recent * recent)) >= self._min_power
        # A double-talk detector (normalized cross-correlation): echo alone is explained to 0.96
        # (synthetic; 0.92 in the room), a user as loud as the echo over it to 0.6-0.75, 6 dB
        # louder 0.38-0.5.
        # Not for 0.78 s after a restart (a new path; see restart): the echo of what played before it and of
        # what plays now mix in the window, and neither delay alone explains the mix (measured:
        # false double talk on a 400 ms path resumed near a reply's end).
        # Nor, before any delay was measured, until the playback has been audible for the longest
        # delay and ``min_audible``: before that the echo's own delay may not count as heard, and
        # the echo of a reply's first word was called double talk (the room's first reply at
        # 0 dB, a false hold 0.1 s into its audio; synthetic, 0 dB, 110 or 200 ms: 4 of 10 start
        # phases each). A user with no echo path is then heard as `unexplained`.
        settled = self.lag is not None or self._audible >= self.max_lag + self._min_audible
        # The sound the playback does not explain must be loud itself (over the whole window): at a
        # reply's first milliseconds the window was the room's noise and a faint echo start, which
        # no single delay explains well, and echo alone was called double talk 0.1 s into a reply
        # (the room at 0 dB, canceller untrusted: explained 0.41-0.42, a false hold and cut; 0.98
        # one estimate later).
        unexplained = mic_energy * (1.0 - self.explained**2) / len(mic) >= self._min_power
        self.double_talk = (
            loud and unexplained and self._blind == 0 and settled and self.explained < self._double_talk_below
        )
        # No echo path: only while the playback never explained the mic (there is one once it
        # did; nor while no delay was ever measured). Also right after a restart (a stall: the
        # user may be speaking just then).
        self._note_echo(loud)
        self.unexplained = loud and self.lag is None and not self.echo_seen and self.explained < self._unexplained_below

    def _note_echo(self, loud: bool) -> None:
        """A loud mic the playback explains as echo alone does (:attr:`echo_seen`): there is an
        echo path, whether or not its delay was ever settled. Under CPU starvation the delay was
        never settled (each stall restarts the measurement) and right after a stall the mic's
        window mixed the echo before and after the speaker's gap: explained 0.24, taken for
        "no echo path", and the echo itself held the reply."""
        if loud and self.explained >= self._double_talk_below:
            self.echo_seen = True
        # Echo and nothing else (synthetic echo 0.96, the room 0.92; a user as loud as the echo
        # over it 0.6-0.75): the judge's gates, off their path after a stall, are overruled.
        self.echo_only = loud and self.explained >= ECHO_ONLY_ABOVE

    def _estimate(self) -> int | None:
        window, played = self._mic.array(), self._ref.array()
        ref_now = played[self.max_lag :]  # the playback of the same window as the mic
        mic_energy = float(np.dot(window, window))
        if (
            float(np.mean(ref_now * ref_now)) < self._min_power * min(1.0, self._audible / self.window)
            or mic_energy < 1e-3 * self._min_power * self.window
        ):
            self.unexplained = self.double_talk = self.echo_only = False
            return None
        self._explain(window)
        spec = np.conj(np.fft.rfft(window, self._n)) * np.fft.rfft(played, self._n)
        corr = np.fft.irfft(spec / (np.abs(spec) + 1e-9), self._n)[: self.max_lag + 1]
        # corr[k] = sum mic[t] * ref[t + k]; the echo of ref[t'] is heard at mic time t' + lag,
        # i.e. at k = max_lag - lag.
        k = int(np.argmax(corr))
        self.sharpness = float(corr[k] / (np.mean(np.abs(corr)) + 1e-12))
        if self.sharpness < self._min_sharpness:
            return None
        self.fine = self.max_lag - k - peak_offset(corr, k)
        # The echo must explain the mic: the plain correlation of the mic with the playback at
        # that lag. A peak of the whitened correlation alone can be sharp and wrong (before the
        # echo of a new path has reached the mic: sharp false 0-10 ms estimates in the room).
        ref = played[k : k + self.window]
        energy = float(np.sqrt(np.dot(window, window) * np.dot(ref, ref)))
        self.coherence = float(np.dot(window, ref)) / (energy + 1e-9)
        if self.coherence < self._min_coherence:
            return None
        return self.max_lag - k
