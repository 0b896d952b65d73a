"""Whisper speech-to-text on faster-whisper: pure and synchronous (no asyncio, no wyoming).

Speed: Whisper's encoder is trained on 30 s windows and faster-whisper always pads the
features to 30 s, so a 2 s command costs as much as 30 s of audio. Like whisper.cpp's
``audio_ctx``, the engine gives the encoder only the audio plus 1 s, but never less than
``audio_context`` seconds (default 10): 3-4x faster for commands on CPU. Below ~10 s
Whisper starts to repeat itself; ``audio_context=30`` restores stock faster-whisper.

Every decode is deterministic (temperature 0 only, no conditioning on earlier text, no
timestamps), so decoding the same samples twice gives the same text: the handler relies on
that to reuse a decode made while the user was still silent after speaking.
``faster_whisper`` is imported lazily; ``transcribe`` drains its lazy segment generator
inside the calling (worker) thread.

Every decode returns a :class:`Decoded`: its text with how sure the model was of it (the
lowest segment ``avg_logprob`` and highest ``no_speech_prob``), so each request carries its own
scores (the handler puts them in its transcript's ``context``). Asked for (``word_end``: the
server's finals), also where its last word ends in the audio and how sure the model was that the
text ends there (:mod:`.align`, on the encoder output the decode already made). One faster-whisper
``Tokenizer`` per language serves every decode (built once, not per search and alignment).

Batching: ``transcribe_batch`` decodes several utterances in one encoder call and one beam
search (CTranslate2 batches them), for when several satellites finish speaking at once: four
commands take about 0.45 s together instead of 0.8 s one after another on 2 cores. Each
utterance gets exactly the input and options of its lone ``transcribe`` (same window, same
prompt, same no-speech rule), so batching never changes a transcript.

Greedy first (``greedy_sure``, default ``GREEDY_SURE``; ``--greedy-sure off``: always the beam): a
beam decode of audio that fits one window is encoded once and searched greedily (at most
``_GREEDY_TOKENS_PER_SECOND`` tokens a second); the greedy text stands when its ``avg_logprob`` is
at least ``greedy_sure``, it ends in . ? or !, it repeats no phrase and it ended before its cap,
else the beam searches the same encoder output. On the slow 2-core box of session 25 the encoder
is ~0.14 s of a ~0.3 s decode and the beam ~0.03 s more than greedy: greedy first kept 77 % of the
corpus's speculative finals greedy, 0.024-0.025 s (11-12 %) cheaper per decode p50 paired, held
whole as good or better, held WER 8.3 -> 7.7 % and 8.2 -> 8.5 % (one word) in two runs, no new pause
cut at equal decode times (bench/results/s25_decode.md).

Short commands (``short_commands``, off by default): a final of 1-4 words tiny.en was unsure of is scored
against known short home commands on the same encoder output (:mod:`.commands`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import align, commands, endpoint

FloatArray = npt.NDArray[np.float32]
SAMPLE_RATE = 16000


GREEDY_SURE = -0.6  # greedy first (``EngineConfig.greedy_sure``): the greedy text stands this sure


@dataclass(frozen=True)
class EngineConfig:
    model_dir: Path
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0  # 0: CTranslate2's default
    beam_size: int = 5
    language: str | None = None  # None: English for *.en models, else auto-detect
    initial_prompt: str | None = None
    audio_context: float = 10.0  # minimum encoder window in seconds (30: stock faster-whisper)
    # Greedy first (None: off, always the beam): a beam decode searches greedily first and keeps that
    # text when its avg_logprob is at least this (and it ends in . ? !, does not loop); otherwise the
    # beam, on the same encoder output.
    greedy_sure: float | None = GREEDY_SURE
    # Finals of 1-4 unsure words scored against these short commands (:mod:`.commands`; (): off)
    short_commands: tuple[str, ...] = ()


_FRAMES_PER_SECOND = 100  # Whisper mel frames per second
_FULL_WINDOW = 3000
_CONTEXT_MARGIN = 100  # frames of silence kept after the audio
# faster-whisper's defaults for the no-speech rule: a window is silent (no text) when the model
# says no speech with this probability and its text is no likelier than this average log-prob.
_NO_SPEECH_THRESHOLD = 0.6
_LOG_PROB_THRESHOLD = -1.0
# Tokens per second of audio the greedy search may write (plus _GREEDY_TOKENS_MIN): a greedy loop
# otherwise runs to the model's 448 tokens (2 s, bench/results/eot_decode.md); one that reaches
# the limit is not kept.
_GREEDY_TOKENS_PER_SECOND = 8
_GREEDY_TOKENS_MIN = 16


@dataclass(frozen=True)
class Decoded:
    """One decode: its text and how sure the model was of it (None: nothing was decoded)."""

    text: str
    avg_logprob: float | None = None  # the lowest of its segments'
    no_speech_prob: float | None = None  # the highest of its segments'
    last_word_end: float | None = None  # seconds into the audio where its last word ends (None: not aligned)
    # The probability the model gave its final . ? ! after the words (from the same alignment), or for
    # a text without one, its text ending there (end of text or a . ? ! next: one greedy decoder step);
    # None: not aligned. Low when it nearly went on (the end of turn reads it, .stream).
    end_mark_prob: float | None = None
    command: bool = False  # the text is a short command chosen by :mod:`.commands` (not the free decode)

    def confidence(self) -> dict[str, float]:
        """The scores for the transcript's ``context`` (the orchestrator asks before a device
        action it may have misheard); {} when nothing was decoded."""
        if self.avg_logprob is None or self.no_speech_prob is None:
            return {}
        return {"avg_logprob": round(self.avg_logprob, 3), "no_speech_prob": round(self.no_speech_prob, 3)}


def _load_model(config: EngineConfig) -> Any:
    from faster_whisper import WhisperModel

    class ShortContextWhisper(WhisperModel):  # type: ignore[misc]
        """Encodes ``encoder_frames`` mel frames instead of the padded 30 s window."""

        encoder_frames: int | None = None
        encoded: Any = None  # the last encoder output (for the alignment of its decode)

        def encode(self, features: Any) -> Any:
            frames = self.encoder_frames
            if frames is not None and features.shape[-1] > frames:
                features = np.ascontiguousarray(features[..., :frames])
            self.encoded = super().encode(features)
            return self.encoded

    return ShortContextWhisper(
        str(config.model_dir),
        device=config.device,
        compute_type=config.compute_type,
        cpu_threads=config.cpu_threads,
        local_files_only=True,
    )


class WhisperEngine:
    """One loaded Whisper model. Not documented thread-safe: callers serialise calls."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._model: Any = _load_model(config)
        self.multilingual = bool(self._model.model.is_multilingual)
        if self.multilingual:
            self._languages: list[str] = list(self._model.supported_languages)
        else:
            self._languages = ["en"]
        self._tokenizers: dict[str, Any] = {}  # language -> faster-whisper Tokenizer (see tokenizer)

    def tokenizer(self, language: str | None) -> Any:
        """The model's faster-whisper ``Tokenizer`` for ``language`` (None: English), built once."""
        key = language or "en"
        found = self._tokenizers.get(key)
        if found is None:
            from faster_whisper.tokenizer import Tokenizer

            model = self._model
            found = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=key)
            self._tokenizers[key] = found
        return found

    @property
    def languages(self) -> list[str]:
        return list(self._languages)

    def resolve_language(self, requested: str | None) -> str | None:
        """The language to decode in; raises ValueError for one the model does not know."""
        if not self.multilingual:
            if requested not in (None, "en") and requested.split("-")[0].split("_")[0] != "en":
                raise ValueError(f"language '{requested}' is not supported by this English-only model")
            return "en"
        choice = requested or self.config.language
        if choice is None:
            return None
        short = choice.split("-")[0].split("_")[0].lower()
        if short not in self._languages:
            raise ValueError(f"language '{choice}' is not supported (supported: {', '.join(self._languages)})")
        return short

    def _frames(self, audio: FloatArray) -> int:
        """Mel frames the encoder sees for ``audio`` (>= _FULL_WINDOW: the stock 30 s window)."""
        return max(int(self.config.audio_context * _FRAMES_PER_SECOND),
                   audio.size * _FRAMES_PER_SECOND // SAMPLE_RATE + _CONTEXT_MARGIN)

    def transcribe(self, audio: FloatArray, language: str | None = None, *, beam_size: int | None = None,
                   prompt: str | None = None, word_end: bool = False) -> Decoded:
        """Text (and scores) of 16 kHz mono float32 ``audio`` (the final, full-quality decode). ``prompt``:
        words the speaker is likely to say (a request's ``context.initial_prompt``), instead of
        the server's ``initial_prompt``. ``word_end``: also where its last word ends (audio that
        fits one encoder window)."""
        if audio.size == 0:
            return Decoded("")
        beam = beam_size or self.config.beam_size
        lang = self.resolve_language(language)
        together = self._greedy_first(beam) or (word_end and bool(self.config.short_commands))
        if together and lang is not None and self.batch_key(audio) is not None:
            return self._decode_together([audio], lang, beam, prompt, word_end)[0]
        frames = self._frames(audio)
        self._model.encoder_frames = frames if frames < _FULL_WINDOW else None
        segments, info = self._model.transcribe(
            audio,
            language=lang,
            beam_size=beam,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=prompt if prompt is not None else self.config.initial_prompt,
        )
        # The generator is lazy: the decoding happens here, in this thread.
        decoded = list(segments)
        text = " ".join(t for segment in decoded if (t := segment.text.strip()))
        if not decoded:
            return Decoded(text)
        end = mark = None
        if word_end and frames < _FULL_WINDOW and len(decoded) == 1:
            end, mark = self._word_ends([decoded[0].tokens], self._model.encoded, [audio], info.language)[0]
            if mark is None and end is not None:
                mark = self._ends_here(decoded[0].tokens, info.language, self._model.encoded)
        return Decoded(text, min(s.avg_logprob for s in decoded), max(s.no_speech_prob for s in decoded), end, mark)

    def _greedy_first(self, beam: int) -> bool:
        return self.config.greedy_sure is not None and beam > 1

    def transcribe_partial(self, audio: FloatArray, language: str | None = None) -> Decoded:
        """A cheaper (greedy) decode of the audio so far, for partial results."""
        return self.transcribe(audio, language, beam_size=1)

    def batch_key(self, audio: FloatArray) -> int | None:
        """Audios with the same key can be decoded together (their encoder window); None: alone."""
        frames = self._frames(audio)
        return frames if audio.size > 0 and frames < _FULL_WINDOW else None

    def transcribe_batch(self, audios: Sequence[FloatArray], language: str | None = None, *,
                         beam_size: int | None = None, prompt: str | None = None,
                         word_end: bool = False) -> list[Decoded]:
        """``transcribe`` of each of ``audios``, decoded together; same texts as one by one.

        Audios with the same encoder window (all commands under ``audio_context`` seconds) are
        decoded in one call; one that does not fit a window, or has a window of its own, or
        whose language is to be detected (multilingual model, no language) is decoded alone.
        """
        lang = self.resolve_language(language)
        decodes = [Decoded("")] * len(audios)
        groups: dict[int, list[int]] = {}  # encoder window -> audios with that window
        for i, audio in enumerate(audios):
            key = self.batch_key(audio)
            if lang is not None and key is not None:
                groups.setdefault(key, []).append(i)
            else:
                groups.setdefault(-1 - i, []).append(i)  # on its own
        for group in groups.values():
            if len(group) == 1:
                decodes[group[0]] = self.transcribe(audios[group[0]], language, beam_size=beam_size, prompt=prompt,
                                                    word_end=word_end)
                continue
            beam = beam_size or self.config.beam_size
            together = self._decode_together([audios[i] for i in group], lang or "en", beam, prompt, word_end)
            for i, decoded in zip(group, together, strict=True):
                decodes[i] = decoded
        return decodes

    def _decode_together(self, audios: Sequence[FloatArray], language: str, beam_size: int,
                         prompt: str | None = None, word_end: bool = False) -> list[Decoded]:
        """``audios`` (one encoder window, see ``batch_key``) encoded together and searched
        together; greedy first when ``greedy_first`` (the beam searches the same encoder output
        again for the decodes whose greedy text does not stand)."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        encoded = self._model.model.encode(get_ctranslate2_storage(self._features(audios)), to_cpu=False)
        if self._greedy_first(beam_size):
            decodes, tokens = self._search(encoded, audios, language, 1, prompt, greedy_cap=True)
            again = [i for i, (d, t) in enumerate(zip(decodes, tokens, strict=True))
                     if not self._greedy_stands(d, t, audios[i])]
            if again:  # the beam over the whole batch (one search); only the unsure ones take its text
                beamed, beamed_tokens = self._search(encoded, audios, language, beam_size, prompt)
                for i in again:
                    decodes[i], tokens[i] = beamed[i], beamed_tokens[i]
        else:
            decodes, tokens = self._search(encoded, audios, language, beam_size, prompt)
        if not word_end:
            return decodes
        if self.config.short_commands and language == "en":  # a final: short unsure English texts
            self._commands(decodes, tokens, encoded, language)
        ends = self._word_ends(tokens, encoded, audios, language)
        if len(audios) == 1 and ends[0][1] is None and ends[0][0] is not None and decodes[0].text:
            ends[0] = (ends[0][0], self._ends_here(tokens[0], language, encoded))  # no final mark: one step
        return [replace(d, last_word_end=end if d.text else None, end_mark_prob=mark if d.text else None)
                for d, (end, mark) in zip(decodes, ends, strict=True)]

    def _commands(self, decodes: list[Decoded], tokens: list[list[int]], encoded: Any, language: str) -> None:
        """Each of ``decodes`` :func:`.commands.asks` about: the likeliest command when :func:`.commands.chosen`."""
        rows = None
        for i, d in enumerate(decodes):
            if d.avg_logprob is None or not commands.asks(d.text, d.avg_logprob, self.config.short_commands):
                continue
            rows = np.asarray(encoded) if rows is None else rows
            found = commands.best(self._model, self.tokenizer(language), rows[i : i + 1], self.config.short_commands)
            if found is not None and commands.chosen(d.avg_logprob, found):
                decodes[i], tokens[i] = replace(d, text=found[0], avg_logprob=found[1], command=True), found[2]

    def _features(self, audios: Sequence[FloatArray]) -> Any:
        """The encoder's input for ``audios`` (as ``transcribe`` makes it: the whole clip's mel, the
        last frame dropped, padded to 30 s and cut to the first audio's window)."""
        from faster_whisper.audio import pad_or_trim

        model = self._model
        frames = self._frames(audios[0])
        features = []
        for audio in audios:
            mel = model.feature_extractor(audio)
            features.append(pad_or_trim(mel[:, : mel.shape[-1] - 1])[:, :frames])
        return np.ascontiguousarray(np.stack(features))

    def _greedy_stands(self, decoded: Decoded, tokens: Sequence[int], audio: FloatArray) -> bool:
        """Whether a greedy decode is kept instead of a beam search: sure (``greedy_sure``), ending
        in . ? or ! (greedy texts drop a final period more often than the beam's, and a text without
        one waits the end of turn's weak cap), no phrase repeated, not stopped by its length limit.
        A silent decode (no text) stands."""
        if not decoded.text:
            return True
        if len(tokens) >= self._greedy_cap(audio) - 1 or not decoded.text.rstrip().endswith(endpoint.FINAL_PUNCTUATION):
            return False
        floor = self.config.greedy_sure
        sure = floor is not None and decoded.avg_logprob is not None and decoded.avg_logprob >= floor
        return sure and not endpoint.repeats(endpoint.words(decoded.text))

    @staticmethod
    def _greedy_cap(audio: FloatArray) -> int:
        return int(audio.size / SAMPLE_RATE * _GREEDY_TOKENS_PER_SECOND) + _GREEDY_TOKENS_MIN

    def _search(self, encoded: Any, audios: Sequence[FloatArray], language: str, beam_size: int,
                prompt: str | None = None, *, greedy_cap: bool = False) -> tuple[list[Decoded], list[list[int]]]:
        """One search over ``encoded`` (of ``audios``): each audio's decode (the no-speech rule applied)
        and its tokens. ``greedy_cap``: at most ``_greedy_cap`` tokens each."""
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self._model
        tokenizer = self.tokenizer(language)
        prompt_ids = model.get_prompt(tokenizer, self._prompt_tokens(tokenizer, prompt), without_timestamps=True)
        max_length = model.max_length
        if greedy_cap:
            max_length = min(max_length, len(prompt_ids) + max(self._greedy_cap(a) for a in audios))
        results = model.model.generate(
            encoded,
            [prompt_ids] * len(audios),
            beam_size=beam_size,
            patience=1.0,
            length_penalty=1.0,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            max_initial_timestamp_index=int(round(1.0 / model.time_precision)),
        )
        sequences = [list(result.sequences_ids[0]) for result in results]
        decodes = []
        for result, tokens in zip(results, sequences, strict=True):
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # length_penalty 1
            silent = result.no_speech_prob > _NO_SPEECH_THRESHOLD and avg_logprob <= _LOG_PROB_THRESHOLD
            decodes.append(Decoded("" if silent else tokenizer.decode(tokens).strip(), avg_logprob,
                                   result.no_speech_prob))
        return decodes, sequences

    def _word_ends(self, tokens: Sequence[Sequence[int]], encoded: Any, audios: Sequence[FloatArray],
                   language: str | None) -> list[align.WordEnd]:
        """:func:`.align.word_ends` of each decode (its ``tokens``) of ``audios`` encoded as ``encoded``."""
        frames = [a.size * _FRAMES_PER_SECOND // SAMPLE_RATE for a in audios]
        return align.word_ends(self._model, self.tokenizer(language), tokens, encoded, frames)

    def _ends_here(self, tokens: Sequence[int], language: str | None, encoded: Any) -> float | None:
        """:func:`.align.ends_here` for a decode with no final . ? !."""
        return align.ends_here(self._model, self.tokenizer(language), tokens, encoded)

    def _prompt_tokens(self, tokenizer: Any, prompt: str | None = None) -> list[int]:
        prompt = prompt if prompt is not None else self.config.initial_prompt
        if prompt is None:
            return []
        return list(tokenizer.encode(" " + prompt.strip()))


_NON_WORD = re.compile(r"[^\w']+")


def normalise(text: str) -> str:
    """The comparison form of a transcript: lower case, punctuation and extra spaces removed."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).replace("'", "").split())


def pcm16_to_float(pcm: bytes) -> FloatArray:
    usable = len(pcm) - len(pcm) % 2
    samples: FloatArray = np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float32) / 32768.0
    return samples
