"""Per-request stream policy: what a ``transcribe`` asks for (``vad_sensitivity``, ``context``)
on top of the server's settings. Pure (no asyncio); the handler applies it to the utterances
that follow on the connection."""

from __future__ import annotations

from dataclasses import replace

from wyoming.asr import Transcribe

from .engine import SAMPLE_RATE
from .stream import StreamPolicy
from .vad import WINDOW

# Seconds of silence after speech that end an utterance, per ``vad_sensitivity``, with silence
# alone deciding (``context.endpoint: "silence"``; the values Home Assistant's own VAD uses).
VAD_SENSITIVITY_SECONDS = {"aggressive": 0.25, "default": 0.7, "relaxed": 1.25}
# With the transcript deciding too (the default, :mod:`.endpoint`): the silence that ends a
# finished request, and the factor on the server's cap (``--endpoint-max-silence``) that ends
# an unfinished one. aggressive < default < relaxed, as in Home Assistant. A finished request
# ends after 0.25 s (``default``; it was 0.4 s): in the room that wait was the largest part of
# the time from the end of speech to the reply (bench/results/room_latency.md), and a pause the
# words read as finished is merged back by the orchestrator's continuation. ``relaxed`` (what our
# satellite asks for in Home Assistant's runs, where nothing merges a cut back) waits 1.0 s after a
# finished request (it was 0.7 s): offline (bench/ha_eot_offline.py, bench/results/ha_eot_offline.md)
# 0.7 s cut 55 of the 60 requests with 0.75 / 0.9 s pauses (measured) after words that read
# finished, 0.9 s 5 of 60, 1.0 s none of 90 (0.6-0.9 s; the VAD counted at most 0.93 s in a 0.9 s
# pause), for 0.3 s more on a plain request (p50 1.04 s; HA's own relaxed 1.29 s); a pitch cue
# did not help (see there).
ENDPOINT_SENSITIVITY = {"aggressive": (0.2, 1.0), "default": (0.25, 1.25), "relaxed": (1.0, 1.5)}
# A request whose words read as finished but that Whisper wrote without a final . ? ! (it does
# that for finished requests in noise: 6 of the 65 end-of-turn corpus requests, each then waiting
# for the whole cap, 1.875 s with ``default``; and at a pause where the voice did not fall) ends
# after this much silence, never later than the cap: longer than the 0.9 s pauses the corpus
# holds (and that a paused request must survive), shorter than the cap.
ENDPOINT_WEAK_SECONDS = {"aggressive": 1.0, "default": 1.2, "relaxed": 1.5}
ENDPOINT_MODES = ("semantic", "silence")
# With endpointing the audio kept after the speech (and so the silence after which the
# speculative final decode starts) is at most this: the decode then runs while the endpoint
# silence is still being waited for, and the transcript follows the endpoint almost at once.
# 0.1 s rather than 0.2 s: the decode starts 0.1 s sooner, and on the end-of-turn corpus the
# texts were as good (bench/eot_pad_probe.py: 57/65 heard whole with either, 58 vs 59 finished
# requests read as finished, 1.98 vs 1.85 decodes per request).
ENDPOINT_PAD_SECONDS = 0.1


def _windows(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE / WINDOW)


MAX_PROMPT_CHARS = 2000


def request_prompt(request: Transcribe) -> str | None:
    """``context.initial_prompt``: words the speaker is likely to say (the home's device and
    room names, sent by our orchestrator), biasing this request's decoding instead of the
    server's ``--initial-prompt``. None: the server's. Raises TypeError when malformed."""
    context = request.context
    prompt = context.get("initial_prompt") if isinstance(context, dict) else None
    if prompt is None:
        return None
    if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_CHARS:
        raise TypeError(f"'context.initial_prompt' must be a string of at most {MAX_PROMPT_CHARS} characters")
    return prompt.strip() or None


def request_policy(base: StreamPolicy, request: Transcribe) -> StreamPolicy:
    """The stream policy for the utterances after ``request``: ``base`` plus its overrides.

    ``base.endpoint_max_windows`` is the server's cap for unfinished requests (None: silence
    alone). Raises ValueError/TypeError for an unknown sensitivity or a malformed context (a
    ``bad-event``).
    """
    policy = base
    context = request.context
    if context is not None and not isinstance(context, dict):
        raise TypeError("'context' must be an object")
    mode = "semantic" if context is None else context.get("endpoint", "semantic")
    if mode not in ENDPOINT_MODES:
        raise ValueError(f"'context.endpoint' must be one of {list(ENDPOINT_MODES)}, not {mode!r}")
    if mode == "silence":
        policy = replace(policy, endpoint_max_windows=None)
    sensitivity = request.vad_sensitivity
    if sensitivity is not None:
        name = str(getattr(sensitivity, "value", sensitivity))
        if name not in VAD_SENSITIVITY_SECONDS:
            raise ValueError(f"'vad_sensitivity' must be one of {sorted(VAD_SENSITIVITY_SECONDS)}, not {name!r}")
        pad = min(base.vad.pad_windows, _windows(ENDPOINT_PAD_SECONDS))
        cap = weak = None
        if mode == "silence" or not base.endpoint_max_windows:
            silence = VAD_SENSITIVITY_SECONDS[name]
        else:
            silence, factor = ENDPOINT_SENSITIVITY[name]
            cap = round(base.endpoint_max_windows * factor)
            weak = min(cap, _windows(ENDPOINT_WEAK_SECONDS[name]))
        windows = max(pad, _windows(silence))
        policy = replace(
            policy,
            vad=replace(base.vad, pad_windows=pad),
            settle_windows=min(base.settle_windows, pad),
            endpoint_windows=windows,
            endpoint_max_windows=cap,
            endpoint_weak_windows=weak,
        )
    if context is not None:
        after = context.get("endpoint_after")
        if after is not None:
            if isinstance(after, bool) or not isinstance(after, int | float) or not 0 <= after <= 3600:
                raise TypeError("'context.endpoint_after' must be a number of seconds")
            policy = replace(policy, hold_windows=_windows(float(after)))
        speculative = context.get("speculative_transcripts")
        if speculative is not None:
            if not isinstance(speculative, bool):
                raise TypeError("'context.speculative_transcripts' must be true or false")
            policy = replace(policy, speculative=speculative)
        weak = context.get("speculative_weak")
        if weak is not None:
            if not isinstance(weak, bool):
                raise TypeError("'context.speculative_weak' must be true or false")
            policy = replace(policy, speculative_weak=weak)
        partials = context.get("partial_transcripts")
        if partials is not None:
            if not isinstance(partials, bool):
                raise TypeError("'context.partial_transcripts' must be true or false")
            if not partials:
                policy = replace(policy, partial_interval=0.0)
    return policy
