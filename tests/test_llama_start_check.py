"""Set-up's start check of the llama-server build (voice_runtime/llama_check.py), on the real build.

Session 19's VM: the native build compiled, then crashed with SIGSEGV in its AMX path at every
start; nothing noticed until the first LLM turn. The wrappers here are fault injection around the
real llama-server: one crashes like that build unless ``--no-repack`` is passed, one always
crashes, one exits with an error that is no crash.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from voice_runtime import llama_check, setup_models
from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess


def wrapper(tmp_path: Path, body: str) -> Path:
    """An executable that logs each start's arguments to ``starts.log``, then runs ``body``."""
    script = tmp_path / "build" / "llama-server"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/starts.log"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def amx_like(tmp_path: Path) -> Path:
    real = resolve_llama_server()
    return wrapper(tmp_path, 'for arg in "$@"; do [ "$arg" = "--no-repack" ] && exec "' + str(real) + '" "$@"; done\n'
                             "kill -SEGV $$")


def starts(tmp_path: Path) -> list[str]:
    return (tmp_path / "starts.log").read_text().splitlines()


def test_a_build_that_crashes_unless_no_repack_is_found_and_kept(tmp_path: Path) -> None:
    exe = amx_like(tmp_path)
    result = llama_check.check(exe, resolve_llm())
    assert result.works and result.flags == ("--no-repack",)
    assert "signal 11" in result.detail
    assert len(starts(tmp_path)) == 2 and "--no-repack" in starts(tmp_path)[1]
    llama_check.save(exe, result)
    assert llama_check.load(exe) == result


def test_the_real_build_as_set_up_made_it_starts(tmp_path: Path) -> None:
    exe = wrapper(tmp_path, f'exec "{resolve_llama_server()}" "$@" --no-repack')
    assert llama_check.check(exe, resolve_llm()) == llama_check.StartCheck((), "starts and answers")
    assert len(starts(tmp_path)) == 1


def test_a_build_that_always_crashes_is_broken(tmp_path: Path) -> None:
    exe = wrapper(tmp_path, "kill -ILL $$")
    result = llama_check.check(exe, resolve_llm())
    assert not result.works and "signal 4" in result.detail and "too" in result.detail
    assert len(starts(tmp_path)) == 2


def test_an_exit_that_is_no_crash_is_not_retried_without_repacking(tmp_path: Path) -> None:
    result = llama_check.check(wrapper(tmp_path, "exit 3"), resolve_llm())
    assert not result.works and "exit code 3" in result.detail
    assert len(starts(tmp_path)) == 1


def test_a_kept_broken_native_build_sends_set_up_to_the_generic_build(tmp_path: Path) -> None:
    exe = wrapper(tmp_path, "kill -SEGV $$")
    llama_check.save(exe, llama_check.StartCheck(None, "crashed at start-up (signal 11), and with --no-repack too"))
    assert setup_models._start_checked(exe, "native-x", native=True, backend="cpu") is False
    with pytest.raises(setup_models.SetupError, match="crashed at start-up"):
        setup_models._start_checked(exe, "generic", native=False, backend="cpu")
    assert not (tmp_path / "starts.log").exists()  # the kept verdict: not started again


def test_a_corrupt_verdict_file_is_no_verdict(tmp_path: Path) -> None:
    exe = wrapper(tmp_path, "exit 0")
    (exe.parent / llama_check.CHECK_FILE).write_text("{not json")
    assert llama_check.load(exe) is None


async def test_the_service_starts_with_the_kept_flags_and_never_crashes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exe = amx_like(tmp_path)
    kept = llama_check.StartCheck(("--no-repack",), "crashed at start-up (signal 11); starts with --no-repack")
    llama_check.save(exe, kept)
    caplog.set_level(logging.INFO, logger="wyoming_llama.process")
    process = LlamaServerProcess(LlamaServerConfig(exe=exe, model=resolve_llm(), context_size=512, threads=1))
    try:
        await process.start()
        assert process.state == "ready" and process.no_repack
        assert "starting it again without weight repacking" not in caplog.text  # no crash first: the verdict was used
        assert len(starts(tmp_path)) == 1 and starts(tmp_path)[0].endswith("--no-repack")
    finally:
        await process.stop()
