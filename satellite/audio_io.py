"""Microphone sources and speaker sinks.

Every source delivers fixed-size frames of 16 kHz, 16-bit mono PCM (converted from the
device's own format); every sink takes 16-bit mono PCM at its own rate. Sources (here): a
PortAudio device (``pyaudio``, imported only when used), a command's stdout (``arecord
…``, run without a shell), a WAV file (streamed in real time or as fast as possible, then
real-time silence, like a quiet room). Sinks (:mod:`satellite.speakers`): PortAudio, a
command's stdin (``aplay …``), a WAV file, memory. PortAudio devices are found and checked
at start-up in :mod:`satellite.portaudio_devices`.

The satellite is clocked by the microphone: for every mic frame it hands the speaker one
frame (reply audio or silence). So the WAV sink's timeline is the mic's timeline, a stop is
immediate (nothing is queued beyond a frame or two), and the playback is the echo guard's
reference, aligned with what the mic hears. The device sinks (a command, PortAudio) write it
the :mod:`satellite.write_ahead` way: not while idle, so a sound starts into a nearly empty
device queue (``lead_ms`` ahead of it) instead of behind a full buffer of silence.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voice_runtime.audio import PCM16_MONO_16K, AudioConverter, AudioFormat, convert, read_wav
from voice_runtime.clock import Clock, MonotonicClock

from .portaudio_devices import check_devices, find_device, list_devices
from .speakers import CommandSink, MemorySink, PortAudioSink, WavSink, end_process
from .write_ahead import DEFAULT_LEAD_MS

__all__ = [
    "AudioConfig",
    "CommandMic",
    "CommandSink",
    "EchoPathMic",
    "MemorySink",
    "MicSource",
    "PortAudioMic",
    "PortAudioSink",
    "SpeakerSink",
    "WavMic",
    "WavSink",
    "check_audio",
    "find_device",
    "list_devices",
    "open_audio",
]

_LOGGER = logging.getLogger(__name__)


class MicSource(Protocol):
    frame_bytes: int

    async def open(self) -> None: ...

    async def read(self) -> bytes:
        """One frame; raises EOFError when the source has ended for good."""
        ...

    async def close(self) -> None: ...


class SpeakerSink(Protocol):
    rate: int

    async def open(self) -> None: ...

    async def write(self, pcm: bytes) -> None: ...

    def abort(self) -> None:
        """Silence at once: drop what the device still holds (barge-in). Writing goes on after."""
        ...

    async def close(self) -> None: ...


# --- sources -------------------------------------------------------------------------
class _ConvertingSource:
    """Reads raw audio in ``fmt`` and hands out 16 kHz mono frames of ``frame_bytes``."""

    def __init__(self, fmt: AudioFormat, frame_bytes: int) -> None:
        self.fmt = fmt
        self.frame_bytes = frame_bytes
        self._converter = AudioConverter(fmt, PCM16_MONO_16K)
        self._buffer = bytearray()
        # Native bytes per 16 kHz frame, rounded up to whole native frames.
        self._native_bytes = max(fmt.bytes_per_frame, fmt.frames_bytes(frame_bytes / 2 / 16000))

    async def _read_raw(self, size: int) -> bytes:
        raise NotImplementedError

    async def read(self) -> bytes:
        while len(self._buffer) < self.frame_bytes:
            raw = await self._read_raw(self._native_bytes)
            if not raw:
                raise EOFError("microphone stream ended")
            self._buffer += self._converter.feed(raw)
        frame = bytes(self._buffer[: self.frame_bytes])
        del self._buffer[: self.frame_bytes]
        return frame


class WavMic:
    """A WAV file as the microphone, then silence in real time (a quiet room)."""

    def __init__(self, path: str, frame_bytes: int, *, realtime: bool = True, clock: Clock | None = None) -> None:
        self.path = path
        self.frame_bytes = frame_bytes
        self.realtime = realtime
        self.clock = clock or MonotonicClock()
        self._audio = b""
        self._pos = 0
        self._ticks = 0
        self._start = 0.0
        self._frame_seconds = frame_bytes / 2 / 16000

    async def open(self) -> None:
        pcm, fmt = await asyncio.to_thread(read_wav, self.path)
        self._audio = convert(pcm, fmt, PCM16_MONO_16K)
        self._pos = 0
        self._ticks = 0
        self._start = self.clock.now()
        _LOGGER.info("mic wav=%s seconds=%.2f realtime=%s", self.path, len(self._audio) / 32000, self.realtime)

    @property
    def finished(self) -> bool:
        return self._pos >= len(self._audio)

    async def read(self) -> bytes:
        if self._pos < len(self._audio):
            frame = self._audio[self._pos : self._pos + self.frame_bytes]
            self._pos += self.frame_bytes
            frame = frame.ljust(self.frame_bytes, b"\0")
            if self._pos >= len(self._audio):
                _LOGGER.info("mic wav finished; silence follows")
            if not self.realtime:
                self._ticks += 1
                self._start = self.clock.now() - self._ticks * self._frame_seconds
                await asyncio.sleep(0)
                return frame
        else:
            frame = bytes(self.frame_bytes)
        self._ticks += 1
        delay = self._start + self._ticks * self._frame_seconds - self.clock.now()
        if delay > 0:
            await self.clock.sleep(delay)
        return frame

    async def close(self) -> None:
        self._audio = b""


class CommandMic(_ConvertingSource):
    """Raw PCM from a command's stdout, e.g. ``arecord -r 16000 -c 1 -f S16_LE -t raw``."""

    def __init__(self, argv: Sequence[str], fmt: AudioFormat, frame_bytes: int) -> None:
        super().__init__(fmt, frame_bytes)
        self.argv = list(argv)
        self._proc: asyncio.subprocess.Process | None = None

    async def open(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
        )
        _LOGGER.info("mic command=%s pid=%s", shlex.join(self.argv), self._proc.pid)

    async def _read_raw(self, size: int) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        return await self._proc.stdout.read(size)

    async def close(self) -> None:
        await end_process(self._proc)
        self._proc = None


