"""A turn's audio transcribed as the whisper server transcribes it (what the user got), offline.

The server does not decode everything the satellite streamed: :class:`wyoming_whisper.stream.Utterance`
keeps Silero's speech region (0.5 s lead or its reach back over loud first words, the endpointing's
0.1 s pad after the speech: ``ENDPOINT_PAD_SECONDS``, the pad an orchestrator's turn gets), and
when tiny.en's final text repeats a phrase the region plus 0.2 s more is decoded again
(``Utterance.loop_retry``). :class:`ServerTurn` runs that same code on the whole stream (the final
decode at audio-stop) with the server's default model and beam; ``whole`` decodes every streamed
sample instead (what ``bench/room_bench.py`` judged before: not what the product heard).
:func:`question_wer` is room_bench's interrupting WER, both ways; with ``--keep`` room_bench also
saves each interrupting turn's stream (``barge<dB>dB-turns/turnNN.wav``) to decode again here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Heard:
    text: str
    region: tuple[int, int] | None  # samples of the stream decoded (None: no speech, nothing decoded)
    looped: bool = False  # the first decode repeated a phrase and was decoded again, longer


class ServerTurn:
    """tiny.en with the server's default decode (greedy first, beam 5), its VAD region and loop retry."""

    def __init__(self, engine: Any = None) -> None:
        from voice_runtime.models import resolve_whisper, silero_vad
        from wyoming_whisper.__main__ import DEFAULT_MODEL
        from wyoming_whisper.engine import EngineConfig, WhisperEngine
        from wyoming_whisper.vad import SileroVad

        self.engine = engine or WhisperEngine(EngineConfig(resolve_whisper(DEFAULT_MODEL)))
        self.vad = SileroVad(silero_vad())

    def policy(self) -> Any:
        from wyoming_whisper.engine import SAMPLE_RATE
        from wyoming_whisper.policy import ENDPOINT_PAD_SECONDS
        from wyoming_whisper.stream import StreamPolicy
        from wyoming_whisper.vad import WINDOW, VadPolicy

        pad = round(ENDPOINT_PAD_SECONDS * SAMPLE_RATE / WINDOW)
        return StreamPolicy(vad=VadPolicy(pad_windows=pad), settle_windows=pad)

    def __call__(self, pcm: bytes) -> Heard:
        """The final transcript of ``pcm`` (16 kHz mono 16-bit, all of it streamed then audio-stop)."""
        from wyoming_whisper.stream import Utterance

        utterance = Utterance(self.vad.stream(), self.policy())
        utterance.add(pcm)
        utterance.finish_audio()
        region = utterance.region()
        if region is None:
            return Heard("", None)
        text = self.engine.transcribe(utterance.job("final", region).audio(), "en").text
        longer = utterance.loop_retry(region, text)
        if longer is None:
            return Heard(text, region)
        return Heard(self.engine.transcribe(utterance.job("final", longer).audio(), "en").text, longer, True)

    def whole(self, pcm: bytes) -> str:
        """Every streamed sample decoded (no region): the judge ``bench/room_bench.py`` used."""
        audio = (np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], "<i2") / 32768).astype(np.float32)
        return str(self.engine.transcribe(audio, "en").text)


def product_decoder() -> Any:
    """What our whisper server makes of a turn's streamed 16 kHz PCM (``bench/whisper_turn.py``:
    its Silero region with the endpointing pad, tiny.en beam 5, its loop retry): the transcript
    the orchestrator gets; ``.whole``: every streamed sample decoded (the judge of sessions 15-22)."""
    return ServerTurn()


def question_wer(audio: list[bytes], spoken: dict[str, bytes]) -> dict[str, Any]:
    """Each interrupting turn's streamed audio, transcribed as the product does (``heard_product``,
    ``wer_product``: the whisper server's region of it) and by the judge (``heard``, ``wer``: the
    whole stream decoded the same way); each WER against the closest of the sentences the room
    speaks (the interruption, or a question that landed on a reply). ``spoken``: each sentence's
    clean audio, decoded both ways (the recogniser's floor)."""
    from speech import transcribe  # greedy tiny.en: the judge of sessions <= 14

    from bench.aec_bench import wer

    decode = product_decoder()
    per = []
    for a in audio:
        if len(a) < 3200:
            continue
        heard, product, greedy = decode.whole(a), decode(a), transcribe(a)
        said = min(spoken, key=lambda s: wer(s, heard))
        said_product = min(spoken, key=lambda s: wer(s, product.text))
        region = None if product.region is None else [round(x / 16000, 3) for x in product.region]
        per.append({"said": said, "heard": heard, "wer": round(wer(said, heard), 3),
                    "said_product": said_product, "heard_product": product.text,
                    "wer_product": round(wer(said_product, product.text), 3), "product_region_s": region,
                    "product_looped": product.looped, "streamed_s": round(len(a) / 32000, 3),
                    "heard_greedy": greedy, "wer_greedy": round(min(wer(s, greedy) for s in spoken), 3)})
    wers, product_wers = [p["wer"] for p in per], [p["wer_product"] for p in per]

    def mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 3) if values else None

    def median(values: list[float]) -> float | None:
        return round(float(np.median(values)), 3) if values else None

    return {"judge": "whole stream, whisper server default decode (tiny.en, beam 5)",
            "product": "the whisper server's region of the stream + loop retry (bench/whisper_turn.py)",
            "turns": len(per),
            "wer_mean_product": mean(product_wers), "wer_p50_product": median(product_wers),
            "wer_mean": mean(wers), "wer_p50": median(wers),
            "wer_mean_greedy": mean([p["wer_greedy"] for p in per]),
            "heard_product": [p["heard_product"] for p in per], "heard": [p["heard"] for p in per],
            "per_question": per,
            "clean_floor_product": {s: round(wer(s, decode(pcm).text), 3) for s, pcm in spoken.items()},
            "clean_floor": {s: round(wer(s, decode.whole(pcm)), 3) for s, pcm in spoken.items()}}
