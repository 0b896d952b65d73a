"""The post-check on LLM replies: the LLM has no tools, so it never did anything.

A small LLM asked to "lock the front door" happily answers "I've locked the front door."
:class:`ClaimGuard` sits between the LLM's streamed text and text-to-speech. It holds the text
back only up to the end of the current clause (``,;:.!?`` and a space, or a line break), checks each clause
for a first-person claim of an action ("I turned on…", "the door is now locked", "timer set"),
and replaces the first such clause with an honest line; later claims are dropped. Clauses
without a claim pass unchanged, so the first words still reach the speaker one clause early.

The LLM cannot see the home either: a clause stating a device's state ("yes, it's locked", "the
kitchen light is on", "you left it on") is replaced the same way. And a clause stating the time
or date now ("it's 3:15 PM", "today is Monday") is checked against the real local clock: a wrong
one is replaced by the real time or date (:mod:`orchestrator.clock_claims`).

**The first words early.** Waiting for the end of the first clause held the reply's first audio
back by 0.3-0.5 s in the room (the first clause is often a whole sentence: "The largest planet in
our solar system is Jupiter,"). So in the reply's first clause, whole words are let through as
they arrive while none of them could be part of a claim (:data:`RISKY_WORDS`: a first or second
person, "it"/"they", a device, a timer, "now"/"been"/"just", a clock or date word; nor a clause
that starts with a number or a done-verb, "23:12.", "Turned on the ..."; an opening "It" before a verb of
its own, "time it takes" and "of light" are let through): text-to-speech can start its short
first piece. From the first such word the rest of the clause is held as before, and the whole
clause (words let through included) is checked at its end: a claim found then replaces the held
rest with the honest line, so a claim is never spoken. Later clauses are checked whole.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from .clock_claims import fix_clock_claim

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
# A device's state, which the LLM cannot know: "it's locked", "the back door is locked", "the
# lights are still on", "you left it on". On/off/open only at the end of the clause ("it is on
# the table" is not a state).
_DEVICE = (r"(?:it|they|both|all of them|the\s+[\w' ]{0,30}?(?:doors?|locks?|lights?|lamps?|garage|tv|television|"
           r"fans?|blinds?|shades?|curtains?|windows?|heating|heater|thermostat|kettle|coffee maker|oven|"
           r"stove|switch(?:es)?|plugs?|speakers?))")
_STATE_CLAIMS = [
    re.compile(rf"\b{_DEVICE}(?:\s+(?:in|on|at|of)\s+the\s+[\w ]{{1,20}}?)?\s*(?:'s|'re|is|are|was|were|isn't|"
               r"aren't|wasn't|weren't)\s+(?:not\s+|currently\s+|still\s+|now\s+|already\s+|definitely\s+|all\s+|"
               r"both\s+|securely\s+|safely\s+)*(?:(?:locked|unlocked|closed|shut)\b|"
               r"(?:on|off|open|running)\s*(?:right now|now|at the moment)?\s*[,;:.!?\n]*\s*$)"),
    re.compile(r"\byou\s+(?:did\s+)?(?:left|locked|unlocked|closed|shut|turned)\s+(?:it|them|the)\b"),
    re.compile(r"\byou\s+(?:did|didn't|did not)\s*[,;:.!?\n]*\s*$"),
    # "you forgot to lock the back door", "you didn't turn it off"
    re.compile(r"\byou\s+(?:forgot|didn't|did not|never|haven't|have not)\s+(?:to\s+)?"
               r"(?:lock|unlock|close|shut|turn|switch|leave)\b"),
]
# A clause ends at punctuation followed by a space ("4:20" and "3.5" do not end one), or a line.
_CLAUSE_END = re.compile(r"[,;:.!?]+\s+|\n+\s*")
# ... or at a comma or semicolon right after a letter that ends the text so far ("... in the world,"):
# the LLM's next token (" is") would only confirm it, one token later. Not after a digit ("1,000") nor
# inside a quote ("“Okay,” I ..." is one clause).
_COMMA_END = re.compile(r"^[^\"“”]*(?:“[^\"“”]*”[^\"“”]*|\"[^\"“”]*\"[^\"“”]*)*(?<=[^\W\d_])[,;]$")
MAX_PENDING = 400  # characters held at most before they are checked anyway

# Words that may begin or carry a claim (see the module doc): from the first of them on, the first
# clause is held to its end like any other.
RISKY_WORDS = frozenset({
    "i", "i'm", "i've", "i'll", "i'd", "im", "ive", "we", "we've", "we'll", "we're", "you", "you're", "you've",
    "you'll", "you'd", "your", "yours", "it", "it's", "its", "they", "they're", "them", "their", "both", "all",
    "everything", "done", "now", "been", "just", "currently", "still", "already", "today", "today's", "tonight",
    "time", "time's", "date", "year", "clock", "o'clock", "am", "pm", "a.m", "p.m", "noon", "midnight",
    "timer", "timers", "alarm", "alarms", "reminder", "reminders", "door", "doors", "lock", "locks", "light",
    "lights", "lamp", "lamps", "garage", "tv", "television", "fan", "fans", "blind", "blinds", "shade", "shades",
    "curtain", "curtains", "window", "windows", "heating", "heater", "thermostat", "kettle", "coffee", "oven",
    "stove", "switch", "switches", "plug", "plugs", "speaker", "speakers", "home", "house",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december",
})
_OPENERS = frozenset({"ok", "okay", "sure", "alright", "yes", "yeah"})
# An opening "It" before a verb of its own ("It takes 11 minutes", "It depends on ...") cannot open a
# claim ("it's locked", "it is on", "it has been turned off" need a form of be/have/do, and a linking verb
# may go on to a state: "it looks locked"); such a verb lets it through.
_AUXILIARIES = frozenset({"is", "was", "has", "does", "isn't", "wasn't", "hasn't", "doesn't", "seems", "looks",
                          "remains", "stays", "sounds", "appears", "gets", "goes", "turns", "becomes", "keeps"})
# "The time it takes to ..." is a duration, not the clock: "time" followed by "it takes" / "it took"
# goes out early with them (any other "time" holds the clause: "the time is 4:20", "time now").
_TIME_IT_VERBS = frozenset({"takes", "took"})
_EARLY_WORD = re.compile(r"\S+\s+")  # a whole word: followed by a space
_AROUND_WORD = ".,;:!?\"\u201c\u201d()[]-"  # punctuation and quotes (straight or curly) around a word


def _bare(word: str) -> str:
    """The one normalisation of a word for the word lists: lower case, a curly apostrophe as a
    straight one ("it’s" is "it's"), the punctuation and quotes around it gone."""
    return word.lower().replace("\u2019", "'").strip().strip(_AROUND_WORD)


def _risky(bare: str, first: bool) -> bool:
    """``first``: the clause's first word, where a number may be a clock time said alone ("23:12.");
    elsewhere a time or date needs a word that is risky itself ("it's", "today", "time", a month)."""
    return bare in RISKY_WORDS or (first and any(ch.isdigit() for ch in bare))


def _done_verb(bare: str) -> bool:
    """A clause that starts "Turned on the ...", "Setting the ...": a claim's usual opening."""
    return bare.endswith(("ed", "ing")) or bare in {"set", "shut", "done"}


