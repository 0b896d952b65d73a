"""llama-server's CPU priority by what it is doing: a reply's tail gives way to the reply's voice.

In an LLM turn the text-to-speech service synthesises the reply's first piece (a clause) while
llama-server goes on generating the rest of the reply and then evaluates the post-reply prefill
(:mod:`.prefill`). On a small CPU (2 cores: llama-server one thread, Piper one) the two compete, and
the first piece's synthesis, which the user waits for, took +0.34 s p50 longer with the LLM streaming
than alone (``bench/llm_tts_contention_probe.py``, session 26, load 7-9; +0.02 s with llama-server
at nice 10 meanwhile). The rest of the reply is needed only once the first piece has been spoken
(~1-2 s later), and the prefill only at the next question.

So :class:`ServerPriority` keeps a count of what llama-server is doing, through :class:`Lease`\\ s:

========================================= ===========================
llama-server is doing                     its threads' nice
========================================= ===========================
nothing                                   ``base`` (``--nice``, 0)
a reply before its first clause was sent  ``base``
  (the prompt, the first words: a "head")
only tails (a reply after its first       ``low`` (``--tail-nice``)
  clause was sent) and prefills ("back")
any head and any backs                    ``base``
========================================= ===========================

The first clause is sent once the reply's text holds a clause or sentence mark followed by a
space (the text-to-speech service's first piece ends there at the latest, :mod:`wyoming_kokoro.text`).
Raising a nice is always allowed; lowering it back needs root or ``RLIMIT_NICE`` (Linux): without
either the priority is never changed (logged once). Linux only (a thread id is a ``PRIO_PROCESS``
target); elsewhere off.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

# A clause or sentence mark, any closing quotes or brackets, then white space: the first clause is out.
FIRST_CLAUSE = re.compile(r"[,;:.!?][\"')\]\u201d\u2019]*\s")


class Phase(StrEnum):
    HEAD = "head"  # a reply's prompt and first clause: the user waits for it
    BACK = "back"  # a reply's tail or a prefill: nobody waits for it yet


def may_lower_nice(to: int) -> bool:
    """Whether this process may set a nice back down to ``to`` (root, or ``RLIMIT_NICE``)."""
    if not sys.platform.startswith("linux"):
        return False
    if os.geteuid() == 0:
        return True
    soft, _hard = resource.getrlimit(resource.RLIMIT_NICE)
    return soft == resource.RLIM_INFINITY or soft >= 20 - to


def threads_of(pid: int) -> list[int]:
    """The thread ids of ``pid`` (empty if it is gone)."""
    try:
        return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return []


class ServerPriority:
    """The nice of llama-server's threads (``pid()``: its process, None when not running), from
    the leases held (see the module doc). ``low`` <= ``base`` turns it off."""

    def __init__(self, pid: Callable[[], int | None], *, base: int = 0, low: int = 10) -> None:
        self._pid = pid
        self.base = base
        self.low = low
        self.enabled = low > base and may_lower_nice(base)
        if low > base and not self.enabled:
            _LOGGER.info("llama-server's tail priority off: this process may not lower a nice back to %d", base)
        self._held = {Phase.HEAD: 0, Phase.BACK: 0}
        self._applied: tuple[int, int] | None = None  # (pid, nice) last set
        self.changes = 0  # priority changes made (each: every thread of the server)

    def lease(self, phase: Phase) -> Lease:
        return Lease(self, phase)

    @property
    def wanted(self) -> int:
        return self.low if self._held[Phase.BACK] and not self._held[Phase.HEAD] else self.base

    def _move(self, before: Phase | None, after: Phase | None) -> None:
        if before is not None:
            self._held[before] -= 1
        if after is not None:
            self._held[after] += 1
        self._apply()

    def _apply(self) -> None:
        if not self.enabled or (pid := self._pid()) is None:
            return
        nice = self.wanted
        if self._applied == (pid, nice) or (self._applied is None and nice == self.base):
            return  # (a server started, or restarted, runs at base: see process._child_setup)
        threads = threads_of(pid)
        for tid in threads:
            try:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
            except ProcessLookupError:
                continue  # the thread ended meanwhile
            except OSError as err:
                _LOGGER.warning("llama-server's tail priority off: nice %d refused (%s)", nice, err)
                self.enabled = False
                return
        self._applied = (pid, nice)
        self.changes += 1
        _LOGGER.debug("llama-server nice=%d threads=%d", nice, len(threads))


class Lease:
    """One request's hold on the priority: from :meth:`ServerPriority.lease` to :meth:`release`
    (idempotent); a head becomes a back once its first clause is out (:meth:`back`)."""

    def __init__(self, owner: ServerPriority, phase: Phase) -> None:
        self._owner = owner
        self.phase: Phase | None = phase
        owner._move(None, phase)

    def back(self) -> None:
        if self.phase is Phase.HEAD:
            self.phase = Phase.BACK
            self._owner._move(Phase.HEAD, Phase.BACK)

    def release(self) -> None:
        if self.phase is not None:
            before, self.phase = self.phase, None
            self._owner._move(before, None)


class FirstClause:
    """Watches a reply's streamed text for the end of its first clause (:data:`FIRST_CLAUSE`)."""

    def __init__(self) -> None:
        self._text = ""
        self.seen = False

    def feed(self, piece: str) -> bool:
        """True once the first clause is out (from the piece that completes it on)."""
        if not self.seen:
            self._text += piece
            self.seen = FIRST_CLAUSE.search(self._text) is not None
        return self.seen
