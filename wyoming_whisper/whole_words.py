"""Whole requests the end-of-turn rules read as unfinished (session 29, the fresh corpus).

Pure, no imports from the package: :func:`.endpoint.judge` asks these before its open-word and
wh-question rules. Both were found on requests no rule had been tuned on (noted in session 28's
room runs, then measured on ``bench/fresh_corpus.py``'s probe half; bench/results/s29_fresh.md):

* **a wh-question whose verb is an irregular past** ("Who sang that song?", "Who drew the map?"):
  :data:`.endpoint.VERBS` holds present forms and a few pasts, and the "-ed" test misses the
  irregular ones, so such a question read as "who-question without a verb" and waited the whole cap
  (1.875 s with ``default``) instead of 0.25 s;
* **"her" as the object** ("Call her.", "Text her.", "Give it to her."): "her" is in
  :data:`.endpoint.POSSESSIVES` ("call her ... mother"), so the whole request waited the cap. After a
  verb that takes a person, or a preposition, with nothing after it, it now ends the request. A pause
  after such a "her" ("call her ... mum") ends the turn early; our orchestrator's continuation merges
  what follows (as for every pause after a word that can end a request).

Session 30, found on a new probe set of short home commands (``bench/fresh2_corpus.py``; session
29's sealed half showed the first kind, "Stop that.", and was not tuned on; bench/results/s30_words.md):

* **"that" / "this" as the whole object** of a two-word command or question ("Stop that.", "Cancel
  that.", "Skip this.", "Undo that.", "What's that?", "Who's that?"): "that" is in
  :data:`.endpoint.ARTICLES` ("turn off that ... lamp") and only texts of 3+ words ending in it read
  finished, so these waited the cap. After a verb that is whole with a pronoun object
  (:data:`THAT_VERBS`: not "play", "add", "put", "send", whose object may still be named) or a
  wh-word's contraction, it now ends the request;
* **a quantity question with its measure** ("How many days until Christmas?", "How many ounces in a
  pound?"): no verb, so main read "how-question without a verb" (for "how far away", "what time"
  with the verb still to come) and waited the cap; "how many / how much" with a preposition and its
  object after the thing counted now ends the request;
* **a clock time** ("Set an alarm for 7:30.", "... for half past six.", "... quarter to seven."): the
  rule "a number after a timer/alarm word without its unit" read the minutes (or the hour after
  "past" / "to") as a number still waiting for "minutes", and waited the cap.
"""

from __future__ import annotations

import re

# fmt: off
# Irregular past forms (and a few participles, and "sings", "plays", "says") a wh-question may have as its only verb.
PAST_VERBS = frozenset({
    "sang", "sung", "drew", "drawn", "ran", "ate", "eaten", "came", "went", "gone", "found", "gave",
    "given", "took", "taken", "saw", "seen", "bought", "sold", "told", "thought", "knew", "known",
    "became", "began", "begun", "fell", "flew", "grew", "held", "kept", "lost", "meant", "met", "paid",
    "sent", "spent", "stood", "taught", "threw", "wore", "broke", "broken", "chose", "drove", "forgot",
    "hid", "rode", "rose", "shook", "spoke", "stole", "swam", "woke", "sank", "struck", "caught", "fought",
    "brought", "led", "hit", "shot", "sat", "slept", "heard", "felt", "sings", "plays", "says",
})
# Verbs whose object may be a person ("call her"), so a final "her" after them is that object.
PERSON_VERBS = frozenset({
    "call", "text", "message", "email", "phone", "ring", "tell", "ask", "remind", "help", "wake", "thank",
    "show", "give", "send", "find", "meet", "pay", "invite", "answer", "hug", "love", "miss", "see", "hear",
    "let", "bring", "get", "leave", "follow", "join", "pick", "take", "buzz", "page", "notify", "warn",
})
OBJECT_PREPOSITIONS = frozenset({"to", "for", "with", "about", "from", "at", "without", "like"})
# Verbs that make a whole request with "that" / "this" as their object ("stop that", "skip this").
THAT_VERBS = frozenset({
    "stop", "cancel", "undo", "redo", "repeat", "skip", "delete", "remove", "forget", "ignore", "pause", "mute",
    "save", "replay", "dismiss", "snooze", "scrap", "scratch", "drop", "end", "unmute", "resume", "restart",
})
WH_CONTRACTIONS = frozenset({"what's", "who's", "where's", "how's"})
DEMONSTRATIVES = frozenset({"that", "this"})
MEASURE_PREPOSITIONS = frozenset({"in", "until", "till", "to", "from", "per", "on", "at", "for", "between", "since"})
# fmt: on
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\W*$")  # "7:30." / "6.30?" at the end of the text


def her_as_object(found: list[str]) -> bool:
    """Whether ``found`` (lower-case words) ends in "her" as the object of a verb or a preposition."""
    return len(found) >= 2 and found[-1] == "her" and (found[-2] in PERSON_VERBS | OBJECT_PREPOSITIONS)


def demonstrative_object(found: list[str]) -> bool:
    """Whether ``found`` (lower-case words) is a verb or a wh-contraction and then "that" / "this"."""
    return len(found) == 2 and found[1] in DEMONSTRATIVES and found[0] in THAT_VERBS | WH_CONTRACTIONS


def quantity_question(found: list[str]) -> bool:
    """Whether ``found`` (lower-case words, the last one able to end a request) asks "how many / how
    much" of something with a preposition and its object after it ("how many days until christmas")."""
    return found[:1] == ["how"] and found[1:2] in (["many"], ["much"]) and bool(MEASURE_PREPOSITIONS & set(found[3:-1]))


def clock_time(text: str, found: list[str]) -> bool:
    """Whether ``text`` (its words ``found``) ends in a clock time: "7:30", "6.30", "half past six",
    "quarter to seven" (the caller checked its last word is a number)."""
    if _CLOCK.search(text):
        return True
    before = found[-2] if len(found) >= 2 else ""
    return before == "past" or (before == "to" and len(found) >= 3 and found[-3] in {"quarter", "half"})
