"""Tune examples of round 6 of issue 16 (session 11): written by the engineer who changed the
rules, for the classes HELD_OUT_8 (spent) still missed, to check that each rule is general (other
words, other devices) and that near questions still reach the LLM. Not held out:
bench/home_corpus_9.py is.
"""

from __future__ import annotations

from bench.home_corpus import Case

TUNE_9: list[Case] = [
    # a state asked for: "can i have", "i need", "make sure", "i'd like"
    ("could i get the bedroom light on", "HassTurnOn", {"name": "bedroom light"}),
    ("can we have the tv off", "HassTurnOff", {"name": "tv"}),
    ("i want the coffee maker on", "HassTurnOn", {"name": "coffee maker"}),
    ("i'd like the garage door closed", "HassTurnOff", {"name": "garage door"}),
    ("make sure the back door is unlocked", "HassTurnOff", {"name": "back door"}),
    ("make sure the kitchen light's off", "HassTurnOff", {"name": "kitchen light"}),
    ("ensure the garage door is shut", "HassTurnOff", {"name": "garage door"}),
    ("i need the living room blinds up", "HassTurnOn", {"name": "living room blinds"}),
    # other verbs for "turn" with on/off
    ("put the tv on", "HassTurnOn", {"name": "tv"}),
    ("put on the kitchen light", "HassTurnOn", {"name": "kitchen light"}),
    ("flick the bedroom light off", "HassTurnOff", {"name": "bedroom light"}),
    ("get the coffee maker off", "HassTurnOff", {"name": "coffee maker"}),
    ("could you put the ceiling fan on", "HassTurnOn", {"name": "ceiling fan"}),
    # hedges between "you" and the verb
    ("can you maybe switch off the tv", "HassTurnOff", {"name": "tv"}),
    ("could you just like lock the back door", "HassTurnOn", {"name": "back door"}),
    # a reason after the request, a remark before it
    ("turn the heating up to 22 i'm freezing", "HassClimateSetTemperature", {"temperature": 22}),
    ("close the blinds because the sun is in my eyes", "HassTurnOff", {}),
    ("switch on the reading lamp it's getting dark", "HassTurnOn", {"name": "reading lamp"}),
    ("we're going out lock the front door", "HassTurnOn", {"name": "front door"}),
    ("i'm heading to bed turn off the kitchen light", "HassTurnOff", {"name": "kitchen light"}),
    # covers said with put/get/let
    ("get the blinds up", "HassTurnOn", {}),
    ("let the living room blinds down", "HassTurnOff", {"name": "living room blinds"}),
    # media said of "it"/"that", volume "on" a player
    ("pause this", "HassMediaPause", {}),
    ("resume it", "HassMediaUnpause", {}),
    ("turn the volume on the television to 20", "HassSetVolume", {"name": "tv", "volume_level": 20}),
    ("set the volume of the tv at 60 percent", "HassSetVolume", {"name": "tv", "volume_level": 60}),
    # a kind in a room
    ("is the fan still on in the bedroom", "HassGetState", {}),
    ("switch the fan off in the bedroom", "HassTurnOff", {}),
    # timers: other verbs, units
    ("abort the timer", "HassCancelTimer", {}),
    ("switch off my pizza timer", "HassCancelTimer", {"name": "pizza"}),
    ("shave a minute off the timer", "HassDecreaseTimer", {"minutes": 1}),
    ("take off five minutes from my timer", "HassDecreaseTimer", {"minutes": 5}),
    ("how many seconds are left", "HassTimerStatus", {}),
    ("how many minutes have i got left on my pizza timer", "HassTimerStatus", {"name": "pizza"}),
    ("time fifteen minutes", "HassStartTimer", {"minutes": 15}),
    # time, never mind
    ("how late is it now", "HassGetCurrentTime", {}),
    ("no nothing sorry", "HassNevermind", {}),
    ("it's nothing", "HassNevermind", {}),
]

# Near the rules above: must still reach the LLM.
TUNE_9_NOT: list[Case] = [
    ("can i have a recipe for pancakes", None, {}),
    ("i need a name for my dog", None, {}),
    ("make sure you remember my birthday", None, {}),
    ("i want to learn how to knit", None, {}),
    ("can you time travel", None, {}),
    ("how many minutes are in an hour", None, {}),
    ("how late is the shop open", None, {}),
    ("nothing is impossible right", None, {}),
    ("what does it mean when a cat puts its ears down", None, {}),
    ("why do people say put a sock in it", None, {}),
    ("i'm tired what should i do", None, {}),
    ("play a game with me", None, {}),
    ("how do i get the lid off a stuck jar", None, {}),
    ("how do you turn off autocorrect on an iphone", None, {}),
    ("can i have a dog in an apartment", None, {}),
    ("how do i make sure my passport is valid", None, {}),
]

# Device requests for devices the bench home lacks: with no home, the honest answer.
TUNE_9_NO_HOME: list[Case] = [
    ("turn the heat down", "HassClimateSetTemperature", {}),
    ("crank up the air conditioning", "HassClimateSetTemperature", {}),
    ("make it a bit cooler in the bedroom", "HassClimateSetTemperature", {}),
    ("lights on upstairs", "HassTurnOn", {}),
    ("switch the lamp off in the study", "HassTurnOff", {}),
    ("play some classical music on the speaker", "HassMediaSearchAndPlay", {}),
    ("dock the hoover", "HassVacuumReturnToBase", {}),
    ("i need the porch light on", "HassTurnOn", {}),
    ("make sure the side gate is locked", "HassTurnOn", {}),
    ("is the heater on in the office", "HassGetState", {}),
    ("i'm going to bed switch off the landing light", "HassTurnOff", {}),
]
