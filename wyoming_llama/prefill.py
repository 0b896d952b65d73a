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

The clock line changes every minute, so a question asked with it (``needs_clock``) a minute or
more after the reply found its line evaluated only up to the old minute: ~18 tokens more (30-31
instead of 12-13 uncached, 285-426 ms of prompt evaluation in the quiet room of session 28, held-56
"What time does the store close?"). So the prefill is kept fresh: at each new minute (+
``REFRESH_SLACK``) the conversation's prompt start is evaluated again with the new clock line (only
the line from its minute on is new), while the conversation is stored (``build`` gives None once
it has expired: at most ``--conversation-timeout``, 5 minutes), still owns its slot (an evicted
one would evaluate its whole prompt) and no question of it is being answered (:meth:`Prefiller.pause`,
called with each transcript; the prefill after its reply starts the refreshes again).

Not during the user's speech: session 11 prefilled at the start of the speech and lost (on 2
cores it competed with whisper's partial decodes; ``bench/results/room_latency.md``). A request
for the conversation that comes while the prefill still runs waits for it in llama-server (it
shares the prefix, so it would have evaluated the same tokens itself). Failures are logged and
otherwise ignored: the next turn evaluates its whole prompt, as without the prefill.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

import httpx

from voice_runtime.tasks import TaskSet

from .history import ChatMessage
from .llm import LlmError, LocalProvider
from .priority import Phase

_LOGGER = logging.getLogger(__name__)

REFRESH_SLACK = 0.05  # seconds after the minute's start: the clock the handler reads has turned too

Build = Callable[[], "list[ChatMessage] | None"]  # the next prompt's start now (None: nothing to evaluate)


def seconds_to_next_minute(now: dt.datetime) -> float:
    return 60.0 - now.second - now.microsecond / 1e6


class Prefiller:
    """At most one prefill per conversation in flight (a newer one replaces it), then one a minute
    while the clock line changes (module docstring)."""

    def __init__(
        self,
        provider: LocalProvider,
        *,
        now: Callable[[], dt.datetime] | None = dt.datetime.now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self.now = now  # None: no refresh (the prompt has no clock line)
        self._sleep = sleep
        self._owner = TaskSet()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._evaluating: set[asyncio.Task[None]] = set()  # tasks whose evaluation is due or in flight
        self._paused: set[str] = set()  # a question is being answered: no refresh
        self._idle = asyncio.Event()
        self._idle.set()

    def schedule(self, conversation: str, messages: list[ChatMessage] | Build, *, refresh: bool = False) -> None:
        """Evaluate the next prompt's start (``messages``, or what ``build`` gives now) into
        ``conversation``'s slot, in the background; with ``refresh``, again at each new minute (what
        ``build`` gives then: the new clock line) until ``build`` gives None or :meth:`pause`."""
        old = self._tasks.pop(conversation, None)
        if old is not None:
            old.cancel()
        self._paused.discard(conversation)
        build: Build = messages if callable(messages) else (lambda: messages)
        refresh = refresh and callable(messages) and self.now is not None
        task = self._owner.spawn(self._keep(conversation, build, refresh), name=f"prefill {conversation}")
        self._tasks[conversation] = task
        self._evaluating.add(task)  # its first evaluation starts at once
        self._idle.clear()
        task.add_done_callback(lambda done: self._forget(conversation, done))

    def pause(self, conversation: str) -> None:
        """A question of ``conversation`` is being answered: no refresh until its reply's prefill (an
        evaluation in flight ends: the question shares its prefix, as with the first prefill)."""
        task = self._tasks.get(conversation)
        if task is None:
            return  # nothing to pause (kept only while a task lives: conversations come and go)
        self._paused.add(conversation)
        if task not in self._evaluating:
            task.cancel()

    def _forget(self, conversation: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(conversation) is task:
            del self._tasks[conversation]
            self._paused.discard(conversation)
        self._evaluated(task)

    def _evaluated(self, task: asyncio.Task[None]) -> None:
        self._evaluating.discard(task)
        if not self._evaluating:
            self._idle.set()

    async def wait(self) -> None:
        """Until no prefill is being evaluated (refreshes may wait for their minute; tests, benches)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        await self._owner.close()  # every prefill task, replaced ones still ending included

    async def _keep(self, conversation: str, build: Build, refresh: bool) -> None:
        me = asyncio.current_task()
        assert me is not None
        messages, minute = build(), False
        while messages is not None:
            self._evaluating.add(me)
            self._idle.clear()
            try:
                await self._run(conversation, messages, refresh=minute)
            finally:
                self._evaluated(me)
            if not refresh or self.now is None or conversation in self._paused:
                return
            await self._sleep(seconds_to_next_minute(self.now()) + REFRESH_SLACK)
            slots = self.provider.slot_map
            if conversation in self._paused or (slots is not None and not slots.owns(conversation)):
                return
            messages, minute = build(), True

    async def _run(self, conversation: str, messages: list[ChatMessage], *, refresh: bool = False) -> None:
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
            "%s conversation=%s prompt_tokens=%s cached=%s prompt_eval_ms=%s total_ms=%d",
            "refresh" if refresh else "prefill",  # refresh: the same, at a new minute
            conversation,
            usage.get("prompt_tokens"),
            cached,
            f"{prompt_ms:.0f}" if isinstance(prompt_ms, (int, float)) else "-",
            (time.monotonic() - started) * 1000,
        )
