"""The satellite's configuration: one frozen dataclass (``python -m satellite`` builds it from its flags)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .admission import SILENT_SECONDS
from .aec import FrontendConfig
from .announce import AnnounceConfig
from .echo import EchoConfig
from .ha_turn import EndOfTurnConfig
from .hooks import HooksConfig
from .talker_gate import TalkerGateConfig
from .timers import AlarmConfig
from .tones import ToneConfig
from .vad import VadConfig
from .wake import WakeConfig


@dataclass(frozen=True)
class SatelliteConfig:
    name: str = "hearth-satellite"
    area: str | None = None
    vad: VadConfig = field(default_factory=VadConfig)
    echo: EchoConfig = field(default_factory=EchoConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    wake: WakeConfig = field(default_factory=lambda: WakeConfig(enabled=False))
    talker: TalkerGateConfig = field(default_factory=lambda: TalkerGateConfig(open_db=0.0))  # opt-in (off)
    tones: ToneConfig = field(default_factory=ToneConfig)
    barge_in_min_seconds: float = 0.4
    # Speech held over a reply's first continuation_max_heard_seconds, within continuation_hold_seconds of the
    # question's end, continues the question after this much voice (0: as a barge-in); see satellite/held.py.
    # The windows were 1.0 s / 0.6 s (session 19); the room (session 20, bench/room_cont_bench.py) held users'
    # trailing words at 0.39-1.02 s of the reply (the echo judge hears a user over a reply's first ~0.7 s
    # late) and 0.48-1.08 s after the end: 11 of 17 held past 0.6 s, 6 of them lost, 5 answered alone. Under the
    # orchestrator's merge limits (1.5 s / 1.0 s heard; its clocks run on while the reply is held, so the
    # windows hold up to the confirmation), so a continuation the satellite starts is one it merges.
    continuation_min_seconds: float = 0.18
    continuation_hold_seconds: float = 1.4
    continuation_max_heard_seconds: float = 0.95
    # A continuation hold whose speech goes quiet this long short of its minimum resumes the reply (0: only at
    # the VAD's end of speech, 0.6 s of silence: the stutter of session 19's held-60). 0.15 s until session 28:
    # the closure of the "t" in "What time" was five quiet frames (tests/test_satellite_cont_lapse.py).
    continuation_lapse_seconds: float = 0.21
    barge_in_hold: bool = True  # silence the reply as soon as speech starts over it
    reply_timeout: float = 20.0
    answer_timeout: float = 5.0  # after Home Assistant's transcript, no sign of an answer: its run said nothing
    # Once the controller has sent the transcript it has the question: an LLM on a loaded box can take tens
    # of seconds to its first audio, silent meanwhile (our orchestrator gives up after 30 s and sends an error).
    thinking_timeout: float = 45.0
    # Streaming to a controller: it finds the end of the question (our orchestrator; Home Assistant), so our
    # VAD ends it only after this much silence, a fallback. 0.6 s cut questions with a natural pause in half.
    controller_end_seconds: float = 2.0
    max_speech_seconds: float = 30.0  # an utterance is cut here (a TV left on must not stream forever)
    local_retry_seconds: float = 30.0
    announce: AnnounceConfig = field(default_factory=AnnounceConfig)
    alarm: AlarmConfig = field(default_factory=AlarmConfig)
    follow_up_seconds: float = 5.0  # after a reply that asks a question: listen without the wake word
    awake_wav: str | None = None  # replaces the 880 Hz listening tone
    done_wav: str | None = None  # replaces the 440 Hz processing tone
    timer_finished_wav: str | None = None  # replaces the alarm's beeps
    error_tone: bool = True  # a turn failed with nothing said: a falling two-note tone (also off with tones)
    error_wav: str | None = None  # replaces the error tone
    hooks: HooksConfig = field(default_factory=HooksConfig)
    end_of_turn: EndOfTurnConfig = field(default_factory=EndOfTurnConfig)  # --end-of-turn-uri (HA runs)
    controller_silent_seconds: float = SILENT_SECONDS  # then another controller may take over (admission.py)