def _own_verb(bare: str) -> bool:
    """A verb "it" does something with ("takes", "depends", "means"): not a form of be/have/do nor a
    linking verb (:data:`_AUXILIARIES`)."""
    return len(bare) > 3 and bare.endswith("s") and not bare.endswith("'s") and bare not in _AUXILIARIES


def claims_action(clause: str) -> bool:
    text = " ".join(clause.lower().replace("’", "'").split())
    return any(p.search(text) for p in _CLAIMS) or any(p.search(text) for p in _STATE_CLAIMS)


class ClaimGuard:
    """Feed streamed text in, get checked text out (see the module doc)."""

    def __init__(self, honest_line: str, now: Callable[[], dt.datetime] = dt.datetime.now, *,
                 early: bool = True) -> None:
        self.honest_line = honest_line
        self.now = now
        self.clock_fixed = False
        self.replaced = False
        self._pending = ""
        self._out: list[str] = []
        self._early = early  # still in the reply's first clause, no risky word seen
        self._said = ""  # the current clause's words already let through early
        self._figures_risky = False  # a number holds the first clause's rest (after "time it takes")

    def feed(self, delta: str) -> str:
        self._pending += delta
        ready: list[str] = []
        while True:
            end = _CLAUSE_END.search(self._pending) or _COMMA_END.search(self._pending)
            if end is None:
                break
            clause, self._pending = self._pending[: end.end()], self._pending[end.end():]
            ready.append(self._check_rest(clause))
            self._early = False  # only the reply's first clause goes out word by word
        if len(self._pending) > MAX_PENDING:
            ready.append(self._check_rest(self._pending))
            self._pending = ""
            self._early = False
        if self._early:
            ready.append(self._release_early())
        return self._emit("".join(ready))

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._emit(self._check_rest(rest) if rest or self._said else "")

    def _release_early(self) -> str:
        """The first clause's whole words that cannot be part of a claim, let through now."""
        cut = 0
        words = list(_EARLY_WORD.finditer(self._pending))
        skip = 0  # words already let through with the word before them ("time it takes")
        for k, match in enumerate(words):
            if skip:
                skip -= 1
                cut = match.end()
                continue
            word = _bare(match.group())
            first = not self._said and cut == 0
            if word == "time" and not first:
                if k + 2 >= len(words):
                    break  # "The time it takes": the next two words decide; wait for them
                if _bare(words[k + 1].group()) == "it" and _bare(words[k + 2].group()) in _TIME_IT_VERBS:
                    skip, cut = 2, match.end()
                    self._figures_risky = True  # a figure after it holds the rest ("... is 4:20")
                    continue
            if word == "it" and first:
                if k + 1 == len(words):
                    break  # the verb after it decides: wait for it
                if _own_verb(_bare(words[k + 1].group())):
                    cut = match.end()
                    continue
            before = words[k - 1].group() if k else (self._said.split() or [""])[-1]
            if word == "light" and _bare(before) == "of":
                cut = match.end()  # "the speed of light", "a beam of light": not a lamp
                continue
            if _risky(word, first or self._figures_risky) or (first and _done_verb(word)):
                self._early = False
                break
            if first and word in _OPENERS:
                self._early = False  # "Okay turned on ...": the verb decides; hold it
                break
            cut = match.end()
        text = self._pending[:cut]
        if not text or claims_action(self._said + text) or fix_clock_claim(self._said + text, self.now()):
            return ""
        self._said += text
        self._pending = self._pending[cut:]
        return text

    def _check_rest(self, rest: str) -> str:
        """Check a clause whose first words (``_said``) may have gone out already; what to say
        for the rest of it."""
        said, self._said = self._said, ""
        if not said:
            return self._check(rest)
        clause = said + rest
        checked = self._check(clause)
        return rest if checked == clause else checked

    @property
    def text(self) -> str:
        """Everything let through so far (the reply as it was spoken)."""
        return "".join(self._out)

    def _check(self, clause: str) -> str:
        if (fixed := fix_clock_claim(clause, self.now())) is not None:
            self.clock_fixed = True
            return fixed
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
