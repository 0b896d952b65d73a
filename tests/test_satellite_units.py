"""The satellite's pure parts: state machine table, VAD, echo guard, tones, playback, sentence split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from state_harness import state as state_of
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Info
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played

from satellite.cloud import cloud_config, split_sentences
from satellite.echo import EchoConfig, EchoGuard, frame_rms
from satellite.handler import satellite_info
from satellite.playback import Playback
from satellite.state import TRANSITIONS, TurnAction, TurnMachine, TurnState, TurnTrigger
from satellite.tones import LISTEN_HZ, PROCESS_HZ, ToneConfig, tone, tone_power
from satellite.vad import SpeechDetector, VadConfig, VadEvent
from voice_runtime.audio import AudioFormat

A, S, T = TurnAction, TurnState, TurnTrigger


def run(machine: TurnMachine, *triggers: TurnTrigger) -> list[TurnAction]:
    actions: list[TurnAction] = []
    for trigger in triggers:
        actions += machine.fire(trigger)
    return actions


def test_plain_turn() -> None:
    m = TurnMachine()
    assert run(m, T.SPEECH_START) == [] and state_of(m) == S.IDLE  # not armed: mic ignored
    assert run(m, T.ARM) == [] and state_of(m) == S.LISTENING
    assert run(m, T.SPEECH_START) == [A.START_TURN, A.TONE_LISTEN] and state_of(m) == S.STREAMING
    assert run(m, T.SPEECH_END) == [A.END_STREAM] and state_of(m) == S.WAITING
    assert run(m, T.TRANSCRIPT) == [A.TONE_PROCESS] and state_of(m) == S.WAITING
    assert run(m, T.REPLY_START) == [] and state_of(m) == S.SPEAKING
    assert run(m, T.REPLY_DONE) == [A.SEND_PLAYED] and state_of(m) == S.LISTENING
    assert [h[1] for h in m.history] == [T.ARM, T.SPEECH_START, T.SPEECH_END, T.TRANSCRIPT, T.REPLY_START,
                                         T.REPLY_DONE]


def test_barge_in_confirmed_stops_playback_before_the_new_turn() -> None:
    m = TurnMachine(state=S.SPEAKING)
    assert run(m, T.SPEECH_START) == [A.HOLD_PLAYBACK] and state_of(m) == S.BARGE_IN
    actions = run(m, T.BARGE_IN_CONFIRMED)
    assert state_of(m) == S.STREAMING
    assert actions.index(A.STOP_PLAYBACK) < actions.index(A.START_TURN)
    assert A.TONE_LISTEN not in actions and A.SEND_PLAYED not in actions


def test_cough_during_reply_holds_then_resumes() -> None:
    m = TurnMachine(state=S.SPEAKING)
    assert run(m, T.SPEECH_START, T.SPEECH_END) == [A.HOLD_PLAYBACK, A.RESUME_PLAYBACK] and state_of(m) == S.SPEAKING


@pytest.mark.parametrize(("playing", "held"), [(S.SPEAKING, S.BARGE_IN), (S.ANNOUNCING, S.ANNOUNCE_BARGE_IN)])
def test_an_onset_holds_at_once_and_lapses_or_is_confirmed_by_the_vad(playing: TurnState, held: TurnState) -> None:
    m = TurnMachine(state=playing)
    assert run(m, T.ONSET) == [A.HOLD_PLAYBACK] and m.state == held
    assert run(m, T.ONSET_LAPSED) == [A.RESUME_PLAYBACK] and m.state == playing  # the VAD heard no speech
    m = TurnMachine(state=playing)
    assert run(m, T.ONSET, T.SPEECH_START) == [A.HOLD_PLAYBACK] and m.state == held  # held once, not twice
    assert A.START_TURN in run(m, T.BARGE_IN_CONFIRMED) and state_of(m) == S.STREAMING
    assert run(TurnMachine(state=S.LISTENING), T.ONSET) == []  # no reply: an onset means nothing


def test_reply_ending_during_barge_in_candidate_sends_played_then_streams() -> None:
    m = TurnMachine(state=S.BARGE_IN)
    assert run(m, T.REPLY_DONE) == [A.RESUME_PLAYBACK, A.SEND_PLAYED, A.START_TURN] and state_of(m) == S.STREAMING


def test_controller_ended_speech_first() -> None:
    m = TurnMachine(state=S.STREAMING)
    assert run(m, T.TRANSCRIPT) == [A.END_STREAM, A.TONE_PROCESS] and state_of(m) == S.WAITING


@pytest.mark.parametrize("state", [S.STREAMING, S.WAITING, S.SPEAKING, S.BARGE_IN])
def test_error_and_disarm_abort_any_turn(state: TurnState) -> None:
    m = TurnMachine(state=state)
    assert run(m, T.ERROR) == [A.STOP_PLAYBACK, A.CANCEL_TURN] and state_of(m) == S.LISTENING
    m = TurnMachine(state=state)
    assert run(m, T.DISARM) == [A.STOP_PLAYBACK, A.CANCEL_TURN] and state_of(m) == S.IDLE


def test_unknown_transitions_are_ignored_and_every_state_is_reachable() -> None:
    m = TurnMachine(state=S.LISTENING)
    assert run(m, T.REPLY_DONE, T.BARGE_IN_CONFIRMED, T.REPLY_START) == [] and state_of(m) == S.LISTENING
    assert m.history == []
    targets = {new for new, _ in TRANSITIONS.values()} | {S.IDLE}
    assert targets == set(TurnState)
    for state in TurnState:  # no state is a dead end
        assert any(key[0] == state for key in TRANSITIONS)


# --- VAD ------------------------------------------------------------------------------
def _frames(pattern: str, frame: int = 960) -> list[bytes]:
    """'v' = a voiced frame (marked by a non-zero first byte), '.' = silence."""
    return [(b"\x01" if c == "v" else b"\x00") + bytes(frame - 1) for c in pattern]


def test_detector_start_end_and_preroll() -> None:
    config = VadConfig(speech_frames_required=3, speech_window=5, silence_frames_required=4, preroll_seconds=0.3,
                       settle_seconds=0.0)
    det = SpeechDetector(config, is_speech=lambda f: f[0] == 1)
    events = [det.process(f) for f in _frames("......v.vv" + "vvv" + "...." + "..")]
    assert events.index(VadEvent.START) == 9
    assert events.index(VadEvent.END) == 16
    preroll = det.take_preroll()
    assert len(preroll) == 10 * 960  # 0.3 s of 30 ms frames, the starting frame included
    assert preroll[-960] == 1 and preroll[-2 * 960] == 1 and preroll[-3 * 960] == 0


def test_detector_gate_counts_blocked_frames_as_unvoiced() -> None:
    det = SpeechDetector(VadConfig(settle_seconds=0.0), is_speech=lambda f: True)
    assert all(det.process(f, allow=False) == VadEvent.NONE for f in _frames("vvvvvvvv"))
    assert det.process(_frames("v")[0], allow=True) == VadEvent.NONE
    assert det.process(_frames("v")[0], allow=True) == VadEvent.NONE
    assert det.process(_frames("v")[0], allow=True) == VadEvent.START


def test_webrtc_vad_hears_noise_not_silence() -> None:
    det = SpeechDetector(VadConfig(aggressiveness=0))
    assert det.process(bytes(960)) == VadEvent.NONE and not det.voiced
    with pytest.raises(ValueError):
        det.process(bytes(100))
    with pytest.raises(ValueError):
        VadConfig(frame_ms=25)


# --- echo guard -----------------------------------------------------------------------
def test_echo_guard_learns_coupling_and_lets_louder_speech_through() -> None:
    guard = EchoGuard(EchoConfig(margin_db=6.0, initial_coupling_db=0.0), frame_seconds=0.03)
    ref = 0.2
    rng = np.random.default_rng(1)
    # Echo alone at -12 dB: never counted as the user.
    echo_only = [guard.process(ref * 0.25 * float(rng.uniform(0.5, 1.0)), ref) for _ in range(100)]
    assert not any(echo_only)
    assert -16.0 < guard.coupling_db < -10.0
    # The user at the reference's level over that echo: heard.
    assert guard.process(ref * 1.0, ref)
    # No playback: everything is the user.
    quiet = EchoGuard(EchoConfig(window_ms=30), frame_seconds=0.03)
    assert quiet.process(0.01, 0.0)
    assert EchoGuard(EchoConfig(enabled=False), 0.03).process(0.0, 1.0)


def test_frame_rms() -> None:
    full = np.full(480, 16384, dtype="<i2").tobytes()
    assert math.isclose(frame_rms(full), 0.5, rel_tol=1e-3)
    assert frame_rms(b"") == 0.0


# --- tones and playback ---------------------------------------------------------------
def test_tones_are_pure_and_distinguishable() -> None:
    config = ToneConfig()
    listen = tone(LISTEN_HZ, 16000, config)
    assert len(listen) == int(0.15 * 16000) * 2
    assert tone_power(listen, 16000, LISTEN_HZ) > 0.9
    assert tone_power(listen, 16000, PROCESS_HZ) < 0.05
    assert tone_power(tone(PROCESS_HZ, 22050, config), 22050, PROCESS_HZ) > 0.9


def test_playback_frames_mix_stop_and_fractional_rates() -> None:
    pb = Playback(22050, 30)
    sizes = [len(pb.next_frame()) for _ in range(100)]
    assert sum(sizes) == 22050 * 3 * 2 and set(sizes) <= {1322, 1324}
    pb = Playback(16000, 30)
    pb.start_reply(AudioFormat(16000, 2, 1))
    pb.add_reply(np.full(960, 1000, dtype="<i2").tobytes())
    pb.add_tone(np.full(240, 500, dtype="<i2").tobytes())
    first = np.frombuffer(pb.next_frame(), "<i2")
    assert first[0] == 1500 and first[-1] == 1000
    pb.hold()
    assert pb.next_frame() == bytes(960) and pb.has_reply  # held: silent, nothing lost
    pb.resume()
    assert np.frombuffer(pb.next_frame(), "<i2")[0] == 1000
    pb.add_reply(b"\1\0" * 10)
    assert pb.has_reply and pb.stop() > 0 and not pb.busy
    assert pb.next_frame() == bytes(960)
    with pytest.raises(ValueError):
        pb.add_reply(b"\0\0")


# --- protocol bits --------------------------------------------------------------------
def test_info_and_every_event_the_satellite_sends_round_trip() -> None:
    info = Info.from_event(satellite_info("kitchen-sat", "Kitchen").event())
    assert info.satellite is not None and info.satellite.installed and info.satellite.has_vad
    assert info.satellite.name == "kitchen-sat" and info.satellite.area == "Kitchen"
    sent = [
        RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS),
        AudioStart(rate=16000, width=2, channels=1, timestamp=10),
        AudioChunk(rate=16000, width=2, channels=1, audio=b"\1\2", timestamp=10),
        AudioStop(timestamp=40),
        Played(),
    ]
    for item in sent:
        event = item.event()
        again = type(item).from_event(Event(event.type, event.data, event.payload))
        assert again == item


def test_sentence_split_and_cloud_config_without_keys(caplog: pytest.LogCaptureFixture) -> None:
    done, rest = split_sentences("It is noon. Have a nice day! And")
    assert done == ["It is noon.", "Have a nice day!"] and rest == "And"
    caplog.set_level("INFO")
    assert cloud_config(True, "", "sk-secret-value-123") is None
    assert "DEEPGRAM_API_KEY not set" in caplog.text and "sk-secret-value-123" not in caplog.text
    config = cloud_config(True, "dg-key-0000", "sk-key-0000")
    assert config is not None and "dg-key-0000" not in repr(config)

