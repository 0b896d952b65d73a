"""HELD_OUT_6 for bench/home_bench.py: written on 2026-12-01 (session 8, round 3 of issue 16)
BEFORE any change to the recognition of that round, committed alone, and never tuned on
afterwards.

The home is bench/home_corpus.py's ``ENTITIES``/``AREAS`` (the test home's names, areas and
aliases: "floor lamp" is the Reading Lamp, "heating" the Thermostat, "television" the TV). The
phrasings are how people talk to a speaker: politeness ("please", "would you mind", "thanks"),
fillers ("um", "okay so", "hey"), questions asked sideways ("any idea what time it is", "can you
check if ..."), time, date, timer, weather and state questions, covers and climate. None of them
is in an earlier set. ``NOT_COMMANDS_6`` are general questions and remarks near those domains:
they must go to the LLM. Expected slot values are compared case-insensitively; only the keys
given are checked.
"""

from __future__ import annotations

from bench.home_corpus import Case

HELD_OUT_6: list[Case] = [
    # time and date
    ("hey what's the time", "HassGetCurrentTime", {}),
    ("any idea what time it is", "HassGetCurrentTime", {}),
    ("er what time is it at the moment", "HassGetCurrentTime", {}),
    ("could you tell me what time it is please", "HassGetCurrentTime", {}),
    ("what time have we got", "HassGetCurrentTime", {}),
    ("the time please", "HassGetCurrentTime", {}),
    ("what's the time right now", "HassGetCurrentTime", {}),
    ("okay what's today's date", "HassGetCurrentDate", {}),
    ("what's the date today my friend", "HassGetCurrentDate", {}),
    ("do you know what day it is", "HassGetCurrentDate", {}),
    ("which day is it today", "HassGetCurrentDate", {}),
    # timers
    ("hey set a timer for 15 minutes", "HassStartTimer", {"minutes": 15}),
    ("please set a 10 minute timer", "HassStartTimer", {"minutes": 10}),
    ("can you start a timer for 2 minutes", "HassStartTimer", {"minutes": 2}),
    ("set an egg timer for 6 minutes", "HassStartTimer", {"name": "egg", "minutes": 6}),
    ("set a timer for an hour", "HassStartTimer", {"hours": 1}),
    ("how much longer on the timer", "HassTimerStatus", {}),
    ("how long until the timer goes off", "HassTimerStatus", {}),
    ("how's my timer doing", "HassTimerStatus", {}),
    ("what's left on the egg timer", "HassTimerStatus", {"name": "egg"}),
    ("please cancel the timer", "HassCancelTimer", {}),
    ("stop the egg timer", "HassCancelTimer", {"name": "egg"}),
    ("hold the timer", "HassPauseTimer", {}),
    ("carry on with the timer", "HassUnpauseTimer", {}),
    ("put five more minutes on my timer", "HassIncreaseTimer", {"minutes": 5}),
    # lights
    ("hey turn on the bedroom light please", "HassTurnOn", {"name": "bedroom light"}),
    ("would you mind switching off the kitchen light", "HassTurnOff", {"name": "kitchen light"}),
    ("okay turn the floor lamp off", "HassTurnOff", {"name": "reading lamp"}),
    ("lights on in the living room please", "HassTurnOn", {"area": "living room"}),
    ("can you turn off all the lights in the kitchen", "HassTurnOff", {"area": "kitchen"}),
    ("set the reading lamp to half brightness", "HassLightSet", {"name": "reading lamp", "brightness": 50}),
    ("brighten the kitchen light to 90 percent", "HassLightSet", {"name": "kitchen light", "brightness": 90}),
    ("could you make the bedroom light green", "HassLightSet", {"name": "bedroom light", "color": "green"}),
    # switches, fan
    ("please turn the coffee maker on", "HassTurnOn", {"name": "coffee maker"}),
    ("hey switch off the ceiling fan", "HassTurnOff", {"name": "ceiling fan"}),
    ("fire up the coffee maker", "HassTurnOn", {"name": "coffee maker"}),
    # covers
    ("could you open the garage door please", "HassTurnOn", {"name": "garage door"}),
    ("go ahead and shut the garage door", "HassTurnOff", {"name": "garage door"}),
    ("roll up the living room blinds", "HassTurnOn", {}),
    ("close the blinds please", "HassTurnOff", {}),
    ("open the blinds halfway", "HassSetPosition", {"position": 50}),
    ("put the living room blinds at 30 percent", "HassSetPosition", {"position": 30}),
    # locks
    ("hey lock the front door", "HassTurnOn", {"name": "front door"}),
    ("unlock the front door for me", "HassTurnOff", {"name": "front door"}),
    ("can you lock up the back door", "HassTurnOn", {"name": "back door"}),
    # climate
    ("set the heating to 21 degrees please", "HassClimateSetTemperature", {"temperature": 21}),
    ("could you set the thermostat to 19", "HassClimateSetTemperature", {"temperature": 19}),
    ("make it 23 degrees in here", "HassClimateSetTemperature", {"temperature": 23}),
    ("what's the temperature in the house right now", "HassClimateGetTemperature", {}),
    ("how hot is it in here at the moment", "HassClimateGetTemperature", {}),
    ("what is the thermostat set to", "HassClimateGetTemperature", {}),
    # state questions
    ("can you check if the front door is locked", "HassGetState", {"name": "front door"}),
    ("hey is the garage door shut", "HassGetState", {"name": "garage door"}),
    ("hey is the coffee maker on", "HassGetState", {"name": "coffee maker"}),
    ("are the kitchen lights on", "HassGetState", {"area": "kitchen"}),
    ("is the television still playing", "HassGetState", {"name": "tv"}),
    ("are the living room blinds up", "HassGetState", {}),
    # media
    ("pause the television please", "HassMediaPause", {"name": "tv"}),
    ("skip to the next song please", "HassMediaNext", {}),
    ("turn the volume down to 20", "HassSetVolume", {"volume_level": 20}),
    ("unmute the tv", "HassMediaPlayerUnmute", {"name": "tv"}),
    # weather
    ("hey what's the weather like", "HassGetWeather", {}),
    ("will it rain later", "HassGetWeather", {}),
    ("what's the weather outside right now", "HassGetWeather", {}),
    ("how's the weather looking", "HassGetWeather", {}),
    ("is it cold outside", "HassGetWeather", {}),
    # never mind
    ("never mind thank you", "HassNevermind", {}),
    ("actually never mind", "HassNevermind", {}),
    # two commands in one breath
    ("turn on the kitchen light and open the blinds", "HassTurnOn+HassTurnOn", {}),
    ("lock the front door and turn off the bedroom light", "HassTurnOn+HassTurnOff", {}),
]

# General questions and remarks near the domains above: they must still go to the LLM.
NOT_COMMANDS_6: list[Case] = [
    ("what time zone is london in", None, {}),
    ("how long should i boil a soft egg", None, {}),
    ("what's the weather like on mars", None, {}),
    ("why does the sky look red at sunset", None, {}),
    ("who invented the light bulb", None, {}),
    ("what's the best temperature for sleeping", None, {}),
    ("tell me a story about a locked door", None, {}),
    ("how do blinds work", None, {}),
    ("what day was christmas on last year", None, {}),
    ("how many minutes are in a day", None, {}),
    ("thanks for your help", None, {}),
    ("what's a good name for a goldfish", None, {}),
]
