"""Unit tests of the shared runtime's pure parts: audio, retry, env, logs, latency, frames, models."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from wyoming.event import Event

from voice_runtime import models
from voice_runtime.audio import PCM16_MONO_16K, AudioConverter, AudioFormat, convert, from_float, rms_dbfs, to_float
from voice_runtime.clock import ManualClock
from voice_runtime.env import parse_dotenv
from voice_runtime.latency import LatencyMonitor, percentile
from voice_runtime.limits import Limits
from voice_runtime.logs import RateLimitFilter, redact
from voice_runtime.protocol import ProtocolError, read_frame
from voice_runtime.retry import RetryPolicy, retry_async
from voice_runtime.tasks import TaskSet, cancel_and_wait


def tone(rate: int, seconds: float, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


@pytest.mark.parametrize(
    ("src", "width"), [(AudioFormat(44100, 2, 2), 2), (AudioFormat(48000, 4, 1), 4), (AudioFormat(8000, 2, 1), 2)]
)
def test_convert_keeps_pitch_and_duration(src: AudioFormat, width: int) -> None:
    pcm = from_float(tone(src.rate, 1.0, channels=src.channels), width)
    out = convert(pcm, src, PCM16_MONO_16K)
    samples = to_float(out, 2, 1)[:, 0]
    assert abs(len(samples) - 16000) <= 10
    peak_hz = np.abs(np.fft.rfft(samples)).argmax() * 16000 / len(samples)
    assert abs(peak_hz - 440) < 5
    assert -10 < rms_dbfs(out) < -8  # 0.5 amplitude sine = -9 dBFS


def test_streaming_conversion_equals_whole_buffer_for_any_chunking() -> None:
    src = AudioFormat(44100, 2, 2)
    pcm = from_float(tone(44100, 0.7, channels=2), 2)
    whole = convert(pcm, src, PCM16_MONO_16K)
    for size in (4, 1000, 1234, 8820):  # 1234 splits frames: the converter keeps the remainder
        conv = AudioConverter(src, PCM16_MONO_16K)
        parts = b"".join(conv.feed(pcm[i:i + size]) for i in range(0, len(pcm), size)) + conv.flush()
        assert parts == whole, size


def test_upsampling_and_passthrough() -> None:
    src = AudioFormat(16000, 2, 1)
    pcm = from_float(tone(16000, 0.5), 2)
    assert convert(pcm, src, src) == pcm
    up = convert(pcm, src, AudioFormat(22050, 2, 1))
    assert abs(len(up) // 2 - 11025) <= 3


def test_audio_format_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        AudioFormat(16000, 3, 1)
    with pytest.raises(ValueError):
        AudioFormat(0, 2, 1)


async def test_retry_waits_the_seed_backoff_then_succeeds() -> None:
    clock = ManualClock()
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("down")
        return "ok"

    task = asyncio.create_task(retry_async(flaky, RetryPolicy.exponential(3, 1.0), clock=clock))
    while not task.done():
        await asyncio.sleep(0)
        clock.advance(10)
    assert task.result() == "ok"
    assert clock.slept == [1.0, 2.0]


async def test_retry_stops_once_output_went_out() -> None:
    clock = ManualClock()
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise OSError("boom")

    with pytest.raises(OSError):
        await retry_async(failing, RetryPolicy.fixed(2, 0.5), may_retry=lambda: False, clock=clock)
    assert calls == 1 and clock.slept == []


async def test_retry_gives_up_after_policy_and_ignores_other_errors() -> None:
    clock = ManualClock()

    async def failing() -> None:
        raise TimeoutError

    task = asyncio.create_task(retry_async(failing, RetryPolicy.fixed(2, 0.5), clock=clock))
    while not task.done():
        await asyncio.sleep(0)
        clock.advance(1)
    with pytest.raises(TimeoutError):
        task.result()
    assert clock.slept == [0.5, 0.5]

    async def bug() -> None:
        raise KeyError("not transient")

    with pytest.raises(KeyError):
        await retry_async(bug, RetryPolicy.fixed(2, 0.5), clock=clock)


async def test_cancel_and_wait_and_taskset() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(forever())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()
    tasks = TaskSet()
    tasks.spawn(forever())
    tasks.spawn(forever())
    assert len(tasks) == 2
    await tasks.close()
    await asyncio.sleep(0)
    assert len(tasks) == 0


def test_parse_dotenv() -> None:
    text = 'A=1\n# comment\nexport B="two words"\nC=\'x#y\'\nD=val # trailing\n\nbad line\n'
    assert parse_dotenv(text) == {"A": "1", "B": "two words", "C": "x#y", "D": "val"}


def test_parse_dotenv_quotes_comments_escapes_multiline_and_export() -> None:
    text = (
        'QUOTED="x y" # a note\n'
        "SINGLE='a \\n b' # no escapes in single quotes\n"
        'ESCAPED="line one\\nline \\"two\\""\n'
        'MULTI="first\nsecond"\n'
        "export EXPORTED=yes\n"
        "  export   SPACED = padded  \n"
        "HASH=a#b\n"
        "EMPTY=\n"
        "DOLLAR=${HOME}/x\n"
    )
    assert parse_dotenv(text) == {
        "QUOTED": "x y", "SINGLE": "a \\n b", "ESCAPED": 'line one\nline "two"', "MULTI": "first\nsecond",
        "EXPORTED": "yes", "SPACED": "padded", "HASH": "a#b", "EMPTY": "", "DOLLAR": "${HOME}/x",
    }


def test_ignored_seed_variables_get_a_clear_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from voice_runtime.env import warn_ignored

    monkeypatch.setenv("PIPER_EXE_PATH", "/usr/bin/piper")
    monkeypatch.delenv("SERVER_URL", raising=False)
    with caplog.at_level(logging.WARNING, logger="voice_runtime.env"):
        assert warn_ignored("PIPER_EXE_PATH", "SERVER_URL") == ["PIPER_EXE_PATH"]
    (record,) = caplog.records
    assert "PIPER_EXE_PATH is set but ignored" in record.getMessage() and "PIPER_MODEL_PATH" in record.getMessage()


def test_env_precedence_environment_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voice_runtime import env as env_module

    (tmp_path / ".env").write_text('HEARTH_T_A="from file" # note\nHEARTH_T_B=file\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEARTH_T_B", "environment")
    monkeypatch.setattr(env_module, "_loaded", None)  # read this .env, and forget it afterwards
    assert env_module.env("HEARTH_T_A") == "from file"
    assert env_module.env("HEARTH_T_B") == "environment"
    assert env_module.env("HEARTH_T_C", "default") == "default"


def test_redact_removes_secrets() -> None:
    line = 'Authorization: Bearer abc123xyz and api_key="s3cr3tvalue" and sk-abcdefghijkl and MYKEY'
    cleaned = redact(line, secrets=["MYKEY"])
    for secret in ("abc123xyz", "s3cr3tvalue", "sk-abcdefghijkl", "MYKEY"):
        assert secret not in cleaned
    assert "[redacted]" in cleaned
    cleaned = redact("access_token=t0ps3cret password: hunter2", secrets=[])
    assert cleaned == "access_token=[redacted] password: [redacted]"
    # latency fields are not secrets
    assert redact("turn first_token=476ms last_token=1.2s", secrets=[]) == "turn first_token=476ms last_token=1.2s"


def test_secret_from_environment_never_reaches_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-very-secret-123")
    from voice_runtime.logs import RedactingFilter

    logger = logging.getLogger("test.secret")
    filt = RedactingFilter()
    record = logger.makeRecord("test.secret", logging.INFO, __file__, 1, "key is %s", ("dg-very-secret-123",), None)
    assert filt.filter(record)
    assert "dg-very-secret-123" not in record.getMessage()


def test_rate_limit_filter_drops_floods_but_not_errors() -> None:
    filt = RateLimitFilter(period=60, burst=3)
    logger = logging.getLogger("test.rate")
    records = [logger.makeRecord("test.rate", logging.INFO, __file__, 1, "chunk %d", (i,), None) for i in range(50)]
    passed = sum(filt.filter(r) for r in records)
    assert passed == 3
    err = logger.makeRecord("test.rate", logging.ERROR, __file__, 1, "chunk %d", (1,), None)
    assert filt.filter(err)


def test_latency_monitor_percentiles_and_prometheus() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    clock = ManualClock()
    monitor = LatencyMonitor(clock)
    for i in range(10):
        timer = monitor.start_turn()
        clock.advance(0.1 * (i + 1))
        timer.mark("transcript")
        monitor.finish_turn(timer)
    summary = monitor.summary()["transcript"]
    assert summary["count"] == 10
    assert summary["p50"] == pytest.approx(0.55)
    text = monitor.prometheus()
    assert 'hearth_stage_seconds{stage="transcript",quantile="0.95"}' in text
    assert "hearth_turns_total 10" in text


async def _frames(data: bytes, limits: Limits | None = None) -> list[Event | ProtocolError | None]:
    reader = asyncio.StreamReader(limit=(limits or Limits()).max_header_bytes + 1)
    reader.feed_data(data)
    reader.feed_eof()
    out: list[Event | ProtocolError | None] = []
    while True:
        try:
            event = await read_frame(reader, limits or Limits())
        except ProtocolError as err:
            out.append(err)
            if err.fatal:
                return out
            continue
        out.append(event)
        if event is None:
            return out


async def test_frame_reader_merges_data_and_reads_payload() -> None:
    data = json.dumps({"a": 2}).encode()
    header = json.dumps({"type": "x", "data": {"b": 1}, "data_length": len(data), "payload_length": 3}).encode()
    out = await _frames(header + b"\n" + data + b"abc")
    event = out[0]
    assert isinstance(event, Event) and event.data == {"a": 2, "b": 1} and event.payload == b"abc"
    assert out[1] is None


@pytest.mark.parametrize(
    ("raw", "code", "fatal"),
    [
        (b"{not json}\n", "bad-json", False),
        (b"[1,2]\n", "bad-frame", False),
        (b'{"data": {}}\n', "bad-frame", False),
        (b'{"type": "x", "payload_length": -1}\n', "bad-frame", True),
        (b'{"type": "x", "payload_length": "9"}\n', "bad-frame", True),
        (b'{"type": "x", "payload_length": 99999999999}\n', "frame-too-large", True),
        (b'{"type": "x", "payload_length": 10}\nabc', "truncated", True),
        (b'{"type": "x"', "truncated", True),
        (b"\xff\xfe\n", "bad-json", False),
    ],
)
async def test_frame_reader_errors(raw: bytes, code: str, fatal: bool) -> None:
    out = await _frames(raw)
    err = out[0]
    assert isinstance(err, ProtocolError) and err.code == code and err.fatal == fatal


async def test_frame_reader_header_line_cap() -> None:
    limits = Limits(max_header_bytes=1024)
    out = await _frames(b'{"type": "' + b"x" * 5000 + b'"}\n', limits)
    err = out[0]
    assert isinstance(err, ProtocolError) and err.code == "frame-too-large" and err.fatal


def test_models_resolve_defaults_and_explain_missing(tmp_path: Path) -> None:
    assert models.resolve_whisper("tiny.en").joinpath("model.bin").is_file()
    assert models.resolve_whisper("base").joinpath("model.bin").is_file()
    assert models.silero_vad().suffix == ".onnx"
    assert models.resolve_piper().name == "en_US-joe-medium.onnx"
    assert models.resolve_kokoro_model().stat().st_size > 50_000_000
    assert models.resolve_kokoro_voices().is_file()
    assert models.resolve_llm().suffix == ".gguf"
    assert models.resolve_llama_server().is_file()
    with pytest.raises(models.ModelError, match="installed: .*tiny.en"):
        models.resolve_whisper("medium.en")
    with pytest.raises(models.ModelError, match="not a faster-whisper model folder"):
        models.resolve_whisper(str(tmp_path))
    fake = tmp_path / "x.gguf"
    fake.write_bytes(b"nope")
    with pytest.raises(models.ModelError, match="not a GGUF"):
        models.resolve_llm(str(fake))
    with pytest.raises(models.ModelError, match="no x.onnx.json"):
        (tmp_path / "x.onnx").write_bytes(b"")
        models.resolve_piper(str(tmp_path / "x.onnx"))


def test_malloc_tuning_applies_on_glibc() -> None:
    import platform

    from voice_runtime.memory import tune_malloc

    assert tune_malloc() is (platform.libc_ver()[0] == "glibc")
