"""Tune examples of round 5 of issue 16 (session 10): written by the engineer who changed the
rules, for the categories HELD_OUT_7 missed, and used to check the general rules (with
HELD_OUT_7's misses). Not held out: bench/home_corpus_8.py is.
"""

from __future__ import annotations

from bench.home_corpus import Case

TUNE_8: list[Case] = [
    # fillers in the middle of the sentence
    ("switch off the um coffee maker", "HassTurnOff", {"name": "coffee maker"}),
    ("open the uh garage door", "HassTurnOn", {"name": "garage door"}),
    ("set the kitchen light to erm fifty percent", "HassLightSet", {"name": "kitchen light", "brightness": 50}),
    ("unlock the umm front door", "HassTurnOff", {"name": "front door"}),
    # time and date said other ways
    ("do you have the time please", "HassGetCurrentTime", {}),
    ("excuse me what time is it", "HassGetCurrentTime", {}),
    ("remind me what the date is", "HassGetCurrentDate", {}),
    # thermostat
    ("bump the heating up to 21", "HassClimateSetTemperature", {"temperature": 21}),
    ("knock the thermostat down to 18", "HassClimateSetTemperature", {"temperature": 18}),
    ("i'm freezing turn the heating up to 24", "HassClimateSetTemperature", {"temperature": 24}),
    ("it's too warm in here set the thermostat to 19", "HassClimateSetTemperature", {"temperature": 19}),
    ("what's the heating at", "HassClimateGetTemperature", {}),
    ("what temperature is the thermostat on", "HassClimateGetTemperature", {}),
    # states
    ("is the coffee maker running", "HassGetState", {"name": "coffee maker"}),
    ("is the front door locked or not", "HassGetState", {"name": "front door"}),
    ("is there a light on in the kitchen", "HassGetState", {"area": "kitchen"}),
    # media
    ("back a track", "HassMediaPrevious", {}),
    ("go back one song", "HassMediaPrevious", {}),
    ("skip forward to the next song", "HassMediaNext", {}),
    ("put the television volume to 25", "HassSetVolume", {"name": "tv", "volume_level": 25}),
    ("tv volume 50", "HassSetVolume", {"name": "tv", "volume_level": 50}),
    ("set the tv's volume at 45 percent", "HassSetVolume", {"name": "tv", "volume_level": 45}),
    # weather
    ("is it nice outside today", "HassGetWeather", {}),
    ("is it miserable out", "HassGetWeather", {}),
    ("what's it doing out there", "HassGetWeather", {}),
    ("how's it looking out", "HassGetWeather", {}),
    ("what's the weather gonna do today", "HassGetWeather", {}),
    # never mind
    ("ignore that", "HassNevermind", {}),
    ("oh ignore me", "HassNevermind", {}),
    ("don't worry", "HassNevermind", {}),
    ("no don't worry about that", "HassNevermind", {}),
    # timers
    ("is my pizza timer almost done", "HassTimerStatus", {"name": "pizza"}),
    ("is the timer done yet", "HassTimerStatus", {}),
    ("get rid of my pizza timer", "HassCancelTimer", {"name": "pizza"}),
    ("delete the timer", "HassCancelTimer", {}),
    ("how much time have i got left on the timer", "HassTimerStatus", {}),
    ("do me a timer for five minutes", "HassStartTimer", {"minutes": 5}),
    ("could you give my pizza timer another three minutes", "HassIncreaseTimer", {"minutes": 3, "name": "pizza"}),
    # others from HELD_OUT_7's categories
    ("get the tv going", "HassTurnOn", {"name": "tv"}),
    ("blinds down please", "HassTurnOff", {}),
    ("can you lock the house up", "HassTurnOn", {}),
]

# Near the rules above: must still reach the LLM.
TUNE_8_NOT: list[Case] = [
    ("is it nice to live in london", None, {}),
    ("why do people say um so much", None, {}),
    ("what's it like to be a pilot", None, {}),
    ("should i ignore my boss", None, {}),
    ("how do i get rid of ants", None, {}),
    ("is it true that cats always land on their feet", None, {}),
    ("i'm cold what should i wear", None, {}),
    ("can you tell me a story about a timer", None, {}),
    ("what's the volume of the earth", None, {}),
    ("what's the thermostat for", None, {}),
]

# Device requests for devices the bench home lacks: with no home, the honest answer.
TUNE_8_NO_HOME: list[Case] = [
    ("bump the aircon up to 23", "HassClimateSetTemperature", {}),
    ("what's the aircon at", "HassClimateGetTemperature", {}),
    ("is the dishwasher running", "HassGetState", {}),
    ("speaker volume to 30", "HassSetVolume", {}),
    ("go back a track on the radio", "HassMediaPrevious", {}),
    ("turn on the uh hall light", "HassTurnOn", {}),
]
