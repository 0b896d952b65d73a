"""Replies sized for speech: stop a streamed reply after a number of sentences.

A small model asked for "one to three sentences" often runs on for a minute when spoken
(measured: bench/results/answers.md). :class:`SentenceBudget` sees the pieces as they stream
and says where the reply should end: right after the ``max_sentences``-th sentence end (a
``.``, ``!`` or ``?`` followed by a space and then a word that is not lower case, so ``3.14``
and ``e.g. this`` do not count; the cut is made once that next word begins). Pure: no asyncio, no I/O.
"""

from __future__ import annotations

_ENDS = ".!?"


class SentenceBudget:
    def __init__(self, max_sentences: int) -> None:
        self.max_sentences = max_sentences  # 0: no limit
        self.sentences = 0
        self._pending_end = False  # the last character seen was a sentence mark (or a closer after one)
        self._candidate = False  # a mark and a space were seen: the next letter decides
        self.done = False

    def take(self, piece: str) -> str:
        """The part of ``piece`` to say; after the budget is spent, :attr:`done` is True."""
        if self.max_sentences <= 0 or self.done:
            return "" if self.done else piece
        for i, char in enumerate(piece):
            if self._candidate:
                if char.isspace():
                    continue
                self._candidate = False
                if not char.islower():  # "e.g. more" is one sentence; "now. Then" two
                    self.sentences += 1
                    if self.sentences >= self.max_sentences:
                        self.done = True
                        return piece[:i]
            if self._pending_end and char.isspace():
                self._candidate = True
            self._pending_end = char in _ENDS or (self._pending_end and char in "\"')]")
        return piece
