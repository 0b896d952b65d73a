"""The home's device and room names as words for speech-to-text to expect: pure, no I/O.

Small Whisper models mishear names they have rarely seen ("weather light" for "weather like",
"and lock" for "unlock" in the room bench). Whisper's initial prompt biases the decoding towards
words it contains; our wyoming-whisper takes one per request as ``context.initial_prompt`` of the
``transcribe`` event (other Wyoming speech-to-text servers ignore the field, and Home Assistant,
when it drives the satellite, sends its own ``transcribe`` without it: nothing changes there).
With ``--ha-names-to-asr`` the orchestrator adds the exposed entities' names and the areas to
each ``transcribe`` it sends. Off by default: in the room bench (bench/results/home_room_names.md,
load 12-15) it did not lower tiny.en's errors (WER 0.165 without, 0.188 with) and whisper wrote
names into the echo before a command ("Sound Door, Turn on the TV.").
"""

from __future__ import annotations

from hassil.expression import TextChunk
from hassil.intents import SlotList, TextSlotList
from wyoming.asr import Transcribe
from wyoming.event import Event

MAX_PROMPT_CHARS = 600  # Whisper keeps at most ~220 prompt tokens; a home of hundreds is cut here


def names_prompt(lists: dict[str, SlotList], limit: int = MAX_PROMPT_CHARS) -> str | None:
    """"Kitchen Light, Front Door, …, Kitchen, Living Room." (areas after the devices, each
    name once, at most ``limit`` characters); None for a home without names."""
    said: dict[str, None] = {}
    for kind in ("name", "area", "floor"):
        slot_list = lists.get(kind)
        if not isinstance(slot_list, TextSlotList):
            continue
        for value in slot_list.values:
            text = value.value_out if kind == "name" else None
            if not isinstance(text, str) and isinstance(value.text_in, TextChunk):
                text = value.text_in.text.title()
            if isinstance(text, str) and text.strip():
                said.setdefault(text.strip(), None)
    prompt = ""
    for name in said:
        if len(prompt) + len(name) + 2 > limit:
            break
        prompt = f"{prompt}, {name}" if prompt else name
    return prompt + "." if prompt else None


def with_names(event: Event, lists: dict[str, SlotList]) -> Event:
    """``event`` with the home's names as ``context.initial_prompt`` when it is a ``transcribe``
    (its other context kept; a prompt already there wins); any other event as it is."""
    if not Transcribe.is_type(event.type):
        return event
    prompt = names_prompt(lists)
    if prompt is None:
        return event
    request = Transcribe.from_event(event)
    context = dict(request.context or {})
    context.setdefault("initial_prompt", prompt)
    return Transcribe(name=request.name, language=request.language, vad_sensitivity=request.vad_sensitivity,
                      context=context).event()
