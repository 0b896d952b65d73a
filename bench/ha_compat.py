"""Home Assistant 2026 drives our satellite: a wake word pipeline run, an announcement, a timer by voice.

    sudo ../shared/ha2025/setup.sh /tmp/ha2025        # once: the rig (a Debian 13 chroot with HA)
    python bench/ha_compat.py [--rig /tmp/ha2025] [--out bench/results]

The rig (``../shared/ha2025``, README.txt there) runs a real Home Assistant (2026.2.3) with a
logging proxy in front of every Wyoming server and adds them through HA's own config flows.
This script starts, on free ports:

* our ``wyoming_whisper`` (STT) and ``wyoming_kokoro`` with Piper (TTS), which HA uses for the
  pipeline; HA's own conversation agent handles the request (it knows timers);
* our satellite with its defaults (wake word on: microWakeWord okay_nabu), its mic a WAV that
  says "Okay Nabu." and then "Set a timer for three seconds." (Piper) once HA has armed it, its
  speaker written to a WAV on the mic's timeline;

then runs the rig's check with ``--satellite … --sat-run --announce …`` and reads off:

1. the wake word: detected on the satellite, which sends ``detection`` and ``run-pipeline`` from
   ``asr`` with the wake word's name; HA runs its pipeline (STT → its agent → TTS) on the command
   that follows; the reply plays and the satellite answers ``played``;
2. the timer: HA's ``timer-started``/``timer-finished`` reach the satellite and the alarm rings
   (its beeps are in the speaker WAV);
3. the announcement: HA's service call time, the audio's length, when the satellite sent
   ``played`` (target: service call and ``played`` within the audio's length + 0.5 s; HA
   logs "Did not receive played event" when it is not).

Writes ``OUT/ha_compat.md`` and ``OUT/ha_compat.json``. Exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from satellite.tones import tone_power  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, read_wav, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, free_port, start_service  # noqa: E402

WAKE = "Okay Nabu."
SHOWN = r"wake word|run-pipeline|state |timer|alarm|announcement|transcript|reply text|controller"  # log lines
REQUEST = "Set a timer for three seconds."
ANNOUNCE = "Dinner is ready. Please come to the kitchen."


@dataclass
class Timed:
    """A process whose stderr lines are kept with the time they arrived (monotonic seconds)."""

    proc: asyncio.subprocess.Process
    lines: list[tuple[float, str]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="read log")

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.lines.append((time.monotonic(), line.decode(errors="replace").rstrip()))

    def first(self, pattern: str, after: float = float("-inf")) -> tuple[float, str] | None:
        """The first log line matching ``pattern`` (at or after ``after``): (when, its message)."""
        for t, line in self.lines:
            if t >= after and re.search(pattern, line):
                found = re.search(r'msg="(.*)"$', line)
                return t, found.group(1) if found else line
        return None

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)


def speak(text: str) -> bytes:
    from piper import PiperVoice

    from voice_runtime.models import resolve_piper

    voice = PiperVoice.load(str(resolve_piper()))
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))
    return convert(pcm, AudioFormat(voice.config.sample_rate, 2, 1), PCM16_MONO_16K)


def windows(pcm: bytes, ms: int = 30) -> list[np.ndarray]:
    samples = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0
    step = 16 * ms
    return [samples[i:i + step] for i in range(0, len(samples) - step + 1, step)]


def tone_runs(pcm: bytes, freq: float, power: float) -> list[float]:
    """Start times (s) of runs of 30 ms windows dominated by ``freq``."""
    hits = [i for i, w in enumerate(windows(pcm)) if np.sqrt(np.mean(w ** 2)) > 0.05
            and tone_power((w * 32767).astype("<i2").tobytes(), 16000, freq) > power]
    return [i * 0.03 for j, i in enumerate(hits) if j == 0 or hits[j - 1] != i - 1]


@contextlib.asynccontextmanager
async def satellite(mic: Path, speaker: Path, *flags: str, code: Path = ROOT) -> AsyncIterator[tuple[Timed, int]]:
    """Our satellite (``code``: the tree it runs from, with its own .venv; another tree's for a paired run)."""
    port = free_port()
    python = sys.executable if code == ROOT else str(code / ".venv" / "bin" / "python")
    proc = await asyncio.create_subprocess_exec(
        python, "-m", "satellite", "--uri", f"tcp://127.0.0.1:{port}", "--name", "hearth-compat",
        "--mic-wav", str(mic), "--snd-wav", str(speaker), "--snd-rate", "16000", "--timer-alarm-seconds", "8",
        *flags, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(code))
    sat = Timed(proc)
    sat.start()
    try:
        for _ in range(300):
            if sat.first("listening uri="):
                break
            await asyncio.sleep(0.1)
        yield sat, port
    finally:
        await sat.stop()


async def run_check(rig: Path, args: list[str]) -> tuple[int, list[str]]:
    proc = await asyncio.create_subprocess_exec(str(rig / "check.sh"), *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    lines = []
    while line := await proc.stdout.readline():
        text = line.decode(errors="replace").rstrip()
        lines.append(text)
        print("  | " + text, flush=True)
    return await proc.wait(), lines


async def main(args: argparse.Namespace) -> int:
    rig = Path(args.rig)
    if not (rig / "check.sh").exists():
        print(f"no rig at {rig}: run (as root) ../shared/ha2025/setup.sh {rig} first", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="hearth-ha-compat-"))
    request = speak(REQUEST)
    write_wav(str(work / "mic.wav"), bytes(16000) + speak(WAKE) + bytes(9600) + request + bytes(32000),
              PCM16_MONO_16K)
    write_wav(str(work / "request.wav"), request, PCM16_MONO_16K)  # the rig's own STT check: no wake word
    speaker = work / "speaker.wav"
    out_dir = f"/tmp/ha_check_hearth_{int(time.time())}"
    services: list[ServiceProcess] = []
    started = time.monotonic()
    try:
        print("starting wyoming_whisper and wyoming_kokoro (Piper) …", flush=True)
        services.append(await start_service("wyoming_whisper", "--model", args.whisper_model))
        services.append(await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"))
        # the satellite says the finished timer's name itself (HA does not), with the same TTS server
        async with satellite(work / "mic.wav", speaker, "--tts-uri", services[1].uri) as (sat, sat_port):
            check = ["--stt", f"127.0.0.1:{services[0].port}", "--tts", f"127.0.0.1:{services[1].port}",
                     "--satellite", f"127.0.0.1:{sat_port}", "--sat-run", "--wav", str(work / "request.wav"),
                     "--expect", REQUEST, "--no-pipeline", "--announce", ANNOUNCE, "--out", out_dir]
            print("running the rig: check.sh " + " ".join(check), flush=True)
            rc, lines = await run_check(rig, check)
            await asyncio.sleep(1.0)  # the last log lines
            # the timer (3 s) ends while HA's announcement plays, which goes first, then its spoken name: the
            # beeps come after both (a 4 s alarm was over before them whenever timer-finished came after the
            # announcement's audio-start: "beeps at []", session 19); wait for the alarm's end (at most 8 s)
            for _ in range(100):
                if sat.first("alarm for timer") or not sat.first("alarm ringing"):
                    break
                await asyncio.sleep(0.1)
            load = await asyncio.to_thread(lambda: Path("/proc/loadavg").read_text().split()[:3])
        ha_log = rig / "root" / out_dir.lstrip("/") / "home-assistant.log"
        ha_text = await asyncio.to_thread(lambda: ha_log.read_text(errors="replace") if ha_log.exists() else "")
        return report(args, Run(rc, lines, sat, speaker, ha_text, load, time.monotonic() - started))
    finally:
        for service in services:
            await service.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(rig / "root" / out_dir.lstrip("/"), ignore_errors=True)


@dataclass
class Run:
    rc: int  # the rig's exit status
    lines: list[str]  # the rig's output
    sat: Timed  # the satellite's log
    speaker: Path  # the satellite's speaker WAV
    ha_text: str  # home-assistant.log
    load: list[str]
    seconds: float


def report(args: argparse.Namespace, run: Run) -> int:
    rc, lines, sat, speaker, ha_text, load, seconds = (run.rc, run.lines, run.sat, run.speaker, run.ha_text,
                                                       run.load, run.seconds)
    def line_with(pattern: str) -> str:
        return next((x for x in lines if re.search(pattern, x)), "")

    checks = {m.group(2): m.group(1) == "PASS" for x in lines if (m := re.match(r"(PASS|FAIL) (\w+):", x))}
    version = (re.search(r"SUMMARY \(HA ([^,]+)", line_with("SUMMARY")) or [None, "?"])[1]
    announce = re.search(r"announce HTTP (\d+) in ([\d.]+)s", line_with("announce HTTP"))
    http_s = float(announce.group(2)) if announce else None
    # the service call's announcement is the last one (a reply HA sent after the turn ended also plays as one)
    arriving = next((t for t in reversed(sat.lines) if "announcement arriving" in t[1]), None)
    since = arriving[0] if arriving else float("-inf")
    stop = sat.first(r"announcement ended \(audio-stop\)", since)
    first_audio = sat.first("announcement first audio", since)
    played = sat.first(r"announcement played: ([\d.]+) s", since)
    length_match = re.search(r"played: ([\d.]+) s", played[1]) if played else None
    length = float(length_match.group(1)) if length_match else None
    played_after_start = played[0] - arriving[0] if played and arriving else None
    played_after_stop = played[0] - stop[0] if played and stop else None
    timer_started = sat.first(r"timer \S+ started")
    finished = sat.first(r"timer \S+ finished")
    ringing = sat.first("alarm ringing")
    alarm_end = sat.first("alarm for timer")
    named = sat.first("plays ahead of the beeps")
    wake = sat.first(r"wake word \S+ detected")
    sent_run = sat.first(r"local run-pipeline")
    wake_name = re.search(r"wake word (\S+) detected", wake[1]) if wake else None
    ha_wake = [x for x in ha_text.splitlines() if "okay_nabu" in x.lower() or "okay nabu" in x.lower()][:5]
    transcript = sat.first("transcript=")
    reply = sat.first("reply text=")
    turn_played = sum(1 for _t, x in sat.lines if "state speaking -> listening on reply-done" in x)
    pcm, _fmt = read_wav(str(speaker)) if speaker.exists() else (b"", PCM16_MONO_16K)
    beeps = tone_runs(pcm, 1000.0, 0.5)
    chimes = tone_runs(pcm, 660.0, 0.6)
    no_played_warning = "Did not receive played event" not in ha_text
    within = (length is not None and played_after_stop is not None and http_s is not None
              and played_after_stop <= length + 0.5 and http_s <= length + 0.5 + args.tts_allowance)
    ours = {
        "wake word on the satellite starts HA's pipeline, reply played": bool(
            wake and sent_run and transcript and reply and turn_played and checks.get("satellite_pipeline")
            and (sent_run[0] >= wake[0])),
        "timer set by voice rings on the satellite": bool(timer_started and finished and ringing and beeps),
        "announcement played, `played` returned in time": bool(played and within and no_played_warning),
        "the satellite says the finished timer's name (--tts-uri)": bool(named and ringing),
    }
    figures: dict[str, Any] = {
        "ha_version": version, "rig_checks": checks, "rig_exit": rc, "load": load, "seconds": round(seconds, 1),
        "wake": wake[1] if wake else None, "wake_word_name": wake_name.group(1) if wake_name else None,
        "run_pipeline_after_wake_s": round(sent_run[0] - wake[0], 3) if wake and sent_run else None,
        "ha_log_wake_lines": ha_wake,
        "transcript": transcript[1] if transcript else None, "reply": reply[1] if reply else None,
        "timer_started": timer_started[1] if timer_started else None,
        "timer_name_spoken": named[1] if named else None,
        "timer_finished_after_start_s": round(finished[0] - timer_started[0], 2) if finished and timer_started
        else None,
        "alarm": alarm_end[1] if alarm_end else None, "alarm_beeps_s": [round(b, 2) for b in beeps],
        "announce_http_s": http_s, "announce_audio_s": length,
        "played_after_audio_start_s": round(played_after_start, 2) if played_after_start is not None else None,
        "first_audio_after_audio_start_s": round(first_audio[0] - arriving[0], 2) if first_audio and arriving
        else None,
        "played_after_first_audio_s": round(played[0] - first_audio[0], 2) if played and first_audio else None,
        "played_after_audio_stop_s": round(played_after_stop, 2) if played_after_stop is not None else None,
        "chime_at_s": [round(c, 2) for c in chimes], "ha_logged_no_played": not no_played_warning,
        "ours": ours,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ha_compat.json").write_text(json.dumps(figures, indent=1) + "\n")
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    md = [
        f"# Home Assistant {version} drives the hearth satellite ({when} UTC)",
        "",
        f"`python bench/ha_compat.py` with the rig in `{args.rig}`; load average {' '.join(load)} "
        f"(2 cores, shared); {seconds:.0f} s in all. Engines: our wyoming_whisper ({args.whisper_model}), "
        "wyoming_kokoro (Piper); agent: HA's own. The satellite's mic says "
        f"\"{WAKE}\" then \"{REQUEST}\" once HA arms it (wake word on, as by default).",
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    for name, ok in checks.items():
        detail = line_with(f"(PASS|FAIL) {name}:").split(":", 1)[-1].strip()
        md.append(f"| rig: {name} | {'PASS' if ok else 'FAIL'} | {detail} |")
    md += [
        f"| wake word → HA pipeline → reply played | {'PASS' if ours[next(iter(ours))] else 'FAIL'} | "
        f"{figures['wake']} → `detection` + `run-pipeline` (asr, wake word {figures['wake_word_name']}) "
        f"{figures['run_pipeline_after_wake_s']} s later → HA: {figures['transcript']} → {figures['reply']}; "
        "reply played, `played` sent |",
        f"| timer by voice rings | {'PASS' if list(ours.values())[1] else 'FAIL'} | {figures['timer_started']}; "
        f"`timer-finished` {figures['timer_finished_after_start_s']} s later; beeps at "
        f"{figures['alarm_beeps_s'][:6]} s of the speaker WAV; {figures['alarm']} |",
        f"| announcement + `played` | {'PASS' if list(ours.values())[2] else 'FAIL'} | service call {http_s} s "
        f"(includes HA's TTS of the message), audio {length} s (+0.24 s chime); `played` "
        f"{figures['played_after_audio_start_s']} s after HA's audio-start, {figures['played_after_audio_stop_s']} s "
        f"after its audio-stop (HA waits audio + 0.5 s); first audio {figures['first_audio_after_audio_start_s']} s "
        f"after audio-start, `played` {figures['played_after_first_audio_s']} s after it; "
        "HA logged no 'Did not receive played event': "
        f"{no_played_warning} |",
        f"| timer's name said by the satellite | {'PASS' if list(ours.values())[3] else 'FAIL'} | "
        f"{figures['timer_name_spoken']} |",
        "",
        "The satellite's log (seconds since it started; wake word, state changes, timers, announcements):",
        "",
        "```",
        *[f"+{t - sat.lines[0][0]:7.3f}s {m.group(1)}" for t, line in sat.lines
          if (m := re.search(r'msg="(.*)"$', line)) and re.search(SHOWN, line)],
        "```",
        "",
        "Home Assistant's log lines naming the wake word:",
        "",
        "```",
        *(ha_wake or ["(none)"]),
        "```",
        "",
        "Rig output (the lines about the satellite):",
        "",
        "```",
        *[x for x in lines if "satellite" in x or "announce" in x or "SUMMARY" in x][:40],
        "```",
    ]
    (out / "ha_compat.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if all(ours.values()) and all(checks.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rig", default="/tmp/ha2025", help="the rig's directory (setup.sh DIR)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--whisper-model", default="tiny.en")
    parser.add_argument("--keep", action="store_true", help="keep the speaker WAV and the rig's output dir")
    parser.add_argument("--tts-allowance", type=float, default=3.0,
                        help="seconds HA may spend on TTS of the message before it sends audio")
    sys.exit(asyncio.run(main(parser.parse_args())))
