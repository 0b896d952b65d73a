"""Spoken device requests for bench/home_misheard_bench.py (the bench home of bench/home_corpus.py:
lights, locks, covers, a thermostat, switches, a TV).

``TUNE`` was looked at while writing orchestrator/home/fit.py; ``HELD_OUT`` was written at the
same time, before any of it was decoded, and nothing was changed after seeing its results. Every
sentence, written as said, is recognised by the bench home as a device action (checked by the
bench before it decodes anything).
"""

from __future__ import annotations

TUNE = [
    "Set the thermostat to twenty degrees.",
    "Set the thermostat to eighteen degrees.",
    "Set the temperature to nineteen degrees.",
    "Set the heating to twenty one degrees.",
    "Turn on the kitchen light.",
    "Turn off the bedroom light.",
    "Switch on the reading lamp.",
    "Set the kitchen light to fifty percent.",
    "Turn the bedroom light blue.",
    "Lock the front door.",
    "Unlock the back door.",
    "Lock the back door.",
    "Open the garage door.",
    "Close the garage door.",
    "Open the living room blinds.",
    "Set the living room blinds to forty percent.",
    "Lower the blinds.",
    "Turn on the ceiling fan.",
    "Switch off the coffee maker.",
    "Turn off the TV.",
    "Set the TV volume to thirty.",
    "Turn off the lights in the kitchen.",
    "Turn on the lights in the bedroom.",
    "Switch off the bedroom lamp.",
]

HELD_OUT = [
    "Change the thermostat to seventeen degrees.",
    "Set the thermostat to twenty two degrees please.",
    "Turn the heating down to sixteen degrees.",
    "Switch the kitchen light off.",
    "Set the bedroom light to twenty percent.",
    "Turn the reading lamp red.",
    "Unlock the front door.",
    "Lock the front door please.",
    "Shut the garage door.",
    "Close the living room blinds.",
    "Raise the blinds.",
    "Turn the ceiling fan off.",
    "Turn on the coffee maker.",
    "Turn on the TV.",
    "Switch off the lights in the living room.",
    "Turn off the reading lamp.",
    "Set the heat to twenty three degrees.",
    "Dim the kitchen light to ten percent.",
]
