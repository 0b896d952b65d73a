"""Text handling before synthesis (pure): LLM markup cleaned, and text split as it streams.

* :func:`clean_text` turns what a language model writes (markdown, lists, emoji, links,
  currency, units, ranges) into plain words a phonemizer reads sensibly. Plain numbers
  are left to espeak-ng, which already reads ``1,000``, ``3.14``, ``22nd`` and ``10:30``.
* :class:`SentenceSplitter` is fed text token by token and hands back pieces as soon as
  they are complete: sentences, a long clause, a line of a list.
  The first piece may be a short clause (a few words up to a comma) so the first audio comes out
  early; later pieces are whole sentences, and the buffer never grows past ``hard_max`` characters.
* :func:`~.runs.bounded_runs` (re-exported) cuts a text into runs of whole sentences and clauses.
"""

from __future__ import annotations

import re
import unicodedata

from .phrase import (
    conjunction_at,
    figure_at,
    figure_piece_end,
    may_cut,
    may_end_before_figure,
    noun_phrase_start,
    phrase_start_at,
    plain_subject,
    predicate_at,
)
from .runs import bounded_runs  # (its home was here)

__all__ = ["SentenceSplitter", "bounded_runs", "clean_text", "has_speech", "strip_emoji"]

# --- cleaning ----------------------------------------------------------------------------
_CODE_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_URL = re.compile(r"\bhttps?://[^\s)>\]]+", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_HEADER = re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE)
_QUOTE = re.compile(r"^\s*>+\s?", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u2023\u25e6]|\d{1,3}[.)])\s+", re.MULTILINE)
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$", re.MULTILINE)
_TABLE_SEP = re.compile(r"^\s*\|?(?:\s*:?-{2,}:?\s*\|)+\s*:?-*:?\s*$", re.MULTILINE)
_TABLE_ROW = re.compile(r"^[ \t]*\|(.*?)\|?[ \t]*$", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_UNDERSCORE_EM = re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?![\w])")
_STRAY_MARKS = re.compile(r"[*_`#~^|<>\[\]{}\\]+")
_CURRENCY = re.compile(
    r"([$€£¥])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s?(k|m|bn|million|billion|thousand)\b)?"
)
_PERCENT = re.compile(r"(\d)\s?%")
_DEGREES = re.compile(r"(\d)\s?°\s?([CF])\b")
_DEGREE = re.compile(r"(\d)\s?°")
_RANGE = re.compile(r"(?<![\w.-])(\d+(?:\.\d+)?)\s?[-\u2013\u2014]\s?(\d+(?:\.\d+)?)(?![\w-])")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_PER_UNIT = re.compile(r"\b(\d+(?:\.\d+)?)\s?(km/h|mph|m/s|kph)\b")
_UNIT = re.compile(r"\b(\d+(?:\.\d+)?)\s?(km|kg|cm|mm|ml|kWh|kW|GB|MB|TB|Hz|kHz|lbs|lb|ft|mi|oz|g|m|h|min|s)\b")
_DASH_BREAK = re.compile(r"\s+[-\u2013\u2014]+\s+|\u2014")
_WHITESPACE = re.compile(r"[ \t\f\v]+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")

_CURRENCY_NAMES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny"), "¥": ("yen", "")}
_SCALE = {"k": "thousand", "m": "million", "bn": "billion"}
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_UNITS = {
    "km": "kilometers", "kg": "kilograms", "cm": "centimeters", "mm": "millimeters", "ml": "milliliters",
    "kWh": "kilowatt hours", "kW": "kilowatts", "GB": "gigabytes", "MB": "megabytes", "TB": "terabytes",
    "Hz": "hertz", "kHz": "kilohertz", "lbs": "pounds", "lb": "pounds", "ft": "feet", "mi": "miles",
    "oz": "ounces", "g": "grams", "m": "meters", "h": "hours", "min": "minutes", "s": "seconds",
    "km/h": "kilometers per hour", "kph": "kilometers per hour", "mph": "miles per hour",
    "m/s": "meters per second",
}
_ABBREVIATIONS = {
    "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "vs.": "versus", "approx.": "approximately",
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor", "St.": "Saint",
    "Jr.": "Junior", "Sr.": "Senior", "No.": "number", "Fig.": "figure", "min.": "minutes", "hr.": "hour",
    "&": "and", "w/": "with", "w/o": "without",
}
_ABBREVIATION = re.compile(
    "|".join(
        (r"(?<!\w)" if key[0].isalpha() else "") + re.escape(key) + (r"(?!\w)" if key[-1].isalnum() else "")
        for key in sorted(_ABBREVIATIONS, key=len, reverse=True)
    )
)


