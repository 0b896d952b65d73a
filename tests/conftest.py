"""Shared fixtures: every test fails if it leaves asyncio tasks running, child processes alive
or file descriptors open.

Each check compares the state just before a test with the state just after it (its own
function-scoped fixtures torn down), so session- and module-scoped fixtures (set up before,
torn down after) never count. Children are read from /proc (direct children of this process,
zombies included: a child nobody waited for is a leak too); descriptors from /proc/self/fd,
by number and target, so a number reused for something else counts as new. Files a library
opens once per process and keeps (``ONCE_PER_PROCESS``) are not leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from voice_runtime.procs import ServiceProcess

if TYPE_CHECKING:
    from wyoming_whisper.vad import SileroVad

_PROC = Path("/proc")
SETTLE_ROUNDS = 20  # loop iterations given to transports and cancelled tasks to finish closing
# onnxruntime's per-user state database (opened with the first InferenceSession, kept open)
ONCE_PER_PROCESS = re.compile(r"/\.onnxruntime/onnxruntime\.db(-wal|-shm)?$")


def children() -> dict[int, str]:
    """This process's direct children: pid → command line (``[zombie]`` for an unreaped one).

    Listed by each of our threads' ``/proc/self/task/TID/children`` (a child stays there until it
    is reaped; one whose thread ended is listed by another), not by reading every process's
    ``stat`` on the machine: that took 17-23 ms a call on the shared box, and a test makes 2-40
    calls. Without those files (a kernel without CONFIG_PROC_CHILDREN) every process is read.
    """
    me = os.getpid()
    pids: set[int] | None = None
    for listing in (_PROC / "self" / "task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids = (pids or set()) | {int(pid) for pid in listing.read_text().split()}
    if pids is None:
        pids = {int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()} if _PROC.is_dir() else set()
    found: dict[int, str] = {}
    for pid in pids:
        entry = _PROC / str(pid)
        try:
            stat = (entry / "stat").read_text()
            state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
            if int(ppid) != me:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError):
            continue  # gone meanwhile
        found[pid] = "[zombie]" if state == "Z" else cmdline[:160]
    return found


def open_fds() -> dict[int, str]:
    """This process's open descriptors: number → what it points at."""
    fds: dict[int, str] = {}
    folder = _PROC / "self" / "fd"
    for entry in folder.iterdir() if folder.is_dir() else ():
        with contextlib.suppress(OSError):
            target = os.readlink(entry)
            if not ONCE_PER_PROCESS.search(target):
                fds[int(entry.name)] = target
    return fds


def _new(before: dict[int, str], after: dict[int, str]) -> dict[int, str]:
    return {key: value for key, value in after.items() if before.get(key) != value}


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    tasks_before = set(asyncio.all_tasks())
    children_before = children()
    fds_before = open_fds()
    yield
    current = asyncio.current_task()
    problems: list[str] = []
    # Let tasks cancelled during teardown run their cleanup, and closed transports close.
    for _ in range(SETTLE_ROUNDS):
        leaked = [t for t in asyncio.all_tasks() - tasks_before if t is not current and not t.done()]
        if not leaked and not _new(children_before, children()) and not _new(fds_before, open_fds()):
            return
        await asyncio.sleep(0)
    if leaked:
        names = ", ".join(sorted(t.get_name() + ":" + repr(t.get_coro()) for t in leaked))
        for task in leaked:
            task.cancel()
        problems.append(f"leaked {len(leaked)} asyncio task(s): {names}")
    if leaked_children := _new(children_before, children()):
        for pid in leaked_children:  # ours, and left behind: do not let them disturb later tests
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        problems.append(f"leaked {len(leaked_children)} child process(es): {leaked_children}")
    if _new(fds_before, open_fds()):
        gc.collect()  # unreachable objects (e.g. a TFLite interpreter holding its model file) close theirs
    if leaked_fds := _new(fds_before, open_fds()):
        problems.append(f"leaked {len(leaked_fds)} file descriptor(s): {leaked_fds}")
    if problems:
        pytest.fail("test " + "; ".join(problems))


@pytest.fixture(scope="module", autouse=True)
def young_heap() -> Iterator[None]:
    """After each module: collect its garbage, then move what is left (the session's caches:
    recognisers with compiled templates, models, fixtures) out of the garbage collector's reach
    (``gc.freeze``), so later full collections scan only what later tests make. Without it the
    suite's heap grew until a full collection stopped the event loop for 0.3-1.4 s every few
    seconds (29 s of such pauses in one CI run), longer than the 1 s connect/probe timeouts of a
    ServicePool. Refcounting still frees frozen objects; only a cycle among them is never freed."""
    yield
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
async def ha(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real Home Assistant core (tests/ha_home.py), shared by the session's home tests
    (test_home_assistant.py, test_home_domains.py): each sets the states it checks first."""
    from ha_home import ha_installed, home_assistant

    if not ha_installed():
        pytest.fail("Home Assistant is not installed: run scripts/setup.sh (it installs homeassistant==2024.3.3)")
    async with home_assistant(tmp_path_factory.mktemp("ha")) as running:
        yield running


@pytest.fixture(scope="session")
async def peers():  # type: ignore[no-untyped-def]
    """wyoming-faster-whisper and wyoming-piper (the peers' own servers, tests/peers.py), shared by
    the session's tests that run our orchestrator on them (none of them stops these two)."""
    from peers import start_peer_piper, start_peer_whisper

    whisper = await start_peer_whisper()
    piper = await start_peer_piper()
    try:
        yield whisper, piper
    finally:
        await whisper.stop()
        await piper.stop()


@pytest.fixture(scope="session")
async def stack():  # type: ignore[no-untyped-def]
    """Our whisper, llama and TTS servers (real processes, default models), shared by the session."""
    from stack import start_stack

    running = await start_stack()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="module")
async def llama() -> AsyncIterator[ServiceProcess]:
    """One ``python -m wyoming_llama`` (its own llama-server, every reply MAX_TOKENS long) per test
    module that asks for it (tests/llama_service_harness.py; the module's tests share it, in file
    order). A module that needs other settings defines its own ``llama``."""
    from llama_service_harness import llama_service

    async with llama_service() as service:
        yield service


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    """Silero VAD (the whisper server's), one per test module that asks for it: the whisper stream,
    endpoint and end-of-turn tests feed it real speech."""
    from voice_runtime.models import silero_vad
    from wyoming_whisper.vad import SileroVad

    return SileroVad(silero_vad())


@pytest.fixture(scope="session", autouse=True)
def own_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Orchestrators the tests start keep their timers in this run's folder, not the user's
    ~/.local/share/hearth: one orchestrator per data dir, so a `serve` of another run (a test
    run in another checkout, or the user's own) would make theirs refuse to start."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEARTH_DATA_DIR", str(tmp_path_factory.mktemp("hearth-data")))
        # Satellites the tests start keep no echo path (satellite/aec_state.py): a test's first reply
        # would otherwise start from what an earlier test of this worker learned on FIFOs of the same
        # names. tests/test_satellite_aec_state.py passes its own folders.
        patch.setenv("SATELLITE_STATE_DIR", "")
        yield