class PortAudioMic(_ConvertingSource):
    """A PortAudio capture device (by index or by part of its name)."""

    def __init__(self, device: str | None, fmt: AudioFormat, frame_bytes: int) -> None:
        super().__init__(fmt, frame_bytes)
        self.device = device
        self._pa: Any = None
        self._stream: Any = None

    async def open(self) -> None:
        import pyaudio

        self._pa = pyaudio.PyAudio()
        index = find_device(self._pa, self.device, want_input=True)
        self._stream = self._pa.open(
            format=self._pa.get_format_from_width(self.fmt.width),
            channels=self.fmt.channels,
            rate=self.fmt.rate,
            input=True,
            input_device_index=index,
            frames_per_buffer=self._native_bytes // self.fmt.bytes_per_frame,
        )
        _LOGGER.info("mic portaudio device=%s", index)

    async def _read_raw(self, size: int) -> bytes:
        frames = size // self.fmt.bytes_per_frame
        data: bytes = await asyncio.to_thread(self._stream.read, frames, exception_on_overflow=False)
        return data

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.stop_stream()
            self._stream.close()
        if self._pa is not None:
            self._pa.terminate()
        self._stream = self._pa = None


class EchoPathMic:
    """Testing aid: the speaker's output mixed into a mic at a delay and level (an echo path)."""

    def __init__(self, inner: MicSource, out_rate: int, delay_ms: float, gain_db: float) -> None:
        self.inner = inner
        self.frame_bytes = inner.frame_bytes
        self._to_mic = AudioConverter(AudioFormat(out_rate, 2, 1), PCM16_MONO_16K)
        self._line = bytearray(int(16000 * delay_ms / 1000.0) * 2)
        self._gain = float(10.0 ** (gain_db / 20.0))

    async def open(self) -> None:
        await self.inner.open()

    def played(self, pcm: bytes) -> None:
        self._line += self._to_mic.feed(pcm)

    async def read(self) -> bytes:
        frame = await self.inner.read()
        echo = bytes(self._line[: self.frame_bytes]).ljust(self.frame_bytes, b"\0")
        del self._line[: self.frame_bytes]
        mixed = np.frombuffer(frame, "<i2").astype(np.float32) + np.frombuffer(echo, "<i2") * self._gain
        return bytes(np.clip(np.round(mixed), -32768, 32767).astype("<i2").tobytes())

    async def close(self) -> None:
        await self.inner.close()


# --- choosing the devices from the configuration --------------------------------------
@dataclass(frozen=True)
class AudioConfig:
    mic_device: str | None = None
    mic_command: tuple[str, ...] = ()
    mic_wav: str | None = None
    mic_wav_fast: bool = False
    mic_rate: int = 16000
    mic_width: int = 2
    mic_channels: int = 1
    snd_device: str | None = None
    snd_command: tuple[str, ...] = ()
    snd_wav: str | None = None
    snd_rate: int = 22050
    snd_lead_ms: float = DEFAULT_LEAD_MS  # 20 (40 after the card ran dry): a sound starts this far ahead; -1: off
    echo_sim_delay_ms: float | None = None  # testing: mix the speaker into the mic
    echo_sim_gain_db: float = -10.0


def open_audio(config: AudioConfig, frame_bytes: int) -> tuple[MicSource, SpeakerSink]:
    """The mic source and speaker sink the configuration asks for (PortAudio by default)."""
    mic_fmt = AudioFormat(config.mic_rate, config.mic_width, config.mic_channels)
    mic: MicSource
    if config.mic_wav:
        mic = WavMic(config.mic_wav, frame_bytes, realtime=not config.mic_wav_fast)
    elif config.mic_command:
        mic = CommandMic(config.mic_command, mic_fmt, frame_bytes)
    else:
        mic = PortAudioMic(config.mic_device, mic_fmt, frame_bytes)
    speaker: SpeakerSink
    if config.snd_wav:
        speaker = WavSink(config.snd_wav, config.snd_rate)
    elif config.snd_command:
        speaker = CommandSink(config.snd_command, config.snd_rate, lead_ms=config.snd_lead_ms)
    else:
        speaker = PortAudioSink(config.snd_device, config.snd_rate, lead_ms=config.snd_lead_ms)
    if config.echo_sim_delay_ms is not None:
        mic = EchoPathMic(mic, config.snd_rate, config.echo_sim_delay_ms, config.echo_sim_gain_db)
    return mic, speaker


def check_audio(config: AudioConfig) -> None:
    """Raise ValueError (for the user) unless the PortAudio devices the configuration uses open."""
    uses_mic = not config.mic_wav and not config.mic_command
    uses_speaker = not config.snd_wav and not config.snd_command
    check_devices(
        mic=(config.mic_device, config.mic_rate, config.mic_width, config.mic_channels) if uses_mic else None,
        speaker=(config.snd_device, config.snd_rate) if uses_speaker else None,
    )
