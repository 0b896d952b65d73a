"""The talker gate: after a wake word, only the talker who said it is streamed.

A TV or someone across the room is speech to every VAD (Silero scores background speech 35 dB
under a request as speech: ``bench/results/turn_background.md``), so a session opened by the
wake word turned the TV's "... Turn off the lights." into a request. The wake word gives what
the VAD lacks, a reference: the level at the mic of the person who opened the session. After
the detection, a frame whose level stays ``under_db`` or more under that reference is streamed
as digital silence, so any STT (ours or Home Assistant's) and the satellite's own VAD hear only
the talker. The gate opens on the first frame within ``under_db`` of the reference, sends the
``preroll_seconds`` before it as heard (a soft onset) and stays open ``hangover_seconds`` after
the last such frame (word ends, soft syllables).

Every mic frame is streamed once, at its own place (session 18; before, the pre-roll went out a
second time when the gate opened, after its silence, stamped with the opening's time): while the
gate is shut it holds back the frames an opening could still send as heard (``preroll_seconds``,
and before the talker was first heard the opening window too), so the stream runs up to
:attr:`TalkerGate.lag` frames behind the mic; the opening sends them as heard, or they go as
silence once no opening can reach them. A frame at the room's floor ends that early: an onset
does not reach back past it (heard or filled, it is the same noise), so in a quiet room the
stream is not behind during a pause and an end of turn is not found later for the gate.

A turn opened without the wake word (a follow-up after a reply that asked a question, or a
continuation right after the controller ended the question) is gated against the last wake word's
level when that came within ``conversation_seconds`` (:meth:`TalkerGate.arm_on`; as after the wake
word, minus its tail: the pre-roll that opened the turn goes through the gate too). In one live
room run a TV 25 dB under the talker opened most such turns (session 18): keyed to their own first
words they were keyed to the TV. Without a recent wake word, against the level of the turn's first
words (the pre-roll and its first ``reference_seconds``, the reference rising with them). Without
a wake word at all (``--no-wake-word``) the gate is never armed.

Between the turns of a conversation (within ``conversation_seconds`` of the wake word) the VAD hears
the gate too: a frame ``open_db`` or more under the wake word's level is the room (what the gate
fills silence with) unless one within came in the last ``hangover_seconds``, so nobody far under
the talker starts a turn without the wake word: not a continuation right after the question, not a
barge-in over the reply, not a follow-up (session 20: in a live room run a TV 25 dB under the
talker opened 7 such turns in 20 slots that the gate never opened for; each delayed
the reply by 2-4 s, and two replies were still owed when the next wake word came). The turn such
speech does start gets its pre-roll as the mic heard it (:meth:`TalkerGate.begin`), so a soft
onset under the bar is not lost: the streaming gate then decides on it as before.

Pure and synchronous (numpy only): :class:`satellite.core.Satellite` calls :meth:`TalkerGate.arm`
when a wake word starts a turn (:meth:`TalkerGate.arm_on` for a follow-up), :meth:`TalkerGate.step`
on every frame (``listen`` outside that turn's stream, ``process`` in it, ``disarm`` when it ends)
and :meth:`TalkerGate.flush` when the stream ends; the VAD hears :attr:`TalkerGate.now`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from voice_runtime.audio import rms_dbfs

_LOGGER = logging.getLogger(__name__)
_FLOOR_DB = -120.0  # the level of digital silence
_RECENT_SECONDS = 3.0  # between turns, the frames kept to restore a turn's pre-roll (VAD's 0.6 s + a hold)


@dataclass(frozen=True)
class TalkerGateConfig:
    # Chosen by bench/turn_talker.py (bench/results/turn_background.md, session 17).
    open_db: float = 12.0  # the first opening: a frame within this of the wake word's level (0: gate off)
    keep_db: float = 20.0  # once the talker was heard: frames this far under the wake word are silence
    open_frames: int = 3  # the first opening needs this many frames over open_db ...
    open_window_seconds: float = 0.3  # ... within this long (a TV's loudest syllables are rarely as many)
    hangover_seconds: float = 0.3  # open this long after the last frame over the bar
    preroll_seconds: float = 0.09  # sent as heard when the gate opens (before the first frame over)
    tail_seconds: float = 0.3  # after the detection the wake word's own end is silence, at most this long
    tail_drop_db: float = 18.0  # the wake word has ended at the first frame this far under its level
    reference_seconds: float = 1.5  # the audio up to the detection that holds the wake word
    reference_frames: int = 5  # the reference: the mean power of this many loudest frames in it
    floor_seconds: float = 3.0  # the room's noise floor (what silence is filled with): from this much audio
    floor_margin_db: float = 6.0  # a frame within this of the floor is the room: no onset reaches back past it
    conversation_seconds: float = 60.0  # a turn without the wake word this soon after one is keyed to its level

    def __post_init__(self) -> None:
        if self.open_db < 0 or self.keep_db < self.open_db and self.open_db > 0:
            raise ValueError("talker gate: 0 <= open_db <= keep_db")
        if min(self.hangover_seconds, self.preroll_seconds, self.tail_seconds) < 0:
            raise ValueError("talker gate hangover, pre-roll and tail must not be negative")
        if self.reference_frames < 1 or self.open_frames < 1:
            raise ValueError("talker gate reference_frames and open_frames must be at least 1")

    @property
    def enabled(self) -> bool:
        return self.open_db > 0


def frame_db(frame: bytes) -> float:
    """A 16-bit PCM frame's power in dBFS (digital silence: ``_FLOOR_DB``)."""
    return max(rms_dbfs(frame), _FLOOR_DB)


