"""Audio cut anywhere: chunks of any length (odd ones too), a WAV header at the start.

Home Assistant's STT upload forwards a WAV byte stream cut wherever the HTTP body was cut.
Before the fix, one odd-length chunk shifted every later sample by a byte and whisper
returned an empty transcript. Property tests (hypothesis) on the pure path, then the real
server: any cut gives the transcript of clean 100 ms chunks.
"""

from __future__ import annotations

import io
import random
import struct
import wave

import pytest
from helpers import ServiceProcess, connected
from hypothesis import given, settings
from hypothesis import strategies as st
from speech import speak
from stack import Stack
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error

from voice_runtime.audio import PCM16_MONO_16K, AudioConverter, AudioFormat
from voice_runtime.pcm import MAX_HEADER_BYTES, PcmAligner, WavHeaderError

QUESTION = "What is the weather like in Paris today?"


def wav_bytes(pcm: bytes, fmt: AudioFormat = PCM16_MONO_16K, *, extra_chunk: bytes = b"") -> bytes:
    """A WAV file; ``extra_chunk`` (e.g. a LIST chunk) goes between ``fmt `` and ``data``."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setframerate(fmt.rate)
        wav.setsampwidth(fmt.width)
        wav.setnchannels(fmt.channels)
        wav.writeframes(pcm)
    data = buf.getvalue()
    if extra_chunk:
        at = data.index(b"data")
        data = data[:at] + extra_chunk + data[at:]
    return data


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` in pieces of the given sizes (cycled), the last one whatever is left."""
    out, pos, i = [], 0, 0
    while pos < len(data):
        size = max(1, sizes[i % len(sizes)])
        out.append(data[pos : pos + size])
        pos += size
        i += 1
    return out


def aligned(pieces: list[bytes], frame_bytes: int = 2, *, wav_header: bool = True) -> bytes:
    aligner = PcmAligner(frame_bytes, wav_header=wav_header)
    return b"".join(aligner.feed(p) for p in pieces) + aligner.flush()


PCM = bytes(random.Random(7).randrange(256) for _ in range(6001)) + b"\x01"  # even length
LIST_CHUNK = b"LIST" + struct.pack("<I", 5) + b"INFOx" + b"\x00"  # odd size: padded


@settings(max_examples=300, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=40),
       header=st.sampled_from(["none", "plain", "list"]))
def test_any_cut_gives_the_same_frames(sizes: list[int], header: str) -> None:
    extra = LIST_CHUNK if header == "list" else b""
    data = PCM if header == "none" else wav_bytes(PCM, extra_chunk=extra)
    assert aligned(cut(data, sizes)) == PCM


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=30))
def test_the_header_format_decides_the_frame_size(sizes: list[int]) -> None:
    stereo = AudioFormat(22050, 2, 2)
    pcm = PCM[: len(PCM) - len(PCM) % 4]
    aligner = PcmAligner(2)  # audio-start said mono; the header says stereo
    out = b"".join(aligner.feed(p) for p in cut(wav_bytes(pcm, stereo), sizes))
    assert aligner.header is not None and aligner.header.fmt == stereo
    assert out == pcm and aligner.frame_bytes == 4


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=30),
       fmt=st.sampled_from([PCM16_MONO_16K, AudioFormat(22050, 2, 1), AudioFormat(48000, 2, 2)]))
def test_converter_is_cut_invariant(sizes: list[int], fmt: AudioFormat) -> None:
    """The converter (also in passthrough) gives the same output for any cut of its input."""
    pcm = PCM[: len(PCM) - len(PCM) % fmt.bytes_per_frame]
    whole = AudioConverter(fmt, PCM16_MONO_16K)
    expected = whole.feed(pcm) + whole.flush()
    pieces = AudioConverter(fmt, PCM16_MONO_16K)
    got = b"".join(pieces.feed(p) for p in cut(pcm, sizes)) + pieces.flush()
    assert got == expected


def test_audio_that_only_looks_like_a_header_is_kept() -> None:
    assert aligned([b"RIF", b"Xabc"]) == b"RIFXab"  # not RIFF: audio (whole frames)
    assert aligned([b"RIFF\x00\x00\x00\x00WAVX" + b"\x00" * 8]) == b"RIFF\x00\x00\x00\x00WAVX" + b"\x00" * 8
    assert aligned([b"RIFF" + b"\x00" * 8 + b"ab"], wav_header=False) == b"RIFF" + b"\x00" * 8 + b"ab"
    assert aligned([b"RIFF\x00\x00"]) == b""  # a header cut short: no audio


