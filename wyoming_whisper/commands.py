"""Short home commands heard right: a final decode of one to four words that is none of the known
short commands is scored against them on the encoder output the decode already made (session 31).

tiny.en mishears short commands in far or noisy audio as other short texts ("Pause." -> "Oh.",
"Cancel that." -> "and pull back.", "Mute." -> "Niyoda"), and no end-of-turn rule can help. Here
each known command is *forced* through the decoder (its tokens, then the end of text) and its
average log-probability is compared with the free decode's: when the best command is nearly as
likely as what the model wrote (within :data:`MARGIN` per token) and the model was not sure of its own
text, the command is the transcript. One greedy step first ranks the commands by their first
token, and only the :data:`KEEP` likeliest are forced (batched); each still repeats the decoder's
cross-attention over the window, so on 2 CPU cores it about doubles a short decode (+0.13 s p50) on the
turns it is asked on, and nothing on the others. Pure and synchronous, on the loaded faster-whisper
model (:mod:`.engine` calls it in its worker thread, for finals only: ``word_end``).

Never asked on a text of five or more words, a question of three or more ("... ?", or opening with a
question word), a decode at least :data:`SURE`, or a text that already is a known command
(:func:`asks`): free questions are left as they were heard.

Off by default (``--short-commands off``); figures in bench/results/s31_asr.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

# Short home commands with no device or area name: the phrasings of home-assistant-intents' media,
# volume, timer and "never mind" intents and of our intents.yaml, and the lights of the satellite's
# area (HA's own "lights on/off" with the area implied). Written out by hand, as Whisper writes them.
SHORT_COMMANDS = (
    "Stop.", "Stop that.", "Stop it.", "Pause.", "Pause that.", "Pause it.", "Pause the music.",
    "Resume.", "Unpause.", "Continue.", "Keep going.", "Play.", "Play music.",
    "Next.", "Next song.", "Next track.", "Skip.", "Skip this.", "Skip it.", "Skip that.", "Skip this song.",
    "Previous.", "Previous song.", "Go back.", "Back.",
    "Mute.", "Unmute.", "Mute it.", "Louder.", "Quieter.", "Softer.", "Louder please.", "Quieter please.",
    "Volume up.", "Volume down.", "Turn it up.", "Turn it down.",
    "Cancel.", "Cancel that.", "Cancel it.", "Cancel the timer.", "Stop the timer.", "Never mind.",
    "Forget it.", "Nevermind.",
    "Lights on.", "Lights off.", "Light on.", "Light off.", "Turn on the lights.", "Turn off the lights.",
    "Thanks.", "Thank you.",
)
# A command within this of the free decode's average log-prob per token is taken. Chosen on the
# fresh2 probe set alone (bench/asr_bench.py): its right commands scored 0.00-0.47 under the free
# text, its wrong best commands 0.88 and more (the middle of that gap).
MARGIN = 0.65
SURE = -0.3  # a free decode at least this sure (its avg_logprob) is never questioned
FIRSTS = 3  # the likeliest first tokens whose commands are forced through the decoder
KEEP = 6  # at most this many commands forced (batched: each costs a cross-attention over the window)
MAX_WORDS = 4
QUESTION_WORDS = frozenset({"what", "whats", "who", "whos", "where", "wheres", "when", "why", "how", "hows",
                            "which", "is", "are", "can", "could", "do", "does", "will", "would", "should"})
_NON_WORD = re.compile(r"[^\w']+")


def _words(text: str) -> list[str]:
    return _NON_WORD.sub(" ", text.lower()).replace("'", "").split()


def asks(text: str, avg_logprob: float | None, commands: Sequence[str] = SHORT_COMMANDS) -> bool:
    """Whether a final decode ``text`` (scored ``avg_logprob``) is scored against ``commands``: one to
    four words, not sure, not a question of three or more, and not already one of them."""
    said = _words(text)
    if not said or len(said) > MAX_WORDS or avg_logprob is None or avg_logprob >= SURE:
        return False
    if len(said) > 2 and (text.rstrip().endswith("?") or said[0] in QUESTION_WORDS):
        return False  # a question of three words or more is left as heard
    return said not in [_words(c) for c in commands]


def _log_softmax(logits: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max()
    out: np.ndarray[Any, np.dtype[np.float64]] = x - np.log(np.exp(x).sum())
    return out


def best(model: Any, tokenizer: Any, encoded: Any, commands: Sequence[str]) -> tuple[str, float, list[int]] | None:
    """The likeliest of ``commands`` on one audio's encoder output ``encoded`` (an array, batch 1): its
    text, its average log-probability per token (its words' tokens and the end of text, as a decode's
    ``avg_logprob``) and its tokens; None without commands."""
    import ctranslate2

    if not commands:
        return None
    rows = np.ascontiguousarray(np.asarray(encoded)[:1])
    start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    tokens = [list(tokenizer.encode(" " + c.strip())) for c in commands]
    first = model.model.generate(ctranslate2.StorageView.from_array(rows), [start], beam_size=1,
                                 max_length=len(start) + 1, return_logits_vocab=True, suppress_blank=False)[0]
    opening = _log_softmax(first.logits[0][0])
    # the commands opening with the FIRSTS likeliest first tokens (at most KEEP of them)
    firsts = sorted({t[0] for t in tokens}, key=lambda t: -opening[t])[:FIRSTS]
    ranked = sorted((i for i in range(len(commands)) if tokens[i][0] in firsts),
                    key=lambda i: firsts.index(tokens[i][0]))[:KEEP]
    batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(rows, len(ranked), axis=0)))
    longest = max(len(tokens[i]) for i in ranked)
    # the logits cover each forced token's step, then the one after them (max_length: as align.ends_here)
    results = model.model.generate(batch, [start + tokens[i] for i in ranked], beam_size=1,
                                   max_length=2 * longest + 2, return_logits_vocab=True,
                                   suppress_blank=False)
    found: tuple[str, float, list[int]] | None = None
    for i, result in zip(ranked, results, strict=True):
        steps = result.logits[0]
        wanted = [*tokens[i], tokenizer.eot]
        if len(steps) < len(wanted):
            continue
        score = float(np.mean([_log_softmax(steps[k])[t] for k, t in enumerate(wanted)]))
        if found is None or score > found[1]:
            found = (commands[i], score, tokens[i])
    return found


def chosen(free_logprob: float, command: tuple[str, float, list[int]] | None) -> bool:
    """Whether ``command`` (:func:`best`) is the transcript instead of a free decode scored ``free_logprob``."""
    return command is not None and command[1] >= free_logprob - MARGIN
