"""The orchestrator's pure parts: the turn state machine and the intent fast path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from state_harness import state

from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer
from orchestrator.state import TABLE, LinkAction, LinkMachine, LinkState, LinkTrigger


def test_a_normal_turn() -> None:
    m = LinkMachine()
    assert m.fire(LinkTrigger.RUN_PIPELINE) == (LinkAction.START_TURN,)
    assert m.fire(LinkTrigger.AUDIO_STOP) == (LinkAction.END_AUDIO,)
    assert state(m) is LinkState.RESPONDING
    assert m.fire(LinkTrigger.TURN_DONE_AUDIO) == ()
    assert state(m) is LinkState.PLAYING
    m.fire(LinkTrigger.PLAYED)
    assert state(m) is LinkState.IDLE


def test_barge_in_cancels_then_starts_from_every_busy_state() -> None:
    for busy in (LinkState.LISTENING, LinkState.RESPONDING):
        m = LinkMachine(state=busy)
        assert m.fire(LinkTrigger.RUN_PIPELINE) == (LinkAction.CANCEL_TURN, LinkAction.START_TURN)
        assert state(m) is LinkState.LISTENING
    # While the satellite still plays, the turn is over: only a new one starts.
    m = LinkMachine(state=LinkState.PLAYING)
    assert m.fire(LinkTrigger.RUN_PIPELINE) == (LinkAction.START_TURN,)


def test_disconnect_cancels_and_ignored_pairs_change_nothing() -> None:
    m = LinkMachine(state=LinkState.RESPONDING)
    assert m.fire(LinkTrigger.DISCONNECT) == (LinkAction.CANCEL_TURN,)
    assert state(m) is LinkState.IDLE
    assert m.fire(LinkTrigger.AUDIO_STOP) == ()  # audio-stop without a turn
    assert state(m) is LinkState.IDLE
    assert LinkMachine(state=LinkState.PLAYING).fire(LinkTrigger.DISCONNECT) == ()
    # Every target in the table is a real state and every state is reachable.
    assert {target for target, _ in TABLE.values()} == set(LinkState)


def test_stale_turn_done_after_silent_turn() -> None:
    m = LinkMachine()
    m.fire(LinkTrigger.RUN_PIPELINE)
    m.fire(LinkTrigger.AUDIO_STOP)
    m.fire(LinkTrigger.TURN_DONE_SILENT)
    assert state(m) is LinkState.IDLE
    assert m.history[-1] == (LinkState.RESPONDING, LinkTrigger.TURN_DONE_SILENT, LinkState.IDLE)


def fixed_now() -> dt.datetime:
    return dt.datetime(2026, 11, 23, 21, 5)


async def test_builtin_intents() -> None:
    r = IntentRecognizer(now=fixed_now)
    lights = await r.answer("Turn on the kitchen lights.", "t")
    assert lights is not None and lights.name == "HassTurnOn" and lights.response == NO_HOME_REPLY
    off = r.recognize("switch the fan off")
    # "the fan" names a kind of device (resolved against the home: the only fan, or "which one?")
    assert [(c.name, c.slots) for c in off] == [("HassTurnOff", {"kind": "fan"})]
    clock = await r.answer("What time is it?", "t")
    assert clock is not None and clock.response == "It is 9:05 PM."
    timer = r.recognize("Set a timer for five minutes.")
    assert [(c.name, c.slots) for c in timer] == [("HassStartTimer", {"minutes": 5})]
    assert await r.answer("Tell me a joke about penguins.", "t") is None
    assert await r.answer("", "t") is None


async def test_user_templates_extend_and_override(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "language: en\n"
        "intents:\n"
        "  GoodNight:\n"
        "    response: \"Good night, sleep well.\"\n"
        "    data:\n"
        "      - sentences:\n"
        "          - \"good night [everyone]\"\n",
        encoding="utf-8",
    )
    r = IntentRecognizer((extra,), now=fixed_now)
    match = await r.answer("Good night!", "t")
    assert match is not None and match.name == "GoodNight" and match.response == "Good night, sleep well."
    assert await r.answer("turn on the porch light", "t") is not None  # built-ins still there
