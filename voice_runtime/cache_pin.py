"""Our extension of the text-to-speech protocol's ``synthesize``: keep this text's audio in a named cache slot.

A client that sends ``synthesize`` with ``context: {"hearth_cache_pin": SLOT}`` (our orchestrator's
warm-up of the clock's answer, :mod:`orchestrator.warm_replies`) asks our TTS server to keep the audio
in that slot, outside its least-recently-used cache (:class:`wyoming_kokoro.synthesizer.AudioCache`);
any other client (Home Assistant) never sends it. One definition for both sides.
"""

from __future__ import annotations

from typing import Any

CACHE_PIN_KEY = "hearth_cache_pin"
MAX_SLOT_CHARS = 32


def pin_context(slot: str | None) -> dict[str, str] | None:
    """The ``synthesize`` context asking for ``slot`` (None: no context)."""
    return {CACHE_PIN_KEY: slot} if slot is not None else None


def pin_slot(context: Any) -> str | None:
    """The slot a ``synthesize``'s context asks for; None when it asks for none or sent anything else
    (the context is any JSON a client sent)."""
    slot = context.get(CACHE_PIN_KEY) if isinstance(context, dict) else None
    return slot if isinstance(slot, str) and 0 < len(slot) <= MAX_SLOT_CHARS else None
