"""The OpenAI-compatible cloud provider (DeepSeek by default), through the ``openai`` package.

Moved unchanged from :mod:`.llm` (session 21, to keep that module under 400 lines); it streams the
same :class:`~.llm.Provider` protocol and reports failures as :class:`~.llm.LlmError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx

from .history import ChatMessage
from .llm import GenerationSettings, LlmError, ReplyStats, TransientLlmError, _parse_chunk, _raise_status


class OpenAICompatibleProvider:
    """An OpenAI-compatible cloud endpoint (DeepSeek Chat by default) via the ``openai`` package."""

    name = "openai-compatible"

    def __init__(self, *, base_url: str, api_key: str, timeout: float = 60.0) -> None:
        from openai import AsyncOpenAI

        # max_retries=0: retries are ours, and only while nothing has been said.
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )
        self.base_url = base_url

    async def stream(
        self, messages: list[ChatMessage], settings: GenerationSettings, stats: ReplyStats, *,
        conversation: str | None = None,
    ) -> AsyncIterator[str]:
        import httpx2  # the openai package's HTTP client
        import openai

        try:
            response = await self._client.chat.completions.create(
                model=settings.model or "deepseek-chat",
                messages=cast(Any, messages),
                stream=True,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                stream_options={"include_usage": True},
            )
            try:
                async for chunk in response:
                    piece = _parse_chunk(chunk.model_dump(), stats)
                    if piece:
                        stats.chunks += 1
                        yield piece
            finally:
                await response.close()
        except openai.APITimeoutError as err:
            raise TransientLlmError("llm-timeout", "LLM endpoint timed out") from err
        except openai.APIConnectionError as err:
            raise TransientLlmError("llm-connection", f"LLM endpoint connection failed: {type(err).__name__}") from err
        except openai.APIStatusError as err:
            _raise_status(err.status_code, _status_detail(err))
        except openai.APIError as err:  # an error object inside the stream
            raise LlmError("llm-failed", f"LLM endpoint error: {_status_detail(err)}") from err
        except (httpx.TransportError, httpx2.TransportError) as err:  # the body stream cut mid-reply
            raise TransientLlmError("llm-connection", f"LLM endpoint connection failed: {err}") from err

    async def aclose(self) -> None:
        await self._client.close()


def _status_detail(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])[:300]
    return str(getattr(err, "message", ""))[:300]
