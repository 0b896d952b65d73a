"""Our one extension event of the speech-to-text protocol: the transcript a turn will have.

A client that asks for it (``transcribe`` with ``context: {"speculative_transcripts": true}``;
our orchestrator does, Home Assistant never does) gets a ``transcript-speculative`` as soon as
the whisper server has decoded the speech followed by a short silence and read it as a finished
request: if no more speech comes, the final ``transcript`` will be exactly this text. The
orchestrator starts the reply's text and audio on it while the end-of-turn silence is still
running (LiveKit calls this preemptive generation) and keeps it only if the final transcript is
the same; nothing is done or played before the end of the turn.

A client that also asks for weak ones (``context.speculative_weak: true``) gets, with
``weak: true``, the text of a decode whose words read as a finished request but that Whisper wrote
without a final . ? ! (or was unsure of): the server then waits longer (its weak cap) before it
ends the turn. Our orchestrator ends the turn itself at once when such a text is a whole home
command (:mod:`orchestrator.intents`, ``complete_command``), by sending ``audio-stop``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wyoming.event import Event, Eventable

SPECULATIVE_TRANSCRIPT_TYPE = "transcript-speculative"


@dataclass
class SpeculativeTranscript(Eventable):
    """The final transcript-to-be of the utterance in progress (see the module doc)."""

    text: str
    # The words read as finished but the server would wait its weak cap (no final . ? !, or unsure).
    weak: bool = False

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == SPECULATIVE_TRANSCRIPT_TYPE

    def event(self) -> Event:
        data: dict[str, Any] = {"text": self.text}
        if self.weak:
            data["weak"] = True
        return Event(type=SPECULATIVE_TRANSCRIPT_TYPE, data=data)

    @staticmethod
    def from_event(event: Event) -> SpeculativeTranscript:
        data: dict[str, Any] = event.data or {}
        text = data.get("text")
        if not isinstance(text, str):
            raise TypeError("'text' must be a string")
        weak = data.get("weak", False)
        if not isinstance(weak, bool):
            raise TypeError("'weak' must be true or false")
        return SpeculativeTranscript(text=text, weak=weak)