def _plural(count: str, unit: str) -> str:
    return unit if count in {"1", "1.0"} or not unit or unit.endswith("s") or unit == "yen" else unit + "s"


def _currency(match: re.Match[str]) -> str:
    symbol, whole, cents, scale = match.groups()
    major, minor = _CURRENCY_NAMES[symbol]
    whole_plain = whole.replace(",", "")
    if scale:
        amount = f"{whole}.{cents}" if cents else whole
        return f"{amount} {_SCALE.get(scale.lower(), scale)} {_plural('2', major)}"
    spoken = f"{whole} {_plural(whole_plain, major)}"
    if cents and int(cents) and minor:
        cents_value = str(int(cents.ljust(2, "0")))
        minor_name = "pence" if minor == "penny" and cents_value != "1" else _plural(cents_value, minor)
        spoken += f" {cents_value} {minor_name}"
    return spoken


def _iso_date(match: re.Match[str]) -> str:
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return match.group(0)
    return f"{_MONTHS[month - 1]} {day}, {year}"


def _unit(match: re.Match[str]) -> str:
    number, unit = match.groups()
    name = _UNITS[unit]
    if number in {"1", "1.0"} and name.endswith("s") and not name.endswith("hertz"):
        name = name[:-1].replace("feet", "foot")
    return f"{number} {name}"


def _is_emoji(char: str) -> bool:
    code = ord(char)
    if 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF:
        return True
    if code in (0x200D, 0x20E3) or 0xFE00 <= code <= 0xFE0F or 0xE0020 <= code <= 0xE007F:
        return True
    return unicodedata.category(char) in {"So", "Cs", "Co"}


def strip_emoji(text: str) -> str:
    return "".join(" " if _is_emoji(c) else c for c in text)


