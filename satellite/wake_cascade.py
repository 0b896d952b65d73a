"""microWakeWord with a verifier: the default for a word both engines ship (okay_nabu …).

microWakeWord runs on every mic frame (about 1 % of a core). A frame where its probability for a
word passes the cutoff is a detection, as without the cascade (with ``trust_micro=False``,
``--wake-verify-all``, it is a candidate too). A frame where it only passes the low bar
(``FIRST_STAGE``, 0.1) is a *candidate*: in a worker thread, openWakeWord's front end embeds the
last ``PRE_SECONDS`` of audio (a ring buffer) and then the live frames, for as long as
microWakeWord stays over the low bar and ``POST_SECONDS`` after (at most ``MAX_LIVE_SECONDS``);
openWakeWord's model for the word (> ``VERIFY_CUTOFF``) and/or ours (:mod:`satellite.wake_verifier`,
over its own cutoff) score each embedding, and a score over the cutoff is a detection. While
microWakeWord has not yet passed ``TRUSTED_STAGE`` (0.2) on the candidate, only a score of ours
over ``STRICT_CUTOFF`` (0.99) counts (openWakeWord's model does not; scores from before it passed
are not looked at again: counting them raised near-miss false accepts from 10 to 14 in 3 h,
session 11): the first stage starts verifications earlier (the ring buffer is caught up sooner)
and on voices microWakeWord hears weakly, without letting more near misses through (chosen in
``bench/wake_policy.py``). So the verifier costs CPU only around candidates (a few per hour of
non-wake audio, measured in ``bench/results/wake.md``), and there is no stall: the buffered audio
is caught up in one pass (without pyopen-wakeword's 8 s of zero padding after a reset) and the
live frames follow as they come. The mic loop never waits for the catching up; on a live frame
of a worker that has caught up it waits up to ``WAIT_SECONDS`` (12 ms; scoring a 30 ms frame
takes 0.1 ms, or ~5 ms when it completes an 80 ms embedding) so that a confirmation starts the
turn in the frame that brought it, not one frame (30 ms) later. The decisions are the same.

Why: microWakeWord misses voices (Kokoro af_heart's "Okay Nabu." peaks at 0.18), openWakeWord's
model misses others (bf_emma, bf_alice), and openWakeWord on every frame costs more than the
satellite's CPU budget.

Verifier states (one verification at a time; a candidate while one runs is ignored)::

    idle ──candidate──▶ catching up (ring buffer) ──▶ live (frames while microWakeWord stays up) ──end──▶ idle
                              └──────────────── a score over its cutoff: detection ────────────────────┘
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import queue
import threading
import weakref
from typing import Any

from .wake import VERIFIERS, MicroDetector

_LOGGER = logging.getLogger(__name__)

FIRST_STAGE = 0.1  # microWakeWord probability that makes a candidate (bench/wake_policy.py)
TRUSTED_STAGE = 0.2  # under it (on the candidate so far), only a STRICT_CUTOFF score of ours confirms
STRICT_CUTOFF = 0.99
VERIFY_CUTOFF = 0.5  # openWakeWord's usual cutoff
PRE_SECONDS = 2.2  # audio before the candidate: one openWakeWord window (16 embeddings × 80 ms + 0.775 s) + 0.2 s
POST_SECONDS = 0.5  # live audio after the last frame microWakeWord kept over FIRST_STAGE
MAX_LIVE_SECONDS = 3.0  # one verification never scores more live audio than this
BYTES_PER_SECOND = 32000  # 16 kHz, 16 bit, mono
HOLD_SECONDS = 1.5  # at most one candidate this often (the wake gate's refractory period)
WAIT_SECONDS = 0.012  # the mic loop waits at most this for a live frame's score (a worker that is caught up)
# A second opinion on a detection (request_opinion: satellite.wake_turn, a wake word heard in a turn the user is
# already speaking in): openWakeWord's model over the ring buffer once this much audio followed the detection
# (its score peaks after the word: at ours's confirmation it was under 0.5 on every real word of
# bench/wake_unsure.py), after OPINION_LEAD_SECONDS of silence (its front end's warm-up).
OPINION_AFTER_SECONDS = 0.45
OPINION_LEAD_SECONDS = 1.0


def cascade_words(names: tuple[str, ...]) -> list[str]:
    """The words both engines ship (each gets an openWakeWord verifier)."""
    from pyopen_wakeword import Model as OpenModel

    both = {m.value for m in OpenModel}
    return [n for n in names if n in both]


class Phase(enum.Enum):
    IDLE = "idle"
    LIVE = "live"  # the ring buffer has been caught up; live frames are being scored


class Verifier:
    """openWakeWord's models for the cascade words and ours (where shipped) over one shared front end (worker side)."""

    def __init__(self, words: list[str], who: str = "either") -> None:
        from pyopen_wakeword import Model as OpenModel
        from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

        from .wake_verifier import EmbeddingVerifier, available

        if who not in VERIFIERS:
            raise ValueError(f"unknown wake verifier {who!r}; available: {', '.join(VERIFIERS)}")
        use_open = who in ("either", "open")
        self.models = {w: OpenWakeWord.from_builtin(OpenModel(w)) for w in words if use_open or not available(w)}
        self.ours = {w: EmbeddingVerifier.for_word(w) for w in words if who != "open" and available(w)}
        if who != "open" and not self.ours:
            _LOGGER.warning("no verifier of our own for %s: openWakeWord's model verifies", ", ".join(words))
        self.features = OpenWakeWordFeatures.from_builtin()
        self.word: str | None = None
        self.phase = Phase.IDLE
        self._opinion: tuple[Any, dict[str, Any]] | None = None  # (front end, models): loaded at the first opinion

    def opinion(self, word: str, audio: bytes) -> float:
        """openWakeWord's model's highest score for ``word`` in ``audio`` (after OPINION_LEAD_SECONDS of silence),
        on a front end of its own (a verification may be running)."""
        from pyopen_wakeword import Model as OpenModel
        from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

        if self._opinion is None:
            self._opinion = (OpenWakeWordFeatures.from_builtin(), {})
        features, models = self._opinion
        model = models.setdefault(word, OpenWakeWord.from_builtin(OpenModel(word)))
        features.reset()
        features.new_audio_samples = 0  # (reset() queues 8 s of zeros)
        model.reset()
        best = 0.0
        for embedding in features.process_streaming(bytes(round(OPINION_LEAD_SECONDS * BYTES_PER_SECOND)) + audio):
            best = max([best, *(float(p) for p in model.process_streaming(embedding))])
        return best

    def start(self, word: str, audio: bytes, strict: bool = False) -> bool:
        """A candidate: score the buffered audio from a fresh state; True if the word is there."""
        self.features.reset()
        self.features.new_audio_samples = 0  # reset() queues 8 s of zeros: not needed, ~4x the work
        if word in self.models:
            self.models[word].reset()
        if word in self.ours:
            self.ours[word].reset()
        self.word, self.phase = word, Phase.LIVE
        return self._score(audio, strict)

    def feed(self, frame: bytes, strict: bool = False) -> bool:
        return self.phase is Phase.LIVE and self._score(frame, strict)

    def end(self) -> None:
        self.phase = Phase.IDLE

    def _score(self, audio: bytes, strict: bool = False) -> bool:
        """``strict``: microWakeWord has not passed ``TRUSTED_STAGE`` on this candidate yet."""
        assert self.word is not None
        model, ours = self.models.get(self.word), self.ours.get(self.word)
        cutoff = (max(ours.cutoff, STRICT_CUTOFF) if strict else ours.cutoff) if ours is not None else 1.0
        for embedding in self.features.process_streaming(audio):
            score = ours.push(embedding) if ours is not None else None
            opened = model is not None and any(p > VERIFY_CUTOFF for p in model.process_streaming(embedding))
            if (score is not None and score > cutoff) or (opened and not strict):
                self.phase = Phase.IDLE  # confirmed: the rest of the window is not needed
                return True
        return False


