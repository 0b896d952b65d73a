"""The words of a request as the intent fast path (:mod:`orchestrator.intents`) reads them: the
normalised text the templates are matched against, and "X and Y" split into commands of their own."""

from __future__ import annotations

import re

_SPLIT = re.compile(r"\s+(?:and then|and also|and|then)\s+")
# "turn off the tv and the kitchen light": a part that starts with its object takes the verb of
# the part before it ("turn off").
_OBJECT_FIRST = re.compile(r"^(?:the|my|our|all|both)\b")
MAX_PARTS = 4
_DEGREE_SIGN = re.compile(r"\s*°\s*([cf](?![a-z]))?")
_DEGREES = {"c": " degrees celsius ", "f": " degrees fahrenheit "}


def normalize(text: str) -> str:
    text = text.lower().replace("’", "'")
    # "20°", "21°C": Whisper's other spelling of degrees; dropped with the other signs, "set the
    # kitchen light to 20°" read as a brightness of 20 (the temperature lost to fit.py)
    text = _DEGREE_SIGN.sub(lambda m: _DEGREES.get(m[1], " degrees "), text)
    text = re.sub(r"[^\w\s'%.-]|(?<!\d)[.-]|[.-](?!\d)", " ", text)
    return " ".join(text.split())


def split_parts(text: str) -> list[str]:
    """``text`` (normalised) cut at "and", "and then", "and also" and "then" (empty pieces kept)."""
    return _SPLIT.split(text)


def with_verbs(pieces: list[str]) -> list[str]:
    """Each part as a command of its own: "the kitchen light" after "turn off the tv" is
    "turn off the kitchen light" (the words before the first part's object)."""
    out = [pieces[0]]
    for piece in pieces[1:]:
        words = out[-1].split()
        verb = " ".join(words[: next((i for i, w in enumerate(words) if _OBJECT_FIRST.match(w)), 0)])
        out.append(f"{verb} {piece}" if verb and _OBJECT_FIRST.match(piece) else piece)
    return out
