"""A question spoken over the reply, offline: the room's echo model around the satellite's real mic chain.

The scene of ``bench/room_bench.py``'s barge-in runs without the real-time room: a reply (Piper) plays
through the room's echo model (the speaker's 40 ms write-ahead, the room's 40 ms, a 0.2 s reverb tail
at -10 dB, ``gain_db``, white noise at -60 dBFS), and a user's question starts ``onset_s`` into it.
Each 30 ms tick the satellite's chain (:class:`satellite.speaker_path.SpeakerPath` over the speex
front end, the echo judge and the VAD, wired as the satellite wires it) gets the mic frame and the
speaker frame; its turn logic is the satellite's for a reply (``satellite/core.py``): an onset or a
VAD start over the reply holds it (the speaker is killed: the 40 ms it still held never plays, the
echo already on its way arrives), the VAD start's pre-roll (``SpeakerPath._preroll``) opens the
stream and every cleaned frame after it is streamed, to 0.6 s after the question's last voiced
sample (the room bench's ``--controller-end-seconds 0.6``). Replies follow each other in one chain,
so the canceller is as converged as in a room run (the first reply of a run is a warm-up).

Beside the stream each turn keeps the same span of the user's own voice plus the noise (no echo,
no canceller: what the span alone does to the recogniser) and the cleaned mic back to 0.5 s
before the stream's start (what a longer lead would add). Pure numpy; no wyoming, no asyncio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.aec_bench import SPEAKER_RATE, pcm
from satellite.aec import AudioFrontend, FrontendConfig
from satellite.audio_io import MemorySink
from satellite.bargetrace import BargeTrace
from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge
from satellite.lag import MicLag
from satellite.playback import Playback
from satellite.speaker_path import SpeakerPath
from satellite.vad import SpeechDetector, VadConfig, VadEvent
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert

RATE = 16000
FRAME = 480
ROOM_MS = 40.0  # speaker -> mic (the room's --echo-delay-ms)
AHEAD_MS = 40.0  # the write-ahead: what the card holds when the speaker is killed (never played)
END_S = 0.6  # the question's stream ends this long after its last voiced sample
GAP_S = 1.0  # silence between a turn's end and the next reply
LEAD_FRAMES = 17  # cleaned frames kept before each stream's start (0.51 s: the whisper server's 0.5 s lead)
Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass
class _Ahead:
    """The live write-ahead as the chain reads it (satellite.write_ahead.WriteAhead)."""

    rate: int = SPEAKER_RATE
    trimmed: int = 0
    underruns: int = 0
    level_s: float = AHEAD_MS / 1000.0
    lead_s: float = AHEAD_MS / 1000.0


class Chain(SpeakerPath):
    """The satellite's mic chain, wired as :class:`satellite.core.Satellite` wires it."""

    def __init__(self, shadow: bool = True) -> None:
        self.frontend = AudioFrontend(FrontendConfig(aec_shadow=shadow), SPEAKER_RATE)
        self.guard = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
        self.detector = SpeechDetector(VadConfig())
        self.speaker = MemorySink(SPEAKER_RATE)
        self.speaker.ahead = _Ahead()  # type: ignore[attr-defined]
        self.playback = Playback(SPEAKER_RATE, 30)
        self.trace = BargeTrace()
        self.lag = MicLag(FRAME / RATE)
        self._stalled = False
        self._span_frames = 0
        self._span_adapted = False
        self._mic_ms = 0.0
        self._wire_echo_path()


def room_filter(gain_db: float, rt60: float = 0.2, reverb_db: float = -10.0, seed: int = 0) -> Array:
    """Speaker (as written) -> mic: the write-ahead and the room's delay, the direct path, a decaying tail."""
    rng = np.random.default_rng(seed)
    delay = int(RATE * (ROOM_MS + AHEAD_MS) / 1000)
    n = int(rt60 * RATE)
    tail = rng.standard_normal(n) * np.exp(-6.9 * (np.arange(n) / RATE) / rt60)
    tail *= 10 ** (reverb_db / 20) / max(float(np.sqrt(np.sum(tail**2))), 1e-9)
    h = np.zeros(delay + n)
    h[delay] = 1.0
    h[delay:] += tail
    return h * 10 ** (gain_db / 20)


