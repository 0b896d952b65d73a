"""The intent fast path: commands answered without the LLM, from sentence templates (hassil).

Templates, in order: the user's ``--intents`` files, a few phrasings the official templates read
wrongly (``intents_first.yaml``), the official English templates of the
``home-assistant-intents`` package (with the home's real entity, area and floor names as slot
lists when a home backend is connected), our extra phrasings (``intents.yaml``), and last the
home-looking wildcard commands (``home_fallback.yaml``). Everything is compiled once, at start.

What a match does:
- time, date, "never mind": answered here;
- timers: done by the :class:`~orchestrator.timers.TimerManager` of the satellite that asked;
- home commands: executed by the home backend (Home Assistant), whose outcome is the reply; with
  no home connected they get an honest ``no_home_reply``, never a confirmation. A home-looking
  command the official templates did not match goes to the backend's conversation API.
- "X and Y": each part is recognised and done; the reply says what happened to each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from hassil import Intents, recognize_best
from hassil.intents import SlotList

from .answers import CLOCK_INTENTS, SPOKEN_AHEAD, TIMER_INTENTS, TIMER_READ_ONLY, clock_answer, timer_answer
from .home.confidence import QUERIES, Asked, Doubt, Hearing, answer_word, doubt, home_names
from .home.here import placed
from .home.phrasing import DEVICE_NOUN, looped, rephrase, trim, undouble
from .home.speech import FAILURES, not_done
from .home.unheard import unheard_device, unheard_question
from .intent_templates import (
    EXTRA,
    FALLBACK,
    FIRST,
    HERE,
    WHOLE_HOME,
    empty_lists,
    load_official,
    responses_in,
    split_by_area_context,
)
from .intent_text import MAX_PARTS, normalize, split_parts, with_verbs
from .timers import TimerManager

NO_HOME_REPLY = "I can't control devices: no home is connected."
LLM_CANNOT_ACT = "I can't do that myself, and your home didn't understand the request."
# fmt: off
HOME_INTENTS = frozenset({
    "HassTurnOn", "HassTurnOff", "HassLightSet", "HassClimateSetTemperature", "HassClimateGetTemperature",
    "HassClimateSetFanMode", "HassGetState", "HassGetWeather", "HassSetPosition", "HassMediaPause",
    "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious", "HassSetVolume", "HassSetVolumeRelative",
    "HassMediaPlayerMute", "HassMediaPlayerUnmute", "HassMediaSearchAndPlay", "HassFanSetSpeed",
    "HassVacuumStart", "HassVacuumReturnToBase", "HassVacuumCleanArea", "HassLawnMowerStartMowing",
    "HassLawnMowerDock", "HassListAddItem", "HassListCompleteItem", "HassListRemoveItem",
    "HassShoppingListAddItem", "HassShoppingListCompleteItem", "HassBroadcast",
})
# fmt: on
_INDEFINITE = re.compile(r"^(?:a|an|some|any|another)\b")


@dataclass(frozen=True)
class Recognized:
    name: str
    slots: dict[str, Any]
    source: str  # "user", "official", "extra" or "fallback" (a wildcard home-looking command)
    text: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def whole_home(self) -> bool:
        """Said without a target where Home Assistant would use the satellite's area."""
        return bool(self.context.get("whole_home"))

    @property
    def here(self) -> bool:
        """Said without a place, meaning the satellite's own area ("lights off": :mod:`.home.here`)."""
        return bool(self.context.get("here"))


# What a matched turn did (``IntentMatch.done``; the turn's log line says it): the intent's name
# alone does not (a light-set that was only asked about is still "HassLightSet").
ACTED = "acted"  # done: sent to the home, a timer set (the reply says how it went)
FAILED = "failed"  # tried, and the home could not do it or did not answer
ASKED = "asked"  # a device action asked about, not done ("Did you mean ...?")
REFUSED = "refused"  # not done, nothing asked ("There is no thermostat in your home.")
NO_HOME = "no-home"  # a home command with no home connected
UNHEARD = "DeviceUnheard"  # ours: a device named, its command word misheard (.home.unheard)
ANSWERED = "answered"  # nothing to do: the time, a state read, a timer read, "no" to a question
REMOTE = "remote"  # the configured Wyoming intent service answered (what it did is not known here)


