"""Cloud fallback: one turn against Deepgram STT (Nova-2), DeepSeek chat and Deepgram TTS (Aura).

Used when no controller is connected, or the controller reports ``services-unavailable``.

* STT: Deepgram's pre-recorded REST endpoint (``POST /v1/listen``) with the request body
  streamed (chunked) while the user speaks, so the transcript comes back right after the
  speech ends. Raw 16 kHz 16-bit mono (``encoding=linear16``).
* Chat: DeepSeek's OpenAI-compatible API via the ``openai`` package with ``stream=True``;
  the tokens are split into sentences as they arrive.
* TTS: Deepgram Aura (``POST /v1/speak``, ``container=none``, ``encoding=linear16``), one
  request per sentence, the response body streamed into the speaker as it arrives while the
  next sentence is being generated.

Keys come from ``DEEPGRAM_API_KEY`` and ``DEEPSEEK_API_KEY`` and are never logged. Base
URLs are configurable (tests point them at local fakes speaking the same wire formats).

Failures (an HTTP error status, a timeout: ``timeout`` seconds without a byte, a refused or
cut connection, a malformed answer) end the turn with :class:`CloudError`, which names the
stage (``stt``, ``chat``, ``tts``) and the cause but never a response body (some APIs quote
the credentials they were given). There is no retry: the utterance has been heard once, and
a second try would only add to the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import httpx

from voice_runtime.audio import AudioFormat

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

_LOGGER = logging.getLogger(__name__)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
REPLY_RATE = 16000


@dataclass(frozen=True)
class CloudConfig:
    deepgram_key: str = field(repr=False)
    deepseek_key: str = field(repr=False)
    deepgram_url: str = "https://api.deepgram.com"
    deepseek_url: str = "https://api.deepseek.com/v1"
    stt_model: str = "nova-2"
    tts_model: str = "aura-asteria-en"
    chat_model: str = "deepseek-chat"
    language: str = "en"
    system_prompt: str = "You are a helpful voice assistant. Answer in one or two short spoken sentences."
    timeout: float = 20.0
    history_turns: int = 6


def cloud_config(
    enabled: bool,
    deepgram_key: str | None,
    deepseek_key: str | None,
    *,
    deepgram_url: str = CloudConfig.deepgram_url,
    deepseek_url: str = CloudConfig.deepseek_url,
    chat_model: str = CloudConfig.chat_model,
    tts_model: str = CloudConfig.tts_model,
) -> CloudConfig | None:
    """The fallback's config, or None (with one clear log line) when it is off."""
    if not enabled:
        _LOGGER.info("cloud fallback off (ENABLE_CLOUD_FALLBACK not set)")
        return None
    missing = [name for name, value in (("DEEPGRAM_API_KEY", deepgram_key), ("DEEPSEEK_API_KEY", deepseek_key))
               if not value]
    if missing:
        _LOGGER.warning("cloud fallback off: %s not set", " and ".join(missing))
        return None
    assert deepgram_key and deepseek_key
    config = CloudConfig(deepgram_key=deepgram_key, deepseek_key=deepseek_key, deepgram_url=deepgram_url,
                         deepseek_url=deepseek_url, chat_model=chat_model, tts_model=tts_model)
    _LOGGER.info("cloud fallback on deepgram=%s deepseek=%s", config.deepgram_url, config.deepseek_url)
    return config


class TurnSink(Protocol):
    """Where a cloud turn reports back (the satellite's turn driver)."""

    def on_transcript(self, text: str) -> None: ...

    def on_reply_start(self, fmt: AudioFormat) -> None: ...

    def on_reply_audio(self, pcm: bytes) -> None: ...

    def on_reply_end(self) -> None: ...


class CloudError(Exception):
    """A cloud turn failed at ``stage`` (stt, chat or tts)."""

    def __init__(self, stage: str, cause: str) -> None:
        super().__init__(f"{stage}: {cause}")
        self.stage = stage
        self.cause = cause