def voiced_span(x: Array) -> tuple[int, int]:
    """First and last sample of the 10 ms blocks within 35 dB of the loudest."""
    n = len(x) // 160
    e = 10 * np.log10(np.mean(np.square(x[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    on = np.nonzero(e > e.max() - 35)[0]
    return int(on[0]) * 160, int(on[-1] + 1) * 160


@dataclass
class Turn:
    question: str
    onset_s: float  # into the reply
    onset: int = 0  # mic sample of the user's first voiced block
    hold: int | None = None  # mic sample (end of the frame) where the reply was held
    start: int | None = None  # mic sample where the stream begins
    stream: bytes = b""  # what the satellite streams (the pre-roll, then each cleaned frame)
    user_span: bytes = b""  # the user's voice + noise over the stream's samples (no echo)
    lead: bytes = b""  # cleaned mic of the LEAD_FRAMES before the stream's start
    lead_echo: list[bool] = field(default_factory=list)  # ... each frame held back as echo (not the user's)
    residual_db: dict[str, float | None] = field(default_factory=dict)  # residual echo vs the user, by part
    erle_before_db: float | None = None  # the canceller's ERLE over the 0.5 s before the onset (echo only)


class Room:
    """One chain, one reply after another, each interrupted by one question."""

    def __init__(self, reply: bytes, gain_db: float, seed: int = 3, *, shadow: bool = True) -> None:
        self.chain = Chain(shadow)
        self.h = room_filter(gain_db)
        self.reply16 = np.frombuffer(reply, "<i2").astype(np.float64)
        self.reply22 = convert(reply, PCM16_MONO_16K, AudioFormat(SPEAKER_RATE, 2, 1))
        self.reply_level = float(np.sqrt(np.mean(np.square(self.reply16[np.abs(self.reply16) > 30]))))
        self.rng = np.random.default_rng(seed)
        self.played: list[Array] = [np.zeros(len(self.h))]  # what the speaker played, 16 kHz
        self._played_n = len(self.h)
        self.frames = 0
        self._at22: int | None = None  # bytes of the reply handed to the speaker so far
        self.twin: Room | None = None  # the same room without the user, held when this one is (a diagnosis)

    def _speaker_frame(self, pos: int | None) -> tuple[bytes, Array]:
        """The tick's speaker frame (the reply's ``pos``-th, or silence) at both rates."""
        tick = self.frames
        size = ((tick + 1) * 30 * SPEAKER_RATE // 1000 - tick * 30 * SPEAKER_RATE // 1000) * 2
        if pos is None or pos * FRAME >= len(self.reply16):
            return bytes(size), np.zeros(FRAME)
        if pos == 0 or self._at22 is None:
            self._at22 = pos * 30 * SPEAKER_RATE // 1000 * 2
        # The reply as one stream, ``size`` bytes a tick (661 or 662 samples: the tick's parity). Cut at the
        # reply's own 30 ms marks instead (until session 23), a reply that began on an odd tick lost or gained a
        # sample every other frame of the reference (not of the echo): speex and the kept path ~10 dB under.
        chunk = self.reply22[self._at22 : self._at22 + size].ljust(size, b"\0")
        self._at22 += size
        far = self.reply16[pos * FRAME : (pos + 1) * FRAME]
        return chunk, np.concatenate([far, np.zeros(FRAME - len(far))])

    def _tick(self, pos: int | None, user: Array) -> tuple[bytes, bytes, Array]:
        """One frame: (cleaned, raw) and the user + noise part of the mic."""
        played, far = self._speaker_frame(pos)
        self.played.append(far)
        self._played_n += FRAME
        hist = np.concatenate(self.played[-(len(self.h) // FRAME + 3) :])
        echo = np.convolve(hist[-(FRAME + len(self.h) - 1) :], self.h, mode="valid")
        near = user + self.rng.standard_normal(FRAME) * 32768 * 10 ** (-60 / 20)
        raw = pcm(echo + near)
        chain = self.chain
        chain.trace.read = (self.frames + 1) * FRAME / RATE
        chain._mic_ms = (self.frames + 1) * 30.0
        chain._check_lag()
        cleaned, allow = chain._judge(raw, played)
        self._event = chain.detector.process(cleaned, allow)
        self.frames += 1
        return cleaned, raw, near

    def _kill(self) -> None:
        """The speaker is killed: what the card still held (the write-ahead) never plays."""
        unplayed = int(AHEAD_MS / 1000 * RATE)
        tail = np.concatenate(self.played[-(unplayed // FRAME + 2) :])
        tail[-unplayed:] = 0.0
        k = unplayed // FRAME + 2
        self.played[-k:] = [tail[i * FRAME : (i + 1) * FRAME] for i in range(k)]
        self.chain._abort_speaker("hold")

    def warm_up(self, seconds: float) -> None:
        """Replies nobody interrupts (the canceller converges; the judge comes to trust it)."""
        quiet = np.zeros(FRAME)
        for _ in range(int(GAP_S * RATE / FRAME)):
            self._tick(None, quiet)
        pos = 0
        while pos * FRAME < seconds * RATE:
            self._tick(pos % (len(self.reply16) // FRAME + int(GAP_S * RATE / FRAME)), quiet)
            pos += 1

    def turn(self, question: str, voice: Array, onset_s: float) -> Turn:
        """The reply from its start, the question (its voiced start ``onset_s`` in), the stream."""
        first, last = voiced_span(voice)
        level = float(np.sqrt(np.mean(np.square(voice[first:last][np.abs(voice[first:last]) > 30]))))
        voice = voice[first:last] * self.reply_level / max(level, 1.0)
        t = Turn(question, onset_s)
        begin = self.frames
        t.onset = (begin + int(onset_s * RATE / FRAME)) * FRAME + (int(onset_s * RATE) % FRAME)
        end = t.onset + len(voice) + int(END_S * RATE)
        user_all = np.zeros(end - begin * FRAME + FRAME)
        user_all[t.onset - begin * FRAME : t.onset - begin * FRAME + len(voice)] = voice
        cleaned_log: list[bytes] = []
        twin_log: list[bytes] = []
        near_log: list[Array] = []
        raw_log: list[bytes] = []
        pos: int | None = 0
        state = "speaking"
        stream: list[bytes] = []
        while self.frames * FRAME < end:
            i = self.frames - begin
            cleaned, raw, near = self._tick(pos if state == "speaking" else None, user_all[i * FRAME : (i + 1) * FRAME])
            cleaned_log.append(cleaned)
            raw_log.append(raw)
            if self.twin is not None:
                twin_log.append(self.twin._tick(pos if state == "speaking" else None, np.zeros(FRAME))[0])
            near_log.append(near)
            at = self.frames * FRAME
            if pos is not None:
                pos += 1
            if state == "speaking" and (self._event == VadEvent.START or self.chain.guard.onset):
                t.hold = at
                shadow = getattr(self.chain.frontend, "_shadow", None)
                if shadow is not None:  # the two cancellers on the echo alone, as the front end compares them
                    t.residual_db["shadow_erle"] = round(shadow.erle_db, 1)
                    t.residual_db["speex_erle"] = round(shadow.speex_erle_db, 1)
                self._kill()
                if self.twin is not None:
                    self.twin._kill()
                state = "held"
            if state == "held" and self._event == VadEvent.START:
                pre = self.chain._preroll(self.chain.detector.take_preroll(), 2 * FRAME, True)
                k = len(pre) // (2 * FRAME)
                t.start = at - k * FRAME
                stream = [pre]
                first_i = len(cleaned_log) - k
                lead_from = max(0, first_i - LEAD_FRAMES)
                t.lead = b"".join(cleaned_log[lead_from:first_i])
                flags = list(self.chain._allowed)[-(len(cleaned_log) - lead_from) :][: first_i - lead_from]
                t.lead_echo = [f == 0 for f in flags]  # speaker_path._HELD
                state = "streaming"
            elif state == "streaming":
                stream.append(cleaned)
            if state == "speaking" and pos is not None and pos * FRAME >= len(self.reply16):
                state = "missed"  # the reply ended: nobody held it
        on = (t.onset - begin * FRAME) // FRAME
        if on >= 17:  # the canceller on the echo alone, the 0.5 s before the onset
            before = [float(np.sum(np.square(np.frombuffer(x[j], "<i2").astype(np.float64))))
                      for x in (cleaned_log, raw_log) for j in range(on - 17, on)]
            t.erle_before_db = round(10 * np.log10(max(sum(before[17:]), 1.0) / max(sum(before[:17]), 1.0)), 1)
        if t.start is not None:
            t.stream = b"".join(stream)
            s0 = (t.start - begin * FRAME) // FRAME
            near_all = np.concatenate(near_log)
            t.user_span = pcm(near_all[s0 * FRAME : s0 * FRAME + len(t.stream) // 2])
            out = np.frombuffer(t.stream, "<i2").astype(np.float64)
            mine = near_all[s0 * FRAME : s0 * FRAME + len(out)]
            rel = t.onset - t.start
            for name, lo, hi in (("first_0.3s", rel, rel + int(0.3 * RATE)), ("rest", rel + int(0.3 * RATE), len(out))):
                a, b = max(0, lo), min(len(out), hi)
                if b - a > FRAME:
                    res = float(np.sum(np.square(out[a:b] - mine[a:b])))
                    sig = float(np.sum(np.square(mine[a:b])))
                    t.residual_db[name] = round(10 * np.log10(max(res, 1.0) / max(sig, 1.0)), 1)
                    if twin_log:  # the echo the canceller leaves without the user (no double talk)
                        echo = np.frombuffer(b"".join(twin_log), "<i2").astype(np.float64)[s0 * FRAME :][: len(out)]
                        alone = float(np.sum(np.square(echo[a:b])))
                        t.residual_db[name + "_alone"] = round(10 * np.log10(max(alone, 1.0) / max(sig, 1.0)), 1)
        quiet = np.zeros(FRAME)
        for _ in range(int(GAP_S * RATE / FRAME)):
            self._tick(None, quiet)
            if self.twin is not None:
                self.twin._tick(None, quiet)
        return t