@dataclass(frozen=True)
class IntentMatch:
    name: str
    slots: dict[str, Any]
    response: str
    done: str = ANSWERED  # one of the outcomes above


class HomeBackend(Protocol):
    """Where home commands are done (Home Assistant)."""

    def slot_lists(self) -> dict[str, SlotList]: ...

    async def execute(self, command: Recognized) -> str:
        """Do ``command``; return what to say (the real outcome or an honest error)."""
        ...

    async def converse(self, text: str, conversation_id: str, *, part: bool = False) -> str | None:
        """Ask the home's own conversation agent; None when it did not understand. ``part``: one
        part of "X and Y", so an error answer must say that this part was not done."""
        ...


@dataclass
class IntentRecognizer:
    """Recognises and answers commands (see the module doc)."""

    files: tuple[Path, ...] = ()
    now: Callable[[], dt.datetime] = field(default=dt.datetime.now)
    timers: TimerManager | None = None
    home: HomeBackend | None = None
    no_home_reply: str = NO_HOME_REPLY
    areas: dict[str, str | None] = field(default_factory=dict)  # conversation id -> its satellite's area

    def __post_init__(self) -> None:
        official = load_official()
        self._skip_words: list[str] = list(official.get("skip_words", []))
        plain, contextual, here = split_by_area_context(official)
        self._official = Intents.from_dict(plain)
        self._contextual = Intents.from_dict(contextual)
        self._here = Intents.from_dict(here)
        # Our extra phrasings use the official lists ({brightness}, {temperature}, ...) and
        # expansion rules (<what_is>, <light>, ...).
        self._extra = Intents.from_yaml(io.StringIO(EXTRA.read_text(encoding="utf-8")))
        self._first = Intents.from_yaml(io.StringIO(FIRST.read_text(encoding="utf-8")))
        self._shared_lists: dict[str, SlotList] = dict(self._official.slot_lists)
        self._rules = self._official.expansion_rules
        self._fallback = Intents.from_yaml(io.StringIO(FALLBACK.read_text(encoding="utf-8")))
        self._user: list[Intents] = []
        self._custom_responses: dict[str, str] = {}
        for path in self.files:
            text = path.read_text(encoding="utf-8")
            self._user.append(Intents.from_yaml(io.StringIO(text)))
            self._custom_responses.update(responses_in(text))
        self._asked = Asked()  # device actions asked about, awaiting a yes or no
        self.recognize("what time is it")  # hassil compiles templates on first use (~0.5 s): do it now

    @property
    def honest_line(self) -> str:
        """What replaces an LLM's claim to have done something (it never can)."""
        return self.no_home_reply if self.home is None else LLM_CANNOT_ACT

    # -- recognition (synchronous, pure) ---------------------------------------------------
    def recognize_one(self, text: str) -> Recognized | None:
        cleaned = normalize(text)
        if not cleaned:
            return None
        for intents in reversed(self._user):  # the user's files win
            if (found := self._run(cleaned, intents, "user", None)) is not None:
                return found
        lists = {**empty_lists(), **(self.home.slot_lists() if self.home is not None else {})}
        shared = {**self._shared_lists, **lists}
        if (found := self._run(cleaned, self._first, "extra", shared, rules=self._rules)) is not None:
            return found
        if (found := self._run(cleaned, self._official, "official", lists)) is not None:
            return found
        if (found := self._run(cleaned, self._contextual, "official", lists, place=WHOLE_HOME)) is not None:
            return found
        if (found := self._run(cleaned, self._extra, "extra", shared, rules=self._rules)) is not None:
            return found
        if (found := self._run(cleaned, self._here, "official", lists, place=HERE)) is not None:
            return found
        return self._run(cleaned, self._fallback, "fallback", None)

    def recognize(self, text: str) -> list[Recognized]:
        """One command, or the parts of "X and Y" when the whole did not match as one. Said with
        fillers or politeness ("um can you ...", "... right now") or in other words ("fire up",
        "half an hour"), it is tried again without them and in the templates' words
        (:mod:`.home.phrasing`); a wildcard match is kept only when no form matches better."""
        text = undouble(normalize(text))
        found = self._recognize(text)
        short = trim(text)
        other = rephrase(short)
        for variant in dict.fromkeys((short, other)):
            if found and found[0].source != "fallback":
                break
            if variant != text:
                better = self._recognize(variant)
                if variant == other and not all(_names_device(c) for c in better):
                    continue  # "kill the spider": other words, but no device
                found = better or found
        return found

    def _recognize(self, text: str) -> list[Recognized]:
        # "X and Y" naming the home's devices is two commands, whatever the whole would match as
        # (no template has a real name with "and" in it): its parts first, which saves matching
        # the long whole against every template (the slowest recognitions with many entities).
        pieces = [p for p in split_parts(normalize(text)) if p]
        parts: list[Recognized | None] = []
        if 1 < len(pieces) <= MAX_PARTS:
            parts = [self.recognize_one(p) for p in with_verbs(pieces)]
            if all(p is not None and p.name in HOME_INTENTS and p.source != "fallback" for p in parts):
                return [p for p in parts if p is not None]
        whole = self.recognize_one(text)
        if whole is not None and whole.source != "fallback":
            return [whole]
        if parts and all(p is not None and p.name in HOME_INTENTS for p in parts):
            return [p for p in parts if p is not None]
        return [whole] if whole is not None else []

    def _run(
        self,
        cleaned: str,
        intents: Intents,
        source: str,
        slot_lists: dict[str, SlotList] | None,
        *,
        rules: dict[str, Any] | None = None,
        place: str | None = None,
    ) -> Recognized | None:
        # Like Home Assistant: of several readings, prefer the one naming a device ("the kitchen
        # light" as a name, not as the lights of the area "kitchen"). ``place``: the area placeholder
        # of templates that need the satellite's (WHOLE_HOME, HERE).
        context = {"area": {"value": place, "text": ""}} if place else None
        result = recognize_best(
            cleaned,
            intents,
            slot_lists=slot_lists,
            skip_words=self._skip_words,
            best_slot_name="name",
            expansion_rules=rules,
            intent_context=context,
        )
        if result is None:
            return None
        slots = {name: e.value for name, e in result.entities.items() if e.value not in (WHOLE_HOME, HERE)}
        if source == "fallback" and _INDEFINITE.match(str(slots.get("name", ""))):
            return None  # "open a conversation about ...": a device is "the X" or "my X"
        found = dict(result.context or {})
        if place and "area" not in slots:
            found = {"whole_home" if place == WHOLE_HOME else "here": True}
        return Recognized(result.intent.name, slots, source, cleaned, found)

    # -- answers ---------------------------------------------------------------------------
    async def answer(
        self,
        text: str,
        conversation_id: str,
        on_act: Callable[[], object] | None = None,
        hearing: Hearing | None = None,
        recognized: list[Recognized] | None = None,
    ) -> IntentMatch | None:
        """The reply to ``text`` if it is a command we answer; None: ask the LLM.

        Recognition runs in a thread (milliseconds, more with hundreds of entities). ``on_act``
        is called right before anything that may change something (a timer, the home) starts:
        until then the question may still be continued (:mod:`.continuation`). ``hearing``: how
        sure speech-to-text was; a device action heard unsurely, or naming a device only nearly,
        is asked about instead of done, and a "yes" next does it (:mod:`.home.confidence`).
        ``recognized``: what :meth:`recognize` found in this very text a moment ago (the turn's
        speculative transcript, :mod:`.preemptive`), so it is not run again."""
        acts = on_act if on_act is not None else (lambda: None)
        meant = self._asked.take(conversation_id, self.now())
        if meant and (yes := answer_word(normalize(text))) is not None:
            if not yes:
                return IntentMatch("HassNevermind", {}, "Okay, I won't.")
            acts()
            spoken = await self._home_do(list(meant), text, conversation_id)
            return IntentMatch(
                meant[0].name, meant[0].slots, spoken or "Your home didn't understand that.", _done(list(meant), spoken)
            )
        commands = recognized if recognized is not None else await asyncio.to_thread(self.recognize, text)
        if not commands:  # a device named with a command word misheard: asked, not left to the LLM
            device = self.unheard(text)
            return IntentMatch(UNHEARD, {"name": device}, unheard_question(device), ASKED) if device else None
        first = commands[0]
        if first.source == "user":
            template = self._custom_responses.get(first.name, "Done.")
            return IntentMatch(first.name, first.slots, template.format(**first.slots))
        if first.name in CLOCK_INTENTS:
            return IntentMatch(first.name, first.slots, clock_answer(first.name, self.now() + SPOKEN_AHEAD))
        if first.name in TIMER_INTENTS:
            if first.name not in TIMER_READ_ONLY:
                acts()
            reply = await timer_answer(self.timers, conversation_id, first.name, first.slots)
            return IntentMatch(first.name, first.slots, reply, ANSWERED if first.name in TIMER_READ_ONLY else ACTED)
        if first.name not in HOME_INTENTS:
            return None
        slots = first.slots if len(commands) == 1 else {"commands": [c.name for c in commands]}
        if self.home is None:
            return IntentMatch(first.name, slots, self.no_home_reply, NO_HOME)
        here = placed(commands, self.areas.get(conversation_id), self.home.slot_lists())  # "lights off": this room
        if isinstance(here, str):
            return IntentMatch(first.name, slots, here, REFUSED)
        commands = here
        if (asking := self.ask_first(commands, text, hearing)) is not None:
            if asking.meant:
                self._asked.put(conversation_id, asking.meant, self.now())
            return IntentMatch(first.name, slots, asking.question, REFUSED if asking.refused else ASKED)
        acts()
        spoken = await self._home_do(commands, text, conversation_id)
        return IntentMatch(first.name, slots, spoken, _done(commands, spoken)) if spoken else None

    def unheard(self, text: str) -> str | None:
        """The home's device ``text`` (matching no command) names with its command word misheard
        (:mod:`.home.unheard`: "Walk the front door, please."); None: none, or no home."""
        if self.home is None:
            return None
        return unheard_device(normalize(text), self.home.slot_lists(), question=text.rstrip().endswith("?"))

    def ask_first(self, commands: list[Recognized], text: str, hearing: Hearing | None) -> Doubt | None:
        """Whether to ask instead of doing ``commands`` recognised in ``text`` (None: go ahead):
        a request whose words do not fit its device, a near name, an unsure hearing, a loop that
        is not one sentence said again (:mod:`.home.confidence`, :mod:`.home.fit`). The one
        decision :meth:`answer` takes, also used by the benches that measure it."""
        if self.home is None:
            return None
        home = self.home
        if looped(said := normalize(text)) and undouble(said) == said:  # a loop, not one sentence
            hearing = replace(hearing or Hearing(), looped=True)  # said again: unsure (.home.confidence)
        return doubt(commands, hearing, lambda: home_names(home.slot_lists()), self.recognize, home.slot_lists)

    async def _home_do(self, commands: list[Recognized], text: str, conversation_id: str) -> str | None:
        """Done in the home: one command (a wildcard one through the home's own agent, None when
        it did not understand), or each of several."""
        assert self.home is not None
        if len(commands) > 1:
            return await self._home_many(commands, conversation_id)
        if commands[0].source == "fallback":
            return await self.home.converse(text, conversation_id)
        return await self.home.execute(commands[0])

    async def _home_many(self, commands: list[Recognized], conversation_id: str) -> str:
        """Each part in the order asked ("unlock the door and open the garage"); the reply says
        what happened to each, naming a part that was not done as the user said it."""
        if self.home is None:
            return self.no_home_reply
        replies = []
        for command in commands:
            if command.source == "fallback":  # no such name here: maybe the home's own agent knows it
                spoken = await self.home.converse(command.text, conversation_id, part=True)
                reply = spoken or not_done(command.text, "I don't know what that is in your home.")
            else:
                reply = (await self.home.execute(command)).strip()
                if reply in FAILURES:
                    reply = not_done(command.text, reply)
            replies.append(reply.strip())
        return " ".join(r for r in replies if r)


def _done(commands: list[Recognized], spoken: str | None) -> str:
    """What sending ``commands`` to the home did, from its reply (:data:`ACTED` and the others)."""
    if all(c.name in QUERIES for c in commands):
        return ANSWERED
    return FAILED if not spoken or (len(commands) == 1 and spoken.strip() in FAILURES) else ACTED


def _names_device(command: Recognized) -> bool:
    """A wildcard command names something that ends with a device word, or matched on a device's
    kind with no name ("is the tv on": the template's own word); any other always."""
    if command.source != "fallback" or "name" not in command.slots:
        return True
    return bool(DEVICE_NOUN.search(str(command.slots["name"])))
