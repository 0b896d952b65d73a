"""Speaker sinks: memory, a WAV file, a command's stdin (``aplay …``), a PortAudio device.

Each takes 16-bit mono PCM at its own rate, one frame per mic frame (see
:mod:`satellite.audio_io`). The device sinks write the :mod:`satellite.write_ahead` way.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import shlex
import signal
import termios
import threading
import time
import wave
from collections.abc import Sequence
from typing import Any

from voice_runtime.backoff import Backoff, BackoffPolicy
from voice_runtime.clock import Clock, MonotonicClock

from .portaudio_devices import find_device
from .write_ahead import DEFAULT_LEAD_MS, WriteAhead

_LOGGER = logging.getLogger(__name__)

RESTART_FIRST_S = 0.5  # a command that dies young is started again after this, doubling
RESTART_MAX_S = 30.0
RESTART_HEALTHY_S = 10.0  # one that lived this long is started again at once, the backoff reset
READER_POLL_S = 0.002  # after a (re)start: how often the pipe is checked until the command reads it
RESTART_BACKOFF = BackoffPolicy(
    first=RESTART_FIRST_S, cap=RESTART_MAX_S, healthy_after=RESTART_HEALTHY_S, healthy_wait=0.0
)


class MemorySink:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.audio = bytearray()

    async def open(self) -> None:
        self.audio.clear()

    async def write(self, pcm: bytes) -> None:
        self.audio += pcm

    def abort(self) -> None:
        return None  # nothing is queued

    async def close(self) -> None:
        return None


class WavSink:
    """Everything the speaker would play (silence included), in the mic's timeline."""

    def __init__(self, path: str, rate: int) -> None:
        self.path = path
        self.rate = rate
        self._wav: wave.Wave_write | None = None

    async def open(self) -> None:
        self._wav = await asyncio.to_thread(wave.open, self.path, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(self.rate)

    async def write(self, pcm: bytes) -> None:
        if self._wav is not None:
            self._wav.writeframesraw(pcm)

    def abort(self) -> None:
        return None  # nothing is queued: the file is the mic's timeline

    async def close(self) -> None:
        if self._wav is not None:
            await asyncio.to_thread(self._wav.close)
            self._wav = None


class CommandSink:
    """Raw PCM to a command's stdin, e.g. ``aplay --buffer-time=100000 -r 22050 -c 1 -f S16_LE -t raw``.

    Latency is bounded: the pipe to the command is shrunk to one page and a frame is dropped
    rather than queued when more than ``max_queue_ms`` already waits in it (the mic clocks the
    writes, so this happens only after a stall). :meth:`abort` kills the command (its process
    group), which is the only way to silence what a sound program has buffered (aplay keeps
    ~0.5 s); it is started again at the next write. With ``lead_ms`` >= 0 the queue is kept near
    that level (:class:`satellite.write_ahead.WriteAhead`: idle silence trimmed, sample-exact).

    A command that exits on its own (a sound server restarted, a device unplugged) is started
    again at a later write: at once if it had run for ``RESTART_HEALTHY_S``, else after a backoff
    (``RESTART_FIRST_S`` doubling to ``RESTART_MAX_S``); the frames in between are dropped (the
    audible ones counted in ``dropped_frames``, so the echo path is measured afresh). The first
    exit is logged as an error, repeats at 10, 100, every 1000.
    """

    def __init__(
        self,
        argv: Sequence[str],
        rate: int,
        max_queue_ms: int = 40,
        *,
        lead_ms: float = DEFAULT_LEAD_MS,
        clock: Clock | None = None,
    ) -> None:
        self.argv = list(argv)
        self.rate = rate
        self.clock = clock or MonotonicClock()
        self.ahead = WriteAhead(rate, lead_ms=lead_ms, clock=self.clock, waits_for_reader=True)
        self._proc: asyncio.subprocess.Process | None = None
        self._unread = 0  # bytes handed to the pipe since a start, while its reader has read none
        self._watch: asyncio.TimerHandle | None = None
        self._killed: asyncio.subprocess.Process | None = None
        self._max_queue = rate * 2 * max_queue_ms // 1000
        self._fd = -1
        self._open = False  # between open() and close(): a command that exited is started again
        self._restarts = Backoff(RESTART_BACKOFF, clock=self.clock)
        self._retry_at = 0.0
        self.dropped_frames = 0
        self.aborts = 0
        self.exits = 0  # the command ended on its own (not by abort or close)

    async def open(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, start_new_session=True
        )
        self._open = True
        self._restarts.started()
        self._fd = -1
        pipe = self._proc.stdin.get_extra_info("pipe") if self._proc.stdin is not None else None
        if pipe is not None:
            self._fd = pipe.fileno()
            with contextlib.suppress(OSError, AttributeError):
                fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, 4096)
        _LOGGER.info("speaker command=%s pid=%s", shlex.join(self.argv), self._proc.pid)

    def queued(self) -> int:
        if self._fd < 0:
            return 0
        try:
            buf = array.array("i", [0])
            fcntl.ioctl(self._fd, termios.FIONREAD, buf)
            return int(buf[0])
        except OSError:
            return 0

    async def write(self, pcm: bytes) -> None:
        if self._killed is not None:
            began = time.monotonic()
            await self._killed.wait()
            self._killed = None
            await self.open()
            _LOGGER.debug("speaker command restarted in %.1f ms", (time.monotonic() - began) * 1000)
        if self._proc is not None and self._proc.returncode is not None:
            self._exited(self._proc.returncode)
        if self._proc is None and not await self._restart():
            if self._open and pcm.strip(b"\0"):
                self.dropped_frames += 1  # heard by no one: the echo path moves (satellite.speaker_path)
            return
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        if self.queued() > self._max_queue:  # before the plan: a dropped frame is not in the card's level
            self.dropped_frames += 1
            if self.dropped_frames in (1, 10, 100) or self.dropped_frames % 1000 == 0:
                _LOGGER.warning("speaker is behind: dropped %d frames so far", self.dropped_frames)
            return
        planned = self.ahead.plan(pcm)
        if planned is None:
            return  # idle, the device holds more than the lead: this silent frame is left out
        pcm = planned
        try:
            proc.stdin.write(pcm)
            if self.ahead.awaiting_reader:
                self._unread += len(pcm)
                self._watch_reader()
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self._exited(proc.returncode)

    def _watch_reader(self) -> None:
        """After a start, until the command has read from its pipe (a program still loading reads
        nothing): checked every ``READER_POLL_S``; the write-ahead's card starts playing when it has."""
        self._stop_watch()
        proc = self._proc
        if proc is None or proc.stdin is None or not self.ahead.awaiting_reader:
            self._unread = 0
            return
        in_pipe = self._unread - proc.stdin.transport.get_write_buffer_size()
        if self._fd < 0 or self.queued() < in_pipe:
            self._unread = 0
            self.ahead.reader_started()
            return
        self._watch = asyncio.get_running_loop().call_later(READER_POLL_S, self._watch_reader)

    def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _forget_reader(self) -> None:
        self._stop_watch()
        self._unread = 0

    def _exited(self, code: int | None) -> None:
        """The command ended on its own: forget it and plan its restart."""
        proc, self._proc = self._proc, None
        self._fd = -1
        self.ahead.dropped()
        self._forget_reader()
        if proc is not None and proc.returncode is None:  # it closed its input but runs on: useless
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
        self.exits += 1
        lived = self._restarts.lived()
        wait = self._restarts.after_exit()
        self._retry_at = self.clock.now() + wait
        if self.exits in (1, 10, 100) or self.exits % 1000 == 0:
            _LOGGER.error(
                "speaker command exited (code %s) after %.1f s, %d time(s) so far: the speaker is "
                "silent until it runs again; restarting it in %.1f s",
                "unknown" if code is None else code,
                lived,
                self.exits,
                wait,
            )

    async def _restart(self) -> bool:
        if not self._open or self.clock.now() < self._retry_at:
            return False  # closed, or waiting out the backoff: this frame is dropped
        try:
            await self.open()
        except OSError as err:
            wait = self._restarts.next()
            self._retry_at = self.clock.now() + wait
            _LOGGER.error("speaker command cannot start (%s): retrying in %.1f s", err, wait)
            return False
        return True

    def abort(self) -> None:
        self.ahead.dropped()
        self._forget_reader()
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        self.aborts += 1
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.stdin is not None:
            proc.stdin.close()
        self._killed = proc

    async def close(self) -> None:
        self._open = False
        self._forget_reader()
        if self._killed is not None:
            await self._killed.wait()
            self._killed = None
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(Exception):
                self._proc.stdin.close()
        await end_process(self._proc)
        self._proc = None


