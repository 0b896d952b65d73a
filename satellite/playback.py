"""The speaker's buffer: reply audio (converted to the speaker's rate) mixed with tones.

Pure and synchronous. One call of :meth:`Playback.next_frame` per mic frame hands out the
speaker's share of that frame's time (silence when nothing plays); :meth:`stop` drops all
buffered audio at once (barge-in).
"""

from __future__ import annotations

import numpy as np

from voice_runtime.audio import AudioConverter, AudioFormat


class Playback:
    def __init__(self, rate: int, frame_ms: int) -> None:
        self.rate = rate
        self.fmt = AudioFormat(rate, 2, 1)
        self.frame_ms = frame_ms
        self._reply = bytearray()
        self._tone = bytearray()
        self._converter: AudioConverter | None = None
        self._ticks = 0
        self.played_reply_bytes = 0
        self.held = False  # the reply is paused (tones still play)

    @property
    def has_reply(self) -> bool:
        return bool(self._reply)

    @property
    def busy(self) -> bool:
        return bool(self._reply or self._tone)

    def start_reply(self, fmt: AudioFormat) -> None:
        if self._converter is not None:
            self._reply += self._converter.flush()
        self._converter = AudioConverter(fmt, self.fmt)

    def add_reply(self, pcm: bytes) -> None:
        if self._converter is None:
            raise ValueError("reply audio before audio-start")
        self._reply += self._converter.feed(pcm)

    def end_reply(self) -> None:
        if self._converter is not None:
            self._reply += self._converter.flush()
            self._converter = None

    def add_tone(self, pcm: bytes) -> None:
        self._tone += pcm

    def hold(self) -> None:
        self.held = True

    def resume(self) -> None:
        self.held = False

    def stop(self) -> int:
        """Drop everything buffered; returns how many bytes were dropped."""
        self.held = False
        dropped = len(self._reply) + len(self._tone)
        self._reply.clear()
        self._tone.clear()
        self._converter = None
        return dropped

    def next_frame(self) -> bytes:
        start = self._ticks * self.frame_ms * self.rate // 1000
        self._ticks += 1
        size = (self._ticks * self.frame_ms * self.rate // 1000 - start) * 2
        reply = b"" if self.held else bytes(self._reply[:size])
        del self._reply[:len(reply)]
        self.played_reply_bytes += len(reply)
        tone = bytes(self._tone[:size])
        del self._tone[:size]
        if not tone:
            return reply.ljust(size, b"\0")
        if not reply:
            return tone.ljust(size, b"\0")
        a = np.frombuffer(reply.ljust(size, b"\0"), "<i2").astype(np.int32)
        b = np.frombuffer(tone.ljust(size, b"\0"), "<i2").astype(np.int32)
        return bytes(np.clip(a + b, -32768, 32767).astype("<i2").tobytes())
