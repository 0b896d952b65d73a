"""Doubted ends: a finished text the model nearly went on after (a word said at the end was lost).

Pure (no asyncio, no model). Split out of :mod:`.endpoint` (session 30; behaviour unchanged):
:mod:`.stream` asks :func:`doubted_end` about a speculative final's end score
(``Decoded.end_mark_prob``) and waits the weak cap on a text in doubt, without sending it as a
speculative transcript.
"""

from __future__ import annotations

from .endpoint import FINAL_PUNCTUATION, words

# A thing and its state ("Lights off.", "Volume down.", "Fan on."): two words, the second a state
# particle after a noun (a verb before it reads unfinished anyway: "turn off"). The room's held-62,
# a far "Lights off.", decoded its "." at 0.22-0.23 (session 25's corpus streams and session 29's
# room run) and waited the weak cap, 1.2 s, on every such decode: its first reply sound came 1.59 s
# after the room's mark in session 29. Nothing said after such a command was lost in any stored
# decode: every doubted pause text (bench/results/s25_eot_cover_decodes*.json) has 4+ words ("Play
# the next song.", "Turn the bedroom lights down."), so these are never in doubt (session 30).
STATE_PARTICLES = frozenset({"on", "off", "up", "down"})


# END_MARK_BELOW: a finished text whose final . ? ! the model scored under this (its probability
# after the words, ``Decoded.end_mark_prob``: the alignment pass the server already runs for the last
# word's end, no decode of its own) nearly went on: a word said at the end was lost from the text.
# The room's held-43 ("Play the next song on ... my playlist.", 0.9 s pause after "on") decoded "Play
# the next song." at its pause in 4 of 5 kept room runs (session 24), its "." scored 0.22: the
# alignment stretched "song" over the "on" (the tail rule, ``stream.TAIL_SECONDS``, saw 0.06 s), the
# orchestrator ended the turn on a sure whole command and answered half. Such a text waits the weak
# cap (longer than a 0.9 s pause) and is not sent as a speculative transcript (no command end, no
# prepared reply), as a text with speech after its last word. Offline (bench/eot_cover_probe.py,
# bench/results/s25_eot.md; the corpus's room-like streams, 5 start phases, and 8 kept room mics): the
# tune split cannot price it (no whole request there ends in a mark under 0.5), held shows the price:
# at 0.25 held pauses cut 13 -> 12 / 139, room mics 20 -> 17 / 112 (held-43 x3), one far "Lights
# off." (0.22) waits 1.2 s (not since session 30: STATE_PARTICLES below); at 0.3 two; at 0.5 18 of 130
# held ends (far "Volume down.", "Yeah.").
END_MARK_BELOW = 0.25
# END_OPEN_BELOW: the same for a text Whisper wrote without a final . ? ! (a weak verdict, which our
# orchestrator ends at once when it is a whole command): the probability of the text ending after its
# words (end of text or a . ? ! next; ``Decoded.end_mark_prob``, one greedy decoder step more on such
# finals, ~0.05 s on this 2-core box). The room's held-43 decoded "play the next song" at its pause in
# 2 of 5 kept room runs (0.46 / 0.51: " of", " up" next). Tune bounds it (its whole commands without a
# mark end at 0.79-0.86, its paused "turn the bedroom lights down to 50" scores 0.38); held prices it
# (far+noise "next song" 0.60-0.69 at its end): at 0.55 held / room pause cuts 11 -> 11 / 11 -> 9,
# whole commands' end of turn unchanged; at 0.6 one "next song" waits (bench/results/s25_eot.md).
END_OPEN_BELOW = 0.55


def doubted_end(text: str, end_prob: float | None) -> bool:
    """Whether the model nearly went on after ``text``: its final . ? ! scored under ``END_MARK_BELOW``,
    or, without one, its ending there under ``END_OPEN_BELOW`` (None: not scored)."""
    if end_prob is None:
        return False
    found = words(text)
    if len(found) == 2 and found[1] in STATE_PARTICLES:
        return False  # "Lights off.": a whole command, nothing lost after it
    return end_prob < (END_MARK_BELOW if text.rstrip().endswith(FINAL_PUNCTUATION) else END_OPEN_BELOW)
