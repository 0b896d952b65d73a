"""``bench/room_bench.py --barge-early S``: a user interrupting right as a reply begins (issue 17).

Every hold kills the speaker, so the reply after it plays on a restarted one, and the echo canceller
waited for the echo delay to be measured afresh (``satellite.aec_prior`` now tries the kept path). With
the flag each cycle's interruption ("Stop. What time is it?", 1.5 s into the reply) is answered with
the long reply, on the restarted speaker, and a second one (``early.wav``, the same words) starts ``S``
seconds after that reply starts. Its reaction (onset -> playback silent) and what the satellite streamed
for it are reported apart (``early``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_early(folder: Path, audio: bytes) -> str:
    from voice_runtime.audio import PCM16_MONO_16K, write_wav

    write_wav(str(folder / "early.wav"), audio, PCM16_MONO_16K)
    return "early.wav"


def early_summary(result: dict[str, Any], pcts: Callable[[list[float]], dict[str, float | None]]) -> dict[str, Any]:
    """--barge-early: the second interruption of each cycle, early in a reply on a restarted speaker (onset ->
    playback silent; its onset's time into the reply, as the room measured it)."""
    starts = {r["n"]: r["start"] for r in result["replies"]}
    early = [b for b in result["barge_in"] if b["wav"] == "early.wav"]
    heard = [b["reaction_s"] for b in early if b["reaction_s"] <= 1.0]
    return {"over_a_reply": len(early), "silenced_within_1s": len(heard), "reaction_s": pcts(heard),
            "reactions_all_s": [b["reaction_s"] for b in early],
            "onset_into_reply_s": [round(b["onset"] - starts.get(b["reply"], b["onset"]), 3) for b in early]}
