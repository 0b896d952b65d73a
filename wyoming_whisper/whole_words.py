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
"""

from __future__ import annotations

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
# fmt: on


def her_as_object(found: list[str]) -> bool:
    """Whether ``found`` (lower-case words) ends in "her" as the object of a verb or a preposition."""
    return len(found) >= 2 and found[-1] == "her" and (found[-2] in PERSON_VERBS | OBJECT_PREPOSITIONS)