class PortAudioSink:
    """A PortAudio output device; a writer thread plays a small queue (oldest dropped when full).
    With ``lead_ms`` >= 0 idle silence is trimmed to keep the device near that level
    (:class:`satellite.write_ahead.WriteAhead`)."""

    def __init__(self, device: str | None, rate: int, max_frames: int = 8, *, lead_ms: float = DEFAULT_LEAD_MS) -> None:
        self.device = device
        self.rate = rate
        self.ahead = WriteAhead(rate, lead_ms=lead_ms)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_frames)
        self._thread: threading.Thread | None = None
        self._pa: Any = None
        self._stream: Any = None

    async def open(self) -> None:
        import pyaudio

        self._pa = pyaudio.PyAudio()
        index = find_device(self._pa, self.device, want_input=False)
        self._stream = self._pa.open(
            format=self._pa.get_format_from_width(2),
            channels=1,
            rate=self.rate,
            output=True,
            output_device_index=index,
        )
        self._thread = threading.Thread(target=self._play, name="speaker", daemon=True)
        self._thread.start()
        _LOGGER.info("speaker portaudio device=%s", index)

    def _play(self) -> None:
        while (pcm := self._queue.get()) is not None:
            self._stream.write(pcm)

    async def write(self, pcm: bytes) -> None:
        planned = self.ahead.plan(pcm)
        if planned is None:
            return
        while True:
            try:
                self._queue.put_nowait(planned)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()  # drop the oldest: latency must not grow

    def abort(self) -> None:
        self.ahead.dropped()
        while True:  # drop what waits for the device (what PortAudio holds itself still plays)
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    async def close(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            await asyncio.to_thread(self._thread.join, 2.0)
        if self._stream is not None:
            self._stream.close()
        if self._pa is not None:
            self._pa.terminate()
        self._thread = self._stream = self._pa = None


async def end_process(proc: asyncio.subprocess.Process | None) -> None:
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        async with asyncio.timeout(3.0):  # not wait_for: on 3.11 it can lose a cancel of the caller
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
