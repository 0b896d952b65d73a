"""The speaker's buffer: reply audio (converted to the speaker's rate) mixed with tones.

Pure and synchronous. One call of :meth:`Playback.next_frame` per mic frame hands out the
speaker's share of that frame's time (silence when nothing plays); :meth:`stop` drops all
buffered audio at once (barge-in).

Controller audio may be cut at any byte (odd lengths, a WAV header in front):
:class:`IncomingAudio` aligns it to whole sample frames (``voice_runtime.pcm.PcmAligner``)
before converting it, so any cut of a stream plays the same samples.
"""

from __future__ import annotations

import logging

import numpy as np

from voice_runtime.audio import AudioConverter, AudioFormat
from voice_runtime.pcm import PcmAligner

_LOGGER = logging.getLogger(__name__)


class IncomingAudio:
    """One controller audio stream (``audio-start`` … ``audio-stop``) → the speaker's format.

    Raises ``ValueError`` (``WavHeaderError``) for a stream that starts with a malformed WAV header.
    """

    def __init__(self, src: AudioFormat, dst: AudioFormat) -> None:
        self.src = src
        self.dst = dst
        self._aligner = PcmAligner(src.bytes_per_frame, wav_header=True)
        self._converter = AudioConverter(src, dst)
        self._header_seen = False

    def feed(self, data: bytes) -> bytes:
        frames = self._aligner.feed(data)
        header = self._aligner.header
        if header is not None and not self._header_seen:
            self._header_seen = True
            if header.fmt is not None and header.fmt != self.src:  # the WAV header knows best
                _LOGGER.info("audio has a WAV header saying %s (audio-start said %s)", header.fmt, self.src)
                self.src = header.fmt
                self._converter = AudioConverter(header.fmt, self.dst)
        return self._converter.feed(frames) if frames else b""

    def flush(self) -> bytes:
        return self._converter.feed(self._aligner.flush()) + self._converter.flush()


def quiet_tail(pcm: bytes | bytearray, level: int, max_bytes: int) -> int:
    """How many bytes at the end of ``pcm`` (16-bit mono) are no louder than ``level``, at most ``max_bytes``."""
    size = min(len(pcm), max_bytes) // 2 * 2
    if size == 0:
        return 0
    tail = np.abs(np.frombuffer(bytes(pcm[len(pcm) - size:]), "<i2").astype(np.int32))
    loud = np.flatnonzero(tail > level)
    return size if loud.size == 0 else (tail.size - 1 - int(loud[-1])) * 2


_PLAYED_SECONDS = 1.0  # the reply audio played last kept (to resume a cut reply from a pause: unheard)
_GAP_BLOCK_MS = 10
_GAP_MS = 40  # a pause between words: this long ...
_GAP_DB = -30.0  # ... this far under the loudest of the audio kept (or under _GAP_FLOOR)
_GAP_FLOOR = 60.0  # (RMS, 16-bit)


