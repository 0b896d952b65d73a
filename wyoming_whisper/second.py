"""A second opinion on a final decode tiny.en was unsure of: a second (larger) Whisper model
decodes the same audio and its text is the transcript. Pure (no asyncio); the service runs it
(``--second-opinion-model``, :mod:`.service`).

When: a final decode (speculative or at audio-stop) that has words and scored an average
log-probability below :data:`SECOND_BELOW`. Sure decodes, partials and empty ones are never decoded
twice, so a sure whole command costs nothing more.

Which text: the second model's, unless it has no words, or it repeats a phrase where the first did
not (base loops on a short window too: "switch off the bedroom lamp switch off the bedroom lamp"),
or it lost the first's end punctuation (then the first's . ? ! is kept: the end of turn reads it as
the falling voice, :mod:`.endpoint`, and base leaves it out of finished requests that tiny.en
ended: "Volume down", "lights off").

Off by default (``--second-opinion-model none``); measured on this 2-core CPU
(bench/results/s24_heard.md): on the final transcripts of the end-of-turn corpus streamed
room-like (bench/whisper_second_probe.py, 3 start phases, base int8 beam 5 asked below -0.4, chosen
on the tune split) word for word tune 85 -> 89 of 111 (asked on 15), held 60 -> 64 of 84 (asked on
22; +7 -3: "Switch off in, bedroom lamp." -> "Switch off the bedroom lamp.", "Yeah." -> "Yes.", but
"Lights off." -> "lights are for.", "Next song." -> "Exhaled."), base's decode 0.37 / 0.86 s p50 /
p95 on those turns at load 4.5-5.9. But asked on every speculative final at the end
of turn (bench/whisper_second_eot.py, 5 phases) it fired on 187 of 643, and on the held split added
3 pause cuts (20 -> 23 of 139), lost 2 of 35 whole commands and moved their end of turn p50 0.30 ->
0.58 s (far and noisy "Lights off.", "Volume down." tiny.en heard right at -0.44 .. -0.72).
"""

from __future__ import annotations

from dataclasses import replace

from .endpoint import repeats, words
from .engine import Decoded

# A final decoded below this average log-probability is decoded again by the second model. Chosen
# on the corpus's tune split (-0.3: tune word for word 85, -0.4: 89, -0.5: 86; bench/results/s24_heard.md).
SECOND_BELOW = -0.4
_MARKS = ".?!"


def asks_second(first: Decoded, below: float = SECOND_BELOW) -> bool:
    """Whether ``first`` (a final decode) is unsure enough to ask the second model."""
    return bool(words(first.text)) and first.avg_logprob is not None and first.avg_logprob < below


def prefer(first: Decoded, second: Decoded) -> Decoded:
    """The decode that is the transcript, of the first model's ``first`` and the second's ``second``
    of the same audio (see the module doc)."""
    said = words(second.text)
    if not said or (repeats(said) and not repeats(words(first.text))):
        return first
    text = second.text.strip()
    mark = first.text.strip()[-1:]
    if mark in _MARKS and text[-1:] not in _MARKS:
        return replace(second, text=text + mark)
    return second
