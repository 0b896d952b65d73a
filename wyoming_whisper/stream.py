"""One utterance as it arrives: audio buffer, VAD, what to decode next, what to stream out.

Pure and synchronous (no asyncio, no wyoming); the handler drives it.

* **Region.** The audio sent to Whisper is the VAD speech span plus padding
  (:func:`.vad.speech_region`), so leading/trailing silence is trimmed and an utterance
  without speech is never decoded.
* **Speculative final.** Once the speech has been followed by enough non-speech that the
  region can no longer change unless the user speaks again ("settled"), the region is
  decoded with the full final settings. If no new speech arrives before ``audio-stop``,
  that decode *is* the final transcript: same samples, same deterministic decode, so it
  equals a one-shot transcription of the whole audio. Otherwise it is discarded.
* **Partials.** While the user speaks, the region so far is decoded greedily every
  ``partial_interval`` seconds of new audio, only when the model is idle (a partial never
  delays anyone's final transcript by more than the decode already running).
* **Chunks.** ``transcript-chunk`` texts are append-only (:mod:`.chunks`: local agreement).
* **Early.** With endpointing the speculative final starts after 1 window of silence when
  Silero's score fell, and stands for the whole region when the pad added no word (:mod:`.early`).
* **End of turn** (server-side endpointing). Once ``endpoint_windows`` of silence follow the
  speech, the speculative final's text is judged (:mod:`.endpoint`, :meth:`Utterance.judge`):
  a finished request ends there, an unfinished one at ``endpoint_max_windows`` unless speech
  resumes (then the longer region is judged at its next pause); a text decoded unsure
  (``UNSURE_LOGPROB``) waits the weak cap whatever its words say. A finished-reading text whose
  last word (aligned with the decode's audio) ends more than ``TAIL_SECONDS`` before the speech
  does is judged weak: Silero heard a word Whisper left out; so is one whose final . ? ! the decode
  scored under ``end_marks.END_MARK_BELOW`` (it nearly went on). Speech that ends before
  ``hold_windows`` (an earlier part of the question the client sent again first) ends nothing.
* **A looped final is decoded again, longer.** With the short encoder window (:mod:`.engine`)
  and only 0.1 s of silence after the speech (endpointing), tiny.en sometimes writes the request
  twice ("What color is an emerald? What color is an emerald?" for one question said once: room
  run 2026-12-02 10:31); the same samples plus 0.1-0.2 s more of the silence decode once. The
  end of turn still reads such a text as unfinished (a loop also comes from speech cut at a
  pause mid-request, so the turn waits as before); but when the final text repeats a phrase,
  the region plus ``LOOP_RETRY_SECONDS`` of the audio that followed it (what is there of it) is
  decoded again and that decode is the transcript, whatever it says (a phrase really said twice
  stays twice; a decode that loops again is kept, not edited).
"""

from __future__ import annotations

from dataclasses import dataclass

from .chunks import AgreedText
from .early import EarlyFinal, adds_no_word, may_start
from .end_marks import doubted_end
from .endpoint import Verdict, ends, judge, repeats, whole_value, words
from .engine import SAMPLE_RATE, Decoded, FloatArray, pcm16_to_float
from .short_commands import alone_command
from .stream_policy import LOOP_RETRY_SECONDS, TAIL_SECONDS, UNSURE_LOGPROB, StreamPolicy
from .stream_policy import seconds as _seconds
from .vad import WINDOW, VadStream, end_pad, speech_region, speech_windows

Region = tuple[int, int]

# the settings and rule constants live in .stream_policy; re-exported for the callers of this module
__all__ = ["LOOP_RETRY_SECONDS", "TAIL_SECONDS", "UNSURE_LOGPROB", "Job", "Region", "StreamPolicy", "Utterance"]

@dataclass(frozen=True)
class Job:
    kind: str  # "partial" or "final"
    region: Region
    pcm: bytes  # the region's samples (a copy), 16 kHz mono 16-bit

    def audio(self) -> FloatArray:
        return pcm16_to_float(self.pcm)