def clean_text(text: str) -> str:
    """Plain, speakable text from an LLM's output (markdown, emoji, symbols, units)."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CODE_FENCE.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("a link", text)
    text = _HTML_TAG.sub(" ", text)
    text = _TABLE_SEP.sub("", text)
    text = _RULE.sub("", text)
    text = _TABLE_ROW.sub(r"\1", text)
    text = _HEADER.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _UNDERSCORE_EM.sub(r"\1", text)
    text = text.replace("`", "")
    text = _ISO_DATE.sub(_iso_date, text)
    text = _CURRENCY.sub(_currency, text)
    text = _PERCENT.sub(r"\1 percent", text)
    text = _DEGREES.sub(lambda m: f"{m.group(1)} degrees {'Celsius' if m.group(2) == 'C' else 'Fahrenheit'}", text)
    text = _DEGREE.sub(r"\1 degrees", text)
    text = _RANGE.sub(r"\1 to \2", text)
    text = _PER_UNIT.sub(_unit, text)
    text = _UNIT.sub(_unit, text)
    text = _ABBREVIATION.sub(lambda m: _ABBREVIATIONS[m.group(0)], text)
    text = strip_emoji(text)
    text = re.sub(r"[ \t]*\|[ \t]*", ", ", text)
    text = _STRAY_MARKS.sub(" ", text)
    text = _DASH_BREAK.sub(", ", text)
    # Lines of a list become sentences of their own; paragraphs likewise.
    lines = [line.strip() for line in text.split("\n")]
    text = " ".join(_end_line(line) for line in lines if line)
    text = _WHITESPACE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text.strip()


def _end_line(line: str) -> str:
    return line if line[-1] in ".!?,;:" else line + "."


def has_speech(text: str) -> bool:
    """True if ``text`` has anything to pronounce (a letter or a digit)."""
    return any(c.isalnum() for c in text)


# --- splitting ---------------------------------------------------------------------------
_SENTENCE_END = ".!?\u2026"
_CLAUSE_END = ",;:"
_CLOSERS = "\"')]}\u201d\u2019"
# Words whose trailing period does not end a sentence.
_NO_BREAK_WORDS = frozenset(
    w.lower()
    for w in (
        "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Jr", "Sr", "vs", "etc", "e.g", "i.e", "approx", "No", "Fig",
        "Mt", "Inc", "Ltd", "Co", "Corp", "Ave", "Rd", "Gen", "Gov", "Sen", "Rep", "Capt", "Lt", "Col", "Sgt",
        "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "a.m", "p.m",
        "U.S", "U.K", "min", "hr",
    )
)



class SentenceSplitter:
    """Incremental splitter: :meth:`feed` text as it arrives, :meth:`finish` at the end.

    A boundary is only confirmed once the character after the punctuation is seen (so
    ``3.14``, ``Dr. Smith`` and ``e.g.`` are not split). For a fast first audio the first
    piece may be short: it ends at the first clause mark ("Sure,") once it has
    ``first_min_words`` words, or before a conjunction or a phrase-starting word ("... are on |
    and ...", "... is 384 thousand kilometres | from ...") once it has
    ``first_conjunction_words``, or, in a sentence with no early clause mark, after
    ``first_max_words`` words once the next word has begun (0: no such cut): a model as slow as
    Kokoro on a small CPU then speaks in ~0.3 s instead of after the whole sentence. A first
    piece that starts with a noun phrase ("The speed of light | is ...", "The capital of
    Australia | is ...") may also end before its verb once it has ``first_subject_words`` words
    (0: no such cut): the subject is where a speaker pauses, and Piper, whose time grows with the
    audio it makes, speaks it in ~2/3 of the time of six words (``bench/tts_bench.py --first-piece``).
    A first piece may end before an approximate figure ("Mars is, | approximately 141,872,000
    miles ...", "A day is, | about 86,400 seconds") once it has ``first_figure_words`` words (0: no
    such cut): a figure, which no cut may split, reads as many words as it has digits and the LLM
    sends it a digit a token, so a piece that held it took ~0.5-0.9 s to the first audio. The
    piece after that one ends after the figure and its unit once ``figure_tail_words`` more words
    of the sentence have come (0: it is the rest of the sentence): "approximately 141.2 million
    miles, | (238.6 million kilometers) away ..."; :attr:`figure_piece` is its number, for an
    engine call of its own. Later pieces are sentences; any piece ends at a clause mark past
    ``soft_max`` characters, and at a word boundary past ``hard_max``.
    """

    def __init__(
        self, *, first_min_words: int = 1, first_conjunction_words: int = 4, first_max_words: int = 6,
        first_subject_words: int = 4, first_figure_words: int = 2, figure_tail_words: int = 2,
        soft_max: int = 160, hard_max: int = 320,
    ) -> None:
        self.first_min_words = first_min_words
        self.first_conjunction_words = first_conjunction_words
        self.first_max_words = first_max_words
        self.first_subject_words = first_subject_words
        self.first_figure_words = first_figure_words
        self.figure_tail_words = figure_tail_words
        self.figure_piece: int | None = None  # the number of the piece cut after a figure and its unit
        self.soft_max = soft_max
        self.hard_max = hard_max
        self._buffer = ""
        self._emitted = 0
        self._mid_phrase = False  # the next cut is inside a sentence, between two words
        self._after_figure = False  # the first piece ended before a figure

    @property
    def pending(self) -> str:
        return self._buffer

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        pieces: list[str] = []
        while (cut := self._next_cut()) is not None:
            self._emit(cut, pieces)
        return pieces

    def finish(self) -> list[str]:
        pieces = self.feed("")
        self._emit(len(self._buffer), pieces)
        return pieces

    def _emit(self, cut: int, pieces: list[str]) -> None:
        piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
        if self._mid_phrase and has_speech(piece):
            # Cut inside a sentence with no mark: a comma keeps the voice up (a full stop,
            # which cleaning would add, makes it fall as if the answer had ended).
            piece += ","
        self._mid_phrase = False
        if has_speech(piece):
            pieces.append(piece)
            self._emitted += 1
        elif piece and pieces:
            pieces[-1] += piece  # stray punctuation belongs to the piece before

    def _next_cut(self) -> int | None:
        # One pass over at most hard_max characters (a piece is never longer), counting the
        # words seen so far as it goes: this runs for every token an LLM sends.
        buf = self._buffer
        clause_cut: int | None = None
        space_cut: int | None = None
        words = 0  # words (with a letter or digit) in buf[: i + 1]
        in_word = False
        first = self._emitted == 0
        if (self._after_figure and self._emitted == 1
                and (figure_end := figure_piece_end(buf[: self.hard_max], self.figure_tail_words)) is not None):
            self._mid_phrase, self.figure_piece = figure_end[1], 1
            return figure_end[0]
        for i in range(min(len(buf) - 1, self.hard_max)):
            char, nxt = buf[i], buf[i + 1]
            if char.isspace():
                in_word = False
            elif char.isalnum() and not in_word:
                in_word = True
                words += 1
            if char == "\n" and words and (nxt == "\n" or _starts_item(buf, i + 1)):
                return i + 1
            if char in _SENTENCE_END:
                end = _skip_closers(buf, i + 1)
                if end < len(buf) and buf[end].isspace() and self._is_sentence_end(buf, i, end):
                    return end
            elif char in _CLAUSE_END and nxt.isspace() and words:
                clause_cut = i + 1
                if (first and words >= self.first_min_words) or i >= self.soft_max:
                    return clause_cut
            elif char.isspace() and words:
                space_cut = i
                if (first and words >= self.first_conjunction_words and phrase_start_at(buf, i + 1)
                        and may_cut(buf, i, words)):
                    self._mid_phrase = not conjunction_at(buf, i + 1)
                    return i
                if (first and 0 < self.first_figure_words <= words and figure_at(buf, i + 1)
                        and may_end_before_figure(buf, i)):
                    self._mid_phrase = self._after_figure = True
                    return i
                if (first and 0 < self.first_subject_words <= words and predicate_at(buf, i + 1)
                        and noun_phrase_start(buf) and plain_subject(buf, i) and may_cut(buf, i, words)):
                    self._mid_phrase = True
                    return i
                if (first and 0 < self.first_max_words <= words and _word_begins_at(buf, i + 1)
                        and may_cut(buf, i, words)):
                    self._mid_phrase = True
                    return i
        if first and words >= self.first_min_words and len(buf) <= self.hard_max and _clause_mark_ends(buf):
            # The first piece's clause mark right after a word ends it now: the space the LLM sends
            # with its next token would only confirm it, one token later.
            return len(buf)
        if len(buf) > self.hard_max:
            # Too long without a sentence end: break at the last clause mark, else a space.
            return clause_cut or space_cut or self.hard_max
        return None

    @staticmethod
    def _is_sentence_end(buf: str, i: int, end: int) -> bool:
        # The next word must have started and not be lower case ("e.g. a", "Wait... what").
        rest = buf[end:].lstrip(" \t")
        if not rest:
            return False
        if rest[0] != "\n" and rest[0].islower():
            return False
        if buf[i] != ".":
            return True
        word = _word_before(buf, i)
        if not word:
            return True
        if word.lower() in _NO_BREAK_WORDS or (len(word) == 1 and word.isalpha() and word.isupper()):
            return False
        # A list number ("1. Open the door") starts its line.
        return not (word.isdigit() and _line_start(buf, i - len(word)))


def _clause_mark_ends(buf: str) -> bool:
    """``buf`` ends in a comma or semicolon right after a letter (not "1,000"), outside quotes."""
    return (len(buf) >= 2 and buf[-1] in ",;" and buf[-2].isalpha()
            and buf.count("\u201c") <= buf.count("\u201d") and buf.count('"') % 2 == 0)


def _word_begins_at(buf: str, i: int) -> bool:
    """A word (not punctuation ending the sentence) starts at ``i``, after any spaces."""
    while i < len(buf) and buf[i] in " \t":
        i += 1
    return i < len(buf) and buf[i].isalnum()


def _word_before(buf: str, i: int) -> str:
    start = i
    while start > 0 and (buf[start - 1].isalnum() or buf[start - 1] == "."):
        start -= 1
    return buf[start:i]


def _line_start(buf: str, i: int) -> bool:
    j = i
    while j > 0 and buf[j - 1] in " \t":
        j -= 1
    return j == 0 or buf[j - 1] == "\n"


def _starts_item(buf: str, i: int) -> bool:
    """True if a list item or heading begins at ``i`` (after optional indentation)."""
    rest = buf[i : i + 8].lstrip(" \t")
    return bool(re.match(r"(?:[-*+#\u2022]|\d{1,3}[.)])", rest))


def _skip_closers(buf: str, i: int) -> int:
    while i < len(buf) and (buf[i] in _CLOSERS or buf[i] in _SENTENCE_END):
        i += 1
    return i
