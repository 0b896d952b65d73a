"""HELD_OUT_7 for bench/home_bench.py: written on 2026-12-01 (session 9, round 4 of issue 16)
BEFORE any change to the recognition of that round, committed alone, never run before the end of
the round and never tuned on.

The home is bench/home_corpus.py's ``ENTITIES``/``AREAS`` ("floor lamp" is the Reading Lamp,
"heating" the Thermostat, "television" the TV). The phrasings are new wordings in the styles of
other people: terse ("kitchen light off"), wordy and polite ("would it be possible to ...",
"could you kindly ..."), hesitant (whisper writes "uh"/"um" into the sentence: "turn on the uh
bedroom light"), a remark before the request ("i'm cold, set the heating to 23"), spoken
durations ("half an hour", "an hour and a half"), and other verbs ("kill", "power down", "bump",
"pull down"). None of them is in an earlier set. ``NOT_COMMANDS_7`` are general questions and
remarks near those domains: they must go to the LLM. Expected slot values are compared
case-insensitively; only the keys given are checked.
"""

from __future__ import annotations

from bench.home_corpus import Case

HELD_OUT_7: list[Case] = [
    # time and date
    ("excuse me what's the time", "HassGetCurrentTime", {}),
    ("um do you have the time", "HassGetCurrentTime", {}),
    ("what o'clock is it", "HassGetCurrentTime", {}),
    ("time check please", "HassGetCurrentTime", {}),
    ("what's the date please", "HassGetCurrentDate", {}),
    ("today's date please", "HassGetCurrentDate", {}),
    ("can you remind me what day it is", "HassGetCurrentDate", {}),
    # timers
    ("uh set a timer for twenty minutes", "HassStartTimer", {"minutes": 20}),
    ("timer for three minutes please", "HassStartTimer", {"minutes": 3}),
    ("start a half an hour timer", "HassStartTimer", {"minutes": 30}),
    ("could you set a timer for an hour and a half", "HassStartTimer", {"hours": 1, "minutes": 30}),
    ("could you do me a timer for 45 seconds", "HassStartTimer", {"seconds": 45}),
    ("start a pasta timer for eleven minutes", "HassStartTimer", {"name": "pasta", "minutes": 11}),
    ("how much time have i got left on the pasta timer", "HassTimerStatus", {"name": "pasta"}),
    ("is the timer nearly done", "HassTimerStatus", {}),
    ("how long till the timer rings", "HassTimerStatus", {}),
    ("get rid of the timer", "HassCancelTimer", {}),
    ("pause my pasta timer", "HassPauseTimer", {"name": "pasta"}),
    ("okay resume the timer now", "HassUnpauseTimer", {}),
    ("add ten more minutes to the pasta timer", "HassIncreaseTimer", {"minutes": 10, "name": "pasta"}),
    ("can you give the timer another two minutes", "HassIncreaseTimer", {"minutes": 2}),
    ("take a minute off the timer", "HassDecreaseTimer", {"minutes": 1}),
    ("extend the timer by 5 minutes", "HassIncreaseTimer", {"minutes": 5}),
    # lights
    ("turn on the uh bedroom light", "HassTurnOn", {"name": "bedroom light"}),
    ("kitchen light off please", "HassTurnOff", {"name": "kitchen light"}),
    ("could you kindly turn the reading lamp on", "HassTurnOn", {"name": "reading lamp"}),
    ("would it be possible to switch on the kitchen light", "HassTurnOn", {"name": "kitchen light"}),
    ("kill the bedroom light", "HassTurnOff", {"name": "bedroom light"}),
    ("put the kitchen light on full brightness", "HassLightSet", {"name": "kitchen light", "brightness": 100}),
    ("bedroom light to 40 percent", "HassLightSet", {"name": "bedroom light", "brightness": 40}),
    ("change the bedroom light to red please", "HassLightSet", {"name": "bedroom light", "color": "red"}),
    ("turn all the lights off in the living room", "HassTurnOff", {"area": "living room"}),
    ("switch the living room lights on", "HassTurnOn", {"area": "living room"}),
    ("bedroom lights off", "HassTurnOff", {"area": "bedroom"}),
    ("i'd like the reading lamp off please", "HassTurnOff", {"name": "reading lamp"}),
    # switches, fan
    ("start up the coffee maker", "HassTurnOn", {"name": "coffee maker"}),
    ("get the coffee maker going", "HassTurnOn", {"name": "coffee maker"}),
    ("shut off the ceiling fan", "HassTurnOff", {"name": "ceiling fan"}),
    ("power down the coffee maker", "HassTurnOff", {"name": "coffee maker"}),
    ("switch the fan off", "HassTurnOff", {}),
    # covers
    ("bring the living room blinds up", "HassTurnOn", {}),
    ("pull down the blinds", "HassTurnOff", {}),
    ("lower the blinds to 20 percent", "HassSetPosition", {"position": 20}),
    ("set the blinds to 75 percent please", "HassSetPosition", {"position": 75}),
    ("open the garage please", "HassTurnOn", {}),
    ("blinds up please", "HassTurnOn", {}),
    ("close the living room blinds halfway", "HassSetPosition", {"position": 50}),
    # locks
    ("lock the back door would you", "HassTurnOn", {"name": "back door"}),
    ("please unlock the back door", "HassTurnOff", {"name": "back door"}),
    ("can you lock everything up", "HassTurnOn", {}),
    # climate
    ("turn the heating up to 22", "HassClimateSetTemperature", {"temperature": 22}),
    ("can you bump the thermostat to 20 degrees", "HassClimateSetTemperature", {"temperature": 20}),
    ("i'm cold set the heating to 23", "HassClimateSetTemperature", {"temperature": 23}),
    ("what's the thermostat at", "HassClimateGetTemperature", {}),
    ("how warm is it in the living room", "HassClimateGetTemperature", {}),
    ("what temperature is the heating set to", "HassClimateGetTemperature", {}),
    # state questions
    ("is the back door locked or not", "HassGetState", {"name": "back door"}),
    ("is the garage door open at the moment", "HassGetState", {"name": "garage door"}),
    ("is there a light on in the bedroom", "HassGetState", {"area": "bedroom"}),
    ("is the ceiling fan running", "HassGetState", {"name": "ceiling fan"}),
    ("is the tv on right now", "HassGetState", {"name": "tv"}),
    ("are the blinds down", "HassGetState", {}),
    ("is the front door still unlocked", "HassGetState", {"name": "front door"}),
    # media
    ("pause the music please", "HassMediaPause", {}),
    ("unpause the television please", "HassMediaUnpause", {"name": "tv"}),
    ("skip ahead to the next track", "HassMediaNext", {}),
    ("go back a song", "HassMediaPrevious", {}),
    ("put the tv volume at 60", "HassSetVolume", {"name": "tv", "volume_level": 60}),
    ("volume 30 please", "HassSetVolume", {"volume_level": 30}),
    ("mute the television", "HassMediaPlayerMute", {"name": "tv"}),
    # weather
    ("what's it doing outside", "HassGetWeather", {}),
    ("what's the forecast looking like", "HassGetWeather", {}),
    ("do i need a coat", "HassGetWeather", {}),
    ("how's it looking outside today", "HassGetWeather", {}),
    ("what's the weather gonna be like", "HassGetWeather", {}),
    ("is it nice out", "HassGetWeather", {}),
    # never mind
    ("oh don't worry about it", "HassNevermind", {}),
    ("sorry ignore that", "HassNevermind", {}),
    # two commands in one breath
    ("turn off the tv and the bedroom light", "HassTurnOff+HassTurnOff", {}),
    ("shut the garage door and switch off the kitchen light", "HassTurnOff+HassTurnOff", {}),
    ("unlock the back door then open the garage door", "HassTurnOff+HassTurnOn", {}),
]

# General questions and remarks near the domains above: they must still go to the LLM.
NOT_COMMANDS_7: list[Case] = [
    ("what time does the sun set in summer", None, {}),
    ("how long does it take to cook pasta", None, {}),
    ("what's the capital of norway", None, {}),
    ("tell me a joke about lamps", None, {}),
    ("why do fans make you feel cooler", None, {}),
    ("can locks really be picked with a hairpin", None, {}),
    ("what temperature does water boil at", None, {}),
    ("how do i set a timer on my oven", None, {}),
    ("what's the weather usually like in spain in june", None, {}),
    ("what does it mean to turn the other cheek", None, {}),
    ("who sang the song lights", None, {}),
    ("what's the date of easter next year", None, {}),
    ("i love the sound of rain", None, {}),
    ("how much does a smart lock cost", None, {}),
]
