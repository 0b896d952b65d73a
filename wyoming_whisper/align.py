"""Where a decode's last word ends and how sure tiny.en was that its text ends there (session 18, 25).

Pure and synchronous, on the loaded faster-whisper model (:mod:`.engine` owns it and calls these in its
worker thread). Both read the encoder output the decode already made, so neither encodes again:

* :func:`word_ends`: the text aligned with the encoder output (cross-attention, faster-whisper's
  word-timestamp alignment; one extra decoder pass: tiny.en p50 +24 ms on a 0.22 s decode at load 9,
  bench/results/tail_gap.md): where the last word ends, and the probability of the final . ? ! (its own
  "word" in the alignment). The end of turn reads both (:mod:`.stream`): speech that runs on after the
  last word is a word Whisper dropped; a final mark scored low means it nearly went on.
* :func:`ends_here`: for a text with no final . ? !, one greedy decoder step after its words: the
  probability of the text ending there (end of text, or a . ? ! next).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import endpoint

WordEnd = tuple[float | None, float | None]  # (the last word's end in seconds, the final mark's probability)


def word_ends(model: Any, tokenizer: Any, tokens: Sequence[Sequence[int]], encoded: Any,
              frames: Sequence[int]) -> list[WordEnd]:
    """Where the last word of each decode (its ``tokens``, of audios ``frames`` mel frames long encoded
    together as ``encoded``) ends, in seconds: the text aligned with the encoder output; None for a
    decode without words. With it, the probability of the decode's final . ? ! (None: it has none)."""
    texts = [[t for t in item if t < tokenizer.eot] for item in tokens]
    # an empty decode is aligned as "." (align needs a token); its answer is not used
    aligned = model.find_alignment(tokenizer, [t or tokenizer.encode(".") for t in texts], encoded,
                                   list(frames))
    ends: list[WordEnd] = []
    for text, words in zip(texts, aligned, strict=True):
        spoken = [w for w in words if any(c.isalnum() for c in w["word"])]
        mark = words[-1] if text and spoken and words[-1]["word"].strip() in endpoint.FINAL_PUNCTUATION else None
        ends.append((float(spoken[-1]["end"]) if text and spoken else None,
                     None if mark is None else float(mark["probability"])))
    return ends


def ends_here(model: Any, tokenizer: Any, tokens: Sequence[int], encoded: Any) -> float | None:
    """For a decode with no final . ? !: the probability the model gives its text ending there (end of
    text, or a . ? ! next) after its words, on the audio's encoder output ``encoded`` (one greedy
    decoder step after the words; no initial prompt, as the alignment)."""
    text = [t for t in tokens if t < tokenizer.eot]
    if not text:
        return None
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps, *text]
    # the logits cover the words' own steps first, then the one after them (max_length: tiny.en here,
    # ctranslate2 4.8, stops after len(text) + 1 steps with this bound)
    result = model.model.generate(encoded, [prompt], beam_size=1, max_length=2 * len(text) + 2,
                                  return_logits_vocab=True, suppress_blank=False)[0]
    if len(result.logits[0]) <= len(text):
        return None
    logits = np.asarray(result.logits[0][len(text)], dtype=np.float64)
    probs = np.exp(logits - logits.max())
    ends = [tokenizer.eot, *(tokenizer.encode(mark)[0] for mark in endpoint.FINAL_PUNCTUATION)]
    return float(probs[ends].sum() / probs.sum())
