"""Text cut into runs of whole sentences and clauses, for an engine whose memory grows with the
length of one sentence (Piper: ~1.2 MB a character); pure."""

from __future__ import annotations

import re

_CLAUSE_BREAK = re.compile(r"(?<=[.!?\u2026,;:])\s+")


def bounded_runs(text: str, max_chars: int) -> list[str]:
    """``text`` as consecutive runs of at most ``max_chars`` (rejoined with spaces: the text).

    Runs end where a sentence or clause ends (after ``.!?…,;:`` and a space); a clause longer
    than ``max_chars`` on its own is cut between words, a word longer than that is kept whole.
    """
    parts: list[str] = []
    for clause in _CLAUSE_BREAK.split(text.strip()):
        parts += _pack(clause.split(), max_chars) if len(clause) > max_chars else [clause]
    return _pack(parts, max_chars)


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """``parts`` joined with spaces, in order, into as few runs of at most ``max_chars`` as
    packing them greedily gives (a part longer than that is a run of its own); no empty runs."""
    runs: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + 1 + len(part) > max_chars:
            runs.append(current)
            current = part
        else:
            current = f"{current} {part}" if current else part
    if current:
        runs.append(current)
    return runs
