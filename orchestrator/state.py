"""The satellite session's turn state machine: an explicit table, testable without sockets.

States
  idle        nothing in progress
  listening   a turn is receiving the user's audio
  responding  the turn is transcribing / thinking / sending reply audio
  playing     reply audio was sent; waiting for the satellite's ``played``

Barge-in is a ``run-pipeline`` that arrives while a turn is listening, responding or the
satellite is still playing: the current turn is cancelled (its LLM and TTS connections are
closed, no more audio is sent) and a new turn starts on the new audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class LinkState(StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    RESPONDING = "responding"
    PLAYING = "playing"


class LinkTrigger(StrEnum):
    RUN_PIPELINE = "run-pipeline"
    AUDIO_STOP = "audio-stop"
    TURN_DONE_AUDIO = "turn-done-audio"  # the turn ended after sending reply audio
    TURN_DONE_SILENT = "turn-done-silent"  # the turn ended with nothing to play
    PLAYED = "played"
    DISCONNECT = "disconnect"


class LinkAction(StrEnum):
    START_TURN = "start-turn"
    CANCEL_TURN = "cancel-turn"
    END_AUDIO = "end-audio"


S, T, A = LinkState, LinkTrigger, LinkAction
TABLE: dict[tuple[LinkState, LinkTrigger], tuple[LinkState, tuple[LinkAction, ...]]] = {
    (S.IDLE, T.RUN_PIPELINE): (S.LISTENING, (A.START_TURN,)),
    (S.LISTENING, T.RUN_PIPELINE): (S.LISTENING, (A.CANCEL_TURN, A.START_TURN)),
    (S.LISTENING, T.AUDIO_STOP): (S.RESPONDING, (A.END_AUDIO,)),
    (S.LISTENING, T.TURN_DONE_SILENT): (S.IDLE, ()),
    (S.LISTENING, T.TURN_DONE_AUDIO): (S.PLAYING, ()),
    (S.RESPONDING, T.RUN_PIPELINE): (S.LISTENING, (A.CANCEL_TURN, A.START_TURN)),
    (S.RESPONDING, T.TURN_DONE_AUDIO): (S.PLAYING, ()),
    (S.RESPONDING, T.TURN_DONE_SILENT): (S.IDLE, ()),
    (S.PLAYING, T.PLAYED): (S.IDLE, ()),
    (S.PLAYING, T.RUN_PIPELINE): (S.LISTENING, (A.START_TURN,)),
    (S.IDLE, T.PLAYED): (S.IDLE, ()),
}


@dataclass
class LinkMachine:
    """The current state plus the last ``max_history`` transitions (for logs and tests): a
    link lives for months, so the history is bounded."""

    state: LinkState = LinkState.IDLE
    history: list[tuple[LinkState, LinkTrigger, LinkState]] = field(default_factory=list)
    max_history: int = 200

    def fire(self, trigger: LinkTrigger) -> tuple[LinkAction, ...]:
        """Apply ``trigger``; returns the actions to perform. Unknown pairs change nothing."""
        if trigger is LinkTrigger.DISCONNECT:
            busy = self.state in (S.LISTENING, S.RESPONDING)
            actions: tuple[LinkAction, ...] = (LinkAction.CANCEL_TURN,) if busy else ()
            self._move(trigger, LinkState.IDLE)
            return actions
        entry = TABLE.get((self.state, trigger))
        if entry is None:
            return ()
        target, actions = entry
        self._move(trigger, target)
        return actions

    def _move(self, trigger: LinkTrigger, target: LinkState) -> None:
        self.history.append((self.state, trigger, target))
        del self.history[: -self.max_history]
        self.state = target
