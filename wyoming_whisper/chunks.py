"""Append-only ``transcript-chunk`` texts from the partial hypotheses of one utterance.

A word is sent once two consecutive hypotheses agree on it and on every word before it (local
agreement); a hypothesis's last word (where the audio was cut) is never sent. At the end the rest
of the final text is sent if the final text starts with the words already sent, so the chunks
concatenate to the final ``transcript`` whenever the final decode confirms them; the
``transcript`` event is always authoritative. (Moved out of :mod:`.stream`, session 23.)
"""

from __future__ import annotations


class AgreedText:
    def __init__(self) -> None:
        self._sent: list[str] = []
        self._previous: list[str] | None = None

    def hypothesis(self, text: str) -> str:
        """Record a partial hypothesis; return the newly agreed text to send ('' if none)."""
        words = text.split()
        previous, self._previous = self._previous, words
        if previous is None or words[: len(self._sent)] != self._sent:
            return ""
        agreed = 0
        for a, b in zip(previous, words, strict=False):
            if a != b:
                break
            agreed += 1
        # The last word of a hypothesis is where the audio was cut: never sent from a partial.
        return self._extend(words[: min(agreed, len(words) - 1)])

    def final_delta(self, text: str) -> str:
        """The rest of the final text after what was sent, if it confirms what was sent."""
        words = text.split()
        if words[: len(self._sent)] != self._sent:
            return ""
        return self._extend(words)

    def _extend(self, words: list[str]) -> str:
        if len(words) <= len(self._sent):
            return ""
        new = words[len(self._sent) :]
        prefix = " " if self._sent else ""
        self._sent = list(words)
        return prefix + " ".join(new)
