"""Offline check of the server's own code for the early final decode (``wyoming_whisper.early``):
:class:`wyoming_whisper.stream.Utterance` driven as the handler drives it (30 ms frames of 16-bit
audio, decodes instantaneous, the server's end of turn alone, no orchestrator), with the early
decode on and off, over the end-of-turn corpus's room-like streams (``bench/eot_sure_probe.py``'s).
Reports the final transcripts that differ, the streams whose speculative final was the early
decode, and the final decodes made (an early decode not used is one more).

    nice -n 10 .venv/bin/python bench/eot_reuse_check.py [--prerolls 0.3,0.5,0.7] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eot_lead_probe import streamed  # noqa: E402
from bench.turn_corpus import build  # noqa: E402
from wyoming_whisper import early  # noqa: E402
from wyoming_whisper.engine import Decoded, WhisperEngine, pcm16_to_float  # noqa: E402
from wyoming_whisper.stream import StreamPolicy, Utterance  # noqa: E402
from wyoming_whisper.vad import SileroVad  # noqa: E402

FRAME = 960  # bytes: the satellite's 30 ms frames


class Check:
    def __init__(self) -> None:
        from wyoming.asr import Transcribe

        from voice_runtime.models import resolve_whisper, silero_vad
        from wyoming_whisper.engine import EngineConfig
        from wyoming_whisper.policy import request_policy

        self.engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
        self.vad = SileroVad(silero_vad())
        asked = Transcribe(vad_sensitivity="default", context={"speculative_transcripts": True})
        self.policy = request_policy(StreamPolicy(endpoint_max_windows=59), asked)
        self.memo: dict[bytes, Decoded] = {}

    def decode(self, pcm: bytes) -> Decoded:
        if pcm not in self.memo:
            self.memo[pcm] = self.engine.transcribe(pcm16_to_float(pcm), beam_size=5, word_end=True)
        return self.memo[pcm]

    def run(self, x: np.ndarray[Any, Any], gate: float) -> dict[str, Any]:
        early.EARLY_GATE = gate
        pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
        u = Utterance(self.vad.stream(), self.policy)
        finals = adopted = 0
        for at in range(0, len(pcm), FRAME):
            u.add(pcm[at : at + FRAME])
            events = u.voice_events()
            if not any(k == "stopped" for k, _ in events):
                job = u.next_job(model_busy=False)
                if u.adopted is not None:
                    adopted, u.adopted = adopted + 1, None
                if job is not None and job.kind == "final":
                    finals += 1
                    u.speculated = (u.decoded_for(job.region), self.decode(job.pcm))
                region = u.verdict_due()
                if region is not None:
                    sp = u.speculated
                    u.judge(region, sp[1].text if sp is not None and sp[0] == region else None)
                    events = u.voice_events()
            if any(k == "stopped" for k, _ in events):
                region, sp = u.region(), u.speculated
                assert region is not None
                done = sp[1] if sp is not None and sp[0] == region else self.decode(u.job("final", region).pcm)
                text = done.text
                return {"text": text, "stopped_s": round(u.seconds, 3), "finals": finals, "adopted": adopted}
        return {"text": None, "stopped_s": None, "finals": finals, "adopted": adopted}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prerolls", default="0.3,0.5,0.7")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    check, gate = Check(), early.EARLY_GATE
    out: list[dict[str, Any]] = []
    began, load = time.strftime("%H:%M:%S", time.gmtime()), [os.getloadavg()[0]]
    for preroll in [float(p) for p in args.prerolls.split(",")]:
        for i, r in enumerate(build()[: args.limit or None]):
            x = streamed(r, preroll, None, i, True)
            out.append({"id": r.id, "preroll": preroll, "off": check.run(x, -1.0), "on": check.run(x, gate)})
        load.append(os.getloadavg()[0])
    changed = [o for o in out if o["off"]["text"] != o["on"]["text"]]
    print(f"{began}-{time.strftime('%H:%M:%S', time.gmtime())} UTC, load {min(load):.1f}-{max(load):.1f}")
    print(f"streams {len(out)}, early decode used in {sum(bool(o['on']['adopted']) for o in out)}, "
          f"final decodes off/on {sum(o['off']['finals'] for o in out)}/{sum(o['on']['finals'] for o in out)}, "
          f"final transcripts changed {len(changed)}")
    for o in changed:
        print(f"  {o['id']} {o['preroll']}: {o['off']['text']!r} (stop {o['off']['stopped_s']}) -> "
              f"{o['on']['text']!r} (stop {o['on']['stopped_s']})")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
