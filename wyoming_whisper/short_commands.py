"""Whole commands of one word (or a fixed two-word phrase) that end a turn by themselves (session 31).

Pure, no imports from the package: :func:`.endpoint.judge` and :class:`.stream.Utterance` ask
:func:`alone_command`. Found on session 30's probe set of short home commands
(``bench/fresh2_corpus.py``, bench/results/s30_words.md, s31_words.md): tiny.en writes many of them
without a final . ? ! ("Louder", "next", "Keep going": in noise, or a single word said flat), and
decodes some unsure ("Resume." -0.98, "Quieter please." -0.92). The server then waited the weak cap
(1.2 s with ``default``, 1.5 s with ``relaxed``) on each, and our orchestrator's command end cannot
help the one-word ones (it leaves one-word weak texts alone: "Time." heard unsure at the pause of
"Turn ... on the lights"). A closed list can: these words are whole requests as they stand, so such a
text ends after the base silence like one written with its period, whatever its score.

:data:`HA_ALONE` holds what Home Assistant's English sentences (the ``home-assistant-intents`` data that
ships offline) accept as a whole command with no name, area or value (``HassMediaNext`` "next" /
"skip", ``HassMediaPrevious`` "go back", ``HassMediaPause`` "pause" / "stop", ``HassMediaUnpause``
"resume" / "unpause", ``HassMediaPlayerMute`` / ``Unmute``, ``HassSetVolumeRelative`` "volume up",
``HassNevermind``; ``tests/test_whisper_alone_commands.py`` checks each against the templates); :data:`HOME_ALONE` a
few the templates lack, said the same way at home ("louder", "quieter", "keep going", "carry on").
Left out: verbs whose object usually follows ("cancel", "play", "turn", "call": "Turn ..." at a pause
must wait), and words a fragment is heard as ("time"). A final "please" or a leading "okay" / "ok" /
"please" / "hey" / "now" may come with them.

Only the words decide, not how they were heard: a list word heard at a pause ("Next ... song", "Stop
... the music in the bedroom") ends the turn there, as "Next." / "Stop." with their period already did
on main; what follows is merged back by our orchestrator's continuation. The doubted-end and tail rules
(:mod:`.end_marks`, ``stream.TAIL_SECONDS``) still apply: a word the decode left out still waits.
"""

from __future__ import annotations

# fmt: off
# Home Assistant's English sentences: whole with no name, area or value (the satellite's area only)
HA_ALONE = frozenset({
    "next", "skip", "skip this", "go back", "pause", "stop", "stop playing", "resume", "unpause", "mute", "unmute",
    "volume up", "volume down", "never mind", "nevermind",
})
# Said at home as whole commands, not in those sentences
HOME_ALONE = frozenset({"previous", "skip it", "louder", "quieter", "softer", "keep going", "carry on", "continue"})
ALONE = HA_ALONE | HOME_ALONE
LEADING = frozenset({"okay", "ok", "please", "hey", "now"})
TRAILING = frozenset({"please"})
# fmt: on


def alone_command(found: list[str]) -> bool:
    """Whether ``found`` (lower-case words of a transcript) is one of :data:`ALONE`, maybe with a
    leading "okay" and a final "please"."""
    core = list(found)
    while len(core) > 1 and core[0] in LEADING:
        core.pop(0)
    while len(core) > 1 and core[-1] in TRAILING:
        core.pop()
    return 1 <= len(core) <= 2 and " ".join(core) in ALONE
