"""New speech while a home command is still running, beyond the speaking satellite with a
working answer (tests/test_cut_running_command.py): a satellite whose pipeline ends at
``handle`` (it shows the reply's text, as a screen or a text client does) gets its command
waited for too, never cancelled half-done; and when the new question's own turn fails, the
command's reply is still said (then the failure's).

The real home path, as tests/test_cut_running_command.py: a real Home Assistant core
(tests/ha_home.py, shared by the session: the slow kettle is left off), our backend
(orchestrator.home.ha) and intent fast path, our link against a scripted satellite, the real
speech peers. "Turn on the slow kettle": HA answers at once, the kettle's state follows after
5 s, so our backend's confirmation wait keeps the command running ~2 s; the second utterance
starts once the backend has been asked.

Before (main): the ``handle`` satellite's new speech was a barge-in (the command's turn was
cancelled in the middle of its command, its outcome never told); a failed question after the
command left its reply unsaid (the turn ended with the question's error alone).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from ha_home import RunningHa
from test_cut_running_command import KETTLE, watched_home
from test_orchestrator_satellite import INFO, Script, ScriptedSatellite, link_to, serving
from wyoming.error import Error
from wyoming.event import Event
from wyoming.pipeline import PipelineStage
from wyoming.snd import Played
from wyoming.tts import Synthesize

from orchestrator.turn import TurnResult
from voice_runtime.error_codes import SERVICES_UNAVAILABLE
from voice_runtime.procs import ServiceProcess
from voice_runtime.server import WyomingServer

pytestmark = pytest.mark.slow


class Staged(ScriptedSatellite):
    """Says the first utterance; the second once ``asked`` is set (the home command runs); each
    with ``run-pipeline`` ending at ``end_stage``. Done when the second turn's ``last`` event came
    (an ``audio-stop`` is answered with ``played``)."""

    asked: asyncio.Event
    last: str

    async def handle_event(self, event: Event) -> bool:
        s = self.script
        if event.type == "transcript" and "barge" not in s.marks:
            await self.asked.wait()
            await self._say(s.utterances[1], barge=True)
            return True
        if "barge" in s.marks and event.type in ("audio-stop", "error", "synthesize"):
            s.received.append(event)
            if event.type == "audio-stop":
                await self.write_event(Played().event())
            if event.type == self.last:
                s.done.set()
            return True
        return await super().handle_event(event)


@contextlib.asynccontextmanager
async def satellite(script: Script, asked: asyncio.Event, end_stage: PipelineStage,
                    last: str) -> AsyncIterator[WyomingServer]:
    def factory(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Staged:
        handler = Staged(r, w, info=lambda: INFO)
        handler.script, handler.asked, handler.end_stage, handler.last = script, asked, end_stage, last
        return handler

    async with serving(factory) as server:
        yield server


async def while_running(peers: tuple[ServiceProcess, ServiceProcess], ha: RunningHa, then: str,
                        end_stage: PipelineStage, last: str) -> tuple[TurnResult, TurnResult, Script]:
    """"Turn on the slow kettle."; while our backend does it, the user says ``then`` (its turn's
    ``last`` event ends the script). No LLM (an empty pool): a question that needs one fails
    (``services-unavailable``). Returns the command's turn, then's turn and the script."""
    await ha.call("switch", "turn_off", {"entity_id": "switch.slow_kettle"})
    await ha.wait_state("switch.slow_kettle", lambda s: s["state"] == "off")
    try:
        async with watched_home(peers, ha) as (pipeline, asked):
            script = Script(["Turn on the slow kettle.", then])
            async with satellite(script, asked, end_stage, last) as sat, link_to(sat.port or 0, pipeline) as link:
                await asyncio.wait_for(script.done.wait(), 120)
                turns = await asyncio.wait_for(link.wait_turns(2), 30)
            await ha.wait_state("switch.slow_kettle", lambda s: s["state"] == "on")  # done, whole
    finally:  # HA is shared by the session's tests: leave the kettle off, as found
        await ha.call("switch", "turn_off", {"entity_id": "switch.slow_kettle"})
        await ha.wait_state("switch.slow_kettle", lambda s: s["state"] == "off")
    command = next(t for t in turns if t.intent is not None and t.intent.name == "HassTurnOn")
    return command, next(t for t in turns if t is not command), script


def texts(script: Script) -> list[str]:
    """The reply texts the satellite was sent after the second utterance began."""
    after = script.received[script.marks.get("barge", 0):]
    return [Synthesize.from_event(e).text for e in after if e.type == "synthesize"]


async def test_a_text_satellite_waits_for_the_running_command_and_is_told_its_outcome(
    peers: tuple[ServiceProcess, ServiceProcess], ha: RunningHa
) -> None:
    command, said, script = await while_running(peers, ha, "Please.", PipelineStage.HANDLE, "synthesize")
    assert not command.cancelled and command.reply == KETTLE, command  # the command ran to its end
    assert said.error is None and said.reply == KETTLE, said
    assert texts(script) == [KETTLE], script.received  # the user is told what was done
    assert "audio-start" not in script.arrived, script.arrived  # nothing spoken to a text satellite


async def test_a_failed_question_after_a_running_command_still_says_the_commands_reply(
    peers: tuple[ServiceProcess, ServiceProcess], ha: RunningHa
) -> None:
    command, asked, script = await while_running(peers, ha, "Tell me a story about a dragon.", PipelineStage.TTS,
                                                 "error")
    assert command.reply == KETTLE, command
    assert asked.error is not None and asked.error.code == SERVICES_UNAVAILABLE, asked  # no LLM: it failed
    assert texts(script) == [KETTLE], script.received  # ... and the command's reply was said all the same
    after = script.arrived[script.marks["barge"]:]
    assert after.count("audio-start") == 1, after  # spoken, whole, before the error
    assert after.index("audio-stop") < after.index("error"), after
    errors = [Error.from_event(e) for e in script.received if e.type == "error"]
    assert [e.code for e in errors] == [SERVICES_UNAVAILABLE], errors
