"""End of turn from what was said and from silence: is this transcript a finished request?

Pure and synchronous (no asyncio, no wyoming). The whisper server's endpointing
(:mod:`.stream`, :mod:`.handler`) asks :func:`judge` about the text of the speculative final
decode, the decode that already runs once the speech has been followed by ~0.1 s of silence,
so the decision adds no decode of its own:

* a **finished** request ("what time is it", "stop", "turn on the kitchen lights") ends after
  the base silence (0.25 s with ``vad_sensitivity: default``, 0.2 s ``aggressive``, 1.0 s
  ``relaxed``: Home Assistant's runs, where no continuation merges a cut back; :mod:`.policy`);
* an **unfinished** one waits for more speech, up to the cap (``--endpoint-max-silence``,
  1.5 s by default). Speech that resumes in the wait continues the same utterance, and its new
  speculative decode is judged again at the next pause;
* one unfinished only because Whisper wrote no final ``.`` ``?`` ``!`` while its words read as
  finished (a **weak** verdict: tiny.en drops the period of finished requests in noise) waits
  less (``EndpointPolicy.weak_cap``: 1.2 s with ``default``, longer than a 0.9 s pause). Our
  orchestrator asks for those texts (``context.speculative_weak``) and ends the turn itself at
  once when one is a whole command by its intent templates (``orchestrator/command_end.py``): the
  words alone cannot tell "next song" from the first half of a paused request, the templates can.
  A whole command of one word ("next", "Louder", :mod:`.short_commands`) is finished without its mark.

A transcript is unfinished when it ends in a word that cannot end an English request
(:data:`OPEN_WORDS`: articles, prepositions, conjunctions, auxiliaries, possessives, "to",
"for", fillers such as "um"; not a be-form after a wh-clause's subject: "where it is"), in a verb
particle right after its verb ("turn on", "switch off"),
in "on" after the object of a verb that says where ("play the next song on", "show the weather
on"; not "turn the lights on", "is the tv on"), in a subject right after a modal ("can you"), in
a number after a timer/alarm word without its unit ("set a timer for fifteen"), in an article + a
superlative ("where is the nearest"), in "too" at the end of a command that takes a "to" value
("set the firmest out too": Whisper's spelling of a "to" cut at the pause), when it is a "set"
request with no value yet ("set the thermostat"), in a comma, dash
or ellipsis (Whisper writes those where the voice did not fall: the only prosody cue we use, and
it comes free with the decode), or when it is a wh-question with no verb yet ("how far away",
"what time"), or when it has no words at all (noise decoded as "." or ""; it used to end the turn,
so a 0.2 s blip before the question was answered as the whole request), or when it reads as cut at a
pause in ways no request ends (:func:`_cut_at_pause`, session 22: "the" heard as "then"/"them"/"they"
after a particle or "me" or "is", "read me" with nothing to read, "turn"/"switch" with no on/off/up/
down or value, "going" with its "to" still to come; on the corpus's room-like streams pause cuts
67 -> 48 of 185 tune and 22 -> 16 of 139 held, no request's end changed; bench/results/s22_eot.md;
session 28, :mod:`.pause_cuts`: "who wrote the novel" without its title, "call mine"). Else finished.
Not "her" as an object ("call her") nor a wh-question with an irregular past ("who sang"): session 29,
:mod:`.whole_words`.

What was tried and what won (``bench/turn_bench.py``; 43 requests with a 0.3-0.9 s pause
mid-sentence streamed in real time, 2026-12-01; paused requests cut, tune + held-out):
silence alone 0.25 s cut 42/43 (the old ``serve`` default), 0.7 s 16/43; rules over the words
alone (first run, ``aggressive``) 24/43; the words plus Whisper's final punctuation, repeated
phrases, lone command verbs and timers without a time 18/43 with ``aggressive`` (0.25 s / 1.5 s)
and 13/43 with ``default`` (0.4 s / 1.875 s), which ``serve`` asks for. Re-measured on the code of
2026-12-05 (``bench/results/turn.md``): 9/43 (0.7 s of silence 13/43, 0.25 s 41/43); finished requests
end p50 0.27 s, p95 1.17-1.19 s (one written without a final period, or unsure, waits 1.2 s).
Not tried: the local LLM's end-of-text probability (SmolLM2-135M is not trained for it, and it would
put an HTTP request on every turn's latency path), a trained classifier (no labelled data). Details in
``wyoming_whisper/README.md`` and ``bench/results/turn.md``.

Words and silence alone cannot get to zero cuts (a pause after a word that can end a request:
"can you play some music ... by the Beatles"). Our orchestrator therefore also turns a cut into
a *continuation* (:mod:`orchestrator.continuation`): speech that resumes within 1.5 s of the
end is merged into the same question and transcribed whole (``context.endpoint_after`` keeps
this server from ending it again in the first part). With Home Assistant driving the
satellite only this module applies.

Tried and NOT kept (2026-12-01, ``bench/prosody_probe.py``, offline, ``bench/results/prosody.json``):
a pitch cue, the F0 slope over the last ~300 ms of voiced audio (autocorrelation, 40 ms frames),
"level or rising = going on", applied where the words read as finished. At the threshold that
rescued most (-12 st/s) it would have kept 5/6 + 5/5 aligned pauses (tune + held-out) and 2/3 +
2/5 split ones from being cut, but made 12/27 + 7/26 finished requests wait for the cap; at
0 st/s it rescued 2/6 + 4/5 aligned, 1/3 + 1/5 split and still slowed 5/27 + 2/26 (yes/no
questions rise at the end). It slows complete requests at every threshold, so it is not used.
Tried again for ``relaxed`` alone (2026-12-03, ``bench/ha_eot_offline.py``, 90 requests with two or
three 0.6-0.9 s pauses after words that read finished, split and comma-aligned, 3 voices): a level
pitch (> -5 st/s) waiting 1.5 s rescued 1 of the 55 pauses 0.7 s cut and sent the p95 of complete
requests from 0.80 s to 1.56 s; a flat 1.0 s wait cut none of the 90 (p50 1.04 s), so that won.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .pause_cuts import cut_reason
from .short_commands import alone_command
from .whole_words import PAST_VERBS, clock_time, demonstrative_object, her_as_object, quantity_question

# fmt: off
ARTICLES = frozenset({"a", "an", "the", "this", "that", "these", "those", "some", "any", "every", "each"})
POSSESSIVES = frozenset({"my", "your", "his", "her", "its", "our", "their", "whose"})
PREPOSITIONS = frozenset({
    "to", "for", "of", "in", "at", "from", "with", "by", "about", "into", "onto", "than", "like",
    "between", "after", "before", "until", "till", "during", "without", "through", "towards",
    "toward", "across", "near", "under", "over", "per", "via", "against", "among", "upon",
})
CONJUNCTIONS = frozenset({"and", "or", "but", "nor", "so", "because", "if", "unless", "while", "whether",
                          "although", "though", "then", "plus", "also"})
AUXILIARIES = frozenset({
    "is", "are", "was", "were", "am", "be", "been", "being", "do", "does", "did", "can", "could",
    "will", "would", "shall", "should", "may", "might", "must", "have", "has", "had",
    "what's", "where's", "who's", "how's", "it's", "that's", "there's", "i'm", "you're", "we're",
    "they're", "i'd", "i'll", "you'll", "let's",
})
FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "hmm", "ah", "eh", "mm", "like"})
OPEN_WORDS = ARTICLES | POSSESSIVES | PREPOSITIONS | CONJUNCTIONS | AUXILIARIES | FILLERS
# "please" and "also" ask for more only when nothing else was said ("please ..."): handled below.
OPENERS = frozenset({"please", "hey", "okay", "ok", "so", "and", "well", "now", "can", "could", "would"})

# A particle that finishes "turn the lights on" but not "turn on".
PARTICLES = frozenset({"on", "off", "up", "down", "out", "in"})
PARTICLE_VERBS = frozenset({"turn", "switch", "put", "set", "look", "find", "pick", "shut", "close", "open",
                            "dim", "bring", "go", "come", "check", "read", "write", "play", "give", "fill"})
# "on" after an object is the device or place still to come ("play the next song on ... my playlist",
# "show the weather on ... the tv") unless the request is about something being on ("turn the lights
# on", "is the tv on", "leave the fan on").
PLACE_VERBS = frozenset({"play", "show", "cast", "stream", "watch", "display", "start", "resume", "read",
                         "send", "share", "write", "add", "note"})
ON_STATE_WORDS = frozenset({"turn", "turned", "switch", "switched", "leave", "left", "keep", "kept", "is", "are",
                            "was", "were", "be", "still", "what's", "it's", "that's", "there's", "stay", "stays",
                            "carry", "hold", "come", "go", "move", "log", "sign", "try", "put"})

# "can you", "how do you": a subject after a modal or "do", with the verb still to come.
MODALS = frozenset({"can", "could", "would", "will", "should", "shall", "do", "does", "did", "may", "might", "must"})
SUBJECTS = frozenset({"you", "i", "we", "they", "he", "she"})

WH_WORDS = frozenset({"what", "how", "where", "when", "who", "which", "why", "whose", "whom"})
# A wh-question is finished only once it has a verb ("how far away" has none).
VERBS = AUXILIARIES | frozenset({
    "add", "ask", "book", "boil", "bring", "buy", "call", "cancel", "change", "check", "close", "come", "cook",
    "cost", "die", "dim", "drive", "eat", "end", "feel", "find", "fly", "get", "give", "go", "goes",
    "happen", "happened", "have", "hear", "help", "invent", "invented", "know", "last", "leave", "like",
    "live", "lives", "look", "make", "mean", "means", "need", "open", "pay", "play", "put", "rain", "read",
    "remind", "run", "say", "said", "see", "sell", "send", "set", "show", "sing", "sleep", "sound", "spell",
    "start", "stop", "take", "takes", "tell", "think", "turn", "use", "wake", "want", "was", "watch",
    "wear", "weigh", "win", "won", "work", "works", "write", "wrote", "built", "discovered", "painted",
    "born", "made", "called", "named", "gets", "got", "left", "opens", "closes",
    "starts", "begin", "begins", "began", "happens", "does", "did",
})
WH_VERBS = VERBS | PAST_VERBS
NUMBER_WORDS = frozenset({
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
    "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "half",
})
UNIT_CONTEXT = frozenset({"timer", "alarm", "remind", "reminder", "wait", "countdown", "minutes", "for"})
UNITS = frozenset({"second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "am", "pm",
                   "a.m", "p.m", "o'clock", "degrees", "percent", "morning", "evening", "tonight"})

# "Where is the nearest ... pharmacy?": a superlative after an article still wants its noun (the
# room's held-48, whose quiet "pharmacy" came after the turn had ended on "Where is the nearest?").
SUPERLATIVES = frozenset({
    "nearest", "closest", "biggest", "largest", "smallest", "tallest", "highest", "lowest", "longest",
    "shortest", "fastest", "oldest", "newest", "cheapest", "hottest", "coldest", "warmest", "deepest",
})  # not "next"/"last": "skip to the next" is a whole command
# "Set the thermostat ... to 20 degrees": a "set" request names what it sets the thing to (a
# number, a state, a colour, or "to/at/for ..."); without one it is unfinished (the room's held-47,
# heard "Set the firmest out too." at its pause, ended there). "change" is left out: "change the
# channel" is whole.
VALUE_WORDS = frozenset({
    "on", "off", "up", "down", "high", "low", "max", "maximum", "min", "minimum", "auto", "eco", "heat", "cool",
    "warm", "warmer", "cooler", "higher", "lower", "brighter", "dimmer", "louder", "quieter", "bright", "dim",
    "full", "mute", "quiet", "loud", "home", "away", "night", "red", "green", "blue", "white", "yellow", "orange",
    "purple", "pink",
})
VALUE_PREPOSITIONS = frozenset({"to", "at", "for", "by", "until", "till"})
# "Set the firmest out too.": at a pause Whisper spells a "to" whose value has not been said yet as
# "too" (or "two" where no "to" comes before it); in a command that reads as unfinished.
# Only verbs that take a "to" value: "turn on the lights too" is whole.
TOO_VERBS = frozenset({"set", "change", "adjust", "raise", "lower", "increase", "decrease", "dim", "bring", "move"})
# A command verb said alone is unfinished ("turn ..."); "stop" is not.
TRANSITIVE = frozenset({"turn", "set", "switch", "play", "add", "remind", "tell", "open", "close", "lock", "unlock",
                        "put", "call", "show", "give", "make", "dim", "start", "read"})
SET_WORDS = frozenset({"set", "start", "create", "make", "add"})
FINAL_PUNCTUATION = (".", "?", "!")

_WORD = re.compile(r"[a-z0-9']+(?:\.[a-z]\b)?")
_OPEN_PUNCTUATION = (",", "-", "…", "...", ";", ":")
# fmt: on


@dataclass(frozen=True)
class Verdict:
    finished: bool
    reason: str  # why: the rule that decided (for logs and the benchmark)
    # Unfinished only for want of a final . ? ! (the words read as finished): a weaker cue, so the
    # wait is shorter (``EndpointPolicy.weak_cap``).
    weak: bool = False


def words(text: str) -> list[str]:
    """Lower-case words of ``text``, punctuation dropped, apostrophes kept ("what's")."""
    return _WORD.findall(text.lower().replace("’", "'"))


def _is_number(word: str) -> bool:
    return word.isdigit() or word in NUMBER_WORDS or bool(re.fullmatch(r"\d+(:\d+)?", word))


def judge(text: str) -> Verdict:
    """Whether ``text`` (a transcript of the speech so far) reads as a finished request."""
    stripped = text.strip()
    found = words(stripped)
    if not found:
        # Noise (tiny.en writes "." or "" for a cough or a click): nothing was asked yet, so it
        # ends no turn before the cap; speech that follows it is the request.
        return Verdict(False, "no words")
    if stripped.endswith(_OPEN_PUNCTUATION):
        return Verdict(False, f"ends in {stripped[-1]!r}")
    if not stripped.endswith(FINAL_PUNCTUATION):
        if alone_command(found):  # "Louder", "next": whole as they stand (session 31, .short_commands)
            return Verdict(True, "a whole short command")
        # Whisper heard no falling voice, or the audio was noisy: weak when the words alone
        # read as finished ("Switch off the bedroom lamp"), not after "turn on the".
        return Verdict(False, "no final punctuation", weak=judge(stripped + ".").finished)
    if repeats(found):
        return Verdict(False, "a repeated phrase")  # Whisper looping on audio cut mid-request
    last = found[-1]
    if len(found) == 1 and last in TRANSITIVE:
        return Verdict(False, f"{last!r} alone")
    if {"timer", "alarm"} & set(found) and SET_WORDS & set(found) and not any(map(_is_number, found[1:])):
        return Verdict(False, "a timer without its time")
    if len(found) == 1 and last in OPENERS:
        return Verdict(False, f"only {last!r}")
    if (
        last in OPEN_WORDS
        and not (last in {"that", "this", "those", "these", "like", "also", "then", "so"} and len(found) > 2)
        and not _be_after_subject(found)
        and not her_as_object(found)
        and not demonstrative_object(found)
    ):
        return Verdict(False, f"ends in {last!r}")
    if last in SUPERLATIVES and len(found) >= 2 and found[-2] in ARTICLES | POSSESSIVES:
        return Verdict(False, f"{found[-2]} {last} without its noun")
    if last in PARTICLES and len(found) >= 2 and found[-2] in PARTICLE_VERBS:
        return Verdict(False, f"{found[-2]} {last} without an object")
    if last == "on" and PLACE_VERBS & set(found[:-2]) and not ON_STATE_WORDS & set(found[:-1]):
        return Verdict(False, "on without where (play ... on)")
    if last in SUBJECTS and len(found) >= 2 and found[-2] in MODALS:
        return Verdict(False, f"{found[-2]} {last} without a verb")
    unit = UNITS & set(found) or clock_time(stripped, found)  # "7:30", "half past six": a time (session 30)
    if _is_number(last) and UNIT_CONTEXT & set(found[:-1]) and not unit:
        return Verdict(False, f"number {last!r} without a unit")
    verb = next((w for w in found if w not in OPENERS | SUBJECTS), "")
    if verb in TOO_VERBS and _too_for_to(found):
        return Verdict(False, f"{last!r} for 'to' (its value still to come)")
    if verb == "set" and not _has_value(found[found.index(verb) + 1 :]):
        return Verdict(False, "set without a value")
    verbless = not WH_VERBS & set(found[1:]) and not any(w.endswith("ed") for w in found[1:])
    if found[0] in WH_WORDS and verbless and not quantity_question(found):
        return Verdict(False, f"{found[0]}-question without a verb")
    if (cut := _cut_at_pause(found, verb)) is not None:
        return Verdict(False, cut)
    return Verdict(True, "finished")


# Texts tiny.en wrote at a pause that read as finished but that no request ends in (session 22,
# the pause cuts of the corpus's room-like streams, bench/eot_sure_probe.py, bench/results/s22_eot.md):
# "the" cut at the pause heard as "then"/"them"/"they" ("Switch off then.", "Read me then.", "What
# is they?"), a verb that gives something to "me" with nothing given yet ("Read me?"), "turn"/"switch"
# with no on/off/up/down or value ("Turn the bedroom lights." for "... down to fifty percent"),
# "going" with its "to" still to come ("What's the weather going?").
THE_HEARD = frozenset({"then", "them", "they"})
ME_VERBS = frozenset({"read", "tell", "show", "give", "send", "get", "bring", "find", "play", "buy", "sing"})
GOING_WHOLE = SUBJECTS | frozenset({
    "it", "things", "everything", "keep", "get", "got", "am", "are", "is", "was", "were", "be", "been",
    "i'm", "you're", "we're", "they're", "it's", "he's", "she's", "that's", "there's",
})
TURN_VERBS = frozenset({"turn", "switch"})


def _cut_at_pause(found: list[str], verb: str) -> str | None:
    """Why ``found`` (words that passed every other rule) reads as cut at a pause, or None."""
    last, before = found[-1], found[-2] if len(found) >= 2 else ""
    third = found[-3] if len(found) >= 3 else ""
    if last in THE_HEARD and (
        (before in PARTICLES and third in PARTICLE_VERBS)
        or (before in {"me", "us"} and third in ME_VERBS)
        or (last == "they" and before in {"is", "was"})
    ):
        return f"{before} {last}: 'the' cut at a pause"
    if last in {"me", "us"} and before in ME_VERBS:
        return f"{before} {last} without what"
    given = (PARTICLES | VALUE_PREPOSITIONS | VALUE_WORDS | {"into"}) & set(found) or any(map(_is_number, found))
    if verb in TURN_VERBS and not given:
        return f"{verb} without on/off/up/down"
    if last == "going" and before not in GOING_WHOLE:
        return "going without its to"
    return cut_reason(found)  # session 28 (.pause_cuts)


# "Do you know where it is?": a be-form closing a wh-clause after its subject (a pronoun, or a noun
# after an article/possessive) ends it; "What time is", "How far away is" still wait. The room's held-57
# (far "What time does | the store close?") was heard "What kind of this thought was?" in all three
# kept quiet runs (sessions 25-26) and waited the 1.5 s cap each time: the slowest LLM turn (2.4 s).
BE_FORMS = frozenset({"is", "are", "was", "were", "am"})
SUBJECT_WORDS = SUBJECTS | frozenset({"it", "this", "that", "these", "those", "there"})


def _be_after_subject(found: list[str]) -> bool:
    """Whether ``found`` ends in a be-form right after the subject of a wh-clause."""
    if len(found) < 3 or found[-1] not in BE_FORMS or not WH_WORDS & set(found[:-2]):
        return False
    subject = found[-2]
    if subject in WH_WORDS or subject in OPEN_WORDS - SUBJECT_WORDS:
        return False
    return subject in SUBJECT_WORDS or found[-3] in ARTICLES | POSSESSIVES


def _too_for_to(found: list[str]) -> bool:
    """Whether the last word is "too", or "two" after a word a number cannot follow as the value
    ("set the thermostat two"; not "set the volume to two", "twenty two")."""
    last = found[-1]
    if last == "too":
        return True
    return last in {"two", "2"} and len(found) >= 2 and not (found[-2] in PREPOSITIONS or _is_number(found[-2]))


def _has_value(rest: list[str]) -> bool:
    """Whether the words after "set" name a value: a number, a state or colour, a unit, or a
    preposition such as "to" with a word after it."""
    for i, word in enumerate(rest):
        if _is_number(word) or word in VALUE_WORDS or word in UNITS:
            return True
        if word in VALUE_PREPOSITIONS and i + 1 < len(rest):
            return True
    return False


def whole_value(text: str) -> bool:
    """Whether ``text`` is a command that ends in its whole value: a verb that takes a value
    (:data:`TOO_VERBS`), then a preposition, a number and its unit ("Set the firmest out to 20
    degrees.", "dim the lights to 30 %"). A text decoded unsure that says that much ends like a sure
    one (``wyoming_whisper.stream.UNSURE_WHOLE_VALUE``): what was misheard is a name, not the end."""
    found = words(text)
    unit = len(found) >= 2 and (found[-1] in UNITS or (text.rstrip(" .!?").endswith("%") and _is_number(found[-1])))
    if not unit or not judge(text).finished or repeats(found):
        return False
    verb = next((w for w in found if w not in OPENERS | SUBJECTS), "")
    number = found[-2] if found[-1] in UNITS else found[-1]
    at = len(found) - (3 if found[-1] in UNITS else 2)
    return verb in TOO_VERBS and _is_number(number) and at >= 1 and found[at] in VALUE_PREPOSITIONS


def repeats(found: list[str]) -> bool:
    """Whether a phrase of 2+ words comes twice in a row ("tell me a joke tell me a joke")."""
    for size in range(2, len(found) // 2 + 1):
        for start in range(len(found) - 2 * size + 1):
            if found[start : start + size] == found[start + size : start + 2 * size]:
                return True
    return False


@dataclass(frozen=True)
class EndpointPolicy:
    """Silences (seconds after the last speech) that end an utterance.

    ``base``: a finished request ends here. ``cap``: an unfinished one ends here at the latest;
    ``cap <= base`` means silence alone decides (the old rule). ``weak_cap``: where a weak
    unfinished verdict (no final punctuation only) ends, if sooner than ``cap`` (None: ``cap``).
    """

    base: float
    cap: float
    weak_cap: float | None = None

    @property
    def semantic(self) -> bool:
        return self.cap > self.base


def ends(policy: EndpointPolicy, silence: float, verdict: Verdict | None) -> bool:
    """Whether ``silence`` seconds after the speech end the turn, given the verdict on its text
    (None: not judged yet, i.e. its decode is still running: keep waiting until the cap)."""
    if silence >= max(policy.base, policy.cap):
        return True
    if silence < policy.base:
        return False
    if not policy.semantic:
        return True
    if verdict is not None and verdict.weak and policy.weak_cap is not None:
        return silence >= policy.weak_cap
    return verdict is not None and verdict.finished
