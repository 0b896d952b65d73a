"""The codes of the ``error`` events the project's programs send and compare, in one place.

A code is protocol: one program sends it and the other compares it, so both import the constant
rather than each spelling the string; so is a code more than one program sends. The codes for
unreadable frames (``bad-json``, ``bad-frame``…, :mod:`voice_runtime.protocol`) and each engine's
own (``no-stream``, ``unsupported-format``…) are answered, never compared, and stay with their one
sender; the runtime's are listed in ARCHITECTURE.md.
"""

from __future__ import annotations

# The satellite refuses a second controller's run-satellite while the first is alive (satellite.admission);
# the orchestrator's link backs off on it (orchestrator.satellite_link).
SATELLITE_BUSY = "satellite-busy"
# A turn could not reach a speech-to-text/text-to-speech service; the satellite falls back to the cloud.
SERVICES_UNAVAILABLE = "services-unavailable"
# No speech in the turn's audio: the orchestrator's code, and Home Assistant's for the same.
NO_SPEECH = "no-speech"
HA_NO_SPEECH = "stt-no-text-recognized"
# The orchestrator's turn failed (the satellite should not wait out its own timeout in silence).
TURN_FAILED = "turn-failed"
# The shared runtime's answers (voice_runtime.handler), also sent by the orchestrator's satellite link:
BAD_EVENT = "bad-event"  # an event whose fields have the wrong shape
UNKNOWN_EVENT = "unknown-event"  # an event the service does not handle
INTERNAL_ERROR = "internal-error"  # a bug in the handler (logged with its traceback)
IDLE_TIMEOUT = "idle-timeout"  # nothing received for too long: the connection is closed
