"""Our own wake word verifier: a small classifier on openWakeWord's shared speech embeddings.

openWakeWord turns audio into a 96-number embedding every 80 ms (its mel and embedding models,
shared by every wake word); a word's model is a small classifier over the last 16 of them. This
is one more such classifier for ``okay_nabu``, trained by ``bench/wake_verifier_train.py`` on
"Okay Nabu" and near misses ("okay", "nah boo", "okay now" …) spoken by many synthetic voices,
so that it does not miss the voices the shipped models miss. The weights are a small ``.npz``
next to this file (numpy only: no TensorFlow or torch on the satellite).

Model: the last ``window`` embeddings, flattened, standardised (the training set's mean and
spread), one hidden layer (ReLU), a sigmoid. A file may hold several such networks (every array
with a leading model axis; ``bench/wake_verifier_train.py --ensemble``): the score is the mean of
their sigmoids (a vote of models trained apart). :meth:`EmbeddingVerifier.push` takes one
embedding and returns the score once ``window`` of them have been seen.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WEIGHTS = {"okay_nabu": HERE / "wake_verifier_okay_nabu.npz"}


def available(word: str) -> bool:
    return word in WEIGHTS and WEIGHTS[word].is_file()


class EmbeddingVerifier:
    def __init__(self, path: Path) -> None:
        with np.load(path) as data:  # one network, or several stacked on a leading axis
            self.w1 = np.asarray(data["w1"], dtype=np.float32).reshape(-1, *data["w1"].shape[-2:])
            models = len(self.w1)
            self.b1 = np.asarray(data["b1"], dtype=np.float32).reshape(models, 1, -1)
            self.w2 = np.asarray(data["w2"], dtype=np.float32).reshape(models, -1, 1)
            self.b2 = np.asarray(data["b2"], dtype=np.float32).reshape(models, 1, 1)
            self.mean = np.asarray(data["mean"], dtype=np.float32).reshape(models, 1, -1)
            self.scale = np.asarray(1.0 / data["std"], dtype=np.float32).reshape(models, 1, -1)
            self.window = int(data["window"])
            self.cutoff = float(data["cutoff"])
        if self.w1.shape[1] != self.window * 96 or not self.w1.shape[2] == self.b1.shape[2] == self.w2.shape[1]:
            raise ValueError(f"{path}: weights do not fit a {self.window} x 96 input")
        self._last: collections.deque[np.ndarray] = collections.deque(maxlen=self.window)

    @classmethod
    def for_word(cls, word: str) -> EmbeddingVerifier:
        return cls(WEIGHTS[word])

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores for a batch of flattened windows (N × window·96): the mean over the models."""
        hidden = np.maximum(0.0, ((x[None] - self.mean) * self.scale) @ self.w1 + self.b1)
        logits = np.clip(hidden @ self.w2 + self.b2, -30.0, 30.0)[..., 0]
        out: np.ndarray = (1.0 / (1.0 + np.exp(-logits))).mean(axis=0)
        return out

    def push(self, embedding: np.ndarray) -> float | None:
        """One embedding (any shape holding 96 numbers); the score over the last ``window``, once there are."""
        self._last.append(np.asarray(embedding, dtype=np.float32).reshape(96))
        if len(self._last) < self.window:
            return None
        return float(self.scores(np.concatenate(self._last)[None, :])[0])

    def reset(self) -> None:
        self._last.clear()
