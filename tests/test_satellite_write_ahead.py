"""How far ahead of the sound card the satellite writes (satellite.write_ahead.WriteAhead).

The card is :class:`CardModel`, a stand-in for the hardware that cannot run here (the room
simulator's model: it plays what it holds in real time, plays silence when it runs dry and
starts again at the next write, holds at most ``buffer_s``; a write beyond that is dropped, as
satellite.audio_io.CommandSink drops a frame rather than block the mic loop). The satellite's
ticks come every 30 ms with jitter and a stall whose frames are then written in a burst: what
ratcheted the old always-written card up to a full buffer of silence in front of every reply.
``lead_ms=-1`` is the old behaviour (every frame written): the first test fails with it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from satellite.audio_io import CommandSink
from satellite.write_ahead import WriteAhead
from voice_runtime.clock import ManualClock

RATE = 22050
FRAME_S = 0.03
FRAME = 662 * 2  # bytes of one 30 ms frame at 22050 Hz (rounded)
LOUD = b"\x10\x27" * (FRAME // 2)


class CardModel:
    """Plays written audio in real time; when it runs dry it plays silence until the next write."""

    def __init__(self, buffer_s: float = 0.1) -> None:
        self.buffer_s = buffer_s
        self.end = 0.0  # when what it holds has played
        self.plays: list[tuple[float, bytes]] = []  # (play start, chunk)

    def write(self, now: float, pcm: bytes) -> None:
        start = max(now, self.end)
        if start - now > self.buffer_s:
            return  # full: dropped
        self.plays.append((start, pcm))
        self.end = start + len(pcm) / (2 * RATE)


def _session(lead_ms: float) -> tuple[CardModel, dict[int, float]]:
    """Ticks over 9 s: silence with jitter and a 150 ms stall, a 1 s reply at 3.0 s, silence, a
    second reply at 6.0 s. Returns the card and, per reply frame's tick index, the tick's time."""
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=lead_ms, clock=clock)
    card = CardModel()
    ticks: dict[int, float] = {}
    backlog: list[int] = []
    for n in range(300):
        nominal = n * FRAME_S
        jitter = (n * 7 % 5) / 1000  # 0-4 ms late
        if 30 <= n < 35:  # a 150 ms stall: these frames are read (and written) in a burst at its end
            backlog.append(n)
            continue
        due = [*backlog, n]
        backlog = []
        for m in due:
            clock.advance(max(0.0, nominal + jitter - clock.now()))
            loud = 100 <= m < 133 or 200 <= m < 233
            pcm = LOUD if loud else bytes(FRAME)
            if loud:
                ticks[m] = nominal
            out = ahead.plan(pcm)
            if out is not None:
                card.write(clock.now(), out)
    return card, ticks


def _first_loud(card: CardModel, after: float) -> float:
    for start, pcm in card.plays:
        if start >= after and pcm.strip(b"\0"):
            lead = (len(pcm) - len(pcm.lstrip(b"\0"))) // 2 / RATE
            return start + lead
    raise AssertionError("no loud audio played")


def test_a_reply_starts_into_a_nearly_empty_card_not_behind_a_full_buffer_of_silence() -> None:
    card, ticks = _session(lead_ms=40)
    for first in (100, 200):
        delay = _first_loud(card, ticks[first]) - ticks[first]
        # The tick's jitter (<= 4 ms) + the 40 ms lead; always written, the stall's burst had
        # filled the card: 100 ms.
        assert delay <= 0.045, delay


def test_the_echo_delay_is_the_same_for_every_reply() -> None:
    card, ticks = _session(lead_ms=40)
    delays = [_first_loud(card, ticks[first]) - ticks[first] for first in (100, 200)]
    # The canceller's reference is the frame of each tick: its echo must come as late every time
    # (jitter at the two starts: 0 and 0 ms here; the lead takes what the card holds into account).
    assert abs(delays[0] - delays[1]) <= 0.001, delays


def test_no_gap_inside_a_reply() -> None:
    card, ticks = _session(lead_ms=40)
    for first in (100, 200):
        loud = [(start, pcm) for start, pcm in card.plays if pcm.strip(b"\0") and start >= ticks[first] - 0.001]
        loud = loud[:33]
        for (start, pcm), (following, _) in zip(loud, loud[1:], strict=False):
            assert abs(start + len(pcm) / (2 * RATE) - following) < 1e-9, (start, following)


def test_idle_silence_is_not_written_and_the_card_drained_on_silence() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=40, hang_ms=300, clock=clock)
    written = []
    for n in range(60):
        clock.advance(FRAME_S)
        pcm = LOUD if n < 10 else bytes(FRAME)
        written.append(ahead.plan(pcm))
    assert written[0] is not None and written[0].endswith(LOUD) and len(written[0]) > FRAME  # the lead in front
    # After the sound, 0.3 s of silence is still written (the card stops on zeros), then nothing.
    assert all(w == bytes(FRAME) for w in written[10:19])
    assert all(w is None for w in written[20:])
    assert ahead.level_s == 0.0


def test_a_sound_soon_after_the_last_gets_only_the_lead_the_card_lacks() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=40, hang_ms=0, clock=clock)
    first = ahead.plan(LOUD)
    assert first is not None and len(first) - FRAME == round(0.04 * RATE) * 2
    clock.advance(FRAME_S)
    assert ahead.plan(bytes(FRAME)) is None  # hang 0: idle at once; the card still holds 40 ms
    clock.advance(0.02)
    again = ahead.plan(LOUD)
    assert again is not None
    # It holds 0.04 + 0.03 - 0.05 = 20 ms: 20 ms of silence make the 40 ms lead.
    assert abs((len(again) - FRAME) / 2 / RATE - 0.02) < 0.001


def test_a_dropped_card_starts_the_next_sound_with_the_lead_again() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=40, clock=clock)
    ahead.plan(LOUD)
    clock.advance(FRAME_S)
    assert ahead.plan(LOUD) == LOUD  # streaming: as it comes
    ahead.dropped()  # a barge-in killed the sound command
    clock.advance(FRAME_S)
    assert ahead.plan(bytes(FRAME)) is None
    again = ahead.plan(LOUD)
    assert again is not None and len(again) - FRAME == round(0.04 * RATE) * 2


async def test_the_command_speaker_writes_no_idle_silence_and_a_lead_before_a_sound(tmp_path: Path) -> None:
    out = tmp_path / "played.raw"
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", f"exec cat > {out}"], RATE, lead_ms=40, clock=clock)
    await sink.open()
    for _ in range(100):  # 3 s of idle silence: the old sink wrote it all (the device queue stayed full)
        clock.advance(FRAME_S)
        await sink.write(bytes(FRAME))
    clock.advance(FRAME_S)
    await sink.write(LOUD)
    proc = sink._proc
    assert proc is not None and proc.stdin is not None
    proc.stdin.close()  # end of input: cat writes everything and exits
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    await sink.close()
    data = out.read_bytes()
    assert data == bytes(round(0.04 * RATE) * 2) + LOUD


def test_a_start_after_a_stream_that_ran_dry_is_reported_as_realigned() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=40, hang_ms=100, clock=clock)

    def reply(stall_s: float) -> None:
        for n in range(20):
            clock.advance(FRAME_S + (stall_s if n == 10 else 0.0))
            ahead.plan(LOUD)
        for _ in range(10):  # the hang, then idle: the card drains
            clock.advance(FRAME_S)
            ahead.plan(bytes(FRAME))

    reply(stall_s=0.0)
    reply(stall_s=0.0)
    assert (ahead.starts, ahead.realigned) == (2, 0)  # the same echo delay every time: nothing to re-measure
    reply(stall_s=0.035)  # within the 40 ms lead: the card did not run dry
    assert ahead.realigned == 0
    reply(stall_s=0.06)  # it ran dry: from then on the reply played 20 ms later than anchored ...
    assert ahead.realigned == 0
    reply(stall_s=0.0)  # ... and this start puts it back: the canceller must measure the delay again
    assert (ahead.starts, ahead.realigned) == (5, 1)
    ahead.slipped()  # a dropped frame, not streaming: nothing moved
    reply(stall_s=0.0)
    assert ahead.realigned == 1
