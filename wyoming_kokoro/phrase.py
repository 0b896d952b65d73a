"""Where the first piece of a reply may be cut between two words (pure): never inside a number
("three hundred | eighty", "20 | degrees") or a name ("New | York", "Romeo | and Juliet"), nor
after a word the phrase goes on from ("is in | ...", "capital city of | ..."). Used by
:class:`~wyoming_kokoro.text.SentenceSplitter` for its early cuts without punctuation, so the
short first piece still ends where a speaker could pause.
"""

from __future__ import annotations

import re

# A cut between words (no punctuation) never comes after one of these: the phrase goes on ("is in,").
_NO_END_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "at", "for", "from", "with", "by", "into", "than", "about", "as", "is", "are",
    "was", "were", "be", "my", "your", "his", "her", "its", "our", "their", "this", "these", "those", "very", "and",
    "or", "but", "&"})
_NUMBER_WORDS = frozenset({
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
    "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million", "billion", "point"})
_WORD_AROUND = re.compile(r"(\S+)\s+(\S+)(?:\s+(\S+))?")


def may_cut(buf: str, i: int, words: int) -> bool:
    """A cut at the space ``i`` between two words keeps a phrase whole: not inside a number
    ("three hundred | eighty", "20 | degrees") or a name ("New | York"), nor after a word the
    phrase goes on from ("is in | ...", "capital city of | ...")."""
    match = _WORD_AROUND.match(buf, buf.rfind(" ", 0, i) + 1)
    if match is None or match.end(2) == len(buf):
        return False  # the word after the cut is still coming ("a" may be "and"): decide once it is whole
    before, after = (w.strip(".,;:!?\"'()").lower() for w in match.groups("")[:2])
    # the name goes on after the cut: "New | York", "Romeo | and Juliet"
    joined = after in {"and", "of", "&"} and match.group(1)[:1].isupper()
    if joined and not match.group(3):
        return False  # "Romeo and ...": the next word decides (it has not come yet)
    then = match.group(3) if joined else match.group(2)

    def numeric(word: str) -> bool:
        return word in _NUMBER_WORDS or any(ch.isdigit() for ch in word)

    name = words > 1 and match.group(1)[:1].isupper() and then.lstrip("\"'(")[:1].isupper() and after != "i"
    return not (before in _NO_END_WORDS or numeric(before) or numeric(after) or name)
