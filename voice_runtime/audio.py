"""PCM audio conversion: any rate/width/channels to what an engine needs.

Whole-buffer conversion (:func:`convert`) and a streaming converter
(:class:`AudioConverter`) that carries filter and phase state across chunks, so chunked
conversion equals whole-buffer conversion.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
_TAPS = 31


@dataclass(frozen=True)
class AudioFormat:
    rate: int
    width: int
    channels: int

    def __post_init__(self) -> None:
        if not 1000 <= self.rate <= 384_000:
            raise ValueError(f"unsupported sample rate {self.rate}")
        if self.width not in (1, 2, 4):
            raise ValueError(f"unsupported sample width {self.width}")
        if not 1 <= self.channels <= 16:
            raise ValueError(f"unsupported channel count {self.channels}")

    @property
    def bytes_per_frame(self) -> int:
        return self.width * self.channels

    def seconds(self, nbytes: int) -> float:
        return nbytes / (self.rate * self.bytes_per_frame)

    def frames_bytes(self, seconds: float) -> int:
        return int(seconds * self.rate) * self.bytes_per_frame


PCM16_MONO_16K = AudioFormat(16000, 2, 1)


def to_float(pcm: bytes, width: int, channels: int) -> FloatArray:
    """Interleaved PCM to float32 of shape (frames, channels) in [-1, 1]."""
    usable = len(pcm) - len(pcm) % (width * channels)
    raw = pcm[:usable]
    if width == 2:
        ints: npt.NDArray[np.float32] = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        ints = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif width == 1:
        ints = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        raise ValueError(f"unsupported sample width {width}")
    return ints.reshape(-1, channels)


def from_float(samples: FloatArray, width: int) -> bytes:
    """Float samples (any shape, interleaved order) to little-endian PCM."""
    clipped = np.clip(samples.reshape(-1), -1.0, 1.0)
    if width == 2:
        return np.round(clipped * 32767.0).astype("<i2").tobytes()
    if width == 4:
        return np.round(clipped.astype(np.float64) * 2147483647.0).astype("<i4").tobytes()
    if width == 1:
        return np.round(clipped * 127.0 + 128.0).astype(np.uint8).tobytes()
    raise ValueError(f"unsupported sample width {width}")


def _lowpass(src_rate: int, dst_rate: int) -> FloatArray | None:
    if dst_rate >= src_rate:
        return None
    cutoff = 0.5 * dst_rate / src_rate * 0.9  # cycles per input sample
    n = np.arange(_TAPS) - (_TAPS - 1) / 2
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(_TAPS)
    result: FloatArray = (taps / taps.sum()).astype(np.float32)
    return result


def _remix(samples: FloatArray, channels: int) -> FloatArray:
    if samples.shape[1] == channels:
        return samples
    mono = samples.mean(axis=1, keepdims=True, dtype=np.float32)
    return np.repeat(mono, channels, axis=1) if channels > 1 else mono


class AudioConverter:
    """Streaming converter from ``src`` to ``dst``; call :meth:`feed` per chunk, then :meth:`flush`."""

    def __init__(self, src: AudioFormat, dst: AudioFormat) -> None:
        self.src = src
        self.dst = dst
        self._taps = _lowpass(src.rate, dst.rate)
        self._history = np.zeros((_TAPS - 1, dst.channels), dtype=np.float32)
        self._pending = np.zeros((0, dst.channels), dtype=np.float32)
        self._pos = 0.0  # position of the next output sample, in input samples from _pending[0]
        self._step = src.rate / dst.rate
        self._remainder = b""
        self._delay_flushed = False

    @property
    def passthrough(self) -> bool:
        return self.src == self.dst

    def feed(self, pcm: bytes) -> bytes:
        """Converted audio for ``pcm``; a partial frame at its end is carried to the next call
        (chunks may be cut anywhere, even in passthrough)."""
        data = self._remainder + pcm if self._remainder else pcm
        usable = len(data) - len(data) % self.src.bytes_per_frame
        self._remainder = data[usable:]
        if self.passthrough:
            return data[:usable]
        samples = _remix(to_float(data[:usable], self.src.width, self.src.channels), self.dst.channels)
        return from_float(self._resample(samples, final=False), self.dst.width)

    def flush(self) -> bytes:
        if self.passthrough:
            return b""
        delay = (_TAPS - 1) // 2 if self._taps is not None else 0
        tail = np.zeros((delay, self.dst.channels), dtype=np.float32)
        return from_float(self._resample(tail, final=True), self.dst.width)

    def _filter(self, samples: FloatArray) -> FloatArray:
        if self._taps is None or len(samples) == 0:
            return samples
        joined = np.concatenate([self._history, samples])
        self._history = joined[-(_TAPS - 1):]
        out = np.empty_like(samples)
        for ch in range(samples.shape[1]):
            out[:, ch] = np.convolve(joined[:, ch], self._taps, mode="valid")
        return out

    def _resample(self, samples: FloatArray, *, final: bool) -> FloatArray:
        filtered = self._filter(samples)
        if self.src.rate == self.dst.rate:
            return filtered
        buf = np.concatenate([self._pending, filtered])
        limit = len(buf) - (0 if final else 1)
        if limit <= 0 or self._pos >= limit:
            self._pending = buf
            return np.zeros((0, self.dst.channels), dtype=np.float32)
        count = int(np.ceil((limit - self._pos) / self._step))
        times = self._pos + self._step * np.arange(count)
        times = times[times < limit]
        idx = np.arange(len(buf))
        out = np.stack([np.interp(times, idx, buf[:, ch]) for ch in range(buf.shape[1])], axis=1)
        next_pos = self._pos + self._step * len(times)
        drop = min(int(next_pos), len(buf))
        self._pending = buf[drop:]
        self._pos = next_pos - drop
        return out.astype(np.float32)


def convert(pcm: bytes, src: AudioFormat, dst: AudioFormat) -> bytes:
    """Convert a whole buffer."""
    conv = AudioConverter(src, dst)
    return conv.feed(pcm) + conv.flush()


def read_wav(path: str | io.BytesIO) -> tuple[bytes, AudioFormat]:
    with wave.open(path, "rb") as wav:
        fmt = AudioFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
        return wav.readframes(wav.getnframes()), fmt


def write_wav(path: str | io.BytesIO, pcm: bytes, fmt: AudioFormat) -> None:
    with wave.open(path, "wb") as wav:
        wav.setframerate(fmt.rate)
        wav.setsampwidth(fmt.width)
        wav.setnchannels(fmt.channels)
        wav.writeframes(pcm)


def rms_dbfs(pcm: bytes, width: int = 2, channels: int = 1) -> float:
    """Loudness of ``pcm`` in dBFS (``-inf`` for silence or no audio)."""
    samples = to_float(pcm, width, channels)
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * float(np.log10(rms)) if rms > 0 else float("-inf")
