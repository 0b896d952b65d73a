"""A finished timer's name, spoken by the satellite itself (``--tts-uri``, ``--timer-name-template``).

Home Assistant 2026.2.3 sends a Wyoming satellite ``timer-finished`` with the timer's id only
(the name came in ``timer-started``) and speaks nothing; wyoming-satellite plays its
``--timer-finished-wav`` (``--timer-finished-wav-repeat`` times) and runs a command, and
speaks no name either. With ``--tts-uri`` (any Wyoming TTS server, e.g. our wyoming_kokoro)
the satellite asks for the line itself at ``timer-finished`` and plays it once ahead of the
alarm's beeps. Our orchestrator speaks the line itself as an announcement: its
``timer-finished`` then carries ``announced: true`` and the satellite does not say it again.

Every failure (no server, an ``error`` event, garbage, nothing for ``inactivity`` seconds,
more than ``max_wait`` seconds in all) leaves the line out, logged with the reason: the alarm
rings anyway. The request runs as a task on the event loop (network I/O and a resample of a
few seconds of audio); the mic loop only sees its finished PCM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.tts import Synthesize

from voice_runtime import client
from voice_runtime.audio import AudioFormat
from voice_runtime.limits import Limits
from voice_runtime.protocol import ProtocolError, read_frame

from .playback import IncomingAudio, quiet_tail

_LOGGER = logging.getLogger(__name__)
QUIET_LEVEL, QUIET_TAIL_SECONDS = 104, 0.5  # the line's trailing near-silence (-50 dBFS) is not played
_LIMITS = Limits(max_data_bytes=256 * 1024, max_payload_bytes=1024 * 1024, frame_timeout=3.0)


@dataclass(frozen=True)
class TimerVoiceConfig:
    uri: str | None = None  # --tts-uri; None: no spoken name (the beeps alone, as before)
    template: str = "{name} timer is done"  # --timer-name-template
    unnamed: str = "Your timer is done"  # a timer without a name
    voice: str | None = None  # the TTS server's default voice
    inactivity: float = 3.0  # seconds without an event from the TTS server: given up
    max_wait: float = 8.0  # seconds in all until the line's audio-stop: given up
    max_seconds: float = 10.0  # longer audio is cut

    def __post_init__(self) -> None:
        check_template(self.template)
        if self.uri is not None:
            try:
                _host_port(self.uri)
            except TtsFailed as err:
                raise ValueError(str(err)) from err

    def line(self, name: str | None) -> str:
        name = (name or "").strip()
        if not name:
            return self.unnamed
        text = self.template.format(name=name)  # checked at start-up (__post_init__)
        return text[:1].upper() + text[1:]


def check_template(template: str) -> None:
    """Raise ValueError for a template that uses anything but ``{name}``."""
    try:
        template.format(name="pasta")
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(f"--timer-name-template {template!r}: only {{name}} may be used ({err})") from err


class TtsFailed(Exception):
    """Why the line could not be had (logged; the alarm rings without it)."""


def _host_port(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise TtsFailed(f"--tts-uri {uri!r} is not tcp://HOST:PORT")
    return parts.hostname, parts.port


async def _exchange(uri: str, request: Event, inactivity: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        reader, writer = await client.open_uri(uri, inactivity)
    except (OSError, TimeoutError) as err:
        raise TtsFailed(f"TTS server {uri} unreachable: {err or type(err).__name__}") from err
    await async_write_event(request, writer)
    return reader, writer


async def _next(reader: asyncio.StreamReader, uri: str, inactivity: float) -> Event:
    try:
        async with asyncio.timeout(inactivity):
            event = await read_frame(reader, _LIMITS)
    except TimeoutError as err:
        raise TtsFailed(f"TTS server {uri} sent nothing for {inactivity:.1f} s") from err
    except ProtocolError as err:
        raise TtsFailed(f"TTS server {uri} sent garbage: {err}") from err
    if event is None:
        raise TtsFailed(f"TTS server {uri} closed the connection")
    if Error.is_type(event.type):
        error = Error.from_event(event)
        raise TtsFailed(f"TTS server {uri} error {error.code}: {error.text}")
    return event


async def describe(config: TimerVoiceConfig) -> None:
    """At start-up: say whether a finished timer's name will be spoken, and by what."""
    if config.uri is None:
        _LOGGER.info("no --tts-uri: a finished timer rings without its name (unless the controller announces it)")
        return
    uri = config.uri
    try:  # the shared probe: ``inactivity`` bounds the connect, and again the answer
        info = await client.describe(uri, config.inactivity)
    except TimeoutError:
        reason = f"TTS server {uri} sent no info within {config.inactivity:.1f} s"
    except ConnectionResetError as err:  # (wyoming's reader also ends here on a frame it cannot read)
        reason = f"TTS server {uri} sent no info: {err}"
    except OSError as err:
        reason = f"TTS server {uri} unreachable: {err or type(err).__name__}"
    except (ValueError, KeyError, TypeError) as err:
        reason = f"TTS server {uri} sent garbage: {type(err).__name__} {err}"
    else:
        if info.tts:
            voices = [v.name for p in info.tts for v in p.voices][:5]
            _LOGGER.info("timer names spoken by the TTS server %s (voices %s)", uri, ", ".join(voices) or "none")
            return
        reason = f"{uri} offers no text-to-speech"
    _LOGGER.warning("--tts-uri: %s; a finished timer will ring without its name until it answers", reason)


async def synthesize(config: TimerVoiceConfig, text: str, speaker: AudioFormat) -> bytes:
    """The spoken ``text`` in the speaker's format. Raises TtsFailed (with the reason)."""
    assert config.uri is not None
    writer = None
    pcm = bytearray()
    cap = speaker.frames_bytes(config.max_seconds)
    try:
        async with asyncio.timeout(config.max_wait):
            request = Synthesize(text=text).event()
            if config.voice:
                request.data["voice"] = {"name": config.voice}
            reader, writer = await _exchange(config.uri, request, config.inactivity)
            incoming: IncomingAudio | None = None
            while not AudioStop.is_type((event := await _next(reader, config.uri, config.inactivity)).type):
                if AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                    incoming = IncomingAudio(AudioFormat(start.rate, start.width, start.channels), speaker)
                elif AudioChunk.is_type(event.type) and incoming is not None and len(pcm) < cap:
                    pcm += incoming.feed(AudioChunk.from_event(event).audio)
            if incoming is not None:
                pcm += incoming.flush()
    except TimeoutError as err:
        raise TtsFailed(f"TTS server {config.uri}: no complete line within {config.max_wait:.1f} s") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TtsFailed(f"TTS server {config.uri}: {type(err).__name__} {err}") from err
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    if not pcm:
        raise TtsFailed(f"TTS server {config.uri} sent no audio")
    del pcm[cap - cap % 2 :]
    del pcm[len(pcm) - quiet_tail(pcm, QUIET_LEVEL, speaker.frames_bytes(QUIET_TAIL_SECONDS)) :]
    return bytes(pcm)
