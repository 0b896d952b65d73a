"""Silero VAD v6 (the ONNX file that ships with faster-whisper) on onnxruntime: no torch.

Pure and synchronous. :class:`VadStream` runs the model over 16 kHz audio as it arrives,
512-sample windows at a time, carrying the recurrent state and context between calls, so
the speech probabilities of a stream fed in pieces equal those of the whole buffer fed at
once. :func:`speech_region` turns the probabilities into the span to transcribe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
WINDOW = 512  # samples per probability at 16 kHz (32 ms)
_CONTEXT = 64


class SileroVad:
    """The loaded model; ``InferenceSession.run`` is thread-safe, so streams share it."""

    def __init__(self, path: Path) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def stream(self) -> VadStream:
        return VadStream(self)

    def run(
        self, windows: FloatArray, h: FloatArray, c: FloatArray, context: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        previous = np.concatenate([context[None, :], windows[:-1, -_CONTEXT:]], axis=0)
        batch = np.concatenate([previous, windows], axis=1).astype(np.float32)
        probs, h, c = self._session.run(None, {"input": batch, "h": h, "c": c})
        return np.asarray(probs, dtype=np.float32).reshape(-1), h, c


class VadStream:
    """Speech probability per 512-sample window of one utterance; with ``half`` (the default)
    also on the grid shifted by half a window (``half_probs``: window m covers samples
    256 + 512 m .. 256 + 512 (m + 1)), see :attr:`VadPolicy.half_grid`."""

    def __init__(self, vad: SileroVad, *, half: bool = True, levels: bool = True) -> None:
        self._vad = vad
        self._h: FloatArray = np.zeros((1, 1, 128), dtype=np.float32)
        self._c: FloatArray = np.zeros((1, 1, 128), dtype=np.float32)
        self._context: FloatArray = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending: FloatArray = np.zeros(0, dtype=np.float32)
        self.probs: list[float] = []
        self.levels: list[float] = []  # dBFS of each window (see VadPolicy.quiet_rise_db)
        self._levels = levels
        self._half = VadStream(vad, half=False, levels=False) if half else None
        self._skip = WINDOW // 2

    @property
    def half_probs(self) -> list[float] | None:
        return None if self._half is None else self._half.probs

    def feed(self, samples: FloatArray) -> None:
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        usable = len(data) - len(data) % WINDOW
        self._pending = data[usable:]
        if usable:
            self._run(data[:usable].reshape(-1, WINDOW))
        if self._half is not None:
            skip = min(self._skip, len(samples))
            self._skip -= skip
            if len(samples) > skip:
                self._half.feed(samples[skip:])

    def finish(self) -> None:
        """Score the last partial window (zero-padded)."""
        if len(self._pending):
            tail = np.zeros(WINDOW, dtype=np.float32)
            tail[: len(self._pending)] = self._pending
            self._pending = np.zeros(0, dtype=np.float32)
            self._run(tail.reshape(1, WINDOW))

    def _run(self, windows: FloatArray) -> None:
        probs, self._h, self._c = self._vad.run(windows, self._h, self._c, self._context)
        self._context = windows[-1, -_CONTEXT:].copy()
        self.probs.extend(float(p) for p in probs)
        if self._levels:
            power = np.mean(windows.astype(np.float64) ** 2, axis=1)
            self.levels.extend(float(v) for v in 10 * np.log10(power + 1e-12))


@dataclass(frozen=True)
class VadPolicy:
    threshold: float = 0.45
    pad_windows: int = 10  # ~0.32 s kept after the speech
    lead_windows: int = 16  # ~0.5 s kept before it (a soft first consonant can score low)
    min_speech_windows: int = 3  # fewer speech windows than this is noise, not speech
    # A weak end: when the last run of speech windows never scores this much (a quiet last word
    # that only just crosses the threshold), ``weak_pad_windows`` are kept after it instead of
    # ``pad_windows`` (Whisper needs more of the word's quiet end to read it). None: off.
    # Room held-48, "where is the nearest pharmacy": "pharmacy" peaks at 0.48, the speech ends
    # 0.08 s before the word does, and tiny.en reads "nearest farm/tour" on the speech plus 0.1 s,
    # "nearest pharmacy" from ~0.3 s after the word's end on (bench/room_tail_probe.py).
    weak_peak: float | None = 0.6
    weak_pad_windows: int = 13  # ~0.4 s
    # A quiet request: when fewer than ``min_speech_windows`` windows reach ``threshold``, windows
    # scoring ``quiet_threshold`` or more are the speech (Silero scores quiet far-field speech low:
    # the corpus's far "Turn the bedroom lights down to fifty percent" 6 dB quieter peaks at
    # 0.37-0.46, under 3 windows over 0.45, and was no speech at all; the corpus 0-15 dB quieter:
    # no speech 23 -> 2 of 1530). It changes nothing where speech reached the threshold, so no
    # request ends later; white noise at -60..-30 dBFS never scores 0.2. None: off.
    quiet_threshold: float | None = 0.3
    # Quiet speech must also rise above the stream's noise floor: one of its windows at least this many dB over the
    # 10th-percentile window level so far (``VadStream.levels``, digital silence left out: :func:`noise_floor`; with
    # no levels given, no check). Background speech (a TV, a voice across the room) at or under the noise scores
    # 0.3-0.45 too: without the check it was "speech" on its own at 40-50 dB under a normal request, and before a
    # request as a quiet run then a gap, where a turn can end; quiet requests rise 11.8-23.8 dB
    # (bench/results/turn_background.md). None: off.
    quiet_rise_db: float | None = 10.0
    # Speech said apart after the speech (a word after a pause) is looked for on two grids: the
    # 512-sample windows and the same shifted by half a window. Silero's score of a quiet word
    # depends on where the window grid falls: the room's held-48 "Where is the nearest ...
    # pharmacy?" (session 15, its room mic from 256 start offsets) had "pharmacy" under 3 windows
    # over 0.45 from 22 of them (the turn then ended on "where is the nearest?", a cut), from 4
    # with either grid. Only a run apart from the speech counts (not the fading end of the last
    # word), so a request without one ends as before (the corpus, 8 grid offsets each: decision
    # delay p50/p95 unchanged; the max of both grids everywhere cost +16/+21 ms). False: one grid.
    half_grid: bool = True
    # The decoded region's start reaches back over the request's first words when Silero scored
    # them low (a noisy first word): from the first speech window back over windows whose LEVEL
    # is at least ``reach_rise_db`` over the noise floor (the 10th-percentile window level so far,
    # as ``quiet_rise_db``), gaps of at most ``reach_gap_windows`` quieter windows between them
    # (the silence between words), at most ``reach_max_windows`` before the ``lead_windows`` start,
    # then ``reach_lead_windows`` more before the earliest such window. The room's held-54 "Lock the
    # front door ... please." (af_nicole, noise): Silero scored "Lock the front" 0.1-0.35 (13-18 dB
    # over the clip's noise), the first speech windows were the end of "door", the region (0.5 s
    # lead) began after "Lock" and the request was answered as "the front door." None: off.
    reach_rise_db: float | None = 10.0
    reach_gap_windows: int = 8  # ~0.26 s
    reach_max_windows: int = 31  # ~1 s
    reach_lead_windows: int = 3  # ~0.1 s


# Digital silence (exact zeros: a muted or padded stream, -120 dBFS here) is no noise floor: a
# second of it after quiet background speech put the floor 12 dB lower and made that speech "rise".
DIGITAL_SILENCE_DB = -100.0


def noise_floor(levels: list[float]) -> float:
    """The stream's noise floor: the 10th-percentile window level, digital silence left out."""
    heard = [v for v in levels if v > DIGITAL_SILENCE_DB]
    return float(np.percentile(heard or levels, 10))


