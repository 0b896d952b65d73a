"""The whisper server runs numpy's OpenBLAS on one thread (``voice_runtime.blas``, session 26): the
mel features' small product is faster on the calling thread than on OpenBLAS's woken ones on the shared
2-core box (bench/whisper_blas_probe.py: decode p50 0.393 -> 0.333 s paired, same texts). On main the
server left OpenBLAS at one thread per core."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import numpy as np
import pytest

from voice_runtime.blas import blas_threads, single_blas_thread
from wyoming_whisper import __main__ as server


@pytest.fixture
def restored() -> Iterator[int]:
    before = blas_threads()
    assert before is not None, "numpy's OpenBLAS not found: the server could not set it"
    yield before
    blas_threads(before)


def test_single_blas_thread_leaves_openblas_on_one_thread(restored: int) -> None:
    blas_threads(2)
    assert blas_threads() == 2
    assert single_blas_thread() == 1
    assert blas_threads() == 1


def test_the_server_sets_one_blas_thread_at_start_up() -> None:  # run() calls it next to tune_malloc
    assert "single_blas_thread" in inspect.unwrap(server.run).__code__.co_names


def test_the_features_do_not_depend_on_the_thread_count(restored: int) -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    audio = (np.random.default_rng(7).standard_normal(40000) * 0.05).astype(np.float32)
    blas_threads(2)
    many = FeatureExtractor()(audio)
    blas_threads(1)
    one = FeatureExtractor()(audio)
    assert one.shape == many.shape == (80, 251)
    assert np.array_equal(one, many)


def test_the_satellite_sets_one_blas_thread_at_start_up() -> None:  # its echo chain's products (0.87x CPU)
    from satellite import __main__ as satellite

    assert "single_blas_thread" in inspect.unwrap(satellite.run).__code__.co_names
