"""The HA end-of-turn benchmarks' requests and their audio (``bench/ha_end_of_turn.py`` on the real
rig, ``bench/ha_eot_offline.py`` offline): the requests, mic WAVs with pauses of a MEASURED length
(10 ms windows below -40 dBFS), and the comma-stretching that keeps a voice's continuing
intonation at a pause."""

from __future__ import annotations

from typing import Any

import numpy as np

REQUESTS = {  # name: (parts spoken with a pause between, the pause (s), words the transcript must have)
    # the pauses (0.9 s, its longest): after a word that cannot end a request ...
    "timer-0.9": (("Set a timer for", "fifteen minutes."), 0.9, ("minutes",)),
    "capital-0.9": (("What is the capital of", "Australia?"), 0.9, ("australia",)),
    "lights-0.9": (("Turn on the", "kitchen lights."), 0.9, ("kitchen",)),
    # ... and after words that can
    "moon-0.9": (("How far away", "is the moon from the earth?"), 0.9, ("moon",)),
    "egg-0.9": (("How long does it take", "to boil an egg?"), 0.9, ("egg",)),
    "living-0.9": (("Turn off the lights", "in the living room."), 0.9, ("living",)),
    # pauses Home Assistant's default detector cuts (it ends ~1.3 s after the speech)
    "timer-1.5": (("Set a timer for", "fifteen minutes."), 1.5, ("minutes",)),
    "capital-1.5": (("What is the capital of", "Australia?"), 1.5, ("australia",)),
    # complete requests
    "time": (("What time is it?",), 0.0, ("time",)),
    "off": (("Turn off the kitchen lights.",), 0.0, ("kitchen",)),
}
# Two or three pauses after words that read finished, less than 1 s of speech apart (each middle
# part is 0.6-0.9 s of Piper speech): Home Assistant adds such pauses up, so the 0.4 s of each that
# the satellite lets it hear in mode ours could end the turn in a later one. Unlike the requests
# above (whose pause is the gap inserted plus the voice's own ~0.2 s of quiet lead and tail,
# minus 0.6 s: a "0.9" pause is ~0.53 s below -40 dBFS), the pause here is the silence measured
# below -40 dBFS, 10 ms windows.
CLOSE_PAUSES = {
    "lights-2x0.6": (("Turn off the lights", "in the kitchen", "and the hall."), 0.6, ("hall",)),
    "jazz-2x0.7": (("Play some jazz", "in the kitchen", "at low volume."), 0.7, ("volume",)),
    "fan-2x0.8": (("Turn on the fan", "in the bedroom", "for an hour."), 0.8, ("hour",)),
    "weather-2x0.9": (("What's the weather", "in Paris", "tomorrow?"), 0.9, ("tomorrow",)),
    "lights-3x0.5": (("Turn off the lights", "in the kitchen", "and the hall", "right now."), 0.5, ("now",)),
}
REQUESTS.update(CLOSE_PAUSES)
# Session 17: the same sentences with 0.9 s pauses (measured), each part synthesised alone ("-split":
# final intonation at each pause) or the sentence synthesised whole with a comma at each pause whose
# gap is stretched to 0.9 s ("-aligned": the voice keeps its continuing intonation, as a person
# pausing mid-sentence); and said in one go ("-plain", to price the end of turn of a complete request).
S17_SENTENCES = {
    "lights-2x": (("Turn off the lights", "in the kitchen", "and the hall."), ("hall",)),
    "jazz-2x": (("Play some jazz", "in the kitchen", "at low volume."), ("volume",)),
    "fan-2x": (("Turn on the fan", "in the bedroom", "for an hour."), ("hour",)),
    "weather-2x": (("What's the weather", "in Paris", "tomorrow?"), ("tomorrow",)),
    "lights-3x": (("Turn off the lights", "in the kitchen", "and the hall", "right now."), ("now",)),
}
S17 = {
    **{f"{k}0.9-split": (parts, 0.9, words) for k, (parts, words) in S17_SENTENCES.items()},
    **{f"{k}0.9-aligned": (parts, 0.9, words) for k, (parts, words) in S17_SENTENCES.items()},
    **{
        f"{k.split('-')[0]}-plain": (parts, 0.0, words)
        for k, (parts, words) in S17_SENTENCES.items()
        if k != "lights-3x"
    },
}
REQUESTS.update(S17)
KINDS = {  # request -> its kind in the summary
    "time": "complete",
    "off": "complete",
    "timer-1.5": "1.5 s pause after for/of",
    "capital-1.5": "1.5 s pause after for/of",
    "timer-0.9": "0.9 s pause after for/of/the",
    "capital-0.9": "0.9 s pause after for/of/the",
    "lights-0.9": "0.9 s pause after for/of/the",
    "moon-0.9": "0.9 s pause after words that read finished",
    "egg-0.9": "0.9 s pause after words that read finished",
    "living-0.9": "0.9 s pause after words that read finished",
    **{name: "2-3 measured pauses 0.5-0.9 s, < 1 s of speech apart" for name in CLOSE_PAUSES},
    **{
        name: "2-3 measured pauses 0.9 s after finished words, parts synthesised alone"
        for name in S17
        if name.endswith("-split")
    },
    **{
        name: "2-3 measured pauses 0.9 s after finished words, commas stretched"
        for name in S17
        if name.endswith("-aligned")
    },
    **{name: "complete (the same sentences in one go)" for name in S17 if name.endswith("-plain")},
}
LEAD = 1.0  # s of silence before the request in the mic WAV
QUIET = 328 / 32768  # -40 dBFS, as bench/ha_end_of_turn.py


