"""Home Assistant's chain without streaming, as the benchmarks' peer: the whole reply text from
the LLM, then one-shot TTS of it, and the reply audio forwarded to the satellite only once
synthesis has finished. Benchmark code only: the orchestrator itself always streams.

    NonStreamingPipeline(asr_pool, handle_pool, tts_pool, intents=...)   # as Pipeline
"""

from __future__ import annotations

from collections.abc import Callable

from wyoming.audio import AudioChunk
from wyoming.event import Event
from wyoming.tts import Synthesize

from orchestrator.command_end import RecognizedOnce
from orchestrator.pipeline import Pipeline, TurnOutput, TurnResult
from orchestrator.services import Connection
from orchestrator.tts_forwarder import TtsForwarder
from voice_runtime.latency import TurnTimer


class HeldTtsForwarder(TtsForwarder):
    """Holds the reply audio until the TTS service has sent all of it, then forwards it."""

    _held: list[Event]

    async def forward(self, tts: Connection, end_type: str, *,
                      waiting_for_input: Callable[[], bool] | None = None) -> None:
        self._held = []  # one synthesis (a failed attempt's audio is never sent)
        await super().forward(tts, end_type, waiting_for_input=waiting_for_input)

    async def emit(self, event: Event) -> None:
        self._held.append(event)

    async def synthesis_done(self) -> None:
        held, self._held = self._held, []
        for event in held:
            await self.out.event(event)
            if AudioChunk.is_type(event.type):
                self.timer.mark("first_audio_sent")


class NonStreamingPipeline(Pipeline):
    """A :class:`Pipeline` whose stages wait for each other, as Home Assistant chains them."""

    def _preemptor(self, conversation_id: str, once: RecognizedOnce | None) -> None:
        """Home Assistant prepares nothing before the end of the turn."""
        return None

    def tts_forwarder(self, out: TurnOutput, timer: TurnTimer, result: TurnResult) -> TtsForwarder:
        return HeldTtsForwarder(self.tts, self.config, out, timer, result, capability=self.tts_capability)

    async def _converse_once(
        self, result: TurnResult, out: TurnOutput, timer: TurnTimer, conversation_id: str, speak: bool
    ) -> None:
        """The whole reply first (``reply_done``), then its synthesis."""
        tts = self.tts_forwarder(out, timer, result)
        async with self.llm_stream(timer, result) as llm:
            await llm.ask(result.transcript, conversation_id)
            await llm.read()
        if speak:
            await tts.speak_text(result.reply)
        elif result.reply:
            await out.event(Synthesize(text=result.reply, voice=tts.voice()).event())