def reach_start(first: int, policy: VadPolicy, levels: list[float] | None) -> int:
    """The region's first window for speech whose first window is ``first``: ``policy.lead_windows``
    before it, or earlier over loud windows contiguous with it (see ``VadPolicy.reach_rise_db``)."""
    start = max(0, first - policy.lead_windows)
    if policy.reach_rise_db is None or not levels or first > len(levels):
        return start
    loud = noise_floor(levels) + policy.reach_rise_db
    earliest = first
    i = first - 1
    while i >= max(0, start - policy.reach_max_windows) and earliest - i <= policy.reach_gap_windows + 1:
        if levels[i] >= loud:
            earliest = i
        i -= 1
    return max(0, min(start, earliest - policy.reach_lead_windows))


def end_pad(probs: list[float], last: int, policy: VadPolicy) -> int:
    """Windows kept after the speech that ends at window ``last``: ``policy.pad_windows``, or
    ``policy.weak_pad_windows`` (if more) after a weak end (see :class:`VadPolicy`)."""
    if policy.weak_peak is None or policy.weak_pad_windows <= policy.pad_windows:
        return policy.pad_windows
    first = last
    while first > 0 and probs[first - 1] >= policy.threshold:
        first -= 1
    weak = max(probs[first : last + 1]) < policy.weak_peak
    return policy.weak_pad_windows if weak else policy.pad_windows


