"""The post-check on LLM replies: the LLM has no tools, so it never did anything.

A small LLM asked to "lock the front door" happily answers "I've locked the front door."
:class:`ClaimGuard` sits between the LLM's streamed text and text-to-speech. It holds the text
back only up to the end of the current clause (``,;:.!?`` or a line break), checks each clause
for a first-person claim of an action ("I turned on…", "the door is now locked", "timer set"),
and replaces the first such clause with an honest line; later claims are dropped. Clauses
without a claim pass unchanged, so the first words still reach the speaker one clause early.
"""

from __future__ import annotations

import re

# Verbs of doing something to a device or the house.
_VERBS = (
    r"turn(?:ed)?|switch(?:ed)?|lock(?:ed)?|unlock(?:ed)?|open(?:ed)?|close(?:d)?|shut|dimm?(?:ed)?|"
    r"brighten(?:ed)?|set|start(?:ed)?|stopp?(?:ed)?|pause(?:d)?|resume(?:d)?|activate(?:d)?|"
    r"deactivate(?:d)?|adjust(?:ed)?|change(?:d)?|raise(?:d)?|lower(?:ed)?|arm(?:ed)?|disarm(?:ed)?|"
    r"play(?:ed|ing)?|skipp?(?:ed)?|muted?|unmuted?|cancel(?:l?ed)?|schedul(?:ed|e)|creat(?:ed|e)"
)
_CLAIMS = [
    # "I turned on …", "I've locked …", "I have just set …", "I'll turn …", "I will set", "I'm turning"
    re.compile(rf"\bi\s*(?:'ve|have|'ll|will|'m|am|just|now|also|already|\s)*\s*(?:{_VERBS})\b"),
    # "… has been turned on", "… are now locked", "… is now set to 20 degrees"
    re.compile(rf"\b(?:has|have|is|are|was|were)\s+(?:now\s+|been\s+|just\s+)+(?:{_VERBS}|on|off)\b"),
    # "Turned on the kitchen lights.", "Timer set for …", "Done!" (the whole clause)
    re.compile(r"^\s*(?:ok(?:ay)?\s*|sure\s*|alright\s*)?(?:\w+ed|\w+ing|set|shut)\s+(?:on|off|up|down)?\s*"
               r"(?:the|your|a|it|all)\b"),
    re.compile(r"\b(?:timer|alarm|reminder)\s+(?:is\s+)?(?:set|started|created)\b"),
    re.compile(r"^\s*(?:done|all done)\s*[.!]?\s*$"),
]
_CLAUSE_END = re.compile(r"[,;:.!?\n]+\s*")
MAX_PENDING = 400  # characters held at most before they are checked anyway


def claims_action(clause: str) -> bool:
    text = " ".join(clause.lower().replace("’", "'").split())
    return any(p.search(text) for p in _CLAIMS)


class ClaimGuard:
    """Feed streamed text in, get checked text out (see the module doc)."""

    def __init__(self, honest_line: str) -> None:
        self.honest_line = honest_line
        self.replaced = False
        self._pending = ""
        self._out: list[str] = []

    def feed(self, delta: str) -> str:
        self._pending += delta
        ready: list[str] = []
        while True:
            end = _CLAUSE_END.search(self._pending)
            if end is None:
                break
            clause, self._pending = self._pending[: end.end()], self._pending[end.end():]
            ready.append(self._check(clause))
        if len(self._pending) > MAX_PENDING:
            ready.append(self._check(self._pending))
            self._pending = ""
        return self._emit("".join(ready))

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._emit(self._check(rest) if rest else "")

    @property
    def text(self) -> str:
        """Everything let through so far (the reply as it was spoken)."""
        return "".join(self._out)

    def _check(self, clause: str) -> str:
        if not claims_action(clause):
            return clause
        if self.replaced:
            return ""
        self.replaced = True
        return self.honest_line + " "

    def _emit(self, text: str) -> str:
        if text:
            self._out.append(text)
        return text
