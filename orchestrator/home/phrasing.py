"""The same request in the words the sentence templates know: pure, no I/O.

Text here is already normalized (lower case, punctuation gone). Recognition first tries what was
said; only when that fails (or matches just a wildcard command) does it try these forms:

- :func:`trim`: without leading fillers ("um", "hey"), polite or indirect openings ("would it be
  possible to ...", "go ahead and ...", "could you tell me what time it is", "can you check if the
  door is locked": "is the door locked") and trailing politeness ("please", "right now", "my
  friend");
- :func:`rephrase`: other words for the same thing: "would you mind switching off" -> "switch
  off", "fire up" / "kill" -> "turn on" / "turn off", "roll up the blinds" -> "raise the blinds",
  "half brightness" -> "50 percent", spoken durations ("an hour and a half" -> "1 hour and 30
  minutes") and added time ("put five more minutes on my timer" -> "add five minutes to my
  timer"), "hold" / "carry on with" a timer -> "pause" / "resume".
"""

from __future__ import annotations

import re

_LEAD = re.compile(r"^(?:(?:um+|uh+|umm+|er+|erm|hmm+|oh|ok|okay|so|well|alright|now|hey|hi|hello|please"
                   r"|actually|kindly|go ahead and|just|excuse me)\s+)+")
# A hesitation anywhere in the sentence, as whisper writes it: "turn on the uh bedroom light".
_FILLER = re.compile(r"(?<!\S)(?:u+h+|u+m+|e+r+|e+r+m+|u+h+m+|h+m+)(?!\S)")
# A remark before or after the request: "i'm cold set the heating to 23", "i'm off to bed lock up
# the house", "turn the fan off it's freezing", "close the blinds because the sun's in my eyes".
_SAYING = (r"(?:(?:i'm|i am|it's|it is|we're|we are)(?: (?:a bit|a little|so|really|very|quite|too|pretty"
           r"|kind of|getting|rather|way too|bloody))* (?:cold|freezing|chilly|hot|warm|boiling|roasting"
           r"|baking|stuffy|dark|bright|noisy|loud|late|tired)(?: (?:in here|here|now|today|tonight|outside))?"
           r"|(?:i'm|i am|we're|we are) (?:off|going|heading|leaving|done)(?: (?:out|home|away|to bed|to sleep"
           r"|to work|up|upstairs|now|for the (?:night|day)))*)")
_REMARK = re.compile(rf"^{_SAYING} (?=(?:please |can |could |would |will |set |turn |switch |put |make |open |close "
                     r"|lock |unlock |dim |bump |raise |lower |start |stop )\b)")
_REASON = re.compile(rf" (?:{_SAYING}|(?:because|cause|cos|coz|since) \S.*)$")
# A polite opening before a command: "would it be possible to", "i'd like you to", "could you
# kindly", "do me a favour and".
_POLITE = re.compile(r"^(?:(?:can|could|would|will) you (?:please )?(?:(?:kindly|just|like|maybe|possibly|quickly"
                     r"|actually|also) )*(?=(?:set|turn|switch|put"
                     r"|give|add|open|close|shut|lock|unlock|dim|bump|raise|lower|start|stop|pause|resume|cancel"
                     r"|mute|unmute|skip|play|make|get|do|time|have) )"
                     r"|(?:would|will) it be possible to |is it possible to "
                     r"|(?:i'd|i would) like you to "
                     r"|i (?:want|need) you to |(?:could|can) i ask you to |do me a favou?r and "
                     r"|be a (?:dear|love|star) and |if you (?:could|would|can) )")
# An indirect question: "could you tell me / do you know / any idea what time it is".
_ASK = re.compile(r"^(?:(?:(?:can|could|would|will) you (?:please )?)?(?:tell me|let me know)|(?:do|would) you"
                  r"(?: happen to)? know|(?:have you )?(?:got )?any idea|(?:can you |could you )?remind me)"
                  r"\s+(?=(?:what|which|how|when)\b)")
