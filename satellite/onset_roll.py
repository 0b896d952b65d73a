"""The pre-roll of a barge-in turn: the cleaned mic from the user's speech onset.

Pure and synchronous. Over a reply the VAD often starts speech late (the echo judge lets the
first words through only once it is sure they are not echo), and its own pre-roll (0.6 s) then
began after the question had: whisper heard "… in a week" (the room, session 7: silenced 1.3 s
after the onset). :class:`OnsetPreroll` keeps the last ``seconds`` of echo-cancelled frames with
whether each showed the user (voiced through the judge, or double talk: the playback explains
little of the mic); a barge-in turn starts from the first such frame of the run that reaches
the VAD's start without a gap of ``gap_seconds``, ``lead_seconds`` earlier (an "s" or "st" is
quiet), when that is earlier than the VAD's own pre-roll reaches. Only while a reply plays.
"""

from __future__ import annotations

from collections import deque


class OnsetPreroll:
    def __init__(self, frame_seconds: float, *, seconds: float = 1.5, gap_seconds: float = 0.3,
                 lead_seconds: float = 0.15) -> None:
        self._frames: deque[tuple[bytes, bool]] = deque(maxlen=max(1, round(seconds / frame_seconds)))
        self._gap = max(1, round(gap_seconds / frame_seconds))
        self._lead = round(lead_seconds / frame_seconds)

    def push(self, frame: bytes, user: bool) -> None:
        self._frames.append((frame, user))

    def clear(self) -> None:
        """Nothing plays: a turn starting now is no barge-in (and must not reach back into the
        previous one)."""
        self._frames.clear()

    def take(self, preroll: bytes) -> bytes:
        """The audio from the onset up to the current frame, or ``preroll`` if that is longer."""
        frames = list(self._frames)
        self._frames.clear()
        first, quiet = None, 0
        for i in range(len(frames) - 1, -1, -1):
            if frames[i][1]:
                first, quiet = i, 0
            else:
                quiet += 1
                if quiet >= self._gap:
                    break
        if first is None or sum(len(f) for f, _ in frames[first:]) <= len(preroll):
            return preroll  # the VAD's pre-roll already reaches back to the onset
        return b"".join(f for f, _ in frames[max(0, first - self._lead):])
