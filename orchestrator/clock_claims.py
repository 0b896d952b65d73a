"""Is a time or date the LLM states as "now" the real one? (used by :mod:`orchestrator.honesty`)

The LLM has no clock. Asked "could you tell me the time" in a phrasing the templates miss, a small
model says "It's 3:15 PM." whatever the time is. :func:`fix_clock_claim` finds a clause that
states the current time ("it's 3:15", "the time is 10 am", "right now it is 9 o'clock") or date
("today is Monday", "it's December 3rd") and, when it is not the real local time (two minutes
either side) or date, returns the real one to say instead. Times and dates of anything else
("the sun sets at 5 pm", "the moon landing was on July 20") are not claims about now and pass.
"""

from __future__ import annotations

import datetime as dt
import re

from .answers import clock_answer

_AP = r"(?P<ap>a\.?\s?m\b\.?|p\.?\s?m\b\.?|o'?\s?clock\b)"
# "it's 3:15 pm", "the time is 10 am", "it is now 9 o'clock", "the current time is 14:05"
_TIME_NOW = re.compile(
    r"\b(?:it's|it is|its|the (?:current |local )?time (?:is|now is|right now is)|the time's)\s+"
    r"(?:now\s+|currently\s+|exactly\s+|about\s+|around\s+|approximately\s+|just\s+|right now\s+|already\s+)*"
    rf"(?P<h>\d{{1,2}})(?:[:.](?P<m>\d{{2}}))?\s*{_AP}?"
    # or a clause that is only a clock time ("Today is Tuesday. 23:12.")
    rf"|^\s*(?P<h2>\d{{1,2}})[:.](?P<m2>\d{{2}})\s*(?P<ap2>a\.?\s?m\b\.?|p\.?\s?m\b\.?)?\s*[.!]?\s*$"
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
# "today is monday", "it's tuesday", "today's date is the 3rd of december", "the date is ..."
_DATE_NOW = re.compile(r"\b(?:today is|today's|it's|it is|the date (?:today )?is|the current date is|"
                       r"the (?:current )?year is|this year is)\b")
_WEEKDAY = re.compile(rf"\b({'|'.join(_WEEKDAYS)})\b")
_MONTH_DAY = re.compile(rf"\b(?:({'|'.join(_MONTHS)})\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b|"
                        rf"(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({'|'.join(_MONTHS)}))\b")
_ELSEWHERE = re.compile(r"\s*(?:in|at)\s+(?!the\s+(?:morning|afternoon|evening|night)\b)\w")
_ISO_DATE = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
_YEAR = re.compile(r"(?<![\d-])((?:19|20)\d\d)(?![\d-])")
_SLACK_MINUTES = 2


def _time_is_now(hour: int, minute: int | None, ap: str | None, now: dt.datetime) -> bool:
    if minute is None and not ap:
        return True  # "it's 5" without minutes or am/pm: too vague to call a time
    if hour > 23 or (minute is not None and minute > 59):
        return False
    if ap and ap[0] in "ap":
        if hour == 0 or hour > 12:
            return False
        hours = [hour % 12 + (12 if ap[0] == "p" else 0)]
    elif hour >= 13 or hour == 0:
        hours = [hour]
    else:  # 12-hour without am/pm, or "o'clock": either half of the day
        hours = [hour % 12, hour % 12 + 12]
    minutes = minute or 0
    for h in hours:
        said = now.replace(hour=h, minute=minutes, second=0, microsecond=0)
        for day in (-1, 0, 1):  # "11:59 PM" said at 00:01
            if abs((said + dt.timedelta(days=day) - now).total_seconds()) <= _SLACK_MINUTES * 60 + 59:
                return True
    return False


def _date_is_today(text: str, now: dt.datetime) -> bool:
    for weekday in _WEEKDAY.findall(text):
        if weekday != _WEEKDAYS[now.weekday()]:
            return False
    for m1, d1, d2, m2 in _MONTH_DAY.findall(text):
        month, day = (m1, d1) if m1 else (m2, d2)
        if month != _MONTHS[now.month - 1] or int(day) != now.day:
            return False
    if any((int(y), int(m), int(d)) != (now.year, now.month, now.day) for y, m, d in _ISO_DATE.findall(text)):
        return False
    return all(int(year) == now.year for year in _YEAR.findall(text))


def fix_clock_claim(clause: str, now: dt.datetime) -> str | None:
    """The real time or date to say instead of ``clause``; None when it states no wrong one."""
    text = " ".join(clause.lower().replace("’", "'").split())
    for found in _TIME_NOW.finditer(text):
        hour, minute, said_ap = (found["h"], found["m"], found["ap"]) if found["h"] else (
            found["h2"], found["m2"], found["ap2"])
        ap = said_ap.replace(".", "").replace(" ", "").replace("'", "") if said_ap else None
        if _ELSEWHERE.match(text, found.end()):
            continue  # "it's 3 am in tokyo": not the time here
        if not _time_is_now(int(hour), int(minute) if minute else None, ap, now):
            return clock_answer("HassGetCurrentTime", now) + " "
    stated = _DATE_NOW.search(text) and (_WEEKDAY.search(text) or _MONTH_DAY.search(text)
                                         or _ISO_DATE.search(text) or _YEAR.search(text))
    if stated and not _date_is_today(text, now):
        return clock_answer("HassGetCurrentDate", now) + " "
    return None