# An indirect yes/no question: "can you check if the front door is locked" -> "is the front door
# locked".
_IF = re.compile(r"^(?:(?:can|could|would|will) you (?:please )?)?(?:check|see|tell me|find out|let me know"
                 r"|(?:do|would) you know)(?: if| whether) (?P<what>(?:the|my|our|all) .+?) (?P<verb>is|are)"
                 r" (?P<rest>\S.*)$")
_TAIL = re.compile(r"\s+(?:right now|at the moment|now|thanks|thank you|please|for me|or not"
                   r"|if you (?:would|could|can|don't"
                   r" mind)|would you|could you|will you|(?:my )?(?:friend|mate|buddy|dear|love))$")


def trim(text: str) -> str:
    """``text`` without leading fillers, a polite opening, an indirect ask or trailing
    politeness and "right now" (see the module doc)."""
    text = " ".join(_FILLER.sub(" ", text).split()) or text
    while True:
        short = _REASON.sub("", _REMARK.sub("", _LEAD.sub("", text)))
        short = _POLITE.sub("", short)
        short = _TAIL.sub("", _IF.sub(r"\g<verb> \g<what> \g<rest>", _ASK.sub("", short)))
        if short == text or not short:
            return text
        text = short


def undouble(text: str) -> str:
    """A sentence said once but transcribed several times ("turn the light blue turn the light
    blue", "close the garage door close the garage door close the", a loop small Whisper models
    make, seen in the room bench and on noisy audio) counts once."""
    words = text.split()
    for size in range(2, len(words) // 2 + 1):
        once = words[:size]
        if all(w == once[i % size] for i, w in enumerate(words)):
            return " ".join(once)
    return text


def looped(text: str) -> bool:
    """The transcript repeats itself: two or more words said again right after ("open the garage
    door open the garage door", "turn on the turn on the light"), a loop small Whisper models
    make, mostly on noisy audio; cut short at the end too ("open the garage door open the
    garage")."""
    words = text.split()
    for start in range(2, len(words) - 1):  # the end says the beginning again
        tail = words[start:]
        if len(tail) <= start and words[:len(tail)] == tail:
            return True
    for n in range(2, len(words) // 2 + 1):
        for i in range(len(words) - 2 * n + 1):
            if words[i:i + n] == words[i + n:i + 2 * n]:
                return True
    return False


# "would you mind switching off ...": the verb's plain form.
_GERUNDS = {
    "turning": "turn", "switching": "switch", "opening": "open", "closing": "close", "shutting": "shut",
    "locking": "lock", "unlocking": "unlock", "setting": "set", "putting": "put", "dimming": "dim",
    "brightening": "brighten", "raising": "raise", "lowering": "lower", "pausing": "pause", "resuming": "resume",
    "starting": "start", "stopping": "stop", "cancelling": "cancel", "canceling": "cancel", "making": "make",
    "changing": "change", "muting": "mute", "unmuting": "unmute", "checking": "check", "telling": "tell",
    "adding": "add", "skipping": "skip", "playing": "play",
}
_MIND = re.compile(r"^(?:would|do) you mind (?P<verb>\w+ing)\b")
_NUM = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|forty|fifty|sixty)"
_UNIT = r"(?:seconds?|minutes?|hours?)"
_TIMER = r"(?P<t>(?:the |my )?(?:\w+ )?timer)"  # "the timer", "my egg timer"
# Other words for on and off: "fire up the coffee maker", "kill the lights", "power down the fan".
_ON_OFF = [
    (re.compile(r"^(?:fire|start|power|boot) up\b"), "turn on"),
    (re.compile(r"^power on\b"), "turn on"),
    (re.compile(r"^(?:shut|power|cut) (?:off|down)\b"), "turn off"),
    (re.compile(r"^kill\b"), "turn off"),
]
# Casual speech: "gonna", "wanna".
_CASUAL = [(re.compile(r"\bgonna\b"), "going to"), (re.compile(r"\bwanna\b"), "want to"),
           (re.compile(r"\bgotta\b"), "have to")]
# Other verbs for a new level: "bump the thermostat to 20", "knock the heating down to 18".
_LEVEL = re.compile(r"^(?:bump|knock|crank|whack|nudge|push|drop)(?: (?:it|the|my) (?P<what>.+?))?"
                    r"(?: (?P<dir>up|down))? to (?P<n>\S+)(?P<rest>.*)$")
# A state asked for instead of an action: "can i have the kitchen light on", "i need the front
# door unlocked", "make sure the back door's locked", "i'd like the blinds down".
_WANT = re.compile(r"^(?:(?:can|could|may) (?:i|we) (?:have|get)|(?:i|we) (?:need|want|would like)|(?:i'd|we'd) like"
                   r"|make sure|ensure|make certain) (?P<what>\S.*?)(?:'s| is| are)? (?P<state>on|off|locked|unlocked"
                   r"|open|opened|closed|shut|up|down)$")
_WANT_VERB = {"on": "turn on", "off": "turn off", "locked": "lock", "unlocked": "unlock", "open": "open",
              "opened": "open", "closed": "close", "shut": "close", "up": "raise", "down": "lower"}
# Other verbs for "turn" with on/off: "put the fan on", "flip on the light", "get the lamp off".
_TURN_LIKE = re.compile(r"^(?:put|flip|flick|pop|click|get|have) (?:(?P<p1>on|off) (?P<w1>(?:the|my|our|all|both)\b.*)"
                        r"|(?P<w2>(?:the|my|our|all|both) .+?) (?P<p2>on|off))$")
# "pause that", "resume it": the media playing.
_PRONOUN_MEDIA = re.compile(r"^(?P<verb>pause|resume|unpause) (?:it|that|this)$")
# "set the volume on the tv to 35": the player's volume.
_VOLUME_OF = re.compile(r"^(?:set|put|turn|change|bring) (?:up |down )?the volume (?:on|of|for) (?:the |my )?"
                        r"(?P<what>.+?) (?:up |down )?(?:to|at) (?P<n>\d+)(?: percent|%)?$")
# "get the coffee maker going": turn it on.
_GET_GOING = re.compile(r"^get (?P<what>(?:the|my) .+) (?:going|started|running)$")
# Media: "go back a song", "back a track", "skip ahead to the next track".
_MEDIA = [
    (re.compile(r"^(?:go |skip |jump )?back (?:a|one) (?P<u>song|track)(?P<rest>.*)$"),
     r"play the previous \g<u>\g<rest>"),
    (re.compile(r"^(?:skip|go|jump) (?:ahead|forward|forwards|on) to (?:the )?next\b"), "skip to the next"),
]
# Volume belongs to a player: "put the tv volume at 60", "tv volume 50", "the tv's volume to 30".
_VOLUME = re.compile(r"^(?:(?:put|set|turn|change|make|bring) )?(?:the |my )?(?P<what>.+?)(?:'s)? volume"
                     r"(?: (?:up |down )?(?:to|at|on))? (?P<n>\d+)(?: percent|%)?$")
# Covers said terse: "blinds up", "the garage door down"; "lock the house up".
_UP_DOWN = re.compile(r"^(?:the |my )?(?P<what>(?:\w+ )*?(?:blinds?|shades?|curtains?|shutters?|garage door|garage))"
                      r" (?P<dir>up|down)$")
_LOCK_UP = re.compile(r"^lock (?P<what>everything|(?:the|my) (?:house|home|place|doors)) up$")
# Covers: "roll up the blinds", "pull the shades down".
_COVER = [
    (re.compile(r"^(?:roll|pull|wind|bring) up\b"), "raise"),
    (re.compile(r"^(?:roll|pull|wind|bring) down\b"), "lower"),
    (re.compile(r"^(?:roll|pull|wind|bring|put|get|move|let) (?P<what>.+) up$"), r"raise \g<what>"),
    (re.compile(r"^(?:roll|pull|wind|bring|put|get|move|let) (?P<what>.+) down$"), r"lower \g<what>"),
]
_BRIGHTNESS = [
    (re.compile(r"\b(?:to |at |on )?half (?:brightness|power)\b"), "to 50 percent"),
    (re.compile(r"\b(?:to |at |on )?(?:full|max|maximum) (?:brightness|power)\b"), "to 100 percent"),
    (re.compile(r"\b(?:to |at |on )?(?:minimum|min|lowest) (?:brightness|power)\b"), "to 1 percent"),
]
# Time left said in units: "how many minutes are left (on the timer)" -> "how much time is left".
_LEFT = re.compile(rf"^how many {_UNIT} (?:(?:are |is )?(?:there )?|(?:do i have|have i got|have we got|do we have) )"
                   rf"left(?P<rest> on {_TIMER})?$")
# "time ten minutes (for me)": a timer.
_TIME_FOR = re.compile(rf"^time (?P<d>{_NUM} {_UNIT}(?: and {_NUM} {_UNIT})?)(?: for me)?$")
# Spoken durations (only in a timer request): "an hour and a half", "half an hour", "an hour".
_DURATIONS = [
    (re.compile(r"\b(?:an|one|a) hour and a half\b"), "1 hour and 30 minutes"),
    (re.compile(r"\b(?P<n>\d+) and a half hours\b"), r"\g<n> hours and 30 minutes"),
    (re.compile(r"\b(?:an|one|a) minute and a half\b"), "90 seconds"),
    (re.compile(r"\b(?P<n>\d+) and a half minutes\b"), r"\g<n> minutes and 30 seconds"),
    (re.compile(r"\b(?:half an hour|a half hour|half hour|half an hour's)\b"), "30 minutes"),
    (re.compile(r"\b(?:a quarter of an hour|quarter of an hour|a quarter hour)\b"), "15 minutes"),
    (re.compile(r"\ba couple (?:of )?(?P<u>minutes|hours|seconds)\b"), r"2 \g<u>"),
    (re.compile(r"\b(?:an|one) hour\b"), "1 hour"),
    (re.compile(r"\b(?:a|one) (?P<u>minute|second)\b"), r"1 \g<u>"),
]
# Time added to a timer: "put five more minutes on my timer", "give the timer another two
# minutes", "extend the timer by 5 minutes" -> "add N UNIT to [the|my] [NAME] timer".
_MORE = re.compile(rf"\b(?:another |an extra )?(?P<n>{_NUM}) (?:more |extra |additional )?(?P<u>{_UNIT})\b")
_ADD = [
    (re.compile(rf"^(?:put|stick|throw|add) (?:on )?(?P<d>{_NUM} {_UNIT}) (?:on|onto|to) {_TIMER}$"),
     r"add \g<d> to \g<t>"),
    (re.compile(rf"^give {_TIMER} (?P<d>{_NUM} {_UNIT})$"), r"add \g<d> to \g<t>"),
    (re.compile(rf"^give it (?P<d>{_NUM} {_UNIT})$"), r"add \g<d> to the timer"),
    (re.compile(rf"^(?:extend|lengthen) {_TIMER} by (?P<d>{_NUM} {_UNIT})$"), r"add \g<d> to \g<t>"),
]
_FOR_A_BIT = r" for (?:a (?:moment|minute|sec|second|bit)|now)"
_TIMER_VERBS = [  # "stop the timer" alone cancels it (the official templates)
    (re.compile(rf"^(?:get rid of|delete|remove|clear|kill|ditch|bin|drop|scrap|scratch|abort|end|forget(?: about)?"
                rf"|(?:turn|switch) off) {_TIMER}$"), r"cancel \g<t>"),
    (re.compile(rf"^(?:turn|switch) {_TIMER} off$"), r"cancel \g<t>"),
    # time taken off: "knock two minutes off the timer", "shave a minute off my timer"
    (re.compile(rf"^(?:knock|take|shave|cut|chop|trim|drop) (?:off )?(?P<d>{_NUM} {_UNIT}) (?:off|from) {_TIMER}$"),
     r"remove \g<d> from \g<t>"),
    (re.compile(r"^(?:do|make|give|get) me an? (?P<rest>(?:\w+ )?timer\b.*)$"), r"set a \g<rest>"),
    (re.compile(rf"^(?:hold|freeze) {_TIMER}(?:{_FOR_A_BIT})?$"), r"pause \g<t>"),
    (re.compile(rf"^stop {_TIMER}{_FOR_A_BIT}$"), r"pause \g<t>"),
    (re.compile(rf"^(?:carry on|keep going|go on|continue|get going again) with {_TIMER}$"), r"resume \g<t>"),
    (re.compile(rf"^(?:restart|start|unfreeze) {_TIMER} again$"), r"resume \g<t>"),
    (re.compile(rf"^(?:unfreeze|unhold) {_TIMER}$"), r"resume \g<t>"),
]


# What a device's name ends with: a command in other words ("kill the spider") that only a
# wildcard template matches is a home command only when it names a device.
DEVICE_NOUN = re.compile(
    r"\b(?:lights?|lamps?|fans?|tv|television|heater|heating|radio|speakers?|plugs?|switch|kettle|maker|machine"
    r"|blinds?|shades?|curtains?|shutters?|doors?|garage|gates?|locks?|thermostat|ac|air conditioning|purifier"
    r"|humidifier|dishwasher|washer|dryer|vacuum|sprinklers?|pump|outlets?|sockets?|music|player|stereo"
    r"|projector|boiler|awning|heat|cooler)$")


def rephrase(text: str) -> str:
    """``text`` (normalized, trimmed) in the words the templates know (see the module doc); the
    same text when nothing applies."""
    for pattern, repl in _CASUAL:
        text = pattern.sub(repl, text)
    mind = _MIND.match(text)
    if mind and mind.group("verb") in _GERUNDS:
        text = _GERUNDS[mind.group("verb")] + text[mind.end():]
    text = _LEFT.sub(r"how much time is left\g<rest>", _TIME_FOR.sub(r"set a timer for \g<d>", text))
    if "timer" in text or text.startswith("give it "):
        for pattern, repl in _DURATIONS:
            text = pattern.sub(repl, text)
        text = _MORE.sub(lambda m: f"{m.group('n')} {m.group('u')}", text)
        for pattern, repl in _ADD + _TIMER_VERBS:
            text = pattern.sub(repl, text)
        return text
    for pattern, repl in _ON_OFF + _COVER + _MEDIA:
        text = pattern.sub(repl, text, count=1)
    text = _GET_GOING.sub(r"turn on \g<what>", text)
    if (want := _WANT.match(text)) is not None:
        text = f"{_WANT_VERB[want.group('state')]} {want.group('what')}"
    if (turn := _TURN_LIKE.match(text)) is not None:
        text = f"turn {turn.group('p1') or turn.group('p2')} {turn.group('w1') or turn.group('w2')}"
    text = _PRONOUN_MEDIA.sub(r"\g<verb> the media", text)
    if (volume_of := _VOLUME_OF.match(text)) is not None:
        text = f"set the {volume_of.group('what')} volume to {volume_of.group('n')}"
    text = _UP_DOWN.sub(lambda m: f"{'raise' if m.group('dir') == 'up' else 'lower'} the {m.group('what')}", text)
    text = _LOCK_UP.sub(r"lock up \g<what>", text)
    if (level := _LEVEL.match(text)) is not None:
        what = level.group("what") or "heating"
        verb = f"turn the {what} {level.group('dir')}" if level.group("dir") else f"set the {what}"
        text = f"{verb} to {level.group('n')}{level.group('rest')}"
    if (volume := _VOLUME.match(text)) is not None:
        text = f"set the {volume.group('what')} volume to {volume.group('n')}"
    for pattern, repl in _BRIGHTNESS:
        text = pattern.sub(repl, text)
    return " ".join(text.split())