class _Worker:
    """The verifier's thread side (holds no reference to the detector, so a dropped one is freed)."""

    def __init__(self, words: list[str], who: str, max_jobs: int) -> None:
        self.verifier: Verifier | None = Verifier(words, who)
        self.busy = threading.Event()  # a verification is queued or running
        self.jobs: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=max_jobs)
        self.found: collections.deque[tuple[int, str]] = collections.deque(maxlen=8)  # (candidate number, word)
        self.opinions: collections.deque[tuple[int, float]] = collections.deque(maxlen=8)  # (opinion number, score)
        self.number = 0  # the candidate being verified
        self.done = 0  # jobs finished (the main side counts the ones it put)
        self.progress = threading.Condition()

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                self._do(*job)
            finally:
                with self.progress:
                    self.done += 1
                    self.progress.notify_all()
                self.jobs.task_done()
        self.jobs.task_done()
        self.verifier = None  # release the models now, not when the detector is collected

    def stop(self, wait_seconds: float = 0.0) -> None:
        with contextlib.suppress(queue.Full):  # full: the worker is stuck; it is a daemon thread
            self.jobs.put(None, block=wait_seconds > 0, timeout=wait_seconds or None)

    def _do(self, kind: str, data: Any) -> None:
        verifier = self.verifier
        assert verifier is not None
        found = False
        if kind == "opinion":
            number, word, audio = data
            self.opinions.append((number, verifier.opinion(word, audio)))
            return
        if kind == "start":
            self.number, word, audio, strict = data
            found = verifier.start(word, audio, strict)
        elif kind == "frame":  # a frame after the verification ended (IDLE) is ignored by feed()
            found = verifier.feed(*data)
        else:
            verifier.end()
        if found and verifier.word is not None:
            self.found.append((self.number, verifier.word))
        if verifier.phase is Phase.IDLE:
            self.busy.clear()


