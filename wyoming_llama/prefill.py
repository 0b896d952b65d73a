"""The next question's prompt start, evaluated once a reply has ended (llama-server only).

Each turn's prompt is the system prompt, the conversation so far and the new user message, which
starts with the clock line (:func:`~wyoming_llama.handler.clock_line`, 21 tokens). llama-server's
prompt cache (``cache_prompt``) keeps what the conversation's slot evaluated, but the end of the
last reply, the new user message's header and its clock line were never evaluated: ~25 of the
~40 tokens the next turn evaluates before its first token, with the user waiting.

So when a reply has been stored in the history (:meth:`Prefiller.schedule`), the next prompt up to
and including the clock line (the user message holds only the clock line, no ``\\n\\n``: the next
prompt's tokens then match it up to the line's last ``.``) is sent to the conversation's slot
with ``max_tokens`` 1, while the reply is being spoken and nobody waits for the LLM. The next
question then evaluates only its own words and the template's few tokens (unless the minute has
changed: then from the clock line's minute on).

Not during the user's speech: session 11 prefilled at the start of the speech and lost (on 2
cores it competed with whisper's partial decodes; ``bench/results/room_latency.md``). A request
for the conversation that comes while the prefill still runs waits for it in llama-server (it
shares the prefix, so it would have evaluated the same tokens itself). Failures are logged and
otherwise ignored: the next turn evaluates its whole prompt, as without the prefill.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from voice_runtime.tasks import cancel_and_wait

from .history import ChatMessage
from .llm import LlmError, LocalProvider
from .priority import Phase

_LOGGER = logging.getLogger(__name__)


class Prefiller:
    """At most one prefill per conversation in flight (a newer one replaces it)."""

    def __init__(self, provider: LocalProvider) -> None:
        self.provider = provider
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def schedule(self, conversation: str, messages: list[ChatMessage]) -> None:
        """Evaluate ``messages`` (the next prompt's start) into ``conversation``'s slot, in the background."""
        old = self._tasks.pop(conversation, None)
        if old is not None:
            old.cancel()
        task = asyncio.create_task(self._run(conversation, messages), name=f"prefill {conversation}")
        self._tasks[conversation] = task
        task.add_done_callback(lambda done: self._forget(conversation, done))

    def _forget(self, conversation: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(conversation) is task:
            del self._tasks[conversation]

    async def wait(self) -> None:
        """Until the prefills in flight have ended (tests)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            await cancel_and_wait(task)

    async def _run(self, conversation: str, messages: list[ChatMessage]) -> None:
        provider = self.provider
        started = time.monotonic()
        slot = provider.slot_map.acquire(conversation) if provider.slot_map is not None else None
        # nobody waits for it: it gives way to the reply's voice (priority.py)
        lease = provider.priority.lease(Phase.BACK) if provider.priority is not None else None
        try:
            response = await provider.evaluate(await provider._base_url(), messages, slot)
            if response.status_code != 200:
                _LOGGER.warning("prefill conversation=%s: HTTP %d", conversation, response.status_code)
                return
            data = response.json()
        except (LlmError, httpx.HTTPError, ValueError) as err:
            _LOGGER.warning("prefill conversation=%s failed: %s", conversation, type(err).__name__)
            return
        finally:
            if lease is not None:
                lease.release()
            if slot is not None and provider.slot_map is not None:
                provider.slot_map.release(slot)
        usage = data.get("usage") if isinstance(data, dict) else None
        timings = data.get("timings") if isinstance(data, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        timings = timings if isinstance(timings, dict) else {}
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        prompt_ms = timings.get("prompt_ms")
        _LOGGER.info(
            "prefill conversation=%s prompt_tokens=%s cached=%s prompt_eval_ms=%s total_ms=%d",
            conversation,
            usage.get("prompt_tokens"),
            cached,
            f"{prompt_ms:.0f}" if isinstance(prompt_ms, (int, float)) else "-",
            (time.monotonic() - started) * 1000,
        )
