"""llama-server's tail priority (wyoming_llama/priority.py): a reply's rest and the post-reply prefill
give way to the reply's first piece of speech. Real processes and real priorities (Linux /proc)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers import connected, start_service
from wyoming.asr import Transcript

from wyoming_llama.priority import FirstClause, Phase, ServerPriority, may_lower_nice, threads_of

THREADED_CHILD = (
    "import threading, time\nfor _ in range(2): threading.Thread(target=time.sleep, args=(60,)).start()\n"
    "print('ready', flush=True)\ntime.sleep(60)\n"
)


def nices(pid: int) -> set[int]:
    return {os.getpriority(os.PRIO_PROCESS, tid) for tid in threads_of(pid)}


@pytest.fixture
def child() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", THREADED_CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_first_clause_is_out_at_a_mark_followed_by_a_space() -> None:
    watch = FirstClause()
    assert not watch.feed("The tallest mountain in the world")
    assert not watch.feed(" is Mount Everest,")  # the mark alone: the next word decides nothing yet
    assert watch.feed(" which")
    assert watch.feed(" is")  # stays out
    number = FirstClause()
    assert not number.feed("Pi is 3.14 and")  # a decimal point is no clause mark
    assert number.feed(" more. ")
    quoted = FirstClause()
    assert quoted.feed('It is called "Everest." Then')


def test_tails_and_prefills_run_low_while_no_head_runs(child: int) -> None:
    priority = ServerPriority(lambda: child, base=0, low=10)
    assert len(threads_of(child)) >= 3
    if not may_lower_nice(0):  # (an unprivileged user: never changed, or it could not be set back)
        assert not priority.enabled
        priority.lease(Phase.BACK)
        assert nices(child) == {0}
        return
    head = priority.lease(Phase.HEAD)
    assert nices(child) == {0}  # the prompt and the first clause: the user waits
    head.back()
    assert nices(child) == {10}  # the first clause is out: the rest gives way
    prefill = priority.lease(Phase.BACK)
    other = priority.lease(Phase.HEAD)  # another question comes in: its prompt goes at full speed
    assert nices(child) == {0}
    other.release()
    assert nices(child) == {10}
    head.release()
    head.release()  # idempotent
    assert nices(child) == {10}  # the prefill still runs
    prefill.release()
    assert nices(child) == {0}
    assert priority.changes == 4


def test_off_when_low_is_not_above_base(child: int) -> None:
    priority = ServerPriority(lambda: child, base=0, low=0)
    assert not priority.enabled
    priority.lease(Phase.BACK)
    assert nices(child) == {0}


async def test_the_service_lowers_llama_server_only_for_the_tail_and_the_prefill() -> None:
    # the real service and llama-server (SmolLM2), its defaults as in the room (one sentence a reply)
    service = await start_service("wyoming_llama", "--context-size", "2048", "--warm-up-slots", "1",
                                  "--max-sentences", "1", "--debug")
    try:
        async with connected(service.port) as client:
            await client.send(Transcript(text="What is the tallest mountain in the world?",
                                         context={"conversation_id": "t"}))
            events = await client.recv_until("handled-stop", timeout=300)
        assert await service.wait_log("prefill conversation=t ", timeout=120)
        pid = int(next(m[1] for line in service.log if (m := re.search(r"llama-server starting pid=(\d+)", line))))
        after = nices(pid)
    finally:
        await service.stop()
    reply = next(str(e.data.get("text")) for e in events if e.type == "handled")
    assert re.search(r"[,;:.!?]\s", reply + " ")  # a first clause was sent
    changes = [int(m[1]) for line in service.log if (m := re.search(r"llama-server nice=(\d+)", line))]
    if may_lower_nice(0):
        assert changes[0] == 10  # lowered after the first clause (never before: the head runs at 0)
        assert changes[-1] == 0  # and back once the tail and the prefill had ended
        assert after == {0}
    else:
        assert changes == []