def loud_windows(pcm: bytes) -> list[int]:
    """Start samples of the 10 ms windows above -40 dBFS."""
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    return [i for i in range(0, len(samples) - 160, 160) if np.sqrt(np.mean(samples[i : i + 160] ** 2)) > 328]


def mic_audio(
    parts: tuple[str, ...], pause: float, *, measured: bool = False, aligned: bool = False, plain: bool = False
) -> tuple[bytes, float]:
    """The mic WAV's audio and the end of its speech (s). ``measured``: each pause is ``pause`` s
    below -40 dBFS (the voice's quiet lead and tail counted in), else ``pause - 0.6`` s is inserted.
    ``aligned``: the sentence spoken whole with a comma at each pause, each comma's quiet gap
    stretched to ``pause`` s below -40 dBFS; ``plain``: spoken whole, no pause."""
    from bench.ha_compat import speak

    whole = " ".join(p.rstrip(".?") for p in parts[:-1]) + " " + parts[-1]
    spoken = [speak(p) for p in parts]
    if plain:
        spoken = [speak(whole)]
        measured = True
    elif aligned:
        commas = ", ".join(p.rstrip(".?") for p in parts[:-1]) + ", " + parts[-1]
        said = (np.frombuffer(speak(commas), "<i2") / 32768).astype(np.float32)
        spoken = [(np.clip(stretch(said, len(parts) - 1, pause), -1, 1) * 32767).astype("<i2").tobytes()]
        measured = True
    if measured:
        speech = spoken[0]
        for part in spoken[1:]:
            tail = len(speech) // 2 - (loud_windows(speech)[-1] + 160)
            gap = max(0, int(pause * 16000) - tail - loud_windows(part)[0])
            speech += bytes(gap * 2) + part
    else:
        speech = bytes(int(max(0.0, pause - 0.6) * 16000) * 2).join(spoken)
    pcm = bytes(int(LEAD * 16000) * 2) + speech + bytes(8 * 16000 * 2)
    return pcm, (loud_windows(pcm)[-1] + 160) / 16000


def windows_db(x: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Whether each 10 ms window is above -40 dBFS."""
    n = len(x) // 160
    frames = x[: n * 160].reshape(n, 160).astype(np.float64)
    loud: np.ndarray[Any, np.dtype[np.bool_]] = np.sqrt(np.mean(frames**2, axis=1)) > QUIET
    return loud


def quiet_runs(x: np.ndarray[Any, np.dtype[np.float32]]) -> list[tuple[int, int]]:
    """(first, end) 10 ms windows of each quiet run between the first and the last loud window."""
    loud = windows_db(x)
    idx = np.flatnonzero(loud)
    runs, start = [], None
    for i in range(int(idx[0]), int(idx[-1]) + 1):
        if not loud[i] and start is None:
            start = i
        elif loud[i] and start is not None:
            runs.append((start, i))
            start = None
    return runs


def stretch(
    x: np.ndarray[Any, np.dtype[np.float32]], count: int, pause: float
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """``x`` with its ``count`` longest quiet runs (the commas) stretched to ``pause`` s (zeros
    inserted in each run's middle)."""
    runs = sorted(sorted(quiet_runs(x), key=lambda r: r[1] - r[0])[-count:])
    out, at = [], 0
    for first, end in runs:
        middle = (first + end) // 2 * 160
        out += [x[at:middle], np.zeros(max(0, round(pause * 100) - (end - first)) * 160, np.float32)]
        at = middle
    out.append(x[at:])
    return np.concatenate(out)


def join_measured(
    parts: list[np.ndarray[Any, np.dtype[np.float32]]], pause: float
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Parts one after another, each gap ``pause`` s below -40 dBFS counting the parts' own quiet edges."""
    speech = parts[0]
    for part in parts[1:]:
        tail = len(speech) // 160 - (int(np.flatnonzero(windows_db(speech))[-1]) + 1)
        lead = int(np.flatnonzero(windows_db(part))[0])
        speech = np.concatenate([speech, np.zeros(max(0, round(pause * 100) - tail - lead) * 160, np.float32), part])
    return speech


def measured_pauses(x: np.ndarray[Any, np.dtype[np.float32]], count: int) -> list[float]:
    runs = sorted(sorted(quiet_runs(x), key=lambda r: r[1] - r[0])[-count:]) if count else []
    return [round((end - first) / 100, 2) for first, end in runs]
