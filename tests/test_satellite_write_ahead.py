"""How far ahead of the sound card the satellite writes (satellite.write_ahead.WriteAhead).

The card is :class:`CardModel`, a stand-in for the hardware that cannot run here (the room
simulator's model: it plays what it holds in real time, plays silence when it runs dry and
starts again at the next write, holds at most ``buffer_s``; a write beyond that is dropped, as
satellite.audio_io.CommandSink drops a frame rather than block the mic loop). The satellite's
ticks come every 30 ms with jitter and a stall whose frames are then written in a burst: what
ratcheted the old always-written card up to a full buffer of silence in front of every reply.
``lead_ms=-1`` is the old behaviour (every frame written): the first test fails with it.

The canceller's reference is the frame of each tick; it is right only while each sample plays a
fixed time after its tick, less the silence the write-ahead reports it left out (``trimmed``).
Session 14's write-ahead started every sound into a drained card at ``lead`` after the moment it
was written: the tick's jitter moved the echo from one reply to the next (the room, 0 dB echo:
ERLE 21.4 dB against 31.3 dB written always). The tests with "aligned" in their name fail on it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from satellite import write_ahead
from satellite.audio_io import CommandSink
from satellite.write_ahead import WriteAhead
from voice_runtime.clock import ManualClock

RATE = 22050
FRAME_S = 0.03
FRAME = 662 * 2  # bytes of one 30 ms frame at 22050 Hz (rounded)
LOUD = b"\x10\x27" * (FRAME // 2)


def frame_samples(n: int) -> int:
    """Samples of tick ``n``'s frame: 661.5 on average (satellite.playback.Playback.next_frame)."""
    return (n + 1) * 1323 // 2 - n * 1323 // 2


UNIT_S = 441 / RATE  # 20 ms: a whole number of samples at 22050 and at 16000 Hz


class CardModel:
    """Plays written audio in real time; when it runs dry it plays silence until the next write."""

    def __init__(self, buffer_s: float = 0.1) -> None:
        self.buffer_s = buffer_s
        self.end = 0.0  # when what it holds has played
        self.plays: list[tuple[float, bytes]] = []  # (play start, chunk)
        self.dry = 0  # writes into an empty card (it played silence before them)

    def write(self, now: float, pcm: bytes) -> None:
        start = max(now, self.end)
        if start - now > self.buffer_s:
            return  # full: dropped
        self.dry += now > self.end + 1e-9 and bool(self.plays)
        self.plays.append((start, pcm))
        self.end = start + len(pcm) / (2 * RATE)


class Session:
    """Ticks over 9 s: silence with jitter, a 1 s reply at tick 101, silence, a second reply at
    tick 200. ``stall``: (tick, seconds) the satellite reads nothing, then the backlog at once.
    Per loud frame: the stream time of its first sample (samples handed over before it), the card
    time it played at and the samples left out before it."""

    def __init__(self, lead_ms: float, stall: tuple[int, float] | None = None, hang_ms: float = 500) -> None:
        self.clock = ManualClock()
        self.ahead = WriteAhead(RATE, lead_ms=lead_ms, hang_ms=hang_ms, clock=self.clock)
        self.card = CardModel()
        self.loud: dict[int, tuple[float, float, int]] = {}
        backlog: list[int] = []
        handed = 0
        for n in range(300):
            nominal = n * FRAME_S
            jitter = (n * 7 % 5) / 1000  # 0-4 ms late: 2 ms at tick 101, 0 at tick 200
            if stall is not None and stall[0] <= n and nominal < stall[0] * FRAME_S + stall[1]:
                backlog.append(n)
                continue
            due, backlog = [*backlog, n], []
            for m in due:
                self.clock.advance(max(0.0, nominal + jitter - self.clock.now()))
                size = frame_samples(m)
                loud = 101 <= m < 134 or 200 <= m < 233
                pcm = LOUD[: size * 2] if loud else bytes(size * 2)
                handed += size
                out = self.ahead.plan(pcm)
                if out is None:
                    continue
                start = max(self.clock.now(), self.card.end) + (len(out) - len(pcm)) / (2 * RATE)
                self.card.write(self.clock.now(), out)
                if loud:
                    trimmed = self.ahead.trimmed if hasattr(self.ahead, "trimmed") else 0
                    self.loud[m] = ((handed - size) / RATE, start, trimmed)

    def offsets(self, ticks: range) -> list[float]:
        """Play time less stream time, plus what was left out before: the echo delay the
        canceller, told of every trim, must find the same for every frame."""
        return [start - tick + trimmed / RATE for tick, start, trimmed in (self.loud[m] for m in ticks)]


def test_a_reply_starts_into_a_nearly_empty_card_not_behind_a_full_buffer_of_silence() -> None:
    session = Session(lead_ms=40, stall=(30, 0.15))
    for first in (101, 200):
        tick, start, _ = session.loud[first]
        # The lead and at most a unit more (the stall's burst had filled the card: it is trimmed in
        # 20 ms units while idle) and the tick's jitter (<= 4 ms). Always written: 100 ms.
        assert start - tick <= 0.04 + UNIT_S + 0.005, start - tick


