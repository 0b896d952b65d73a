"""When a device action should be asked about instead of done: pure, no I/O.

Two signs that the words are not what was said:

- speech-to-text was unsure (:class:`Hearing`): our ``wyoming-whisper`` sends the decode's
  ``avg_logprob`` (the lowest of its segments) and ``no_speech_prob`` (the highest) in the
  ``transcript`` event's ``context``; other servers send nothing, and then nothing is unsure;
- the device named is not one of the home's but is close to one (:func:`near_name`): "switch off
  in bedroom lamp" (a wildcard template matched) names no device, "bedroom lamp" is one; or it
  names one only once its "a"/"an" is read as "the" ("turn off the lights in a living room": a
  misheard article, never how a room or device is named).

Then a device ACTION is not done: the assistant asks ("Did you mean the Bedroom Lamp?") and a
"yes" does it. Questions (states, temperature, weather), the time and timers go ahead. Checked
first, whatever the scores: a request whose words do not fit its device (degrees on a light, a
percentage on a lock) is asked about too (:mod:`.fit`).

The threshold was chosen by measurement (bench/home_confidence.py, tiny.en through our engine, 60
decodes heard as device actions: the end-of-turn corpus at its conditions and harsher far+noise,
and Piper in white noise; bench/results/home_confidence.md): with the near-name rule, an
``avg_logprob`` below -0.6 stops 11 of 14 wrong device actions and asks about 5 of 46 right ones;
-0.5 stops the same 11 and asks about 13; -0.7 stops 9 and asks about 4. Re-judged with the whole
decision (``IntentRecognizer.ask_first``: also the article rule and the fit check): -0.6 stops 12
and asks 5, -0.5 stops 12 and asks 13, -0.7 stops 11 and asks 4. The mishearing of the
room run ("Set the firmest up to 20 degrees", -0.635) is stopped. ``no_speech_prob`` above 0.6
(faster-whisper's own no-speech threshold) is unsure too.

A transcript that loops (:func:`.phrasing.looped`; greedy decodes under load loop more, and a
loop's ``avg_logprob`` is high, so it can hide an unsure hearing) was measured apart
(bench/home_loops.py, bench/results/home_loops.md: 408 decodes of device commands, tiny.en at
beam 5 and 1): every loop that is one sentence said again ("open the garage door open the garage
door", collapsed by :func:`.phrasing.undouble`) and matched a device of the home was RIGHT (36 of
36); the other 13 such loops named no device ("to garage door": 10 asked about by the near-name
rule; "right floor": 3 passed to Home Assistant's own agent, which knows no such device). Asking
before a lock or garage door on any loop would have asked 33 needless questions and stopped no
wrong action. A loop that is NOT one sentence repeated ("close to the right floor close to the
right floor ... close to the left") is unsure: a device action from it is asked about.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hassil.intents import SlotList, TextSlotList

from .fit import misfit

if TYPE_CHECKING:
    from ..intents import Recognized

# avg_logprob below this, or no_speech_prob above that, is an unsure transcript.
LOW_LOGPROB = -0.6
HIGH_NO_SPEECH = 0.6
# difflib ratio of a said name to a device's name (spoken forms) that counts as "meant". 0.7 (was
# 0.75): on bench/home_loops.py's 408 decodes it stops 51 of 61 wrong device actions (was 39:
# "bed in light" 0.72, "bedroom's life" 0.74 for the Bedroom Light) and asks about no more right
# ones (10 of 147); no unknown device of HELD_OUT_8's no-home set is taken for one of the home's.
NEAR = 0.7

# fmt: off
YES = frozenset({
    "yes", "yeah", "yep", "yup", "yes please", "yeah please", "yes do it", "yes it is", "yes i did", "correct",
    "that's right", "that's it", "right", "sure", "do it", "please do", "go ahead", "ok", "okay", "yes that one",
})
# fmt: on
NO = frozenset({"no", "nope", "no thanks", "no thank you", "don't", "do not", "no don't", "wrong", "neither"})


@dataclass(frozen=True)
class Hearing:
    """How sure speech-to-text was of one transcript (None: not said by the server)."""

    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    looped: bool = False  # the transcript loops, and is not one sentence said again (see the module doc)

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Hearing:
        """From a ``transcript`` event's ``context`` (anything else there is ignored)."""
        context = context or {}
        return cls(_number(context.get("avg_logprob")), _number(context.get("no_speech_prob")))

    @property
    def unsure(self) -> bool:
        return self.looped or (
            (self.avg_logprob is not None and self.avg_logprob < LOW_LOGPROB)
            or (self.no_speech_prob is not None and self.no_speech_prob > HIGH_NO_SPEECH)
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def near_name(said: str, names: Iterable[str]) -> str | None:
    """The home's name ``said`` (a name that is not one of them) most likely means: one contained
    in it as whole words ("in bedroom lamp": "bedroom lamp"), else the closest spelling at
    :data:`NEAR` or more ("kitten light": "kitchen light"). None: nothing close."""
    said = " ".join(said.lower().split())
    if not said:
        return None
    best, score = None, 0.0
    for name in names:
        spoken = " ".join(re.sub(r"[^\w\s']", " ", name.lower()).split())
        if not spoken:
            continue
        if re.search(rf"(?<!\S){re.escape(spoken)}(?!\S)", said):
            ratio = 1.0 + len(spoken) / 1000  # contained: the longest such name wins
        else:
            ratio = difflib.SequenceMatcher(None, said, spoken).ratio()
        if ratio > score:
            best, score = name, ratio
    return best if score >= NEAR else None


def answer_word(text: str) -> bool | None:
    """True for a yes, False for a no (normalized text), None for anything else."""
    text = text.strip()
    return True if text in YES else False if text in NO else None


_ARTICLE = re.compile(r"(?<!\S)(?:a|an)(?!\S)")
QUERIES = frozenset({"HassGetState", "HassClimateGetTemperature", "HassGetWeather"})  # safe: nothing changes
ASK_FOR = dt.timedelta(seconds=60)  # how long a question's "yes" is awaited
MAX_ASKED = 64  # conversations with a question open (the oldest is forgotten)


@dataclass(frozen=True)
class Doubt:
    """A device action not done: what to ask, and what a "yes" does (nothing: asked which).
    ``refused``: nothing is asked ("There is no thermostat in your home.")."""

    question: str
    meant: tuple[Recognized, ...] = ()
    refused: bool = False


def home_names(lists: Mapping[str, SlotList]) -> list[str]:
    """The home's device names (as Home Assistant writes them) from its ``name`` slot list."""
    names = lists.get("name")
    if not isinstance(names, TextSlotList):
        return []
    return list(dict.fromkeys(v.value_out for v in names.values if isinstance(v.value_out, str)))


def doubt(
    commands: list[Recognized],
    hearing: Hearing | None,
    names: Callable[[], list[str]],
    recognize: Callable[[str], list[Recognized]],
    lists: Callable[[], Mapping[str, SlotList]] | None = None,
) -> Doubt | None:
    """Whether to ask instead of doing ``commands`` (see the module doc). With the home's slot
    ``lists``, a request whose words do not fit its device ("set the kitchen light to 20
    degrees") is asked about first (:mod:`.fit`). A wildcard command whose name is close to a
    device's is asked about as that device ("Did you mean the Bedroom Lamp?"); with an unsure
    transcript any action is ("Did you say ...?"), or, when no device fits, "which device". None:
    go ahead."""
    if all(c.name in QUERIES for c in commands):
        return None
    if lists is not None and (wrong := misfit(commands, lists(), recognize)) is not None:
        return Doubt(wrong.question, wrong.meant, wrong.refused)
    meant, fixed = list(commands), []
    for i, command in enumerate(commands):
        said = str(command.slots.get("name", ""))
        if command.source != "fallback" or command.name in QUERIES or not said:
            continue
        near = near_name(said, names())
        # "the lights in a living room": nobody names their room with "a"; the article was misheard
        other = command.text.replace(said, near.lower() if near else _ARTICLE.sub("the", said))
        if other == command.text:
            continue
        found = recognize(other)
        if len(found) == 1 and found[0].source != "fallback":
            meant[i] = found[0]
            fixed.append(f"the {near}" if near else other)
    if fixed:
        return Doubt(f"Did you mean {' and '.join(fixed)}?", tuple(meant))
    if hearing is None or not hearing.unsure:
        return None
    if any(c.source == "fallback" and c.name not in QUERIES for c in commands):
        return Doubt("Sorry, I didn't catch which device. Which one?")
    said = " and ".join(c.text for c in commands)
    return Doubt(f"I'm not sure I heard that right. Did you say: {said}?", tuple(commands))


@dataclass
class Asked:
    """The questions waiting for a yes or no, per conversation (bounded; each for :data:`ASK_FOR`)."""

    open: OrderedDict[str, tuple[tuple[Recognized, ...], dt.datetime]] = field(default_factory=OrderedDict)

    def put(self, conversation_id: str, meant: tuple[Recognized, ...], now: dt.datetime) -> None:
        self.open.pop(conversation_id, None)
        self.open[conversation_id] = (meant, now + ASK_FOR)
        while len(self.open) > MAX_ASKED:
            self.open.popitem(last=False)

    def take(self, conversation_id: str, now: dt.datetime) -> tuple[Recognized, ...]:
        """The commands a question asked about (and forgets it); () when none is open."""
        meant, until = self.open.pop(conversation_id, ((), now))
        return meant if now < until else ()
