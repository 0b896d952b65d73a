"""A llama-server that crashes while it loads the model is started again without weight repacking.

Session 19's VM advertises AMX (amx_tile, amx_int8) but does not let a process use it: the native
llama-server build died with SIGSEGV in ggml_backend_amx_mul_mat at every start, so wyoming_llama
gave up after 5 restarts and every LLM turn was an error reply. ``--no-repack`` keeps llama-server
off that path. Here a wrapper crashes like that build (SIGSEGV) unless ``--no-repack`` is passed,
and execs the real llama-server otherwise.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess, LlamaUnavailable


def crashing_without_no_repack(tmp_path: Path, *, crash: str = "kill -SEGV $$") -> Path:
    script = tmp_path / "llama-server-amx"
    script.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do [ "$arg" = "--no-repack" ] && exec "' + str(resolve_llama_server()) + '" "$@"; done\n'
        f"{crash}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def config(exe: Path) -> LlamaServerConfig:
    return LlamaServerConfig(
        exe=exe, model=resolve_llm(), context_size=512, threads=1, startup_timeout=120, restart_delays=(0.0, 0.05)
    )


async def test_a_crash_at_start_up_is_followed_by_a_start_without_repacking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wyoming_llama.process")
    process = LlamaServerProcess(config(crashing_without_no_repack(tmp_path)))
    try:
        await process.start()
        assert process.state == "ready" and await process.healthy() and process.no_repack
        assert process.restarts == 0  # the same start went on without repacking: no restart, no back-off
        assert "crashed at start-up (signal 11)" in caplog.text
    finally:
        await process.stop()


async def test_an_exit_that_is_no_crash_does_not_turn_repacking_off(tmp_path: Path) -> None:
    process = LlamaServerProcess(config(crashing_without_no_repack(tmp_path, crash="exit 3")))
    with pytest.raises(LlamaUnavailable, match="exited with code 3"):
        await process.start()
    assert process.state == "failed" and not process.no_repack
    await process.stop()
