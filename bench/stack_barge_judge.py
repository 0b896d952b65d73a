"""Judging a whole-stack barge-in room run (``bench/room_stack_barge.py``) from its kept files.

Turns are matched to what was said by time window and content, never by order (under load the
replies came 6-11 s late and an order-based match compared the wrong turns):

* each turn (a ``run-pipeline`` the satellite sent, seen by the tap, ``turns.json``) belongs to
  the latest utterance whose speech began at most ``EARLY_S`` before the turn started and ended
  at most ``window`` s before it; a turn that fits no utterance is *unmatched* (reported: a
  turn opened on echo, or far too late);
* an utterance with several turns (a question split) is scored on the one whose transcript
  is closest to the words spoken, and on all of them joined (``wer_joined``);
* the orchestrator's transcript of a turn is found by its number (the tap's k-th run-pipeline
  is the orchestrator's turn k); the start times are checked against its ``new speech after
  turn`` lines.

Per interruption, where the question's words were lost (each a WER of Whisper tiny.en, beam 5
as the server decodes, on kept audio):

* ``wer_clean``: the WAV as spoken (the recogniser's own floor);
* ``wer_mic``: the room's raw mic over the question (echo not cancelled);
* ``wer_sent``: the audio the satellite streamed for the turn, decoded whole offline (if this
  is right and the stack's transcript is not: the loss is in the streaming decode / end of turn);
* ``wer_sent_from_onset``: the same, from 0.1 s before the question's speech (without the
  pre-roll's echo);
* ``landed``: the room counts the onset inside a reply and the speaker was audible within
  ``AUDIBLE_GAP_S`` before it (``quiet_before_s``; a miss that played again while the question
  was spoken, ``resumed_after_onset_s``, fell in a gap of the reply, else after its end);
* ``answer``: what the next reply said (tiny.en on the speaker's recording): about the new
  question ("new"), still about the interrupted one ("old"), neither ("other") or no reply;
* ``cause``: the first place the words were lost (``cause()``);
* ``clip_ms``: how much of the question's speech is missing from the start of what was sent
  (0: none), ``preroll_ms``: audio sent before the speech onset, ``ser_db``: the question's
  speech over what else is in the sent audio during it (residual echo, noise, canceller damage).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from bench.aec_bench import wer as plain_wer
from bench.room_turns_bench import log_events

RATE = 16000
EARLY_S = 0.3  # a turn may start this long before the room's speech onset (the onset is an energy estimate)
Audio = np.ndarray[Any, np.dtype[np.float32]]


_NUMBERS = dict(enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                           "eleven", "twelve"]))


def wer(said: str, heard: str) -> float:
    """Word error rate with numbers as words ("2 plus 2" is "two plus two")."""
    return plain_wer(said, re.sub(r"\b(\d+)\b", lambda m: _NUMBERS.get(int(m.group(1)), m.group(1)), heard))


def read_wav(path: Path) -> Audio:
    import wave

    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32)


def decode(audio: Audio) -> str:
    """Whisper tiny.en with beam 5 (the server's final decode), on int16-scaled float audio."""
    from speech import _whisper  # tests/speech.py: the cached tiny.en model

    if len(audio) < RATE // 10:
        return ""
    segments, _ = _whisper().transcribe(audio / 32768.0, language="en", beam_size=5)
    return " ".join(s.text.strip() for s in segments)


def align(sent: Audio, clean: Audio) -> int:
    """L such that sent[k + L] ~ clean[k] (the best cross-correlation over all overlaps)."""
    n = 1 << int(np.ceil(np.log2(len(sent) + len(clean))))
    corr = np.fft.irfft(np.fft.rfft(sent, n) * np.conj(np.fft.rfft(clean, n)), n)
    k = int(np.argmax(corr))
    return k if k < len(sent) else k - n


def causes(sent: Audio, clean: Audio, speech: tuple[int, int], said: str) -> dict[str, Any]:
    """``speech``: the question's speech (start, end) in ``clean``'s samples."""
    lag = align(sent, clean)
    on, off = speech[0] + lag, speech[1] + lag  # the speech in the sent audio's samples
    part = slice(max(0, on), max(0, min(len(sent), off)))
    c = clean[part.start - lag:part.stop - lag]
    s = sent[part]
    ser = None
    if len(c) > RATE // 10:
        g = float(np.dot(s, c) / (np.dot(c, c) + 1e-9))
        resid = s - g * c
        ser = round(10 * float(np.log10((g * g * np.dot(c, c) + 1e-9) / (np.dot(resid, resid) + 1e-9))), 1)
    pre = sent[: max(0, on)]
    from_onset = decode(sent[max(0, on - RATE // 10):])
    return {"clip_ms": round(max(0, -on) * 1000 / RATE), "preroll_ms": round(max(0, on) * 1000 / RATE),
            "preroll_dbfs": round(20 * float(np.log10(np.sqrt(np.mean(pre * pre)) / 32768 + 1e-9)), 1) if len(pre)
            else None, "ser_db": ser,
            "sent_from_onset": from_onset, "wer_sent_from_onset": round(wer(said, from_onset), 3)}


def speech_span(clean: Audio) -> tuple[int, int]:
    n = len(clean) // 160
    e = 10 * np.log10(np.mean(np.square(clean[: n * 160].reshape(n, 160)), axis=1) + 1e-12)
    loud = np.nonzero(e > e.max() - 35)[0]
    return int(loud[0]) * 160, (int(loud[-1]) + 1) * 160


def orchestrator_turns(log: str, scenario_wall: float) -> dict[int, dict[str, Any]]:
    turns: dict[int, dict[str, Any]] = {}
    for t, _, msg in log_events(log, scenario_wall):
        if m := re.search(r"new speech after turn (\d+): (new turn|continuation)", msg):
            turns.setdefault(int(m.group(1)) + 1, {})["logged_start"] = round(t, 3)
        elif m := re.search(r"^turn (\d+) (answered|cancelled;.*;) transcript=(.*) continued=(\w+)$", msg):
            turns.setdefault(int(m.group(1)), {}).update(
                transcript=str(ast.literal_eval(m.group(3))), outcome=m.group(2).split(";")[0],
                continued=m.group(4) == "True")
    return turns


AUDIBLE_GAP_S = 0.3  # the reply counts as playing at the onset if the speaker was audible this recently
SILENCE_DBFS = -40.0  # the room's own threshold for audible playback


def read_played(path: Path) -> tuple[Audio, int]:
    import wave

    if not path.exists():
        return np.zeros(0, np.float32), RATE
    with wave.open(str(path), "rb") as w:
        rate, data = w.getframerate(), w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32), rate


def _loud(played: Audio, rate: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per 10 ms of the room's timeline (block k = [k/100, (k+1)/100) s, exact even at 22050 Hz):
    audible playback, as the room judges it."""
    edges = np.round(np.arange(len(played) * 100 // rate + 1) * rate / 100).astype(np.int64)
    power = np.concatenate([[0.0], np.cumsum(np.square(played.astype(np.float64) / 32768.0))])
    mean = (power[edges[1:]] - power[edges[:-1]]) / np.maximum(1, np.diff(edges))
    return 10 * np.log10(mean + 1e-18) > SILENCE_DBFS  # type: ignore[no-any-return]


def at_onset(played: Audio, rate: int, onset: float, speech_s: float) -> dict[str, Any]:
    """From the speaker's recording: how long it had been silent at the question's onset (0: audible
    in the 10 ms block of the onset), and if silent, whether it played again while the question was
    spoken (a gap inside the reply) or not (the reply had ended)."""
    loud = _loud(played, rate)
    k = int(onset * 100)
    before = np.nonzero(loud[:k + 1])[0]
    quiet = round((k - int(before[-1])) / 100, 2) if len(before) else None
    later = np.nonzero(loud[k + 1:k + 1 + int(speech_s * 100)])[0]
    return {"quiet_before_s": quiet if quiet is not None else 99.0,
            "resumed_after_onset_s": round((int(later[0]) + 1) / 100, 2) if len(later) and (quiet or 0) > 0 else None}


def answered(played: Audio, rate: int, result: dict[str, Any], utt: dict[str, Any], *, new: tuple[str, ...],
             old: tuple[str, ...]) -> dict[str, Any]:
    """The first reply that starts after the question ended, as heard from the speaker (tiny.en):
    ``answer`` is "new" if it names the question's subject or answer, "old" if only the
    interrupted question's, "other" if neither, "none" if no reply started within 30 s."""
    from bench.stack_barge_corpus import mentions
    from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert

    reply = next((r for r in result["replies"] if utt["offset"] - 0.1 <= r["start"] <= utt["offset"] + 30), None)
    if reply is None:
        return {"answer": "none", "answer_heard": ""}
    off = result["wav_offset_s"]
    part = played[int((reply["start"] + off) * rate):int((min(reply["end"], reply["start"] + 10) + off) * rate)]
    pcm16 = convert(part.astype("<i2").tobytes(), AudioFormat(rate, 2, 1), PCM16_MONO_16K)
    heard = decode(np.frombuffer(pcm16, "<i2").astype(np.float32))
    kind = "new" if mentions(heard, new) else "old" if mentions(heard, old) else "other"
    return {"answer": kind, "answer_heard": heard,
            "answer_start_after_offset_s": round(reply["start"] - utt["offset"], 3)}


def cause(row: dict[str, Any]) -> str:
    """Where the interrupting question's words were lost (the first that fits)."""
    if row["turn"] is None:
        return "no turn"
    if row["wer"] == 0:
        return "none"
    if len(row["turns"]) > 1 and row["wer_joined"] < row["wer"]:
        return "split over turns"
    if row.get("wer_sent") is None:
        return "sent audio missing"
    if row["wer_sent"] > (row.get("wer_sent_from_onset") or 0):
        return "echo in the pre-roll"
    if (row.get("clip_ms") or 0) > 50:
        return "start cut"
    if row["wer_sent"] > 0:
        return "misrecognised (also offline)" if row["wer_sent"] > (row.get("wer_clean") or 0) else "recogniser floor"
    return "streaming decode"


def judge_dir(keep: Path, said: dict[str, str], interruptions: set[str], window: float = 3.0,
              words: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """``words``: per WAV, the words an answer to it (an interruption) or its reply (a question)
    contains, to tell which question the reply after an interruption answered."""
    result = json.loads((keep / "result.json").read_text())
    meta = json.loads((keep / "meta.json").read_text())
    t0 = result["t0_monotonic"] + result["wav_offset_s"]
    orch = orchestrator_turns((keep / "orchestrator.log").read_text(errors="replace"), t0 + meta["mono_to_wall"])
    tapped: list[dict[str, Any]] = json.loads((keep / "turns.json").read_text()) if (keep / "turns.json").exists() \
        else [{"number": n, "started": t["logged_start"] + t0, "file": ""} for n, t in sorted(orch.items())
              if "logged_start" in t]  # an older run without the tap: the orchestrator's log alone
    utts = sorted(result["utterances"], key=lambda u: u["onset"])
    mine: dict[int, list[int]] = {i: [] for i in range(len(utts))}
    unmatched = []
    for index, turn in enumerate(tapped, start=1):
        start = turn["started"] - t0
        k = turn.get("number", index)
        turn.update(number=k, start=round(start, 3), **orch.get(k, {}))
        fits = [i for i, u in enumerate(utts) if u["onset"] - EARLY_S <= start <= u["offset"] + window]
        if fits:
            mine[fits[-1]].append(k)
        else:
            unmatched.append({k2: turn.get(k2) for k2 in ("number", "start", "transcript", "outcome")})
    mic = read_wav(keep / "mic.wav") if (keep / "mic.wav").exists() else None
    played, played_rate = read_played(keep / "played.wav")
    rows = []
    for i, u in enumerate(utts):
        text = said.get(u["wav"], "")
        ts = [t for t in tapped if t["number"] in mine[i]]
        best = min(ts, key=lambda t: wer(text, t.get("transcript", ""))) if ts else None
        row: dict[str, Any] = {
            "wav": u["wav"], "said": text, "onset": u["onset"], "interruption": u["wav"] in interruptions,
            "turns": [t["number"] for t in ts], "turn": best["number"] if best else None,
            "turn_start_after_onset_s": round(best["start"] - u["onset"], 3) if best else None,
            "heard": best.get("transcript", "") if best else "", "outcome": best.get("outcome") if best else None,
            "continued": best.get("continued") if best else None,
            "wer": round(wer(text, best.get("transcript", "")), 3) if best else 1.0,
            "wer_joined": round(wer(text, " ".join(t.get("transcript", "") for t in ts)), 3) if ts else 1.0,
        }
        over = [b for b in result["barge_in"] if b["onset"] == u["onset"]]
        row.update(over_a_reply=bool(over), reaction_s=over[0]["reaction_s"] if over else None,
                   cut=over[0]["cut"] if over else None)
        if row["interruption"]:
            row.update(at_onset(played, played_rate, u["onset"] + result["wav_offset_s"], u["offset"] - u["onset"]))
            row["landed"] = row["over_a_reply"] and row["quiet_before_s"] <= AUDIBLE_GAP_S
            old = next((v["wav"] for v in reversed(utts[:i]) if v["wav"] not in interruptions), None)
            row.update(answered(played, played_rate, result, u, new=(words or {}).get(u["wav"], ()),
                                old=(words or {}).get(old or "", ())))
            clean = read_wav(keep / u["wav"])
            span = speech_span(clean)
            row["wer_clean"] = round(wer(text, decode(clean)), 3)
            if mic is not None:
                a = int((u["onset"] + result["wav_offset_s"] - 0.3) * RATE)
                b = int((u["offset"] + result["wav_offset_s"] + 0.3) * RATE)
                row["mic_heard"] = decode(mic[max(0, a):b])
                row["wer_mic"] = round(wer(text, row["mic_heard"]), 3)
            if best is not None and best["file"] and (keep / best["file"]).exists():
                sent = read_wav(keep / best["file"])
                row["sent_heard"] = decode(sent)
                row["wer_sent"] = round(wer(text, row["sent_heard"]), 3)
                row.update(causes(sent, clean, span, text))
            row["cause"] = cause(row)
        rows.append(row)
    return {"rows": rows, "unmatched_turns": unmatched, "turns": len(tapped)}


def summary(judged: dict[str, Any]) -> dict[str, Any]:
    rows = [r for r in judged["rows"] if r["interruption"]]

    def mean(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return round(float(np.mean(vals)), 3) if vals else None

    landed = [r for r in rows if r.get("landed", r["over_a_reply"])]  # spoken while the reply was audible
    over = {k: round(float(np.mean([r[k] for r in landed if r.get(k) is not None])), 3)
            if any(r.get(k) is not None for r in landed) else None
            for k in ("wer", "wer_sent", "wer_sent_from_onset", "wer_mic", "wer_clean")}
    reactions = sorted(r["reaction_s"] for r in landed if r["reaction_s"] is not None)
    causes_ = [r.get("cause", "") for r in landed]
    return {"interruptions": len(rows), "landed": len(landed), "over_a_reply": sum(r["over_a_reply"] for r in rows),
            "missed": [{"wav": r["wav"], "onset": r["onset"], "quiet_before_s": r.get("quiet_before_s"),
                        "resumed_after_onset_s": r.get("resumed_after_onset_s")} for r in rows if r not in landed],
            "landed_wer_mean": over["wer"], "landed_wer_joined_mean": round(float(np.mean(
                [r["wer_joined"] for r in landed])), 3) if landed else None,
            "landed_causes": {c: causes_.count(c) for c in sorted(set(causes_))},
            "landed_reaction_p50_s": round(float(np.percentile(reactions, 50)), 3) if reactions else None,
            "landed_reaction_p95_s": round(float(np.percentile(reactions, 95)), 3) if reactions else None,
            "landed_cut": sum(bool(r["cut"]) for r in landed),
            "landed_answers": {a: sum(r.get("answer") == a for r in landed) for a in ("new", "old", "other", "none")},
            "over_a_reply_wer_mean": over["wer"], "over_a_reply_wer_sent_mean": over["wer_sent"],
            "over_a_reply_wer_sent_from_onset_mean": over["wer_sent_from_onset"],
            "over_a_reply_wer_mic_mean": over["wer_mic"], "over_a_reply_wer_clean_mean": over["wer_clean"],
            "silenced_within_1s": sum(1 for r in rows if r["over_a_reply"] and (r["reaction_s"] or 9) <= 1.0),
            "with_a_turn": sum(r["turn"] is not None for r in rows),
            "split": sum(len(r["turns"]) > 1 for r in rows), "unmatched_turns": len(judged["unmatched_turns"]),
            "wer_mean": mean("wer"), "wer_joined_mean": mean("wer_joined"), "wer_sent_mean": mean("wer_sent"),
            "wer_sent_from_onset_mean": mean("wer_sent_from_onset"), "wer_mic_mean": mean("wer_mic"),
            "wer_clean_mean": mean("wer_clean"),
            "clipped": sum(1 for r in rows if (r.get("clip_ms") or 0) > 0)}
