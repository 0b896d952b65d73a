"""The codes of the ``error`` events between a satellite and its controller, in one place.

A code is protocol: one program sends it and the other compares it, so both import the constant
rather than each spelling the string. The codes for unreadable frames (``bad-json``,
``bad-frame``…, :mod:`voice_runtime.protocol`) are answered, never compared; all are listed in
ARCHITECTURE.md.
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