class Utterance:
    def __init__(self, vad: VadStream, policy: StreamPolicy) -> None:
        self.policy = policy
        self._vad = vad
        self._pcm = bytearray()
        self.finishing = False
        self.speculated: tuple[Region, Decoded] | None = None  # the speculative final decode, its scores too
        self._final_region: Region | None = None  # last region a final job was made for
        self._partial_at = 0  # sample count when the last partial job was made
        self._chunks = AgreedText()
        self._voice_started = False
        self._voice_stopped = False
        self.verdict: tuple[Region, Verdict] | None = None  # the latest speech judged (endpointing)
        self._speech_at: tuple[int, Region | None] = (0, None)  # (windows scored, their speech windows)
        self._early: EarlyFinal | None = None  # the speculative final started when the score fell (.early)
        self.adopted: str | None = None  # the last next_job adopted the early decode, "running" or "done" (handler)

    # -- audio ----------------------------------------------------------------------------
    @property
    def samples(self) -> int:
        return len(self._pcm) // 2

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    def add(self, pcm: bytes) -> None:
        """Append 16 kHz mono 16-bit audio and score it (CPU: call from a worker thread)."""
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        if pcm:
            self._pcm += pcm
            self._vad.feed(pcm16_to_float(pcm))

    def finish_audio(self) -> None:
        self._vad.finish()

    def region(self) -> Region | None:
        """The span to transcribe now (at the end: the final span), None without speech."""
        return speech_region(self._vad.probs, self.samples, self.policy.vad, self._vad.half_probs, self._vad.levels)

    def loop_retry(self, region: Region, text: str) -> Region | None:
        """The region to decode again when ``text``, the final decode of ``region``, repeats a
        phrase: ``region`` plus up to ``LOOP_RETRY_SECONDS`` of the audio after it; None otherwise
        (or when no audio follows it)."""
        if not repeats(words(text)):
            return None
        end = min(self.samples, region[1] + int(LOOP_RETRY_SECONDS * SAMPLE_RATE))
        return (region[0], end) if end > region[1] else None

    def _speech(self) -> Region | None:
        """The first and last speech window so far (.vad.speech_windows), computed once per
        window scored: the probabilities only grow, and next_job/verdict_due ask several times."""
        scored = len(self._vad.probs)
        if self._speech_at[0] != scored:
            self._speech_at = (scored, self._speech_now())
        return self._speech_at[1]

    def _speech_now(self) -> Region | None:
        """:func:`.vad.speech_windows` over everything the stream's VAD has scored (both grids, levels)."""
        vad = self._vad
        return speech_windows(vad.probs, self.policy.vad, vad.half_probs, vad.levels)

    def _trailing_silence(self) -> int | None:
        found = self._speech()
        if found is None:
            return None
        return len(self._vad.probs) - 1 - found[1]

    def _pad(self) -> int:
        """Windows of silence the region keeps after the speech (more after a weak end: .vad)."""
        found = self._speech()
        return self.policy.vad.pad_windows if found is None else end_pad(self._vad.probs, found[1], self.policy.vad)

    # -- what to decode next --------------------------------------------------------------
    def next_job(self, *, model_busy: bool) -> Job | None:
        region = self.region()
        trailing = self._trailing_silence()
        if region is None or trailing is None or self.finishing:
            return None
        settle = max(self.policy.settle_windows, self._pad())
        if (early := self._early_job(region, trailing)) is not None:
            return early
        if trailing >= settle:
            if region == self._final_region or self._adopt(region):
                return None
            self._final_region = region
            return self.job("final", region)
        interval = int(self.policy.partial_interval * SAMPLE_RATE)
        too_long = (self.samples - region[0]) > self.policy.partial_max_seconds * SAMPLE_RATE
        pausing = trailing >= self.policy.pause_windows  # maybe the end: keep the model free for the final
        if interval <= 0 or model_busy or too_long or pausing or self.samples - self._partial_at < interval:
            return None
        self._partial_at = self.samples
        return self.job("partial", (region[0], self.samples))

    def _early_job(self, region: Region, trailing: int) -> Job | None:
        """The speculative final started when Silero's score falls (:mod:`.early`), with endpointing."""
        found, endpoint, early = self._speech(), self.policy.endpoint(), self._early
        if found is None or endpoint is None or not endpoint.semantic or found[1] < self.policy.hold_windows:
            return None
        if (early is not None and early.last == found[1]) or not may_start(
            self._vad.probs, found[1], trailing, self._pad(), self.policy.vad.pad_windows):
            return None
        self._early = EarlyFinal(found[1], region)
        return self.job("final", region)

    def _adopt(self, region: Region) -> bool:
        """Whether the early decode made for this speech stands for ``region`` (the speech plus the
        whole pad, which added no word): then no second decode runs."""
        early, found = self._early, self._speech()
        if early is None or found is None or early.last != found[1] or early.region[0] != region[0]:
            return False
        if not adds_no_word(self._vad.probs, self._vad.half_probs, found[1], self._pad()):
            return False
        early.adopted, self._final_region, self.adopted = region, region, "running"
        if self.speculated is not None and self.speculated[0] == early.region:
            self.speculated, self.adopted = (region, self.speculated[1]), "done"
        return True

    def decoded_for(self, region: Region) -> Region:
        """The region a final decode of ``region`` is the speculative final of: the whole region
        for an adopted early decode, else ``region`` itself."""
        early = self._early
        if early is not None and early.region == region and early.adopted is not None:
            return early.adopted
        return region

    def job(self, kind: str, region: Region) -> Job:
        start, end = region
        return Job(kind, region, bytes(self._pcm[start * 2 : end * 2]))

    # -- streamed text (.chunks) ----------------------------------------------------------
    def hypothesis(self, text: str) -> str:
        """Record a partial hypothesis; return the newly agreed text to send ('' if none)."""
        return self._chunks.hypothesis(text)

    def final_delta(self, text: str) -> str:
        """The rest of the final text after what was sent, if it confirms what was sent."""
        return self._chunks.final_delta(text)

    # -- server-side endpointing ----------------------------------------------------------
    def verdict_due(self) -> Region | None:
        """The speech to judge now (finished request or not), or None: with semantic
        endpointing, once the base silence has passed after speech not judged yet."""
        endpoint = self.policy.endpoint()
        trailing = self._trailing_silence()
        if endpoint is None or not endpoint.semantic or trailing is None or self._voice_stopped:
            return None
        if len(self._vad.probs) - 1 - trailing < self.policy.hold_windows or _seconds(trailing) < endpoint.base:
            return None
        if trailing < self._pad():
            return None  # after a weak end the region (and its speculative final) is not complete yet
        region = self.region()
        if region is None or (self.verdict is not None and self.verdict[0] == region):
            return None
        return region

    def speculative_text(self, region: Region, text: str) -> tuple[str, bool] | None:
        """``text`` (a speculative final decode of ``region``) to send the client as the transcript
        to be, and whether it is weak (the turn would wait the weak cap), or None: only when asked
        for, while the turn can still end here (not inside an earlier part re-sent first) and the
        text reads as a finished request (or, with ``speculative_weak``, as a weak one)."""
        endpoint = self.policy.endpoint()
        found = self._speech_now()
        if (
            not self.policy.speculative
            or endpoint is None
            or self._voice_stopped
            or found is None
            or found[1] < self.policy.hold_windows
            or region != self.region()
            or len(self._vad.probs) - 1 - found[1] < self._pad()  # an early decode's text: not before the pad
            or not text.strip()
        ):
            return None
        verdict = judge(text)
        if self._speech_after_words(region) is not None or self._end_doubted(region) is not None:
            return None  # a word the decode left out (speech after its last word, or an end mark in doubt)
        if verdict.finished:
            return text, self._unsure(region)
        return (text, True) if verdict.weak and self.policy.speculative_weak else None

    def _unsure(self, region: Region) -> bool:
        """Whether the speculative decode of ``region`` scored below ``UNSURE_LOGPROB``."""
        speculated = self.speculated
        if speculated is None or speculated[0] != region:
            return False
        logprob = speculated[1].avg_logprob
        unsure = logprob is not None and logprob < UNSURE_LOGPROB
        # a whole value (UNSURE_WHOLE_VALUE), a whole short command ("Resume."), or a short command chosen over
        # an unsure text (.commands: it scores low by nature)
        text = speculated[1].text
        return unsure and not whole_value(text) and not alone_command(words(text)) and not speculated[1].command

    def judge(self, region: Region, text: str | None) -> Verdict:
        """Record the verdict on ``region`` from the text of its decode (None: no decode, so
        silence alone decides, as without semantic endpointing). A text the model was unsure of
        (its speculative decode's ``avg_logprob`` below ``UNSURE_LOGPROB``) is a weak verdict
        whether its words read finished or unfinished (not noise without words): it waits the
        weak cap, longer than a 0.9 s pause and shorter than the cap. So does a looped phrase
        ("Lights after. Lights after.", sure or not; ``LOOP_WAIT``). Only ``speculative_text``'s
        verdict (the pure :func:`judge`) decides what the client sees: a loop is never sent."""
        verdict = Verdict(True, "no decode") if text is None else judge(text)
        unsure = text is not None and self._unsure(region)
        if unsure:
            assert self.speculated is not None
            heard = f"heard unsure (avg_logprob {self.speculated[1].avg_logprob:.2f})"
            if verdict.finished:
                verdict = Verdict(False, heard, weak=True)
            elif not verdict.weak and text is not None and words(text) and not repeats(words(text)):
                verdict = Verdict(False, f"{verdict.reason}, {heard}", weak=True)
        elif verdict.finished and text is not None and (gap := self._speech_after_words(region)) is not None:
            verdict = Verdict(False, f"speech {gap:.2f}s after its last word", weak=True)
        elif verdict.finished and text is not None and (mark := self._end_doubted(region)) is not None:
            verdict = Verdict(False, f"its end mark scored {mark:.2f}", weak=True)  # end_marks.END_MARK_BELOW
        if not verdict.finished and not verdict.weak and text is not None and repeats(words(text)):
            verdict = Verdict(False, f"{verdict.reason}: looped, the weak wait", weak=True)  # LOOP_WAIT
        self.verdict = (region, verdict)
        return verdict

    def _end_doubted(self, region: Region) -> float | None:
        """The end-mark score of the speculative final of ``region`` when in doubt (.end_marks.doubted_end)."""
        s = self.speculated
        if s is None or s[0] != region or not doubted_end(s[1].text, s[1].end_mark_prob):
            return None
        return s[1].end_mark_prob

    def _speech_after_words(self, region: Region) -> float | None:
        """Seconds the speech runs on after the last word of the speculative final of ``region``
        when more than ``TAIL_SECONDS`` (a word Whisper left out), else None."""
        speculated, found = self.speculated, self._speech_now()
        if speculated is None or speculated[0] != region or found is None:
            return None
        word_end = speculated[1].last_word_end
        if word_end is None:
            return None
        gap = (found[1] + 1) * WINDOW / SAMPLE_RATE - (region[0] / SAMPLE_RATE + word_end)
        return gap if gap > TAIL_SECONDS else None

    def voice_events(self) -> list[tuple[str, int]]:
        """New ("started"|"stopped", milliseconds) transitions since the last call."""
        found = self._speech_now()
        events: list[tuple[str, int]] = []
        if found is None:
            return events
        first, last = found
        if not self._voice_started:
            self._voice_started = True
            events.append(("started", first * WINDOW * 1000 // SAMPLE_RATE))
        endpoint = self.policy.endpoint()
        if endpoint is None or self._voice_stopped:
            return events
        if last < self.policy.hold_windows:
            # HOLD_CAP: a continuation whose new audio (after the re-sent first part) holds no speech
            # Silero hears ends at the cap after the hold, as silence after an unfinished text would
            # (the room's held-54: a quiet "please" missed in the merged stream ran 3.0 s until the
            # satellite ended it). Its transcript is the first part's; the orchestrator then reads the
            # new part alone (continuation.ContinuedOutput).
            heard = len(self._vad.probs) - self.policy.hold_windows
            if endpoint.semantic and heard >= 0 and _seconds(heard) >= max(endpoint.base, endpoint.cap):
                self._voice_stopped = True
                events.append(("stopped", self.policy.hold_windows * WINDOW * 1000 // SAMPLE_RATE))
            return events
        region = self.region()
        verdict = self.verdict[1] if self.verdict is not None and self.verdict[0] == region else None
        if ends(endpoint, _seconds(len(self._vad.probs) - 1 - last), verdict):
            self._voice_stopped = True
            events.append(("stopped", (last + 1) * WINDOW * 1000 // SAMPLE_RATE))
        return events