def last_gap(pcm: bytes | bytearray, rate: int) -> int:
    """The byte offset in ``pcm`` (16-bit mono at ``rate``) where the speech after its last pause
    (``_GAP_MS`` quiet) starts, a block of the pause kept before it; ``len(pcm)`` if it has none."""
    block = rate * _GAP_BLOCK_MS // 1000
    x = np.frombuffer(bytes(pcm[: len(pcm) // 2 * 2]), "<i2").astype(np.float64)
    blocks = len(x) // block
    if blocks == 0:
        return len(pcm)
    rms = np.sqrt(np.mean(x[: blocks * block].reshape(blocks, block) ** 2, axis=1))
    quiet = rms <= max(float(rms.max()) * 10 ** (_GAP_DB / 20), _GAP_FLOOR)
    need, run = -(-_GAP_MS // _GAP_BLOCK_MS), 0
    for i in range(blocks - 1, -1, -1):
        run = run + 1 if quiet[i] else 0
        if run >= need:
            end = i + run  # the first loud block after the pause (or the end)
            while end < blocks and quiet[end]:
                end += 1
            return min(len(pcm), max(0, end - 1) * block * 2)
    return len(pcm)


class Playback:
    def __init__(self, rate: int, frame_ms: int) -> None:
        self.rate = rate
        self.fmt = AudioFormat(rate, 2, 1)
        self.frame_ms = frame_ms
        self._played = bytearray()  # the reply audio handed out last (_PLAYED_SECONDS at most)
        self._reply = bytearray()
        self._tone = bytearray()
        self._incoming: IncomingAudio | None = None
        self._ticks = 0
        self.played_reply_bytes = 0
        self.held = False  # the reply is paused (tones still play)

    @property
    def has_reply(self) -> bool:
        return bool(self._reply)

    @property
    def buffered_ms(self) -> int:
        """Reply audio waiting to be played (held or not)."""
        return len(self._reply) * 1000 // (2 * self.rate)

    @property
    def busy(self) -> bool:
        return bool(self._reply or self._tone)

    def start_reply(self, fmt: AudioFormat) -> None:
        """Reply audio in ``fmt`` follows (a new reply, or a new segment of the current one)."""
        if not self._reply:
            self._played.clear()  # (what another reply played is no part of this one)
        self.end_reply()
        self._incoming = IncomingAudio(fmt, self.fmt)

    def add_reply(self, data: bytes) -> None:
        """Bytes of the current reply, cut anywhere. ValueError before ``start_reply`` or for a bad header."""
        if self._incoming is None:
            raise ValueError("reply audio before audio-start")
        self._reply += self._incoming.feed(data)

    def end_reply(self) -> None:
        if self._incoming is not None:
            self._reply += self._incoming.flush()
            self._incoming = None

    def add_pcm(self, pcm: bytes) -> None:
        """Audio already in the speaker's format (a queued announcement, a chime)."""
        self._reply += pcm

    def drop_quiet_tail(self, level: int, max_bytes: int) -> int:
        """Drop the buffered reply's trailing samples no louder than ``level`` (at most ``max_bytes``)."""
        drop = quiet_tail(self._reply, level, max_bytes)
        if drop:
            del self._reply[len(self._reply) - drop:]
        return drop

    def add_tone(self, pcm: bytes) -> None:
        self._tone += pcm

    def hold(self) -> None:
        self.held = True

    def resume(self) -> None:
        self.held = False

    def unheard(self) -> bytes:
        """The reply from where the user last heard a pause in it (within the last ``_PLAYED_SECONDS``
        played) to its end: to say the rest of a reply that was cut, from the start of the word it was
        cut in (what the speaker held when it was silenced never sounded)."""
        return bytes(self._played[last_gap(self._played, self.rate):]) + bytes(self._reply)

    def stop(self) -> int:
        """Drop everything buffered; returns how many bytes were dropped."""
        self.held = False
        dropped = len(self._reply) + len(self._tone)
        self._reply.clear()
        self._played.clear()
        self._tone.clear()
        self._incoming = None
        return dropped

    def clear_tones(self) -> None:
        """Drop queued tones only (an alarm that was stopped); the reply keeps playing."""
        self._tone.clear()

    def next_frame(self) -> bytes:
        start = self._ticks * self.frame_ms * self.rate // 1000
        self._ticks += 1
        size = (self._ticks * self.frame_ms * self.rate // 1000 - start) * 2
        reply = b"" if self.held else bytes(self._reply[:size])
        del self._reply[:len(reply)]
        self.played_reply_bytes += len(reply)
        if reply:
            self._played += reply
            del self._played[: -int(_PLAYED_SECONDS * self.rate) * 2]
        tone = bytes(self._tone[:size])
        del self._tone[:size]
        if not tone:
            return reply.ljust(size, b"\0")
        if not reply:
            return tone.ljust(size, b"\0")
        a = np.frombuffer(reply.ljust(size, b"\0"), "<i2").astype(np.int32)
        b = np.frombuffer(tone.ljust(size, b"\0"), "<i2").astype(np.int32)
        return bytes(np.clip(a + b, -32768, 32767).astype("<i2").tobytes())
