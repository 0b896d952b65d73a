"""More texts that read as finished but that a request cut at a pause is heard as (session 28).

Pure, no imports from the package: :func:`.endpoint._cut_at_pause` asks :func:`cut_reason` after
its own rules (session 22's "the" heard as "then"/"them"/"they", ...). Found on the tune split of
the end-of-turn corpus re-measured in real time (``bench/turn_bench.py``, 2026-12-05, serve's
default ``semantic-default``; ``bench/results/s28_turn.md``); held-out was not looked at for them:

* **a work without its title**: a question about who made "the novel / song / film ..." that
  stops at the kind of work, the title still to come ("Who wrote the novel ... Pride and
  Prejudice?", tune-21 clean and tune-22 far+noise, heard "who wrote the novel." / "to wrote the
  novel." at their 0.3 / 0.75 s pause, decoded sure: -0.25 / -0.58). Only after a verb of making
  (past forms: "write the song" is a command) and "the" right before the kind: "who sang that
  song", "who wrote this book", "play the song" still end at once.
* **a possessive determiner heard as a pronoun**: "my" said before a pause ("Remind me to call
  my ... mother tomorrow.", tune-12) is written "mine" (-0.28), which reads as whole; no request
  to call, text, play or read ends in "mine", "yours", "ours", "theirs" or "hers" right after
  the verb ("is that mine", "those are ours" still end).

Session 29, found on the fresh corpus's probe half (``bench/fresh_corpus.py``, never tuned on before;
bench/results/s29_fresh.md):

* **a conditional clause without its main clause**: "If I leave now, ... how long will it take to get
  to the station?" (probe-36, 0.7 s pause) was heard "If I leave now." and ended there with both
  serve's default and 0.7 s of silence. A request that starts with "if" / "unless" and has no word of
  a main clause after its own subject and verb (a wh-word, "then", "please", a modal or be-form, a
  command verb) asks nothing yet; "If I leave now, how long ...", "If it rains, remind me ..." end.

Session 30, found on a new probe set of home commands (``bench/fresh2_corpus.py``; bench/results/s30_words.md):

* **"up/down too" after turn/switch**: "Turn the heating up to ... twenty one degrees." (probe2-41, 0.3 s
  pause after "to") was heard "Turn the heating up too." at its pause and ended there (serve's default,
  main's and this code alike); the session-20 rule for "too" as a cut "to" covers set/change/dim...
  only ("turn on the lights too" is whole). A "too" right after "up"/"down" in a turn/switch command
  is the "to" of its value still to come ("turn the music up too", meaning "also", now waits the cap).

Such a text waits for more speech up to the cap, as the session-22 rules do, and is not sent as
a speculative transcript.
"""

from __future__ import annotations

# fmt: off
# Verbs of making a work, as asked about it (past forms and participles).
MADE_VERBS = frozenset({
    "wrote", "written", "painted", "directed", "composed", "sang", "sung", "produced", "created", "published",
    "illustrated", "drew", "drawn", "recorded", "filmed", "designed", "authored", "penned",
})
# Kinds of work whose title follows ("the novel Pride and Prejudice").
WORKS = frozenset({
    "novel", "book", "song", "movie", "film", "painting", "poem", "play", "album", "symphony", "opera",
    "series", "musical", "story", "sculpture", "track", "single", "show", "novella", "essay", "comic",
})
# Pronouns tiny.en writes at a pause for a possessive determiner whose noun is still to come.
POSSESSIVE_PRONOUNS = frozenset({"mine", "yours", "ours", "theirs", "hers"})
# Command verbs whose object the possessive would introduce.
OBJECT_VERBS = frozenset({
    "call", "text", "message", "email", "phone", "ring", "remind", "tell", "show", "give", "send", "get",
    "bring", "find", "play", "read", "open", "close", "lock", "unlock", "turn", "switch", "start", "stop",
    "check", "set", "add", "visit", "wake",
})
CONDITIONALS = frozenset({"if", "unless"})
TURN_UP_VERBS = frozenset({"turn", "switch"})
# Words that begin (or are) a main clause after a conditional one.
MAIN_CLAUSE = frozenset({
    "what", "how", "where", "when", "who", "which", "why", "whose", "then", "please", "will", "would", "can",
    "could", "should", "shall", "might", "may", "must", "do", "does", "did", "is", "are", "was", "were", "tell",
    "let", "remind", "turn", "switch", "set", "add", "play", "call", "stop", "start", "wake", "show", "give",
})
# fmt: on


def cut_reason(found: list[str]) -> str | None:
    """Why ``found`` (lower-case words that passed every other rule) reads as cut at a pause, or None."""
    last = found[-1]
    before = found[-2] if len(found) >= 2 else ""
    if last in WORKS and before == "the" and MADE_VERBS & set(found[:-2]):
        return f"the {last} without its title"
    if last in POSSESSIVE_PRONOUNS and before in OBJECT_VERBS:
        return f"{before} {last}: a possessive cut at a pause"
    if last == "too" and before in {"up", "down"} and TURN_UP_VERBS & set(found[:-2]):
        return f"{before} {last}: 'to' with its value still to come"
    if found[0] in CONDITIONALS and not (MAIN_CLAUSE | OBJECT_VERBS) & set(found[3:]):
        return f"an {found[0]}-clause without its main clause"
    return None
