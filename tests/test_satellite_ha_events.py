"""The real satellite process, driven over TCP the way Home Assistant 2026.2.3 drives a Wyoming satellite.

What HA sends is read from its wyoming ``assist_satellite.py``: an announcement is
``audio-start`` (22050 Hz, timestamp 0), ``audio-chunk``s of ffmpeg's raw output read 2048
bytes at a time (a pipe read may return fewer, odd counts too), ``audio-stop``; HA then waits
for ``played``. Timers arrive as ``timer-started`` … ``timer-finished``. The speaker output
goes to a WAV file on the mic's timeline.
"""

from __future__ import annotations

from pathlib import Path

from helpers import Client
from speech import speak
from test_satellite_service import FRAME_MS, MS, rms, satellite, silence, speaker, tone_starts, windows
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.ping import Ping
from wyoming.satellite import RunSatellite
from wyoming.timer import TimerFinished, TimerStarted

from satellite.playback import quiet_tail
from satellite.tones import tone_power
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, write_wav

HA_FMT = AudioFormat(22050, 2, 1)
READS = (2048, 2048, 1537, 2048, 1, 2047)  # pipe reads of at most 2048 bytes


async def test_announcement_played_then_a_timer_rings_on_the_real_satellite(tmp_path: Path) -> None:
    write_wav(str(tmp_path / "mic.wav"), silence(0.2), PCM16_MONO_16K)
    out = tmp_path / "speaker.wav"
    voice = speak("Dinner is ready.")
    announcement = convert(voice, PCM16_MONO_16K, HA_FMT)  # what HA's ffmpeg makes of the TTS file
    flags = ("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(out), "--snd-rate", "16000",
             "--timer-alarm-seconds", "2")
    async with satellite(*flags) as sat:
        client = await Client.connect(sat.port)
        try:
            await client.send(RunSatellite())
            await sat.wait_log("controller attached")
            await client.send(AudioStart(rate=22050, width=2, channels=1, timestamp=0))
            pos, i, timestamp = 0, 0, 0
            while pos < len(announcement):
                piece = announcement[pos:pos + READS[i % len(READS)]]
                await client.send(AudioChunk(rate=22050, width=2, channels=1, audio=piece, timestamp=timestamp))
                pos, i, timestamp = pos + len(piece), i + 1, timestamp + len(piece) * 1000 // (2 * 22050)
            await client.send(AudioStop())
            events = await client.recv_until("played", timeout=30)
            assert [e.type for e in events] == ["played"]
            await client.send(TimerStarted(id="t1", total_seconds=60, name="pasta"))
            await client.send(Event("timer-updated", {"id": "t1"}))  # malformed: logged, ignored
            await client.send(TimerFinished(id="t1"))
            await sat.wait_log("alarm for timer t1 stopped: rang 2 s")
            await client.send(Ping(text="still there?"))
            assert [e.type for e in await client.recv_until("pong", timeout=10)] == ["pong"]
        finally:
            await client.close()
    assert any("malformed timer-updated event ignored" in line for line in sat.log)
    assert any("no --tts-uri: a finished timer rings without its name" in line for line in sat.log)
    played = speaker(out)
    chime_at = tone_starts(played, 660.0)
    assert len(chime_at) == 1
    voice_16k = convert(announcement, HA_FMT, PCM16_MONO_16K)
    start = chime_at[0] * MS
    # After the chime (0.24 s), the announcement up to its last audible sample (its quiet tail is not
    # played; the alarm may follow at once): the same voice, as loud, frame by frame.
    voiced = voice_16k[:len(voice_16k) - quiet_tail(voice_16k, 104, 16000)]
    chime_end = start + int(0.24 * 16000) * 2
    heard = played[chime_end - FRAME_MS * MS: chime_end + len(voiced) + FRAME_MS * MS]
    assert abs(rms(heard) - rms(voiced)) < 0.1 * rms(voiced)
    hits = [i for i, w in enumerate(windows(played)) if rms(w) > 0.05 and tone_power(w, 16000, 1000.0) > 0.5]
    beeps = [i * FRAME_MS for j, i in enumerate(hits) if j == 0 or hits[j - 1] != i - 1]  # 100 ms beeps
    assert len(beeps) >= 3  # three beeps per period, repeated until the 2 s are up
    assert beeps[-1] - beeps[0] < 2000 + FRAME_MS
    after = played[(beeps[-1] + 600) * MS:]
    assert not any(rms(w) > 0.01 for w in windows(after))  # silent once the alarm has stopped
