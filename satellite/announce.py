"""Announcements: controller audio that arrives outside a turn.

Home Assistant's ``assist_satellite.announce`` (2026.2.3) sends ``audio-start`` (22050 Hz,
16-bit mono), ``audio-chunk``s read from ffmpeg (at most 2048 bytes each, any length, odd
ones included), ``audio-stop``, then waits up to the audio's length + 0.5 s for ``played``.
It does not send its pre-announcement sound to Wyoming satellites, so the satellite plays
its own chime (``--no-announce-chime`` turns that off) right before the first audio, not at
``audio-start``: HA sends ``audio-start`` at once and the audio only when its TTS and ffmpeg are
done (6.5 s later for 6.93 s of speech at load 10, session 10), and a chime seconds before the
words sounds like a false alarm.

An announcement's trailing near-silence (TTS ends every sentence with 0.1-0.2 s of it; Piper
0.10-0.18 s below -50 dBFS) is not played: ``played`` goes out after the last audible sample, which
is what the listener hears as the end (at most ``quiet_tail_seconds`` are dropped, each sample no
louder than ``quiet_level``). HA 2026.2.3 returns the service call on ``played``.

Pure and synchronous. Each announcement is a :class:`Clip` (converted to the speaker's
format as it arrives). The one playing streams straight into the speaker; ones that arrive
while a turn or another announcement is in progress wait here, at most ``max_waiting`` of
them (when full, the oldest waiting one is dropped, logged) and ``max_seconds`` each (longer
audio is cut, logged).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from voice_runtime.audio import AudioFormat

from .playback import IncomingAudio, quiet_tail

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnounceConfig:
    chime: bool = True
    max_waiting: int = 4
    max_seconds: float = 120.0
    quiet_tail_seconds: float = 0.5  # trailing near-silence not played (0: play every sample)
    quiet_level: int = 104  # -50 dBFS: at most this loud counts as silence


class Clip:
    def __init__(self, incoming: IncomingAudio, max_bytes: int) -> None:
        self.incoming = incoming
        self.pcm = bytearray()  # waiting audio (moved into playback when it starts)
        self.complete = False
        self.chimed = False  # the chime went ahead of its first audio
        self.max_bytes = max_bytes
        self.received = 0

    def take(self, pcm: bytes) -> bytes:
        """Count ``pcm`` against the size cap; returns what may be kept."""
        room = max(0, self.max_bytes - self.received)
        if len(pcm) > room > 0:
            _LOGGER.warning("announcement longer than the cap: cut")
        self.received += min(len(pcm), room)
        return pcm[:room]


class Announcements:
    def __init__(self, config: AnnounceConfig, speaker: AudioFormat, chime: bytes = b"") -> None:
        self.config = config
        self.speaker = speaker
        self.chime = chime if config.chime else b""  # played right before an announcement's first audio
        self._waiting: deque[Clip] = deque()
        self._receiving: Clip | None = None
        self.playing: Clip | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def start(self, fmt: AudioFormat) -> None:
        """``audio-start`` of a new announcement: it joins the queue (end the previous one first)."""
        if self._receiving is not None and not self._receiving.complete:
            self.stop()
        clip = Clip(IncomingAudio(fmt, self.speaker), self.speaker.frames_bytes(self.config.max_seconds))
        if len(self._waiting) >= self.config.max_waiting:
            self._waiting.popleft()
            _LOGGER.warning("%d announcements waiting: dropped the oldest", self.config.max_waiting)
        self._waiting.append(clip)
        self._receiving = clip

    def audio(self, data: bytes) -> bytes:
        """An ``audio-chunk`` of the announcement being received: bytes to play now (if it is playing)."""
        clip = self._receiving
        if clip is None:
            return b""
        first = clip.received == 0
        pcm = clip.take(clip.incoming.feed(data))
        if first and pcm:  # when the controller's audio came (HA: its TTS + ffmpeg after audio-start)
            _LOGGER.info("announcement first audio (%s)", "playing" if clip is self.playing else "waiting")
        if clip is self.playing:
            return self._lead_in(clip, pcm)
        clip.pcm += pcm
        return b""

    def _lead_in(self, clip: Clip, pcm: bytes) -> bytes:
        """``pcm`` of the playing ``clip``, with the chime ahead of its first audio."""
        if pcm and not clip.chimed:
            clip.chimed = True
            return self.chime + pcm
        return pcm

    @property
    def quiet_tail_bytes(self) -> int:
        return self.speaker.frames_bytes(self.config.quiet_tail_seconds)

    def stop(self) -> tuple[bytes, bool]:
        """``audio-stop``: (the tail to play now, whether the playing announcement is now complete).

        A waiting announcement loses its trailing near-silence here; the playing one's is still in the
        speaker's buffer (:meth:`satellite.playback.Playback.drop_quiet_tail`)."""
        clip, self._receiving = self._receiving, None
        if clip is None:
            return b"", False
        clip.complete = True
        tail = clip.take(clip.incoming.flush())
        if clip is self.playing:
            return self._lead_in(clip, tail), True
        clip.pcm += tail
        drop = quiet_tail(clip.pcm, self.config.quiet_level, self.quiet_tail_bytes)
        del clip.pcm[len(clip.pcm) - drop:]
        return b"", False

    def next(self) -> tuple[Clip, bytes] | None:
        """The next waiting announcement, which becomes the playing one, and what to play of it now: its
        audio so far after the chime, or nothing (the chime waits for the first audio)."""
        if not self._waiting:
            return None
        clip = self._waiting.popleft()
        self.playing = clip
        pcm = self._lead_in(clip, bytes(clip.pcm))
        clip.pcm.clear()
        return clip, pcm

    def finish(self) -> None:
        """The playing announcement was played out or cut: any rest still arriving is ignored."""
        if self._receiving is not None and self._receiving is self.playing:
            self._receiving = None
        self.playing = None

    def drop_waiting(self) -> None:
        """Forget every waiting announcement (the controller is gone); the playing one plays on."""
        self._waiting.clear()
        if self._receiving is not self.playing:
            self._receiving = None
