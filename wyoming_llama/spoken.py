r"""Replies sized for speech: stop a streamed reply after a number of sentences.

A small model asked for "one to three sentences" often runs on for a minute when spoken
(measured: bench/results/answers.md). :class:`SentenceBudget` sees the pieces as they stream
and says where the reply should end: right after the ``max_sentences``-th sentence end (a
``.``, ``!`` or ``?`` followed by a space and then a word that is not lower case, so ``3.14``
and ``e.g. this`` do not count; the cut is made once that next word begins). Pure: no asyncio, no I/O.

Replies with no ``.!?`` to end them ran on to the token limit (80 tokens at ``--max-sentences 1``
in session 21's room run) and, kept in the history, made the conversation's later replies do the
same. So also:

- a line break after some text ends a sentence (said aloud, a line is one): a list ("you'll
  need:\n\n- 2 cups flour\n- ...") or a repeated line ("The news headlines are:\n\n" over and over);
- the number opening a line ("1. Flour") is a list item's, not a sentence end (a numbered list's
  reply was "1. ");
- a clause said :data:`LOOP_CLAUSES` times in a row ("flour, eggs, bacon, bacon, bacon, ...") ends
  the reply at once: the model is looping.
"""

from __future__ import annotations

_ENDS = ".!?"
_CLAUSE_ENDS = ".!?,;:\n"
LOOP_CLAUSES = 3


class SentenceBudget:
    def __init__(self, max_sentences: int) -> None:
        self.max_sentences = max_sentences  # 0: no limit
        self.sentences = 0
        self._pending_end = False  # the last character seen was a sentence mark (or a closer after one)
        self._candidate = False  # a mark and a space were seen: the next letter decides
        self._line_break = False  # the candidate is a line break: any next letter ends the sentence
        self._text = False  # something other than white space was seen
        self._line_start: str | None = ""  # the line so far while only white space and digits (else None)
        self._clause = ""  # the clause so far (since the last of _CLAUSE_ENDS)
        self._last_clause = ""
        self._repeats = 0  # how many times in a row _last_clause came
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
                if self._line_break or not char.islower():  # "e.g. more" is one sentence; "now. Then" two
                    self.sentences += 1
                    if self.sentences >= self.max_sentences:
                        self.done = True
                        return piece[:i]
                self._line_break = False
            if char == "\n" and self._text:
                self._candidate = self._line_break = True
            elif self._pending_end and char.isspace():
                self._candidate = True
            marker = char == "." and (self._line_start or "").strip().isdigit()  # "1. Flour": a list item's number
            self._pending_end = (char in _ENDS and not marker) or (self._pending_end and char in "\"')]")
            self._text = self._text or not char.isspace()
            if self._looped(char):
                self.done = True
                return piece[:i + 1]
            if char == "\n":
                self._line_start = ""
            elif self._line_start is not None and (char.isspace() or char.isdigit()):
                self._line_start += char
            else:
                self._line_start = None
        return piece

    def _looped(self, char: str) -> bool:
        """True at the end of the LOOP_CLAUSES-th same clause in a row ("bacon, bacon, bacon,")."""
        if char not in _CLAUSE_ENDS:
            self._clause += char
            return False
        clause, self._clause = self._clause.strip().lower(), ""
        if not clause:
            return False
        self._repeats = self._repeats + 1 if clause == self._last_clause else 1
        self._last_clause = clause
        return self._repeats >= LOOP_CLAUSES
