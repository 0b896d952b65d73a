"""Coverage-guided fuzzing (atheris/libFuzzer) of the Wyoming frame reader, a short run.

The full run (100,000 inputs) is ``./run.sh bench fuzz``; here a few thousand inputs, from
valid frames of every kind, must raise nothing but ``ProtocolError``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import ROOT

sys.path.insert(0, str(ROOT))  # bench/ is imported as a package
from bench.fuzz_bench import run_atheris


async def test_atheris_finds_no_unexpected_exception_in_the_frame_reader(tmp_path: Path) -> None:
    result = await run_atheris(3000, tmp_path)
    assert "error" not in result, result
    assert int(str(result["inputs"])) >= 3000
    assert result["unexpected_exceptions"] == {}