def test_malformed_headers_are_errors() -> None:
    not_pcm = wav_bytes(PCM).replace(b"fmt \x10\x00\x00\x00\x01\x00", b"fmt \x10\x00\x00\x00\x03\x00")
    with pytest.raises(WavHeaderError, match="not PCM"):
        PcmAligner(2).feed(not_pcm)
    huge = b"RIFF\x00\x00\x00\x00WAVE" + b"junk" + struct.pack("<I", MAX_HEADER_BYTES) + b"\x00" * 100
    with pytest.raises(WavHeaderError, match="before the audio"):
        PcmAligner(2).feed(huge)


# -- the real server ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(stack: Stack) -> ServiceProcess:
    """The session's wyoming_whisper (tiny.en, default flags: what this module started on its own before)."""
    return stack.whisper


async def transcript_of(port: int, pieces: list[bytes], fmt: AudioFormat = PCM16_MONO_16K) -> str:
    async with connected(port) as client:
        await client.send(Transcribe(language="en"))
        await client.send(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels))
        for piece in pieces:
            await client.send(AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=piece))
        await client.send(AudioStop())
        events = await client.recv_until("transcript-stop")
    finals = [Transcript.from_event(e).text for e in events if Transcript.is_type(e.type)]
    assert len(finals) == 1, [e.type for e in events]
    return finals[0]


def ha_style_cuts(data: bytes, seed: int) -> list[bytes]:
    """Cuts like an HTTP body forwarded as it arrives: 1 byte to 40 KB, many odd."""
    rng = random.Random(seed)
    sizes = [rng.choice([1, 3, rng.randrange(1, 64), rng.randrange(1, 4096) | 1, rng.randrange(1, 40_000)])
             for _ in range(400)]
    return cut(data, sizes)


async def test_wav_stream_cut_anywhere_gives_the_clean_transcript(server: ServiceProcess) -> None:
    pcm = speak(QUESTION)
    step = PCM16_MONO_16K.frames_bytes(0.1)
    clean = await transcript_of(server.port, [pcm[i : i + step] for i in range(0, len(pcm), step)])
    assert "weather" in clean.lower()
    wav = wav_bytes(pcm)
    for seed in range(3):
        pieces = ha_style_cuts(wav, seed)
        assert any(len(p) % 2 for p in pieces[:-1])  # the cuts really split samples
        assert await transcript_of(server.port, pieces) == clean, seed
    # Raw PCM cut at odd places (no header) too.
    assert await transcript_of(server.port, ha_style_cuts(pcm, 99)) == clean


async def test_a_bad_wav_header_is_an_error_and_the_connection_keeps_serving(server: ServiceProcess) -> None:
    bad = wav_bytes(speak(QUESTION)).replace(b"fmt \x10\x00\x00\x00\x01\x00", b"fmt \x10\x00\x00\x00\x03\x00")
    async with connected(server.port) as client:
        await client.send(Transcribe(language="en"))
        fmt = PCM16_MONO_16K
        await client.send(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels))
        await client.send(AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=bad[:3000]))
        events = await client.recv_until("error")
        error = Error.from_event(events[-1])
        assert error.code == "unsupported-format" and "WAV" in error.text
        await client.send(AudioStop())  # the rest of the refused stream is dropped quietly
        pcm = speak(QUESTION)
        await client.send(AudioStart(rate=fmt.rate, width=fmt.width, channels=fmt.channels))
        await client.send(AudioChunk(rate=fmt.rate, width=fmt.width, channels=fmt.channels, audio=pcm))
        await client.send(AudioStop())
        events = await client.recv_until("transcript-stop")
    assert any(Transcript.is_type(e.type) and "weather" in Transcript.from_event(e).text.lower() for e in events)



@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=30),
       rate=st.sampled_from([16000, 22050, 24000]))
def test_satellite_playback_is_cut_invariant(sizes: list[int], rate: int) -> None:
    """Reply/announcement audio reaching the satellite in odd pieces plays the same samples."""
    from satellite.playback import Playback

    fmt = AudioFormat(rate, 2, 1)
    played = []
    for pieces in ([PCM], cut(PCM, sizes)):
        playback = Playback(22050, 10)
        playback.start_reply(fmt)
        for piece in pieces:
            playback.add_reply(piece)
        playback.end_reply()
        frames = []
        while playback.has_reply:
            frames.append(playback.next_frame())
        played.append(b"".join(frames))
    assert played[0] == played[1] and played[0]
