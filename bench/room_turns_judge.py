"""Per request of a room run of ``bench/room_turns_bench.py``: whole, cut, misheard, first reply audio.

Split out of ``room_turns_bench.py`` (session 30; behaviour unchanged): :func:`judge` reads one run
(the room's ``result.json``, the orchestrator's and the satellite's logs) against the requests
played; :func:`log_events` places the orchestrator's log on the scenario clock. ``room_turns_bench``
re-exports both (``room_cont_bench``, ``stack_barge_judge`` and the reports import them from there).
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import re
from typing import Any

from bench.turn_bench import is_whole, miss_kind, word_error_rate
from bench.turn_corpus import Request


def log_events(text: str, scenario_wall: float) -> list[tuple[float, str, str]]:
    """(scenario seconds, logger, message) of the orchestrator's log."""
    found = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            entry = json.loads(line)
            wall = dt.datetime.fromisoformat(entry["ts"]).timestamp()
            found.append((wall - scenario_wall, entry["logger"], entry["msg"]))
    return found


def judge(requests: list[Request], run: dict[str, Any], skipped: set[str]) -> list[dict[str, Any]]:
    result = run["result"]
    scenario_wall = run.get("scenario_wall") or result["t0_monotonic"] + result["wav_offset_s"] + run["mono_to_wall"]
    events = log_events(run["log"], scenario_wall)
    utts, replies = result["utterances"], result["replies"]
    # A turn belongs to the request during which it started (its run-pipeline: "new speech after
    # turn N-1"); an LLM turn is logged as answered only once its reply was all sent.
    started = {1: float("-inf")}
    for t, _, msg in events:
        if m := re.search(r"new speech after turn (\d+):", msg):
            started[int(m.group(1)) + 1] = t
    # what each turn heard: answered, or cancelled (by a continuation, a barge-in or the next request)
    answered_by_turn = {
        int(m.group(1)): (m.group(2), msg)
        for t, lg, msg in events
        if (m := re.search(r"^turn (\d+) (?:answered|cancelled;.*;) transcript=(.*) continued=\w+$", msg))
    }
    ends = []  # when the satellite was told the question had ended (scenario seconds)
    for line in run.get("satlog", "").splitlines():
        if "end of speech found by the controller" in line and (m := re.match(r"ts=(\S+) ", line)):
            ends.append(dt.datetime.fromisoformat(m.group(1)).timestamp() - scenario_wall)
    outcomes = {
        msg
        for _, lg, msg in events
        if lg == "orchestrator.pipeline" and msg.startswith("turn ") and "conversation=" in msg
    }
    rows = []
    for i, r in enumerate(requests):
        u = utts[i]
        end = utts[i + 1]["at"] if i + 1 < len(utts) else float("inf")
        lo = u["at"] if i else float("-inf")
        mine = [(t, lg, msg) for t, lg, msg in events if lo <= t < end]
        # The request's own turns start before its speech ended (+ the continuation window); a turn
        # that starts later in its slot heard something else (the echo tail of the reply: counted apart).
        turns = [
            n for n in sorted(answered_by_turn) if lo <= started.get(n, float("inf")) < min(end, u["offset"] + 2.5)
        ]
        extra = [n for n in sorted(answered_by_turn) if u["offset"] + 2.5 <= started.get(n, float("inf")) < end]
        final = answered_by_turn[turns[-1]][1] if turns else ""
        answered = turns
        text_m = re.search(r"transcript=(.*) continued=(\w+)$", final)
        text = str(ast.literal_eval(text_m.group(1))) if text_m else ""
        answered_fully = bool(final) and " answered " in final
        # the pipeline's "turn ok ... intent=X" line is logged just before that turn's "answered" line
        k = next((k for k, (_, _, msg) in enumerate(events) if final and msg == final), 0)
        outcome = events[k - 1][2] if k > 0 and events[k - 1][2] in outcomes else ""
        intent_m = re.search(r"intent=(\S+)", outcome)
        merges = [
            float(m.group(1))
            for _, _, msg in mine
            if (m := re.search(r"continuation \(.*reply heard ([\d.]+)s\)", msg))
        ]
        after = [p for p in replies if u["offset"] < p["start"] < end]
        clip_end = u["at"] + r.speech_end  # the corpus clips end at their last voiced sample
        during = [p for p in replies if u["onset"] <= p["start"] <= u["offset"]]
        # Spoken over the previous reply (it outlived the gap): a barge-in question, not scored.
        over = any(p["start"] < u["onset"] < p["end"] for p in replies)
        mid_speech = sum(u["onset"] < t < u["offset"] - 0.05 for t in ends)
        rows.append(
            {
                "id": r.id,
                "split": r.split,
                "voice": r.voice,
                "condition": r.condition,
                "pause": r.pause,
                "pause_kind": r.pause_kind or "none",
                "method": r.method,
                "text": r.text,
                "answered": text,
                "continued": bool(text_m and text_m.group(2) == "True"),
                "whole": is_whole(r, text) if text else False,
                # the words heard vs the corpus text; "whole" only says the turn was not cut: held-47
                # "Set the film to stop 2. 20 degrees." was whole, 0.5 wrong (session 26)
                "wer": round(word_error_rate(r.text, text), 3) if text else None,
                "misheard": bool(text) and is_whole(r, text) and word_error_rate(r.text, text) > 0,
                "excluded": r.id in skipped,
                "over_a_reply": over,
                "intent": intent_m.group(1) if intent_m else None,
                "merges": len(merges),
                "reply_heard_log_s": merges,
                "reply_heard_room_s": [p["played_s"] for p in during],
                "first_audio_s": round(after[0]["start"] - u["offset"], 3) if after else None,
                # from the clip's end (its last voiced sample): the room's offset, 10 dB over the
                # clip's own noise, falls up to ~2.6 s early in the noisy clips (held-50: 1.08 s)
                "first_audio_clip_s": round(after[0]["start"] - clip_end, 3) if after else None,
                "turns_answered": len(answered),
                "answer_finished": answered_fully,
                # the controller ended the question while it was still being spoken (a cut the
                # continuation must repair) / only after it (a request still missed was misheard)
                "ended_mid_speech": mid_speech,
                # not whole because the turn was cut, or misheard with the whole utterance heard
                "miss": miss_kind(r, text, mid_speech),
                "extra_turns": [str(ast.literal_eval(answered_by_turn[n][0])) for n in extra],
            }
        )
    return rows
