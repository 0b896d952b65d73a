"""llama-server's threads on a small box: one by default on 2 CPUs or fewer, and the thread/poll flags
reach the real llama-server's command line (session 21: bench/llama_threads_bench.py,
bench/results/s21_llm.md: with two threads on this 2-CPU VM the prompt took 1.5-5x longer whenever
anything else ran)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voice_runtime.models import resolve_llm
from wyoming_llama.__main__ import make_config, parse_args
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess


def command(argv: list[str]) -> list[str]:
    config = make_config(parse_args(argv)).llama
    assert config is not None
    return config.command(8080)


def flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


@pytest.fixture
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})


def test_one_thread_by_default_on_a_two_cpu_box(two_cpus: None) -> None:
    args = command([])
    assert flag(args, "--threads") == "1"
    assert "--threads-batch" not in args and "--poll" not in args  # as --threads; llama-server's own polling


def test_bigger_boxes_keep_llama_servers_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from wyoming_llama.process import default_threads

    assert default_threads(1) == 1 and default_threads(2) == 1
    assert default_threads(4) is None and default_threads(16) is None  # not measured: llama-server decides
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert "--threads" not in command([])
    plain = LlamaServerConfig(exe=Path("llama-server"), model=Path("m.gguf")).command(8080)  # not via the flags
    assert "--threads" not in plain and "--poll" not in plain and "--threads-batch" not in plain


def test_thread_and_poll_flags(two_cpus: None) -> None:
    args = command(["--threads", "2", "--threads-batch", "2", "--poll", "0"])
    assert (flag(args, "--threads"), flag(args, "--threads-batch"), flag(args, "--poll")) == ("2", "2", "0")
    assert "--threads" not in command(["--threads", "0"])  # 0: llama-server's own choice, on any box
    for bad in (["--poll", "101"], ["--poll", "-1"], ["--threads-batch", "-2"]):
        with pytest.raises(SystemExit):
            make_config(parse_args(bad))


async def test_the_real_llama_server_runs_with_the_flags(two_cpus: None) -> None:
    """The default (1 thread) and the polling flag on a real llama-server: it starts and stays
    healthy with them, and they are on its command line."""
    config = make_config(parse_args(["--poll", "0", "--context-size", "512"])).llama
    assert config is not None and config.model == resolve_llm()
    process = LlamaServerProcess(config)
    await process.start()
    try:
        pid = process.pid
        assert pid is not None and await process.healthy()
        argv = cmdline(pid)
        assert flag(argv, "--threads") == "1" and flag(argv, "--poll") == "0"
    finally:
        await process.stop()