class CascadeDetector:
    """A :class:`MicroDetector` whose near misses on cascade words are verified in a worker thread.

    The main side decides how long a verification listens: it sends live frames while
    microWakeWord stays over ``first_stage`` and ``POST_SECONDS`` after (at most
    ``MAX_LIVE_SECONDS``), then an end; the worker ends it sooner when the word is confirmed.
    """

    def __init__(self, micro: MicroDetector, words: list[str], *, max_jobs: int = 128,
                 first_stage: float = FIRST_STAGE, who: str = "either", trust_micro: bool = True,
                 trusted_stage: float = TRUSTED_STAGE, wait_seconds: float = WAIT_SECONDS) -> None:
        self.micro = micro
        self.trust_micro = trust_micro
        self.names = micro.names
        self.words = words
        self.first_stage = first_stage
        self.trusted_stage = trusted_stage
        self._peak = 0.0  # microWakeWord's highest probability on the candidate being verified
        self._pre_bytes = round(PRE_SECONDS * BYTES_PER_SECOND)
        self._ring = bytearray()  # the last PRE_SECONDS of audio
        self._hold = round(HOLD_SECONDS * BYTES_PER_SECOND)
        self._post = round(POST_SECONDS * BYTES_PER_SECOND)
        self._max_live = round(MAX_LIVE_SECONDS * BYTES_PER_SECOND)
        self._since = self._hold  # bytes of audio since the last candidate
        self._after_verified = self._hold + 1  # bytes of audio since the last confirmed verification
        self._left = 0  # bytes of live audio still to send to the running verification (0: none)
        self.candidates = 0  # verifications started (benchmarks); also numbers them
        self.by_micro = self.by_verifier = 0  # detections by microWakeWord's cutoff / by a verification
        # The last detection's microWakeWord peak passed TRUSTED_STAGE (satellite.wake_turn: only such a
        # detection restarts a turn at once; the false accept in Piper's "What time is it?" peaks at 0.18)
        self.trusted_detection = True
        self.last_word: str | None = None  # the last detection's word
        # openWakeWord's model's opinion on the last detection it was asked about (request_opinion): over
        # VERIFY_CUTOFF (True), not (False), pending (None)
        self.agreed: bool | None = True
        self.opinion: float | None = None  # ... its score
        self._opinion_left = 0  # bytes of audio still to come before the opinion is asked (0: none asked)
        self._opinions = 0  # opinions asked (numbers them)
        self._void = 0  # verifications up to this number are moot (microWakeWord fired on its own)
        self._wait = wait_seconds
        self._sent = 0  # jobs put on the worker's queue
        self._worker = _Worker(words, who, max_jobs)
        self._thread = threading.Thread(target=self._worker.run, name="wake verifier", daemon=True)
        self._thread.start()
        weakref.finalize(self, _Worker.stop, self._worker)

    def request_opinion(self) -> None:
        """Ask openWakeWord's model about the last detection, once ``OPINION_AFTER_SECONDS`` of audio followed
        it (``agreed``: None until its answer comes, in a later frame; the worker thread scores it)."""
        self._opinion_left, self.agreed, self.opinion = round(OPINION_AFTER_SECONDS * BYTES_PER_SECOND), None, None
        self._opinions += 1

    def _opinion_step(self, frame: bytes) -> None:
        if self._opinion_left > 0:
            self._opinion_left -= len(frame)
            due = self._opinion_left <= 0
            if due and (self.last_word is None or not self._put(("opinion", (self._opinions, self.last_word,
                                                                             bytes(self._ring))))):
                _LOGGER.warning("wake verifier behind: no second opinion on the wake word")
                self.agreed, self.opinion = False, 0.0
        while self._worker.opinions:
            number, score = self._worker.opinions.popleft()
            if number == self._opinions:
                self.agreed, self.opinion = score > VERIFY_CUTOFF, score

    def process(self, frame: bytes) -> str | None:
        self._ring += frame
        del self._ring[:-self._pre_bytes]
        self._opinion_step(frame)
        self._since += len(frame)
        self._after_verified += len(frame)
        name = self.micro.process(frame)
        if name is not None and (not self.trust_micro or self._after_verified <= self._hold):
            name = None  # verified every time, or the word a verification has just confirmed
        peak = max(self.micro.peak.get(w, 0.0) for w in self.words)
        busy = self._worker.busy
        if busy.is_set() and self._left > 0:
            left = self._post if peak > self.first_stage and self._since < self._max_live else self._left - len(frame)
            self._peak = max(self._peak, peak)
            job = ("frame", (frame, self._peak <= self.trusted_stage)) if left > 0 else ("end", None)
            caught_up = self._worker.done == self._sent
            if self._put(job) or left > 0:
                self._left = left  # an end that did not fit in the queue is sent again with the next frame
            if caught_up and left > 0:
                self._await_worker()
        elif name is None and not busy.is_set() and peak > self.first_stage and (
                self._since > self._hold or self._peak <= self.trusted_stage < peak):
            # (a strict verification that has ended never held back the word's trusted candidate:
            # "Okay" may start one at 0.1 that ends before microWakeWord passes 0.2 on "Nabu")
            word = next(w for w in self.words if self.micro.peak.get(w, 0.0) > self.first_stage)
            busy.set()
            self._since, self._left, self._peak = 0, self._post, peak
            self.candidates += 1
            # just after start-up the ring holds less than one verifier window: silence before it, as a quiet mic
            history = bytes(self._pre_bytes - len(self._ring)) + bytes(self._ring)
            if not self._put(("start", (self.candidates, word, history, peak <= self.trusted_stage))):
                busy.clear()
                self._left = 0
        if name is not None:
            self._void = self.candidates  # a late confirmation of this same utterance must not fire again,
            self._since = 0  # nor a candidate on its tail
            self.by_micro += 1
            self.trusted_detection = True
            self.last_word = name
            return name
        while self._worker.found:
            number, word = self._worker.found.popleft()
            if number > self._void:
                self.by_verifier += 1
                self.trusted_detection = max(self._peak, peak) > self.trusted_stage
                self._after_verified = 0  # microWakeWord catching up on the same word must not fire again
                self.last_word = word
                return word
        return None

    def _put(self, job: tuple[str, Any]) -> bool:
        try:
            self._worker.jobs.put_nowait(job)
        except queue.Full:  # the worker fell behind by max_jobs: drop this job, never block the mic
            return False
        self._sent += 1
        return True

    def _await_worker(self) -> None:
        """Give the worker up to ``wait_seconds`` to score the frame just sent, so a confirmation is
        seen in this frame, not the next (30 ms, and the listening tone one speaker frame sooner)."""
        worker = self._worker
        with worker.progress:
            worker.progress.wait_for(lambda: worker.done >= self._sent, timeout=self._wait)

    def drain(self) -> None:
        """Wait until every queued frame has been looked at (tests, benchmarks: audio time, not wall time)."""
        self._worker.jobs.join()

    def reset(self) -> None:
        self.micro.reset()

    def close(self) -> None:
        """Stop the worker and wait for it (at most one verification, ~0.15 s); release the models."""
        self._worker.stop(wait_seconds=5.0)
        self._thread.join(timeout=5.0)
        if (release := getattr(self.micro, "close", None)) is not None:  # its model files too (the verifier's
            release()  # the worker released)
