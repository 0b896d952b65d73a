"""The write-ahead's default lead (satellite.write_ahead): a reply's first sound comes sooner.

The card is ``test_satellite_write_ahead.CardModel`` (it plays what it holds in real time and
silence when dry). A reply's first frame is written at the mic tick after it came in and plays
after what the card holds then: the lead and less than a trim unit more. Since session 24 the
default lead is 20 ms (40 before: the first two tests fail on that code), raised to 40 ms for
``DRY_HOLD_S`` after the card ran dry (a stall longer than what it held); the stream stays one
unbroken stream, its trims counted to the sample, so the echo canceller's reference stays aligned.
"""

from __future__ import annotations

from test_satellite_write_ahead import FRAME_S, LOUD, RATE, UNIT_S, CardModel, Session, frame_samples

from satellite import write_ahead
from satellite.write_ahead import WriteAhead
from voice_runtime.clock import ManualClock


def _first_sound(ahead: WriteAhead, clock: ManualClock, card: CardModel, idle_ticks: int) -> float:
    """Idle ticks (30 ms, 0-4 ms jitter), then a reply: how long after its first frame was written it plays."""
    start = clock.now()
    for n in range(idle_ticks + 1):
        clock.advance(max(0.0, start + (n + 1) * FRAME_S + (n * 7 % 5) / 1000 - clock.now()))
        size = frame_samples(n)
        pcm = LOUD[: size * 2] if n == idle_ticks else bytes(size * 2)
        out = ahead.plan(pcm)
        if out is None:
            continue
        plays = max(clock.now(), card.end) + (len(out) - len(pcm)) / (2 * RATE)
        card.write(clock.now(), out)
    return plays - clock.now()


def test_a_reply_after_silence_plays_within_the_default_lead_and_a_unit() -> None:
    clock = ManualClock()
    ahead, card = WriteAhead(RATE, clock=clock), CardModel()
    waited = _first_sound(ahead, clock, card, idle_ticks=100)
    assert 0.015 <= waited < 0.03, waited  # session 23's default: 0.040-0.060 s
    assert card.dry == 0


def test_the_lead_is_40_ms_for_a_while_after_the_card_ran_dry_then_20_again() -> None:
    clock = ManualClock()
    ahead, card = WriteAhead(RATE, clock=clock), CardModel()
    assert ahead.lead_s == write_ahead.LEAD_MS / 1000 == 0.02
    _first_sound(ahead, clock, card, idle_ticks=40)
    clock.advance(0.12)  # a stall: the card (at most 0.04 + 0.03 s) runs dry; the backlog at once
    for _ in range(4):
        if (out := ahead.plan(bytes(frame_samples(0) * 2))) is not None:
            card.write(clock.now(), out)
    assert ahead.underruns == 1
    assert ahead.lead_s == 0.04
    waited = _first_sound(ahead, clock, card, idle_ticks=100)  # 3 s later: still raised
    assert 0.035 <= waited < 0.04 + UNIT_S + 0.005, waited
    trimmed = ahead.trimmed
    waited = _first_sound(ahead, clock, card, idle_ticks=round(write_ahead.DRY_HOLD_S / FRAME_S))
    assert ahead.lead_s == 0.02
    assert 0.015 <= waited < 0.02 + UNIT_S, waited
    assert ahead.trimmed > trimmed and ahead.trimmed % write_ahead.trim_unit(RATE) == 0  # told to the canceller
    assert ahead.underruns == 1


def test_with_the_default_lead_every_reply_is_aligned_with_the_reference() -> None:
    session = Session(lead_ms=write_ahead.LEAD_MS, stall=(30, 0.15))
    offsets = session.offsets(range(101, 134)) + session.offsets(range(200, 233))
    assert max(offsets) - min(offsets) < 1e-6, (min(offsets), max(offsets))
    assert session.ahead.trimmed > 0


def test_a_card_written_within_5_ms_of_running_dry_counts_as_dry() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=20, clock=clock)
    ahead.plan(bytes(frame_samples(0) * 2))  # the start: the lead and the frame
    level = ahead.level_s
    clock.advance(level - 0.003)  # late: 3 ms of it left when the next frame comes
    ahead.plan(bytes(frame_samples(1) * 2))
    # An estimate off by a ms or two could hide a real underrun: the echo delay is measured again
    # (the satellite follows ``underruns``) and the lead goes to 40 ms.
    assert ahead.underruns == 1
    assert ahead.lead_s == 0.04



def _idle_then_stall(ahead: WriteAhead, clock: ManualClock, card: CardModel) -> None:
    """40 idle ticks (the last sound long over), then a 0.12 s stall that runs the card dry."""
    for n in range(40):
        if (out := ahead.plan(bytes(frame_samples(n) * 2))) is not None:
            card.write(clock.now(), out)
        clock.advance(FRAME_S)
    clock.advance(0.12)
    for _ in range(4):  # the backlog at once
        if (out := ahead.plan(bytes(frame_samples(0) * 2))) is not None:
            card.write(clock.now(), out)


def test_a_card_that_ran_dry_once_while_idle_keeps_the_20_ms_lead_for_the_reply() -> None:
    # Session 31: on a quiet box most underruns are single ones while idle; the raise to 40 ms then
    # delayed the reply that followed by 20 ms (38 of 108 of sessions 28-30's quiet room turns).
    clock = ManualClock()
    ahead, card = WriteAhead(RATE, clock=clock), CardModel()
    _idle_then_stall(ahead, clock, card)
    assert ahead.underruns == 1  # counted: the satellite measures the echo delay again
    assert ahead.lead_s == 0.02
    waited = _first_sound(ahead, clock, card, idle_ticks=20)
    assert 0.015 <= waited < 0.02 + UNIT_S, waited  # main: 0.04 s and more


def test_only_a_second_idle_underrun_within_the_hold_raises_the_lead() -> None:
    # a loaded box runs dry again and again: the margin is kept as before
    clock = ManualClock()
    ahead, card = WriteAhead(RATE, clock=clock), CardModel()
    _idle_then_stall(ahead, clock, card)
    assert ahead.lead_s == 0.02
    _idle_then_stall(ahead, clock, card)
    assert ahead.underruns == 2
    assert ahead.lead_s == 0.04
