"""Audio byte streams cut anywhere: whole frames out, a WAV header at the start skipped.

The Wyoming protocol does not promise sample-aligned ``audio-chunk``s. Home Assistant's STT
upload forwards the HTTP body as it arrives: a WAV file (header included) cut at arbitrary
places, 1 byte to tens of KB per chunk, many of odd length. :class:`PcmAligner` turns such a
stream into whole PCM frames: it carries a partial frame over to the next chunk and, when
the stream begins with a RIFF/WAVE header, parses it (``fmt `` tells the real format) and
drops everything up to the start of the ``data`` chunk.

Pure and synchronous; no asyncio, no wyoming.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .audio import AudioFormat

# A header bigger than this (fmt + LIST/INFO chunks etc.) is not a header we accept.
MAX_HEADER_BYTES = 64 * 1024
_RIFF = b"RIFF"
_WAVE = b"WAVE"


class WavHeaderError(ValueError):
    """The stream starts like a WAV file but its header is malformed or too large."""


@dataclass(frozen=True)
class WavHeader:
    fmt: AudioFormat | None  # None when the header had no usable PCM ``fmt `` chunk
    header_bytes: int  # bytes before the first audio byte


def parse_wav_header(data: bytes) -> WavHeader | None:
    """The header at the start of ``data``, or None if more bytes are needed to find it.

    ``data`` must start with ``RIFF....WAVE``. Raises :class:`WavHeaderError` for a
    malformed header (a non-PCM ``fmt ``, a chunk that runs past the size cap).
    """
    pos = 12
    fmt: AudioFormat | None = None
    while True:
        if pos > MAX_HEADER_BYTES:
            raise WavHeaderError(f"WAV header longer than {MAX_HEADER_BYTES} bytes")
        if len(data) < pos + 8:
            return None
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if chunk_id == b"data":
            return WavHeader(fmt, pos + 8)
        body_end = pos + 8 + size + (size & 1)  # chunks are padded to an even length
        if body_end > MAX_HEADER_BYTES:
            raise WavHeaderError(f"WAV chunk {chunk_id!r} of {size} bytes before the audio")
        if len(data) < body_end:
            return None
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[pos + 8 : pos + 8 + size])
        pos = body_end


def _parse_fmt(body: bytes) -> AudioFormat:
    if len(body) < 16:
        raise WavHeaderError("WAV 'fmt ' chunk shorter than 16 bytes")
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the subformat decides
        (tag,) = struct.unpack_from("<H", body, 24)
    if tag != 1:
        raise WavHeaderError(f"WAV audio is not PCM (format tag {tag})")
    try:
        return AudioFormat(rate, bits // 8, channels)
    except ValueError as err:
        raise WavHeaderError(f"WAV format not supported: {err}") from err


class PcmAligner:
    """Feed bytes cut anywhere; get whole frames of ``frame_bytes`` back.

    With ``wav_header`` (the default) a RIFF/WAVE header at the very start of the stream is
    skipped and kept in :attr:`header`; bytes that merely look like a header prefix are held
    until it is clear (at most 12 bytes, or :data:`MAX_HEADER_BYTES` inside a real header).
    """

    def __init__(self, frame_bytes: int, *, wav_header: bool = True) -> None:
        if frame_bytes < 1:
            raise ValueError("frame_bytes must be at least 1")
        self.frame_bytes = frame_bytes
        self.header: WavHeader | None = None
        self._sniffing = wav_header
        self._head = bytearray()  # bytes held while deciding whether a header starts the stream
        self._rest = b""  # a partial frame carried to the next chunk

    @property
    def pending(self) -> int:
        """Bytes held back (a partial frame, or a header still being read)."""
        return len(self._head) + len(self._rest)

    def set_frame_bytes(self, frame_bytes: int) -> None:
        """Change the frame size (e.g. the WAV header named another format); before any audio."""
        if frame_bytes < 1:
            raise ValueError("frame_bytes must be at least 1")
        self.frame_bytes = frame_bytes

    def feed(self, data: bytes) -> bytes:
        """Whole frames from ``data`` (plus what was held). Raises WavHeaderError."""
        if self._sniffing:
            self._head += data
            data = self._sniff()
            if self._sniffing:
                return b""
        joined = self._rest + data if self._rest else data
        usable = len(joined) - len(joined) % self.frame_bytes
        self._rest = joined[usable:]
        return joined[:usable]

    def flush(self) -> bytes:
        """At the end of the stream: held bytes that were not a header, as whole frames.

        A trailing partial frame cannot be played or decoded and is dropped.
        """
        if self._sniffing:
            self._sniffing = False
            held, self._head = bytes(self._head), bytearray()
            if held.startswith(_RIFF):
                return b""  # a header cut short: no audio followed it
            return self.feed(held)
        self._rest = b""
        return b""

    def _sniff(self) -> bytes:
        """Decide about the header once enough bytes are in; returns the audio after it."""
        head = bytes(self._head)
        probe = head[:12]
        if not (_RIFF.startswith(probe[:4]) and (len(probe) <= 8 or _WAVE.startswith(probe[8:12]))):
            return self._stop_sniffing(0)  # not a header: everything is audio
        if len(head) < 12:
            return b""  # could still be one
        found = parse_wav_header(head)
        if found is None:
            if len(head) > MAX_HEADER_BYTES:
                raise WavHeaderError(f"no WAV 'data' chunk in the first {MAX_HEADER_BYTES} bytes")
            return b""
        self.header = found
        if found.fmt is not None:
            self.frame_bytes = found.fmt.bytes_per_frame
        return self._stop_sniffing(found.header_bytes)

    def _stop_sniffing(self, skip: int) -> bytes:
        self._sniffing = False
        audio = bytes(self._head[skip:])
        self._head = bytearray()
        return audio
