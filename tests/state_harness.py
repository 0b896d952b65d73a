"""A state machine's state, read afresh between a test's steps.

After ``assert sat.state == TurnState.WAITING`` mypy narrows ``sat.state`` to that one member and
keeps the narrowing across the calls that change it (a method call does not reset what it knows of
an attribute), so a later ``assert sat.state == TurnState.LISTENING`` type-checks as always false
(``comparison-overlap``). ``state(sat)`` is a call: its result is never narrowed. Read-only: the
value is ``sat.state`` itself."""

from __future__ import annotations

from typing import Protocol, TypeVar

S_co = TypeVar("S_co", covariant=True)


class HasState(Protocol[S_co]):
    @property
    def state(self) -> S_co: ...


def state(machine: HasState[S_co]) -> S_co:
    return machine.state