def speech_windows(
    probs: list[float], policy: VadPolicy, half: list[float] | None = None, levels: list[float] | None = None
) -> tuple[int, int] | None:
    """First and last window of the speech (at or above the threshold; in a quiet request at or
    above ``policy.quiet_threshold``, and with ``levels``, the windows' dBFS, rising over the
    noise), or None if there is no speech. (A weak-tail floor, speech
    going on while the score stays >= 0.15-0.3, was measured in session 13 and rejected: every
    end later by 0.01-0.12 s p50, held-48 not fixed; bench/results/room_latency.md. A quiet run
    after louder speech counted as speech too was measured in session 15 and not kept:
    bench/results/room_latency.md.)"""
    found = None
    for threshold in (policy.threshold, policy.quiet_threshold):
        if threshold is None:
            continue
        hits = [i for i, p in enumerate(probs) if p >= threshold]
        if threshold != policy.threshold and not _rises(hits, policy, levels):
            continue
        if len(hits) >= policy.min_speech_windows:
            found = hits[0], hits[-1]
            break
    if found is None or half is None or not policy.half_grid:
        return found
    return found[0], _later_run(probs, half, found[1], policy)


def _rises(hits: list[int], policy: VadPolicy, levels: list[float] | None) -> bool:
    """Whether quiet speech at windows ``hits`` rises over the floor (``VadPolicy.quiet_rise_db``)."""
    if policy.quiet_rise_db is None or levels is None or not hits:
        return True
    rises = [levels[i] for i in hits if i < len(levels)]
    return not rises or max(rises) >= noise_floor(levels) + policy.quiet_rise_db


def _later_run(probs: list[float], half: list[float], last: int, policy: VadPolicy) -> int:
    """The last window of speech said apart after window ``last`` on either grid (``half[j - 1]``
    ends in the middle of window j), or ``last``. The run right after ``last`` is its fading end."""

    def both(j: int) -> float:
        return max(probs[j], half[j - 1] if j - 1 < len(half) else 0.0)

    j = last + 1
    while j < len(probs) and both(j) >= policy.threshold:
        j += 1
    run = 0
    for k in range(j, len(probs)):
        run = run + 1 if both(k) >= policy.threshold else 0
        if run >= policy.min_speech_windows:
            last = k
    return last


def speech_region(
    probs: list[float],
    n_samples: int,
    policy: VadPolicy,
    half: list[float] | None = None,
    levels: list[float] | None = None,
) -> tuple[int, int] | None:
    """The sample span [start, end) to transcribe: the speech plus padding, silence trimmed."""
    found = speech_windows(probs, policy, half, levels)
    if found is None:
        return None
    first, last = found
    start = reach_start(first, policy, levels) * WINDOW
    end = min(n_samples, (last + 1 + end_pad(probs, last, policy)) * WINDOW)
    return start, end
