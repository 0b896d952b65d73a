"""HELD_OUT_5 for bench/home_bench.py: written on 2026-12-01 (session 7, round 2 of issue 16)
BEFORE any change to the recognition of that round, committed alone, and never tuned on
afterwards.

The home is bench/home_corpus.py's ``ENTITIES``/``AREAS`` (the test home's names, areas and
aliases: "floor lamp" is the Reading Lamp, "heating" the Thermostat, "television" the TV). The
phrasings are how people talk to a speaker: fillers and politeness, questions asked sideways
("do you know what time it is"), words in another order, things named by their kind where the
home has one of them, state questions ("is ... still on", "did I ..."), two commands in one
breath, and every domain of issue 16, with many time, date and timer phrasings (those must never
reach the LLM). ``NOT_COMMANDS_5`` are general questions near those domains: they must go to the
LLM. Expected slot values are compared case-insensitively; only the keys given are checked.
"""

from __future__ import annotations

from home_corpus import Case

HELD_OUT_5: list[Case] = [
    # time and date
    ("do you know what time it is", "HassGetCurrentTime", {}),
    ("hey what time is it now", "HassGetCurrentTime", {}),
    ("what's the current time", "HassGetCurrentTime", {}),
    ("time please", "HassGetCurrentTime", {}),
    ("can you tell me the time please", "HassGetCurrentTime", {}),
    ("what day is it today", "HassGetCurrentDate", {}),
    ("what's the date", "HassGetCurrentDate", {}),
    ("tell me today's date", "HassGetCurrentDate", {}),
    ("what day of the week is it", "HassGetCurrentDate", {}),
    # timers
    ("set a timer for 20 minutes", "HassStartTimer", {"minutes": 20}),
    ("could you set a timer for three minutes please", "HassStartTimer", {"minutes": 3}),
    ("timer for 8 minutes", "HassStartTimer", {"minutes": 8}),
    ("start a 12 minute timer", "HassStartTimer", {"minutes": 12}),
    ("set a pasta timer for 9 minutes", "HassStartTimer", {"name": "pasta", "minutes": 9}),
    ("set a timer for 45 seconds", "HassStartTimer", {"seconds": 45}),
    ("how much time is left", "HassTimerStatus", {}),
    ("how long is left on my timer", "HassTimerStatus", {}),
    ("how much time is left on the pasta timer", "HassTimerStatus", {"name": "pasta"}),
    ("what's the status of my timer", "HassTimerStatus", {}),
    ("stop my timer", "HassCancelTimer", {}),
    ("cancel the pasta timer", "HassCancelTimer", {"name": "pasta"}),
    ("pause my timer", "HassPauseTimer", {}),
    ("unpause the timer", "HassUnpauseTimer", {}),
    ("add 3 minutes to the timer", "HassIncreaseTimer", {"minutes": 3}),
    ("take two minutes off the timer", "HassDecreaseTimer", {"minutes": 2}),
    ("cancel all timers", "HassCancelAllTimers", {}),
    # lights
    ("uh turn on the kitchen light", "HassTurnOn", {"name": "kitchen light"}),
    ("hey could you turn off the reading lamp please", "HassTurnOff", {"name": "reading lamp"}),
    ("bedroom light off", "HassTurnOff", {"name": "bedroom light"}),
    ("switch the lights on in the kitchen", "HassTurnOn", {"area": "kitchen"}),
    ("turn off the lights in the bedroom please", "HassTurnOff", {"area": "bedroom"}),
    ("dim the bedroom light to 10 percent", "HassLightSet", {"name": "bedroom light", "brightness": 10}),
    ("set the floor lamp to 60%", "HassLightSet", {"name": "reading lamp", "brightness": 60}),
    ("make the kitchen light purple", "HassLightSet", {"name": "kitchen light", "color": "purple"}),
    ("turn the bedroom light yellow please", "HassLightSet", {"name": "bedroom light", "color": "yellow"}),
    # switches, fan
    ("switch on the coffee maker please", "HassTurnOn", {"name": "coffee maker"}),
    ("turn off the coffee maker", "HassTurnOff", {"name": "coffee maker"}),
    ("could you turn the ceiling fan on", "HassTurnOn", {"name": "ceiling fan"}),
    ("turn off the fan", "HassTurnOff", {}),
    # covers
    ("open the garage", "HassTurnOn", {}),
    ("please close the garage door", "HassTurnOff", {"name": "garage door"}),
    ("lower the blinds", "HassTurnOff", {}),
    ("open the living room blinds halfway", "HassSetPosition", {"position": 50}),
    ("set the living room blinds to 80 percent", "HassSetPosition", {"position": 80}),
    # locks
    ("lock the back door please", "HassTurnOn", {"name": "back door"}),
    ("unlock the back door", "HassTurnOff", {"name": "back door"}),
    ("could you lock the front door for me", "HassTurnOn", {"name": "front door"}),
    # climate
    ("set the temperature to 20 degrees", "HassClimateSetTemperature", {"temperature": 20}),
    ("turn the heating up to 22 degrees", "HassClimateSetTemperature", {"temperature": 22}),
    ("change the thermostat to 18", "HassClimateSetTemperature", {"temperature": 18}),
    ("how warm is it in the house", "HassClimateGetTemperature", {}),
    ("what temperature is it inside", "HassClimateGetTemperature", {}),
    # state questions
    ("is the back door locked", "HassGetState", {"name": "back door"}),
    ("is the kitchen light still on", "HassGetState", {"name": "kitchen light"}),
    ("did i leave the tv on", "HassGetState", {"name": "tv"}),
    ("is the garage open", "HassGetState", {}),
    ("are the bedroom lights off", "HassGetState", {"area": "bedroom"}),
    ("is the front door unlocked", "HassGetState", {"name": "front door"}),
    ("is the ceiling fan on right now", "HassGetState", {"name": "ceiling fan"}),
    # media
    ("pause the music", "HassMediaPause", {}),
    ("resume the tv", "HassMediaUnpause", {"name": "tv"}),
    ("play the next track", "HassMediaNext", {}),
    ("mute the tv", "HassMediaPlayerMute", {"name": "tv"}),
    ("set the volume to 30", "HassSetVolume", {"volume_level": 30}),
    # weather
    ("what's the weather", "HassGetWeather", {}),
    ("what's the weather going to be like today", "HassGetWeather", {}),
    ("how cold is it outside", "HassGetWeather", {}),
    ("do i need an umbrella today", "HassGetWeather", {}),
    # never mind
    ("never mind that", "HassNevermind", {}),
    ("oh never mind", "HassNevermind", {}),
    ("forget it", "HassNevermind", {}),
    # two commands in one breath
    ("turn off the kitchen light and lock the back door", "HassTurnOff+HassTurnOn", {}),
    ("close the garage door and turn off the tv", "HassTurnOff+HassTurnOff", {}),
    ("turn on the reading lamp and the bedroom light", "HassTurnOn+HassTurnOn", {}),
]

# General questions near the domains above: they must still go to the LLM.
NOT_COMMANDS_5: list[Case] = [
    ("what time does the sun set in winter", None, {}),
    ("how many days are there in a leap year", None, {}),
    ("why do cats sleep so much", None, {}),
    ("what's a good timer app for studying", None, {}),
    ("how does a smart lock work", None, {}),
    ("what temperature should i cook chicken to", None, {}),
    ("tell me a joke about the weather", None, {}),
    ("who sang the song light my fire", None, {}),
    ("what was the date of the first moon landing", None, {}),
    ("how do i turn off notifications on my phone", None, {}),
]
