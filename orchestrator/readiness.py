"""Early service checks for a turn: find a dead LLM or TTS while the user is still speaking."""

from __future__ import annotations

import asyncio
import contextvars

from voice_runtime.tasks import TaskSet, cancel_and_wait

from .services import Connection, ServicePool, ServiceUnavailable

# A check that failed this fast (connection refused) is not trusted later: the service may be
# back by the time the reply needs it, and asking again costs no more than this.
QUICK_FAILURE = 0.25


class Readiness:
    """Whether the LLM and TTS services answer, found while the user is still speaking.

    Each pool with warm spares is asked for a connection (the spare, probed) at the start of
    the turn and it is given back at once as the spare, which the turn then takes: no extra
    connection, and the round-robin does not move. A pool without spares (``warm=False``) is
    checked when used. When the reply needs a
    service that did not answer, the turn ends with ``services-unavailable`` right away instead
    of paying the connect/probe timeout again after the end of speech. A turn that does not
    need it (an intent answer with the LLM down) is not affected.
    """

    def __init__(self, pools: list[ServicePool]) -> None:
        self._tasks = TaskSet()
        self._checks = {id(pool): self._tasks.spawn(self._check(pool), name=f"check {pool.kind}", awaited=True)
                        for pool in pools if pool and pool.warm}

    @staticmethod
    async def _check(pool: ServicePool) -> str | None:
        started = asyncio.get_running_loop().time()
        try:
            conn = await pool.acquire(check=True)
        except ServiceUnavailable as err:
            if asyncio.get_running_loop().time() - started < QUICK_FAILURE:
                return None  # refused at once: asking again when needed costs nothing (it may be back)
            return str(err)
        await pool.release(conn)
        return None

    async def require(self, pool: ServicePool) -> None:
        """ServiceUnavailable if the early check of ``pool`` timed out (black hole, hung, unreachable)."""
        check = self._checks.get(id(pool))
        if check is not None and (failure := await asyncio.shield(check)) is not None:
            raise ServiceUnavailable(failure)

    def enter(self) -> contextvars.Token[Readiness | None]:
        """Make this the current turn's readiness (for :func:`acquire_ready`, in its tasks too)."""
        return _CURRENT.set(self)

    def exit(self, token: contextvars.Token[Readiness | None]) -> None:
        _CURRENT.reset(token)

    async def close(self) -> None:
        for check in self._checks.values():
            await cancel_and_wait(check)


_CURRENT: contextvars.ContextVar[Readiness | None] = contextvars.ContextVar("readiness", default=None)


async def acquire_ready(pool: ServicePool) -> Connection:
    """A connection from ``pool``; at once ServiceUnavailable if this turn's early check failed."""
    readiness = _CURRENT.get()
    if readiness is not None:
        await readiness.require(pool)
    return await pool.acquire()
