"""When the microphone ends, the satellite exits, and its speaker is closed first.

Seen in a loop of the link-fault test (session 9): the satellite set ``stopped`` before closing
its mic and speaker, the process exited on it, and a ``--snd-wav`` speaker kept the header of
its first write (30 ms of a ~30 s run).
"""

from __future__ import annotations

from pathlib import Path

from test_satellite_service import MS, ScriptedController, satellite, speaker


async def test_the_speaker_is_closed_before_the_satellite_exits_on_the_end_of_its_microphone(
    tmp_path: Path,
) -> None:
    out = tmp_path / "speaker.wav"
    # One second of a silent room, then the mic stream ends; the command itself lingers a moment
    # (as `cat` of a FIFO did after its writer closed), so closing the mic waits for it.
    mic = "sh -c 'head -c 32000 /dev/zero; exec 1>&-; sleep 1'"
    async with satellite("--mic-command", mic, "--snd-wav", str(out), "--snd-rate", "16000",
                         "--no-tones") as sat, ScriptedController.connect(sat.port, lambda _: None):
        await sat.wait_log("exiting: the microphone or speaker stopped", timeout=60)
    assert len(speaker(out)) >= 900 * MS  # every frame read from the mic, not the first one only