def _cause(err: BaseException) -> str:
    """What went wrong, without a response body or a URL's query (no secrets)."""
    status = getattr(err, "status_code", None)
    response = getattr(err, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    if isinstance(err, httpx.TimeoutException) or "Timeout" in type(err).__name__:
        return f"timed out ({type(err).__name__})"
    return type(err).__name__


def _load_openai(config: CloudConfig) -> None:
    from openai import AsyncOpenAI

    AsyncOpenAI(api_key="unused", base_url=config.deepseek_url, max_retries=0)  # its lazy imports too


def split_sentences(buffer: str) -> tuple[list[str], str]:
    """Complete sentences in ``buffer`` and the unfinished rest."""
    parts = _SENTENCE_END.split(buffer)
    return [p.strip() for p in parts[:-1] if p.strip()], parts[-1]


class CloudAssistant:
    """Runs turns against the cloud APIs; keeps a short conversation history."""

    def __init__(self, config: CloudConfig) -> None:
        self.config = config
        self._history: list[ChatCompletionMessageParam] = []

    async def prepare(self) -> None:
        """Import the ``openai`` package ahead of the first cloud turn, in a thread.

        Its import (with a first client) took 0.5 s idle and 5 s on a loaded 2-core box: paid
        during a fallback, it made the cloud reply start that much later.
        """
        await asyncio.to_thread(_load_openai, self.config)

    async def run_turn(self, audio: AsyncIterator[bytes], sink: TurnSink) -> None:
        """One turn; raises :class:`CloudError` when a stage fails."""
        stage = "stt"
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout) as http:
                text = await self.transcribe(http, audio)
                stage = "chat"
                await self._answer(http, text, sink)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as err:
            raise CloudError(stage, _cause(err)) from err
        except _SpeakFailed as err:
            raise CloudError("tts", _cause(err.__cause__ or err)) from err
        except Exception as err:
            import httpx2  # the openai package's HTTP client (a body cut mid-stream)
            import openai

            if isinstance(err, openai.APIError | httpx2.HTTPError):
                raise CloudError(stage, _cause(err)) from err
            raise

    async def _answer(self, http: httpx.AsyncClient, text: str, sink: TurnSink) -> None:
        sink.on_transcript(text)
        if not text.strip():
            _LOGGER.info("cloud turn: empty transcript")
            sink.on_reply_end()
            return
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        reply_parts: list[str] = []
        speaker = asyncio.create_task(self._speak(http, sentences, sink), name="cloud tts")
        try:
            async with contextlib.aclosing(self.chat(text)) as replies:
                async for sentence in replies:
                    reply_parts.append(sentence)
                    sentences.put_nowait(sentence)
                    if speaker.done():  # the TTS failed: stop generating
                        break
            sentences.put_nowait(None)
            await speaker
        finally:
            if not speaker.done():
                speaker.cancel()
                await asyncio.gather(speaker, return_exceptions=True)
        self._remember(text, " ".join(reply_parts))

    def _remember(self, user: str, assistant: str) -> None:
        self._history += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        del self._history[: -2 * self.config.history_turns]

    async def transcribe(self, http: httpx.AsyncClient, audio: AsyncIterator[bytes]) -> str:
        params = {
            "model": self.config.stt_model, "encoding": "linear16", "sample_rate": "16000", "channels": "1",
            "language": self.config.language, "smart_format": "true",
        }
        response = await http.post(
            f"{self.config.deepgram_url.rstrip('/')}/v1/listen", params=params, content=audio,
            headers={"Authorization": f"Token {self.config.deepgram_key}", "Content-Type": "application/octet-stream"},
        )
        response.raise_for_status()
        body = response.json()
        alternatives = body["results"]["channels"][0]["alternatives"]
        text = str(alternatives[0]["transcript"]) if alternatives else ""
        _LOGGER.info("cloud stt transcript=%r", text)
        return text

    async def chat(self, text: str) -> AsyncGenerator[str, None]:
        """Sentences of the reply, as the tokens stream in."""
        from openai import AsyncOpenAI

        client = AsyncOpenAI(api_key=self.config.deepseek_key, base_url=self.config.deepseek_url,
                             timeout=self.config.timeout, max_retries=0)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": self.config.system_prompt}, *self._history, {"role": "user", "content": text}
        ]
        buffer = ""
        try:
            stream = await client.chat.completions.create(
                model=self.config.chat_model, messages=messages, stream=True
            )
            async for chunk in stream:
                if not chunk.choices:
                    continue
                buffer += chunk.choices[0].delta.content or ""
                done, buffer = split_sentences(buffer)
                for sentence in done:
                    yield sentence
            if buffer.strip():
                yield buffer.strip()
        finally:
            await client.close()

    async def _speak(self, http: httpx.AsyncClient, sentences: asyncio.Queue[str | None], sink: TurnSink) -> None:
        try:
            await self._speak_all(http, sentences, sink)
        except (httpx.HTTPError, ValueError) as err:
            raise _SpeakFailed from err

    async def _speak_all(
        self, http: httpx.AsyncClient, sentences: asyncio.Queue[str | None], sink: TurnSink
    ) -> None:
        started = False
        while (sentence := await sentences.get()) is not None:
            params = {"model": self.config.tts_model, "encoding": "linear16", "sample_rate": str(REPLY_RATE),
                      "container": "none"}
            async with http.stream(
                "POST", f"{self.config.deepgram_url.rstrip('/')}/v1/speak", params=params,
                json={"text": sentence}, headers={"Authorization": f"Token {self.config.deepgram_key}"},
            ) as response:
                response.raise_for_status()
                async for pcm in response.aiter_bytes():
                    if not started:
                        sink.on_reply_start(AudioFormat(REPLY_RATE, 2, 1))
                        started = True
                    sink.on_reply_audio(pcm)
        if started:
            sink.on_reply_end()


class _SpeakFailed(Exception):
    """The TTS stage failed (its cause is ``__cause__``)."""
