"""What a turn's stages share: its configuration, its result, and its output (the satellite).

The stages (:mod:`.asr_session`, :mod:`.llm_stream`, :mod:`.tts_forwarder`) and the turn that
wires them (:mod:`.pipeline`) import these; none of them imports another stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from wyoming.event import Event

from voice_runtime import error_codes
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat
from voice_runtime.clock import Clock
from voice_runtime.retry import LLM_RETRY, TTS_RETRY, RetryPolicy

from .intents import IntentMatch
from .streams import TurnError

# Error codes sent to satellites (documented in ARCHITECTURE.md; spelled once, in voice_runtime.error_codes).
SERVICES_UNAVAILABLE = error_codes.SERVICES_UNAVAILABLE


class OutputLost(Exception):
    """The turn's output (the satellite) could not be written to: nobody to speak to.

    Not an ``OSError`` on purpose: it must not be taken for a failure of the engine whose
    audio was being forwarded (that replica is healthy), nor retried.
    """


class TurnOutput(Protocol):
    """Where a turn's progress events and reply audio go (a satellite, a WAV file…)."""

    async def event(self, event: Event) -> None: ...


class GuardedOutput:
    """Turns a write error of the output into :class:`OutputLost`."""

    def __init__(self, out: TurnOutput) -> None:
        self.out = out

    async def event(self, event: Event) -> None:
        try:
            await self.out.event(event)
        except (OSError, RuntimeError) as err:  # RuntimeError: a write to a closed transport
            raise OutputLost(f"{type(err).__name__}: {err}") from err


@dataclass(frozen=True)
class PipelineConfig:
    language: str = "en"
    voice: str | None = None
    output_format: AudioFormat = PCM16_MONO_16K
    # Inactivity timeouts (seconds without an event from the service), not whole-stage
    # deadlines: a long healthy answer is never cut. A dead, black-holed or hung service is
    # found sooner, when its connection is handed out (ServicePool's connect and probe
    # timeouts), so ``services-unavailable`` reaches the satellite within about a second.
    asr_timeout: float = 30.0
    handle_timeout: float = 30.0
    tts_timeout: float = 30.0
    max_turn_audio_seconds: float = 60.0
    llm_retry: RetryPolicy = LLM_RETRY
    tts_retry: RetryPolicy = TTS_RETRY
    retry_clock: Clock | None = None  # the retry delays' clock (tests inject a ManualClock)
    apologize: bool = True
    intent_timeout: float = 2.0
    # Asked of the speech-to-text service in ``transcribe``: end the utterance itself after
    # this much silence (Wyoming's vad_sensitivity: aggressive/default/relaxed; None: wait
    # for the satellite's audio-stop). A service that ignores it changes nothing. The
    # ``serve`` command asks for "aggressive" unless told otherwise.
    vad_sensitivity: str | None = None
    # Partial transcripts are not used here: ask the service not to spend CPU on them.
    partial_transcripts: bool = False
    # Prepare the LLM reply on the speech-to-text service's speculative transcript while the
    # end-of-turn silence runs (our whisper, with vad_sensitivity; :mod:`.preemptive`).
    preemptive: bool = True
    # End the turn as soon as our whisper's weak speculative transcript (no final period, so it
    # would wait its weak cap) is a whole command by the intent templates (:mod:`.command_end`).
    end_on_command: bool = True


@dataclass
class TurnResult:
    transcript: str = ""
    reply: str = ""
    intent: IntentMatch | None = None
    error: TurnError | None = None
    marks: dict[str, float] = field(default_factory=dict)
    audio_bytes: int = 0
    cancelled: bool = False
    acting: bool = False  # an intent that may change something (timers, home) has started (continuation.py)

    @property
    def what_done(self) -> str:
        """For the turn's log line: the intent matched and what the turn did with it
        ("intent=HassLightSet done=asked": a light-set only asked about); "intent=- done=-" when
        the LLM answered."""
        return f"intent={self.intent.name} done={self.intent.done}" if self.intent else "intent=- done=-"
