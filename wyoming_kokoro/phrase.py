"""Where the first piece of a reply may be cut between two words (pure): never inside a number
("three hundred | eighty", "20 | degrees") or a name ("New | York", "Romeo | and Juliet"), nor
after a word the phrase goes on from ("is in | ...", "capital city of | ..."). Used by
:class:`~wyoming_kokoro.text.SentenceSplitter` for its early cuts without punctuation, so the
short first piece still ends where a speaker could pause; and the words such a cut may come before
(a conjunction, a phrase-starting word, the verb after a noun-phrase subject, an approximate
figure); and where the piece after a cut before a figure may end (after the figure and its unit).
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
# A first piece may end before one of these (a clause boundary without punctuation).
_CONJUNCTIONS = frozenset({"and", "but", "so", "because", "or", "while", "which", "then", "although"})
# Words a phrase may start with: a long first piece with no clause mark may end before one.
_PHRASE_STARTS = _CONJUNCTIONS | frozenset({
    "about", "after", "before", "by", "for", "from", "if", "into", "than", "that", "when", "where",
    "who", "with", "without"})  # not "on", "in", "to", "up": after a verb they belong to it
_NEXT_WORD = re.compile(r"([A-Za-z]+)\s")
# A first piece that began with one of these (a noun phrase: "The capital of Australia") may end
# before its verb (_PREDICATE_STARTS): the subject | predicate boundary, where a speaker pauses.
_DETERMINERS = frozenset({"the", "a", "an", "this", "these", "those", "my", "your", "our", "its", "their"})
_PRONOUNS = frozenset({"i", "you", "he", "she", "it", "we", "they"})
_PREDICATE_STARTS = frozenset({
    "is", "are", "was", "were", "has", "have", "had", "can", "could", "will", "would", "should", "may", "might",
    "must", "does", "do", "did", "includes", "include", "contains", "consists", "means", "makes", "takes", "lies"})
# A first piece may end before one of these when a figure follows ("Mars is, | approximately 141,872,000
# miles"): the figure is spoken in the next piece, whole (its digits, its unit), where a speaker pauses.
_APPROXIMATORS = frozenset({"approximately", "about", "around", "roughly", "nearly", "almost", "exactly", "over"})
_BEFORE_FIGURE = re.compile(r"([A-Za-z]+)\s+[$€£¥]?\d")
# Of those, the ones an answer says only before a figure: the cut need not wait for the figure's digits.
_FIGURE_WORDS = frozenset({"approximately", "roughly"})
# The words a piece may not end on before such a figure: _NO_END_WORDS but the verb "to be" ("Mars is, |").
_NO_END_BEFORE_FIGURE = _NO_END_WORDS - {"is", "are", "was", "were"}
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


def _next_word(buf: str, i: int) -> str | None:
    """The word that starts at ``buf[i]`` (lower case), once a space has ended it."""
    match = _NEXT_WORD.match(buf, i)
    return match.group(1).lower() if match is not None else None


def conjunction_at(buf: str, i: int) -> bool:
    return _next_word(buf, i) in _CONJUNCTIONS


def phrase_start_at(buf: str, i: int) -> bool:
    return _next_word(buf, i) in _PHRASE_STARTS


def predicate_at(buf: str, i: int) -> bool:
    return _next_word(buf, i) in _PREDICATE_STARTS


def noun_phrase_start(buf: str) -> bool:
    """The piece starts with a determiner ("The ...", "A ...", "Your ...")."""
    return _next_word(buf, len(buf) - len(buf.lstrip())) in _DETERMINERS


def plain_subject(buf: str, i: int) -> bool:
    """The words before the space ``i`` hold no personal pronoun: a subject with one has a clause
    inside it ("The time it | takes to boil an egg is ...", "The book you | have ..."), whose verb is
    not the sentence's."""
    return not any(word.strip(".,;:!?\"'()").lower() in _PRONOUNS for word in buf[:i].split())


def figure_at(buf: str, i: int) -> bool:
    """An approximate figure starts at ``buf[i]``: "approximately 141...", "about 8", "over $5"
    (the figure's first character has come), or "approximately " / "roughly " whole (a word that
    announces a figure: the orchestrator's honesty guard lets a number through only once it is
    whole, so waiting for its first digit waited for all of it, ~11 tokens for "141,622,880 ")."""
    match = _BEFORE_FIGURE.match(buf, i)
    if match is not None and match.group(1).lower() in _APPROXIMATORS:
        return True
    word = _NEXT_WORD.match(buf, i)
    return word is not None and word.group(1).lower() in _FIGURE_WORDS


def may_end_before_figure(buf: str, i: int) -> bool:
    """A piece may end at the space ``i`` before a figure: not after a word the phrase goes on
    from ("distance of | about 5 km", "at | about 9"), nor after a figure ("1,200 | over 5 years")."""
    start = buf.rfind(" ", 0, i) + 1
    before = buf[start:i].strip(".,;:!?\"'()").lower()
    return bool(before) and before not in _NO_END_BEFORE_FIGURE and not any(ch.isdigit() for ch in before)


# The piece after a first piece cut before a figure may end after the figure and its unit ("approximately
# 141.2 million miles, | (238.6 million kilometers) away from the Sun."): Kokoro, slower than real time on
# a busy CPU, then makes ~2 s of audio while the first piece plays instead of the whole sentence.
_SCALES = "hundred|thousand|million|billion|trillion"
_FIGURE_AND_UNIT = re.compile(
    r"\s*[A-Za-z]+\s+"  # the approximator the first piece ended before
    rf"[$€£¥]?\d(?:[\d,.:]*\d)?%?(?:\s+(?:{_SCALES})\b)*"  # "141,872,000", "13.9 billion", "11:31", "70%"
    r"\s+(?P<unit>(?:(?:square|cubic|light)[\s-]+)?[A-Za-z][A-Za-z'-]*"  # "miles", "light-years", "square miles"
    r"(?:\s+(?:per\s+[A-Za-z]+|Celsius|Fahrenheit|Kelvin|old|long|deep|tall|high|wide|away|across|ago|apart))?)"
    r"(?P<mark>[,;:]?)(?=\s)"
)
_SENTENCE_ENDS = (".", "!", "?", "\u2026")
_CLOSING = "\"')]}\u201d\u2019"


def figure_piece_end(buf: str, tail_words: int) -> tuple[int, bool] | None:
    """Where a piece that starts with an approximate figure ("approximately 141.2 million miles (...")
    may end: after the figure and its unit, once ``tail_words`` (>= 1) more words of the same
    sentence have come ("(238.6 million": the sentence goes on; "years old." is not cut off its
    last word). The cut's index and whether it needs a comma (not when the unit has a mark); None
    if the piece does not start so, its unit is not a unit ("about 70% of"), or not yet."""
    match = _FIGURE_AND_UNIT.match(buf)
    if match is None or tail_words < 1:
        return None
    unit = match.group("unit").split()[0].lower()
    if unit in _NO_END_WORDS or unit in _PHRASE_STARTS or unit in _NUMBER_WORDS:
        return None
    tail = re.findall(r"\S+(?=\s)", buf[match.end() :])[:tail_words]
    if len(tail) < tail_words or any(word.rstrip(_CLOSING).endswith(_SENTENCE_ENDS) for word in tail):
        return None
    return match.end(), not match.group("mark")
