"""The whisper server's stream settings (:class:`StreamPolicy`) and the end-of-turn rule constants
:mod:`.stream`'s :class:`~.stream.Utterance` applies (moved out of stream.py, session 26; stream.py
re-exports them). Pure data, no model."""

from __future__ import annotations

from dataclasses import dataclass

from .endpoint import EndpointPolicy
from .engine import SAMPLE_RATE
from .vad import WINDOW, VadPolicy

# Audio after the region decoded again when its final text repeats a phrase (.stream's module doc).
LOOP_RETRY_SECONDS = 0.2
# A speculative final whose words read as finished but that tiny.en decoded with a lower average
# log-probability waits like a weak verdict (the weak cap). In the room the far+noise held-47
# ("Set the thermostat to ... twenty degrees.") ended at its pause on mishearings ("Check the film
# as top two.", "Set the firmest out too."); offline the corpus's misheard pause texts scored
# -0.88 / -1.07 and every finished request heard whole at the end scored above -0.8
# (bench/turn_bench_rules.py --unsure-below; bench/results/turn_rules.md). A text that reads
# UNFINISHED but was decoded that unsure waits the weak cap too, not the whole cap: in the room the
# LLM-turn tail was misheard texts that read unfinished waiting 1.875 s ("Next off..." for "Next
# song.", "Please." for "Lock the front door ... please.", session 18); a paused request's text at
# its pause waits the weak cap, longer than the 0.9 s pauses. Offline (the whole corpus, tune + held,
# generation 2, bench/eot_unsure_probe.py, bench/results/eot_unsure.md): 1 of 25 unfinished texts
# at a pause scored below -0.8, a loop ("Add milk Add milk", at a 0.13 s pause: loops still wait
# the cap, they come from speech cut mid-request), no new cut; at the ends one, a mishearing.
UNSURE_LOGPROB = -0.8
# UNSURE_WHOLE_VALUE: a text decoded unsure that reads finished AND ends in a value command's whole
# value (``endpoint.whole_value``: "Set the firmest out to 20 degrees.") ends like a sure one: the
# room's held-47 ("Set the thermostat to ... twenty degrees.", far+noise) waited the weak cap on
# that text (session 20, 1.32 s). The unsure rule is for mishearings at a pause ("Set the firmest
# out too.", "Check the film is dot two."), which never end in a number and its unit; the same text
# decoded sure ends at the base silence anyway, so this adds no new kind of cut. Priced on the
# corpus's decodes and the kept room logs of sessions 19-20 (bench/results/s21_eot.md).
# So does a whole command of one word or a fixed two-word phrase (``short_commands.alone_command``:
# "Resume." -0.98, "Quieter please." -0.92 on session 30's probe of short commands, session 31): the
# list holds no word a fragment at a pause is heard as ("Time.", "Ty." for "Turn ...").
# LOOP_WAIT: a looped phrase ("Lights after. Lights after." for "Lights off.", far, session 19's
# room; "Read me? Read me?" at the pause of "Read me ... the news headlines") waits the weak cap
# (1.2 s with ``default``), not the whole cap (1.875 s): tiny.en loops on a short or cut region,
# at a pause or at the end alike, and every loop in session 19's room logs at a pause was at one of
# the corpus's 0.3-0.9 s pauses, under the weak cap. The price: a pause of 1.2-1.875 s after a loop
# is cut. Offline (the corpus's stored decodes, bench/eot_loop_probe.py, bench/results/s20_llm.md)
# no pause is cut more. Loops are still never speculative (the orchestrator's command end and the
# prepared reply never see them: "Turn off the lights. Turn off the lights." at the pause of "...
# in the living room" reads as a whole command once undoubled).
# A speculative final whose words read as finished while the speech (Silero, both grids) runs on
# more than this after its last word's end (the decode aligned with its audio: .engine) waits
# like a weak verdict too: Silero heard a word Whisper left out. In the room the far+noise held-50
# ("Open the garage door and ... turn on the porch light.", 0.9 s after "and") decoded "Open the
# garage door." at its pause from about half of the stream's start phases: Silero scored the quiet
# "and" 0.98, tiny.en left it out, its "door" ends 0.30-0.37 s before the speech does; the turn
# ended there. Finished requests at their end (the corpus and 7 room mics, 2 start phases): gap
# p95 0.19 s, over 0.25 s in 5 of 307 decodes, 3 of them misheard anyway (bench/tail_gap_probe.py,
# bench/results/tail_gap.md, session 18).
TAIL_SECONDS = 0.25


@dataclass(frozen=True)
class StreamPolicy:
    vad: VadPolicy = VadPolicy()
    # Trailing non-speech windows before a region counts as settled (>= vad.pad_windows).
    settle_windows: int = 10
    # Seconds of new audio between partial decodes; 0 disables partials.
    partial_interval: float = 0.8
    # No partial decode starts after this many non-speech windows (the speech may be ending).
    pause_windows: int = 3
    # No partial decodes once the speech is longer than one Whisper window.
    partial_max_seconds: float = 28.0
    # Non-speech windows after speech that end the utterance (server-side endpointing) when
    # its transcript reads as a finished request (:mod:`.endpoint`)...
    endpoint_windows: int | None = None
    # ... and that end it anyway (an unfinished one). None or <= endpoint_windows: silence alone.
    endpoint_max_windows: int | None = None
    # ... and that end one unfinished only for want of a final . ? ! (None: endpoint_max_windows).
    endpoint_weak_windows: int | None = None
    # Speech that ends before this window does not end the utterance (the client re-sent an
    # earlier part of the question first: ``context.endpoint_after``, a continuation).
    hold_windows: int = 0
    # Send the speculative final's text as ``transcript-speculative`` when it reads as finished
    # (``context.speculative_transcripts``; :mod:`voice_runtime.speculative`).
    speculative: bool = False
    # ... and also when it reads as finished but the turn would wait the weak cap (no final . ? !),
    # marked weak (``context.speculative_weak``: the client may end the turn itself).
    speculative_weak: bool = False

    def endpoint(self) -> EndpointPolicy | None:
        if self.endpoint_windows is None:
            return None
        cap = self.endpoint_max_windows or 0
        weak = None if self.endpoint_weak_windows is None else seconds(min(cap, self.endpoint_weak_windows))
        return EndpointPolicy(base=seconds(self.endpoint_windows), cap=seconds(cap), weak_cap=weak)


def seconds(windows: int) -> float:
    """``windows`` Silero windows in seconds."""
    return windows * WINDOW / SAMPLE_RATE
