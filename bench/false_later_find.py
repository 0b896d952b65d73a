"""A false "echo moved later" find on a path that never moved (session 28, bench/results/s28_flake.md).

The chain of tests/test_satellite_echopath.py (speex, the judge, the VAD; one synthetic reply, its echo 70 ms late
at ``gain`` dB, -60 dBFS noise) with :meth:`SpeakerPath._echo_moved_later` forced ``find_at`` s into the reply,
as LaterEcho's one false find of session 27's u12 did. Per case: how long until the judge trusts the canceller
again, holds on echo alone, and (with a user as loud as the echo 0.16 s after the find) the first hold after the
user's onset. ``stalled=True`` is main's handling (every suspension earned again); ``stalled=False`` gives the
trust back when the delay is measured unchanged (EchoJudge.suspend).

    PYTHONPATH=.:tests python bench/false_later_find.py
"""

from __future__ import annotations

from typing import Any

from test_satellite_echopath import Chain, add_user, scene

from bench.aec_bench import FRAME, RATE, pcm


def case(gain_db: float, stalled: bool, find_at: float, user_at: float | None = None) -> dict[str, Any]:
    s = scene(gain_db)
    onset = add_user(s, user_at) if user_at is not None else None
    chain = Chain()
    mic, played = s["mic"], s["played"]
    holds: list[int] = []
    found: int | None = None
    back: int | None = None
    at = s["third"] // FRAME + int(find_at / 0.03)
    for i, out in enumerate(played):
        if i == at and chain.guard.converged:
            chain._echo_moved_later(stalled=stalled)
            found = i
        if found is not None and back is None and chain.guard.converged:
            back = i
        if chain.frame(pcm(mic[i * FRAME : (i + 1) * FRAME]), out, (i + 1) * FRAME / RATE):
            holds.append(i)
    user_held = None
    if onset is not None:
        after = [h for h in holds if (h + 1) * FRAME >= onset]
        user_held = round(((after[0] + 1) * FRAME - onset) / RATE, 3) if after else None
        holds = [h for h in holds if (h + 1) * FRAME < onset]
    trust_back = None if back is None or found is None else round((back - found) * FRAME / RATE, 2)
    return {"found": found, "trust_back_s": trust_back, "echo_holds": len(holds), "user_held_s": user_held}


def main() -> None:
    for gain in (0.0, -6.0):
        for find_at in (0.6, 1.2, 2.0):
            for stalled in (True, False):
                alone, user = case(gain, stalled, find_at), case(gain, stalled, find_at, user_at=find_at + 0.16)
                print(f"gain {gain:+.0f} dB, found {find_at} s in, stalled={stalled}: echo alone {alone}; "
                      f"a user 0.16 s after: {user}", flush=True)


if __name__ == "__main__":
    main()