def test_every_reply_is_aligned_with_the_reference_to_the_sample() -> None:
    session = Session(lead_ms=40)
    offsets = session.offsets(range(101, 134)) + session.offsets(range(200, 233))
    # One unbroken stream: the jitter at the two starts (2 ms, 0 ms) moves nothing (session 14's
    # write-ahead: the second reply 2 ms sooner than the first, unannounced).
    assert max(offsets) - min(offsets) < 1e-6, (min(offsets), max(offsets))
    assert session.card.dry == 0


def test_after_a_stall_ran_the_card_dry_the_trims_keep_the_reference_aligned() -> None:
    session = Session(lead_ms=40, stall=(110, 0.09))  # inside the first reply
    assert session.ahead.underruns == 1  # reported: the satellite measures the echo delay again
    assert session.card.dry == 1
    after = session.offsets(range(113, 134)) + session.offsets(range(200, 233))
    # Later by the stall's excess over the card's level; the burst that caught up raised the level,
    # and the idle silence left out before the second reply (reported, exact) keeps it aligned.
    assert max(after) - min(after) < 1e-6, (min(after), max(after))
    assert session.ahead.trimmed > 0
    before = session.offsets(range(101, 110))
    assert after[0] - before[0] > 0.01


def test_no_gap_inside_a_reply() -> None:
    session = Session(lead_ms=40)
    for first in (101, 200):
        loud = [(start, pcm) for start, pcm in session.card.plays if pcm.strip(b"\0")]
        loud = [p for p in loud if p[0] + len(p[1]) / (2 * RATE) > session.loud[first][1]][:33]
        assert len(loud) == 33
        for (start, pcm), (following, _) in zip(loud, loud[1:], strict=False):
            assert abs(start + len(pcm) / (2 * RATE) - following) < 1e-9, (start, following)


def test_idle_silence_is_trimmed_in_whole_units_down_to_the_lead() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=40, hang_ms=300, clock=clock)
    written: list[bytes | None] = []
    for n in range(60):
        clock.advance(0.0 if 12 <= n < 17 else FRAME_S)  # a burst after a stall: 150 ms more in the card
        written.append(ahead.plan(LOUD if n < 10 else bytes(FRAME)))
    first = written[0]
    assert first is not None and first == bytes(round(0.04 * RATE) * 2) + LOUD  # the lead in front, once
    assert all(w == bytes(FRAME) for w in written[10:20])  # the hang: written whole
    assert ahead.trimmed > 0 and ahead.trimmed % write_ahead.trim_unit(RATE) == 0
    assert sum(FRAME - len(w or b"") for w in written[1:]) // 2 == ahead.trimmed
    clock.advance(FRAME_S)  # what the card holds when the next frame comes: the lead and less than a unit more
    assert 0.04 <= ahead.level_s < 0.04 + UNIT_S


def test_trim_units_are_whole_samples_at_16k() -> None:
    assert [write_ahead.trim_unit(r) for r in (22050, 44100, 48000, 16000, 8000)] == [441, 441, 3, 1, 1]


def test_a_dropped_card_starts_the_next_write_with_the_lead_again() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, lead_ms=40, clock=clock)
    ahead.plan(LOUD)
    clock.advance(FRAME_S)
    assert ahead.plan(LOUD) == LOUD  # as it comes
    ahead.dropped()  # a barge-in killed the sound command
    clock.advance(FRAME_S)
    again = ahead.plan(LOUD)
    assert again == bytes(round(0.04 * RATE) * 2) + LOUD
    assert ahead.underruns == 0  # a new card, not a dry one


async def test_the_command_speaker_keeps_only_the_lead_of_idle_silence(tmp_path: Path) -> None:
    out = tmp_path / "played.raw"
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", f"exec cat > {out}"], RATE, max_queue_ms=10_000, lead_ms=40, clock=clock)
    await sink.open()
    for n in range(100):  # 3 s of idle silence with a stall's burst (150 ms more in the card)
        clock.advance(0.0 if 5 <= n < 10 else FRAME_S)
        await sink.write(bytes(FRAME))
        if n == 0:  # the card plays from cat's first read on (session 25): the clock runs from there
            async with asyncio.timeout(10):
                while sink.ahead.awaiting_reader:  # noqa: ASYNC110 (cat's first read: another process)
                    await asyncio.sleep(0.002)
    clock.advance(FRAME_S)
    await sink.write(LOUD)
    proc = sink._proc
    assert proc is not None and proc.stdin is not None
    proc.stdin.close()  # end of input: cat writes everything and exits
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    await sink.close()
    data = out.read_bytes()
    assert data.endswith(LOUD) and not data[: -len(LOUD)].strip(b"\0")
    # Written as it came, the card would hold the burst; the idle silence left out keeps the lead.
    assert len(data) - len(LOUD) == 100 * FRAME + round(0.04 * RATE) * 2 - sink.ahead.trimmed * 2
    assert 0.04 <= sink.ahead.level_s - len(LOUD) / 2 / RATE < 0.04 + UNIT_S  # held when the sound came
