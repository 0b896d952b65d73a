"""A device request whose command word was misheard: pure, no I/O.

tiny.en mishears the verb of short device requests far more often than the device's name: "Lock
the front door." heard "Look the front door." / "Not the front door.", "Unlock the back door."
heard "and walk the back door." / "I like the back door.", "Shut the garage door." heard "Check the
garage door." (bench/results/home_misheard.decodes.json, home_loops.decodes.json: 21 such texts
name a device of the bench home and match no command; all 21 were said as device commands). No
template matches them, so the LLM answered them as if they were chat.

:func:`unheard_device` finds such a text: it names a device of the home (its spoken form, as
whole words), it is not a question (no final "?", not opened by a question word or a thanks) and it is short
(at most :data:`MAX_WORDS` words: a command, not a remark about the device). The assistant then
says it did not catch what to do with that device instead of guessing: the verb is exactly what
was misheard, and the likely guesses are opposites ("lock" / "unlock"), so nothing is offered for
a "yes". Questions that name a device ("who invented the thermostat", "how does a garage door
opener work": the home corpora's not-commands) still go to the LLM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hassil.intents import SlotList

from .fit import HomeWords

MAX_WORDS = 7  # the 21 misheard requests have at most 7 words ("Set the TV volume to thirty.")
QUESTION_WORDS = frozenset({
    "who", "what", "what's", "whats", "when", "where", "where's", "why", "how", "how's", "which", "whose", "is",
    "are", "was", "were", "do", "does", "did", "can", "could", "would", "will", "should", "shall", "have", "has",
    "tell", "explain", "describe", "recommend",
    "thanks", "thank", "cheers", "great", "nice", "sorry",  # chat about what was done, not a command
})  # fmt: skip


def unheard_device(text: str, lists: Mapping[str, SlotList], *, question: bool = False) -> str | None:
    """The home's device (its name as the home writes it) that ``text`` (normalized, matching no
    command) asks something of with a command word that was not heard; None: not such a text.
    ``question``: the transcript ended in "?" (normalizing drops it)."""
    words = text.split()
    if question or not words or len(words) > MAX_WORDS or words[0] in QUESTION_WORDS:
        return None
    home = HomeWords.of(lists)
    for spoken in sorted(home.devices, key=len, reverse=True):
        if re.search(rf"(?<!\S){re.escape(spoken)}(?!\S)", text):
            return home.devices[spoken][0]
    return None


def unheard_question(device: str) -> str:
    return f"Sorry, I didn't catch what to do with the {device}. Could you say it again?"
