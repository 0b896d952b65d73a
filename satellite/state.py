"""The satellite's turn state machine: one explicit table of states and transitions.

Pure: no asyncio, no wyoming, no audio. The driver (:mod:`satellite.core`) feeds it
triggers and carries out the actions each transition returns.

States:

* ``IDLE``: not armed (no controller has sent ``run-satellite``, it paused us, and cloud
  fallback is off): the microphone is ignored.
* ``LISTENING``: armed, waiting for local speech.
* ``STREAMING``: speech started; the utterance (pre-roll included) streams to the
  controller (or to the cloud STT).
* ``WAITING``: speech ended, ``audio-stop`` sent; waiting for the reply.
* ``SPEAKING``: the reply plays (as it streams in); the microphone is still listened to.
* ``BARGE_IN``: the user started speaking over the reply. The reply is held at once (silent,
  nothing dropped); once the speech has lasted the configured minimum it is dropped and a
  new turn starts; a shorter sound (a cough) resumes it where it stopped. It is entered on the
  VAD's speech start, or earlier on an *onset*: the echo-cancelled mic clearly above the
  residual echo for a few frames (an unvoiced "st" before the VAD hears a vowel). An onset
  the VAD does not confirm as speech soon after lapses and the reply resumes. Right after the
  end of the question a shorter word is enough (``CONTINUED``: the user went on; :mod:`satellite.held`).
* ``ANNOUNCING``: controller audio that came outside a turn (Home Assistant's
  ``assist_satellite.announce``) plays; ``played`` follows it. One that arrives during a turn
  waits in a bounded queue until the satellite is back in ``LISTENING``.
* ``ANNOUNCE_BARGE_IN``: the user started speaking over an announcement: as ``BARGE_IN``, and
  a confirmed barge-in sends ``played`` (the announcement is over) before the new turn.

A trigger with no entry for the current state is ignored (the state is unchanged and no
action is returned), so late or duplicate events cannot derail a turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class TurnState(StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    STREAMING = "streaming"
    WAITING = "waiting"
    SPEAKING = "speaking"
    BARGE_IN = "barge-in"
    ANNOUNCING = "announcing"
    ANNOUNCE_BARGE_IN = "announce-barge-in"


class TurnTrigger(StrEnum):
    ARM = "arm"  # a controller sent run-satellite, or cloud fallback became available
    DISARM = "disarm"  # paused, or no controller and no fallback
    SPEECH_START = "speech-start"  # VAD: N voiced frames
    ONSET = "onset"  # the echo judge: sound clearly above the residual echo over playback (not yet speech)
    ONSET_LAPSED = "onset-lapsed"  # the VAD did not confirm the onset as speech in time
    SPEECH_END = "speech-end"  # VAD: silence_frames_required unvoiced frames
    BARGE_IN_CONFIRMED = "barge-in-confirmed"  # speech over the reply lasted the minimum
    # Speech over the reply's first moments, right after the question's end, lasted the (lower) minimum of a
    # continuation: the user went on with the question (satellite.held).
    CONTINUED = "continued"
    # The speech over a continuation hold went quiet before it reached that minimum: not the user going on
    # (the question's own tail, noise the clip or the room carried): the reply resumes at once (satellite.held).
    SPEECH_LAPSED = "speech-lapsed"
    TRANSCRIPT = "transcript"
    REPLY_START = "reply-start"  # first reply audio
    REPLY_DONE = "reply-done"  # reply or announcement complete (audio-stop) and played out
    ANNOUNCE = "announce"  # an announcement is ready to play (it came outside a turn)
    ERROR = "error"  # controller error, turn timeout, or controller lost (fallback on)
    # The controller ended the run on its side and said nothing (Home Assistant cancels a running
    # pipeline for an announcement): its audio came while the question was still streaming.
    ABANDONED = "abandoned"
    LATE_FALLBACK = "late-fallback"  # services-unavailable for a turn the satellite had given up on
    # The wake word heard just after a turn opened without it (a barge-in over a reply, a follow-up)
    # began before that turn: the turn starts again at the wake word (satellite.wake_turn).
    WAKE_RESTART = "wake-restart"
    # An unsure wake word that no command followed: the turn it opened ends quietly (satellite.wake_turn).
    WAKE_DROPPED = "wake-dropped"


class TurnAction(StrEnum):
    START_TURN = "start-turn"  # run-pipeline + audio-start + pre-roll (or a cloud turn)
    END_STREAM = "end-stream"  # audio-stop
    CANCEL_TURN = "cancel-turn"  # forget the turn in progress (cloud task cancelled)
    STOP_PLAYBACK = "stop-playback"  # drop buffered reply audio at once
    HOLD_PLAYBACK = "hold-playback"  # silence the reply, keep it buffered
    RESUME_PLAYBACK = "resume-playback"
    SEND_PLAYED = "send-played"
    TONE_LISTEN = "tone-listen"  # 880 Hz
    TONE_PROCESS = "tone-process"  # 440 Hz
    PLAY_ANNOUNCEMENT = "play-announcement"  # the next queued announcement (chime first) into playback


S, T, A = TurnState, TurnTrigger, TurnAction
_ABORT = (A.STOP_PLAYBACK, A.CANCEL_TURN)

TRANSITIONS: dict[tuple[TurnState, TurnTrigger], tuple[TurnState, tuple[TurnAction, ...]]] = {
    (S.IDLE, T.ARM): (S.LISTENING, ()),
    (S.LISTENING, T.SPEECH_START): (S.STREAMING, (A.START_TURN, A.TONE_LISTEN)),
    (S.LISTENING, T.DISARM): (S.IDLE, ()),
    # The controller's services-unavailable came after the reply timeout: the utterance goes
    # to the cloud after all (the driver starts the cloud turn).
    (S.LISTENING, T.LATE_FALLBACK): (S.WAITING, (A.TONE_PROCESS,)),
    (S.STREAMING, T.SPEECH_END): (S.WAITING, (A.END_STREAM,)),
    # The controller's own VAD ended the speech first.
    (S.STREAMING, T.TRANSCRIPT): (S.WAITING, (A.END_STREAM, A.TONE_PROCESS)),
    (S.STREAMING, T.ERROR): (S.LISTENING, _ABORT),
    (S.STREAMING, T.ABANDONED): (S.LISTENING, _ABORT),  # no tone: the controller's audio follows
    (S.STREAMING, T.DISARM): (S.IDLE, _ABORT),
    # A new run-pipeline cancels the one in progress (Home Assistant, our orchestrator): no audio-stop first.
    (S.STREAMING, T.WAKE_RESTART): (S.STREAMING, (A.CANCEL_TURN, A.START_TURN, A.TONE_LISTEN)),
    # The controller's run was replaced by one that ends at speech-to-text with no audio (sent by the driver).
    (S.STREAMING, T.WAKE_DROPPED): (S.LISTENING, (A.CANCEL_TURN,)),
    (S.WAITING, T.WAKE_DROPPED): (S.LISTENING, (A.CANCEL_TURN,)),  # the controller ended it first: its reply dropped
    (S.WAITING, T.TRANSCRIPT): (S.WAITING, (A.TONE_PROCESS,)),
    (S.WAITING, T.REPLY_START): (S.SPEAKING, ()),
    # The user spoke again before any reply: that is a new turn.
    (S.WAITING, T.SPEECH_START): (S.STREAMING, (A.CANCEL_TURN, A.START_TURN, A.TONE_LISTEN)),
    (S.WAITING, T.ERROR): (S.LISTENING, _ABORT),
    (S.WAITING, T.DISARM): (S.IDLE, _ABORT),
    (S.SPEAKING, T.REPLY_DONE): (S.LISTENING, (A.SEND_PLAYED,)),
    (S.SPEAKING, T.SPEECH_START): (S.BARGE_IN, (A.HOLD_PLAYBACK,)),
    (S.SPEAKING, T.ONSET): (S.BARGE_IN, (A.HOLD_PLAYBACK,)),
    (S.BARGE_IN, T.ONSET_LAPSED): (S.SPEAKING, (A.RESUME_PLAYBACK,)),
    (S.SPEAKING, T.ERROR): (S.LISTENING, _ABORT),
    (S.SPEAKING, T.DISARM): (S.IDLE, _ABORT),
    # No listening tone on barge-in: the reply going silent is the feedback.
    (S.BARGE_IN, T.BARGE_IN_CONFIRMED): (S.STREAMING, (A.STOP_PLAYBACK, A.CANCEL_TURN, A.START_TURN)),
    # The same for the controller: a new run-pipeline, which our orchestrator joins to the question.
    (S.BARGE_IN, T.CONTINUED): (S.STREAMING, (A.STOP_PLAYBACK, A.CANCEL_TURN, A.START_TURN)),
    (S.BARGE_IN, T.SPEECH_END): (S.SPEAKING, (A.RESUME_PLAYBACK,)),  # too short: a cough
    (S.BARGE_IN, T.SPEECH_LAPSED): (S.SPEAKING, (A.RESUME_PLAYBACK,)),  # not waiting for the VAD's whole end
    # The reply ran out while the speech was still a candidate: it was heard to the end, and the
    # speech is the next question. Nothing is held any more (else the next reply plays as silence).
    (S.BARGE_IN, T.REPLY_DONE): (S.STREAMING, (A.RESUME_PLAYBACK, A.SEND_PLAYED, A.START_TURN)),
    (S.BARGE_IN, T.ERROR): (S.LISTENING, _ABORT),
    (S.BARGE_IN, T.DISARM): (S.IDLE, _ABORT),
    (S.LISTENING, T.ANNOUNCE): (S.ANNOUNCING, (A.PLAY_ANNOUNCEMENT,)),
    (S.ANNOUNCING, T.REPLY_DONE): (S.LISTENING, (A.SEND_PLAYED,)),
    (S.ANNOUNCING, T.SPEECH_START): (S.ANNOUNCE_BARGE_IN, (A.HOLD_PLAYBACK,)),
    (S.ANNOUNCING, T.ONSET): (S.ANNOUNCE_BARGE_IN, (A.HOLD_PLAYBACK,)),
    (S.ANNOUNCE_BARGE_IN, T.ONSET_LAPSED): (S.ANNOUNCING, (A.RESUME_PLAYBACK,)),
    (S.ANNOUNCING, T.ERROR): (S.LISTENING, (A.STOP_PLAYBACK,)),  # the controller is gone
    (S.ANNOUNCING, T.DISARM): (S.IDLE, (A.STOP_PLAYBACK, A.SEND_PLAYED)),
    (S.ANNOUNCE_BARGE_IN, T.SPEECH_END): (S.ANNOUNCING, (A.RESUME_PLAYBACK,)),  # a cough
    (S.ANNOUNCE_BARGE_IN, T.BARGE_IN_CONFIRMED): (S.STREAMING, (A.STOP_PLAYBACK, A.SEND_PLAYED, A.START_TURN)),
    (S.ANNOUNCE_BARGE_IN, T.REPLY_DONE): (S.STREAMING, (A.RESUME_PLAYBACK, A.SEND_PLAYED, A.START_TURN)),
    (S.ANNOUNCE_BARGE_IN, T.ERROR): (S.LISTENING, (A.STOP_PLAYBACK,)),
    (S.ANNOUNCE_BARGE_IN, T.DISARM): (S.IDLE, (A.STOP_PLAYBACK, A.SEND_PLAYED)),
}

# Controller audio plays in these states; in HELD ones it is silenced while speech is judged.
PLAYING = (S.SPEAKING, S.BARGE_IN, S.ANNOUNCING, S.ANNOUNCE_BARGE_IN)
HELD = (S.BARGE_IN, S.ANNOUNCE_BARGE_IN)


@dataclass
class TurnMachine:
    """The current state plus a bounded history of transitions (for logs and tests)."""

    state: TurnState = TurnState.IDLE
    history: list[tuple[TurnState, TurnTrigger, TurnState]] = field(default_factory=list)
    max_history: int = 200

    def fire(self, trigger: TurnTrigger) -> tuple[TurnAction, ...]:
        """Apply ``trigger``; return the actions to carry out, in order (empty if ignored)."""
        entry = TRANSITIONS.get((self.state, trigger))
        if entry is None:
            return ()
        new_state, actions = entry
        self.history.append((self.state, trigger, new_state))
        del self.history[: -self.max_history]
        self.state = new_state
        return actions

    def accepts(self, trigger: TurnTrigger) -> bool:
        return (self.state, trigger) in TRANSITIONS