class TalkerGate:
    """Feed every mic frame; while armed, :meth:`process` returns what to stream for it.

    Armed, it goes through three phases: the wake word's tail (silence until its level drops),
    waiting for the talker (silence until a frame comes within ``open_db`` of the wake word), then
    a level gate at ``keep_db`` with hangover and pre-roll.
    """

    def __init__(self, config: TalkerGateConfig, frame_seconds: float) -> None:
        self.config = config
        self._reference_frames = max(1, round(config.reference_seconds / frame_seconds))
        self._history: deque[float] = deque(
            maxlen=max(self._reference_frames, round(config.floor_seconds / frame_seconds))
        )
        self._rng = np.random.default_rng(0)
        self._floor_frames = max(1, round(config.floor_seconds / frame_seconds / 2))  # enough to tell the floor
        self._room_db = _FLOOR_DB  # the room's last floor estimate (digital silence until there is one)
        self._fill_rms = 0.0  # armed: the comfort noise's RMS (full scale 1.0)
        self._floor_db = _FLOOR_DB  # armed: the room's level
        self._frame_bytes = 2 * round(16000 * frame_seconds)  # 16 kHz 16-bit mono
        self._frame_seconds = frame_seconds
        self._preroll_frames = round(config.preroll_seconds / frame_seconds)
        self._window_frames = max(1, round(config.open_window_seconds / frame_seconds))
        # shut: the frames not streamed yet (as heard, as silence, over the bar), oldest first
        self._held: deque[tuple[bytes, bytes, bool]] = deque(maxlen=self._preroll_frames + self._window_frames)
        self._hangover_frames = round(config.hangover_seconds / frame_seconds)
        self._tail_frames = round(config.tail_seconds / frame_seconds)
        self.reference_db: float | None = None  # armed: the wake word's level
        self._learning = 0  # a follow-up: the reference still rises with the turn's first frames
        self._top: list[float] = []  # ... the loudest frames so far (powers, full scale 1.0)
        self._conversation_frames = round(config.conversation_seconds / frame_seconds)
        self._wake_db: float | None = None  # the last wake word's level ...
        self._since_wake = 0  # ... this many frames ago
        self._open_for = 0  # frames the gate stays open
        self._in_tail = False  # the wake word's end, after the detection
        self.heard = False  # the talker has been heard in this turn (the gate opened)
        self.opened = 0  # openings in this turn
        self.gated_frames = 0  # frames streamed as silence in this turn
        self.frames = 0  # frames of this turn
        self.now = b""  # the last frame as the VAD should hear it (as heard, or silence)
        self._between_open = 0  # between turns: frames the VAD still hears as they are
        # between turns: (what the VAD heard, the frame), the last first; a turn's pre-roll is restored from it
        self._recent: deque[tuple[bytes, bytes]] = deque(maxlen=round(_RECENT_SECONDS / frame_seconds))

    @property
    def armed(self) -> bool:
        return self.reference_db is not None

    @property
    def lag(self) -> int:
        """Frames held back: the last frame :meth:`process` returned is this many frames old."""
        return len(self._held)

    def step(self, frame: bytes, gating: bool) -> list[bytes]:
        """The turn driver's one call per frame: ``gating`` while an armed turn streams."""
        if gating and self.armed:
            self._recent.clear()
            self._between_open = 0  # (the hangover of the wake word that began the turn does not outlast it)
            return self.process(frame)
        if self.armed:
            self.disarm()
        self.listen(frame)
        self.now = self._between(frame)
        return [frame]

    @property
    def in_conversation(self) -> bool:
        """A wake word came within ``conversation_seconds``: turns without one are keyed to its level."""
        return self.config.enabled and self._wake_db is not None and self._since_wake <= self._conversation_frames

    def _between(self, frame: bytes) -> bytes:
        """Between turns: what the VAD hears of ``frame`` (the room when far under the last wake word)."""
        if not self.in_conversation or self._wake_db is None:
            self._recent.clear()
            return frame
        if frame_db(frame) >= self._wake_db - self.config.open_db:
            self._between_open = self._hangover_frames + 1
        if self._between_open:
            self._between_open -= 1
            heard = frame
        else:
            heard = self._silence(frame)
        self._recent.append((heard, frame))
        return heard

    def _restore(self, frames: list[bytes]) -> list[bytes]:
        """``frames`` (a pre-roll the VAD collected between turns, the last frame last) as the mic heard them."""
        out = list(frames)
        recent = list(self._recent)
        for k in range(1, min(len(out), len(recent)) + 1):
            heard, frame = recent[-k]
            if out[-k] != heard:
                break  # not what the VAD heard here (the wake word's pre-roll, a hold's frames): as it is
            out[-k] = frame
        self._recent.clear()
        return out

    def begin(self, preroll: bytes, wake_word: bool) -> bytes:
        """A turn starts with ``preroll`` (whole frames): armed for it (:meth:`arm` at a wake word,
        else :meth:`arm_on`), what to stream of it now."""
        size = self._frame_bytes
        frames = self._restore([preroll[i : i + size] for i in range(0, len(preroll), size)])
        preroll = b"".join(frames)
        if not wake_word:
            if self.arm_on(frames) is None or self.heard:
                return preroll  # keyed to its first words: they are the talker
            return b"".join(b"".join(self.process(f)) for f in frames)  # keyed to the wake word: gated
        if self.arm() is None:
            return preroll
        return b"".join(b"".join(self.process(f)) for f in frames)  # the wake word's end: its tail

    def listen(self, frame: bytes) -> None:
        """Every frame outside a gated turn: the wake word's level is taken from these."""
        self._history.append(frame_db(frame))
        self._since_wake += 1

    def levels(self) -> list[float]:
        """The levels (dBFS) of the last frames heard, oldest first: what :meth:`arm` is keyed to."""
        return list(self._history)

    def recall(self, levels: Iterable[float]) -> None:
        """``levels`` (from :meth:`levels`) are the last frames heard again: a wake word heard in a turn that ended
        before the turn restarted at it (its end cleared them; satellite.wake_restart)."""
        self._history.clear()
        self._history.extend(levels)

    def arm(self) -> float | None:
        """At a wake word: the reference is the mean power of the loudest frames just heard."""
        if not self.config.enabled or not self._history:
            return None
        levels = list(self._history)
        self._top = [10 ** (d / 10) for d in sorted(levels[-self._reference_frames :])[-self.config.reference_frames :]]
        self._start(self._room(), tail=True)
        self._wake_db, self._since_wake = self.reference_db, 0
        return self.reference_db

    def arm_on(self, first: list[bytes]) -> float | None:
        """A turn without a wake word (``first``: the pre-roll that started it). Within
        ``conversation_seconds`` of a wake word the reference is that wake word's level (no tail;
        waiting for the talker as after it). Else it is ``first``, then rising with the turn's
        first ``reference_seconds``; the talker is speaking: no waiting for an opening."""
        if not self.config.enabled or not first:
            return None
        floor = self._room()
        if self._wake_db is not None and self._since_wake <= self._conversation_frames:
            self._top = [10 ** (self._wake_db / 10)]
            self._start(floor, tail=False, keyed="the last wake word")
            return self.reference_db
        self._top = sorted(10 ** (frame_db(f) / 10) for f in first)[-self.config.reference_frames :]
        self._start(floor, tail=False, keyed="first words")
        self._learning = self._reference_frames
        self.heard = True
        self._open_for = self._hangover_frames
        return self.reference_db

    def _room(self) -> float:
        """The room's noise floor (what gated frames are filled with): the 10th percentile of the levels
        heard, once there are enough of them (``floor_seconds`` / 2); else the last such estimate (if any). Right
        after a turn the history holds only the talker's last frames: a floor from those made the fill
        loud (session 19's live run: "room -38.7 dBFS" and "-24.7 dBFS" for continuations in a room at
        -55), and the satellite's VAD, whose noise estimate is the room's, heard -38.7 dBFS of noise as
        speech: the turn streamed 8.8 s of it (turn 24), until the next wake word."""
        levels = list(self._history)
        if len(levels) >= self._floor_frames or (levels and self._room_db == _FLOOR_DB):  # (or all there is)
            self._room_db = sorted(levels)[len(levels) // 10]
        return self._room_db

    def _start(self, floor: float, *, tail: bool, keyed: str = "wake word") -> None:
        self._floor_db = floor
        self._fill_rms = 10 ** (floor / 20) if floor > _FLOOR_DB else 0.0
        self.reference_db = 10.0 * float(np.log10(np.mean(self._top)))
        self._learning = 0
        self._open_for = 0
        self._in_tail = tail
        self._held.clear()
        self.heard = False
        self.opened = self.gated_frames = self.frames = 0
        _LOGGER.info(
            "talker gate armed (%s): talker at %.1f dBFS, room %.1f dBFS; silence until a frame over "
            "%.1f dBFS, then under %.1f dBFS",
            keyed,
            self.reference_db,
            floor,
            self.reference_db - self.config.open_db,
            self.reference_db - self.config.keep_db,
        )

    def disarm(self) -> None:
        if self.reference_db is not None and self.frames:
            _LOGGER.info(
                "talker gate: %d of %d frames streamed as silence, %d openings, talker heard: %s",
                self.gated_frames,
                self.frames,
                self.opened,
                self.heard,
            )
        self.reference_db = None
        self._held.clear()
        self._history.clear()  # the next reference is the next wake word's alone

    def flush(self) -> list[bytes]:
        """The stream ends: the frames still held back, as silence (no opening came for them)."""
        return self._release(len(self._held))

    def process(self, frame: bytes) -> list[bytes]:
        """The frames to stream now, oldest first, the last :attr:`lag` frames before ``frame``:
        none (held back), silence, or (opening) the held pre-roll as heard and ``frame``."""
        self.now = frame
        if self.reference_db is None:
            return [frame]
        self.frames += 1
        self._since_wake += 1
        level = frame_db(frame)
        self._history.append(level)  # (a wake word heard in the turn re-arms it: satellite.wake_turn)
        if self._learning:  # a follow-up's first words: the reference rises with them
            self._learning -= 1
            self._top = sorted([*self._top, 10 ** (level / 10)])[-self.config.reference_frames :]
            self.reference_db = max(self.reference_db, 10.0 * float(np.log10(np.mean(self._top))))
        if self._in_tail:
            if self.frames <= self._tail_frames and level >= self.reference_db - self.config.tail_drop_db:
                self.now = self._silence(frame)
                self.gated_frames += 1
                return [self.now]  # still the wake word
            self._in_tail = False
        over = level >= self.reference_db - (self.config.keep_db if self.heard else self.config.open_db)
        if self._open_for:  # open: hangover after the last frame over the bar
            self._open_for = self._hangover_frames if over else self._open_for - 1
            return [frame]
        self.now = self._silence(frame)
        self._held.append((frame, self.now, over))
        held = list(self._held)
        window = held[-self._window_frames :]
        if sum(o for _, _, o in window) < (self.config.open_frames if not self.heard else 1):
            # shut: what an opening can no longer send as heard goes now, as silence
            if not any(o for _, _, o in held) and level <= self._floor_db + self.config.floor_margin_db:
                return self._release(len(held))  # the room: no onset reaches back past it
            reach = self._preroll_frames + (0 if self.heard else self._window_frames - 1)
            return self._release(len(held) - reach)
        # Opening: from ``preroll_seconds`` before the first frame over the bar, as heard.
        first = len(held) - len(window) + next(i for i, (_, _, o) in enumerate(window) if o)
        out = self._release(first - self._preroll_frames)
        out += [f for f, _, _ in self._held]
        self._held.clear()
        self.now = frame
        if not self.opened:  # (when the talker is first heard: how late a soft onset opens it, in the logs)
            _LOGGER.info("talker gate opened %.2f s into the turn's audio (its pre-roll too)",
                         self.frames * self._frame_seconds)
        self.opened += 1
        self.heard = True
        self._open_for = self._hangover_frames
        return out

    def _release(self, count: int) -> list[bytes]:
        """The ``count`` oldest held frames, as silence."""
        out = [self._held.popleft()[1] for _ in range(max(0, min(count, len(self._held))))]
        self.gated_frames += len(out)
        return out

    def _silence(self, frame: bytes) -> bytes:
        """What a gated frame is streamed as: white noise at the room's floor (digital silence
        between noisy speech made Silero miss a soft "What time is it?" under -40 dBFS noise)."""
        if not self._fill_rms:
            return bytes(len(frame))
        noise = self._rng.standard_normal(len(frame) // 2) * (self._fill_rms * 32767)
        out: bytes = np.clip(noise, -32768, 32767).astype("<i2").tobytes()
        return out
