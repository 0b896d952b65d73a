"""Home commands spoken in the real-time room: end of speech → spoken confirmation, with Home
Assistant as the home.

Everything is real: a Home Assistant 2024.3.3 core (tests/ha_home.py, its YAML entities), our
whisper (tiny.en), LLM and TTS (Piper) servers, ``voice-orchestrator serve --home-assistant``,
and our satellite (always-listening VAD mode, no tones) inside ../shared/room, which plays the
spoken commands into the satellite's microphone in real time, echoes its speaker back into it
(40 ms, ``--echo-db``, a 0.2 s reverb tail, −60 dBFS noise) and times what it plays.

Per command: end of speech (the room's speech offset) → the confirmation starts playing at the
speaker (the room), and → the entity's state changed in HA (HA's history; both clocks are this
machine's). A command counts as done when HA's history shows the expected state after it. What
whisper heard (its log) is compared with what was said: word error rate per command.
``--names`` runs the orchestrator with ``--ha-names-to-asr`` (the home's names sent to whisper
as its initial prompt), for the comparison.

    flock /tmp/hearth-rt.lock python bench/home_room_bench.py [--rounds 2] [--echo-db -6] [--names] [--out FILE]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from voice_runtime.procs import free_port  # noqa: E402

ROOM = Path("/work/shared/room/room.py")
if (ROOT.parent / "shared/room/room.py").exists():
    ROOM = ROOT.parent / "shared/room/room.py"
CYCLE_S = 8.0

Check = Callable[[dict[str, Any]], bool]


def commands(round_: int) -> list[tuple[str, str | None, Check | None]]:
    """(what is said, the entity it changes, the state it must reach); alternating per round so
    every command changes something."""
    temp, colour, hue = (23, "blue", 240) if round_ % 2 == 0 else (21, "red", 0)
    return [
        ("Turn on the kitchen light.", "light.kitchen_light", lambda s: s["state"] == "on"),
        ("Unlock the front door.", "lock.front_door", lambda s: s["state"] == "unlocked"),
        ("Open the garage door.", "cover.garage_door", lambda s: s["state"] == "open"),
        ("Turn on the TV.", "media_player.tv", lambda s: s["state"] == "playing"),
        ("Pause the music.", "media_player.tv", lambda s: s["state"] == "paused"),
        (f"Set the thermostat to {temp} degrees.", "climate.thermostat",
         lambda s: s["attributes"].get("temperature") == temp),
        (f"Turn the kitchen light {colour}.", "light.kitchen_light",
         lambda s: (s["attributes"].get("hs_color") or [None])[0] == hue),
        ("What's the weather like?", None, None),
        ("Turn off the kitchen light and close the garage door.", "light.kitchen_light",
         lambda s: s["state"] == "off"),
        ("Lock the front door.", "lock.front_door", lambda s: s["state"] == "locked"),
    ]



def pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    return {"n": len(values), "p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 3),
            "max": round(ordered[-1], 3)}


async def record_states(ha: Any, entities: set[str], into: list[tuple[float, dict[str, Any]]],
                        subscribed: asyncio.Event) -> None:
    """Every state change of ``entities`` as HA announces it (our clock when it arrived)."""
    import websockets

    async with websockets.connect(ha.url.replace("http", "ws", 1) + "/api/websocket") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "auth", "access_token": ha.token}))
        await ws.recv()
        await ws.send(json.dumps({"id": 1, "type": "subscribe_events", "event_type": "state_changed"}))
        await ws.recv()
        subscribed.set()
        async for raw in ws:
            data = json.loads(raw).get("event", {}).get("data", {})
            if data.get("entity_id") in entities and data.get("new_state") and len(into) < 10_000:
                into.append((time.time(), data["new_state"]))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from ha_home import home_assistant
    from speech import speak

    from voice_runtime.audio import PCM16_MONO_16K, write_wav
    from voice_runtime.procs import ServiceProcess, start_service

    said = [c for r in range(args.rounds) for c in commands(r)]
    with tempfile.TemporaryDirectory(prefix="home-room-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        events = []
        for i, (text, _, _) in enumerate(said):
            write_wav(str(folder / f"c{i}.wav"), speak(text), PCM16_MONO_16K)
            events.append({"at": 1.0 + i * CYCLE_S, "wav": f"c{i}.wav"})
        scenario = folder / "home.json"
        scenario.write_text(json.dumps({"duration": 1.0 + len(said) * CYCLE_S + 3.0, "noise_db": -60,
                                        "events": events}))
        async with home_assistant(folder / "ha") as ha:
            whisper = await start_service("wyoming_whisper", "--model", "tiny.en")
            llama = await start_service("wyoming_llama", "--temperature", "0")
            tts = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper")
            sat_port = free_port()
            orch_proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "orchestrator", "serve", "--satellite", f"tcp://127.0.0.1:{sat_port}",
                "--asr", whisper.uri, "--handle", llama.uri, "--tts", tts.uri, "--home-assistant", ha.url,
                "--data-dir", str(folder / "data"), *(["--ha-names-to-asr"] if args.names else []),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT),
                env={**os.environ, "HA_TOKEN": ha.token, "PYTHONPATH": str(ROOT)})
            orch = ServiceProcess(orch_proc, "", 0)
            out = folder / "room"
            out.mkdir(exist_ok=True)
            sat = (f"{sys.executable} -m satellite --uri tcp://127.0.0.1:{sat_port} --no-wake-word --no-tones "
                   f"--mic-command 'cat {{mic}}' --snd-command '{{player}}' --snd-rate 22050")
            entities = {e for _, e, _ in said if e}
            changes: list[tuple[float, dict[str, Any]]] = []
            subscribed = asyncio.Event()
            recorder = asyncio.create_task(record_states(ha, entities, changes, subscribed))
            await asyncio.wait_for(subscribed.wait(), 30)
            for entity in sorted(entities):
                changes.append((0.0, await ha.state(entity)))  # the state before the first command
            room = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOM), str(scenario), "--dir", str(out), "--start-file", str(out / "go"),
                "--run", sat, "--echo-delay-ms", "40", "--echo-gain-db", str(args.echo_db), "--rt60", "0.2",
                "--reverb-db", "-10", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
            try:
                if not await orch.wait_log("connected", timeout=120):
                    raise RuntimeError("orchestrator exited:\n" + "\n".join(orch.log[-30:]))
                await asyncio.sleep(2.0)  # the satellite's start-up noise settle, as bench/room_bench.py
                (out / "go").touch()
                stdout, _ = await room.communicate()
            finally:
                if room.returncode is None:
                    room.terminate()
                    await room.wait()
                await orch.stop()
                for proc in (whisper, llama, tts):
                    await proc.stop()
                recorder.cancel()
                await asyncio.gather(recorder, return_exceptions=True)
            result = json.loads((out / "result.json").read_text())
            # Map the room's clock (monotonic, scenario start) to wall time for HA's history.
            offset_wall = time.time() - time.monotonic()
            s0 = result["t0_monotonic"] + result["wav_offset_s"]
        turns = [line for line in orch.log if "intent=" in line]
    return report(said, result, changes=changes, s0_wall=s0 + offset_wall, turns=turns,
                  room_out=stdout.decode(errors="replace"), args=args, heard=transcripts(whisper.log))


# The text is a Python literal; whisper's log may put more fields after it (" mono=59842.8300").
_TRANSCRIPT = re.compile(r"^ts=(\S+) .*transcript=(.*?)(?: \w+=[^\s'\"]+)*\"$")


def transcripts(log: list[str]) -> list[tuple[float, str]]:
    """(wall time, text) of every final transcript in whisper's log."""
    out = []
    for line in log:
        found = _TRANSCRIPT.match(line)
        if found:
            stamp, millis = found.group(1).split(".")
            wall = time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) + int(millis) / 1000
            out.append((wall, str(ast.literal_eval(found.group(2).replace('\\"', '"')))))
    return out


def wer(said: str, heard: str) -> float:
    """Word error rate of ``heard`` against ``said`` (lower case, punctuation ignored)."""
    ref, hyp = (re.sub(r"[^\w' ]", " ", t.lower()).split() for t in (said, heard))
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, got in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (word != got))
    return row[-1] / max(1, len(ref))


def report(said: list[tuple[str, str | None, Check | None]], result: dict[str, Any], *,
           changes: list[tuple[float, dict[str, Any]]], s0_wall: float, turns: list[str], room_out: str,
           args: argparse.Namespace, heard: list[tuple[float, str]]) -> dict[str, Any]:
    utts, replies = result["utterances"], result["replies"]
    rows = []
    for i, (text, entity, check) in enumerate(said):
        end = utts[i]["offset"]
        nxt = utts[i + 1]["onset"] if i + 1 < len(utts) else float("inf")
        reply = next((r for r in replies if end <= r["start"] < nxt), None)
        row: dict[str, Any] = {"said": text, "end_of_speech_s": end,
                               "to_confirmation_s": round(reply["start"] - end, 3) if reply else None,
                               "reply_played_s": reply["played_s"] if reply else None}
        # What whisper heard: its first non-empty transcript between this command's start and the next's.
        window = [text for wall, text in heard if utts[i]["onset"] <= wall - s0_wall < nxt and text.strip()]
        row["heard"] = window[0] if window else ""
        row["wer"] = round(wer(text, row["heard"]), 3)
        if entity and check:
            # Done: the entity is in the wanted state before the next command (it may have been
            # already); timed: the first change into that state after this command ended.
            mine = [(wall - s0_wall, state) for wall, state in changes if state["entity_id"] == entity]
            before_next = [state for at, state in mine if at < nxt]
            hit = next((at for at, state in mine if end - 0.5 <= at < nxt and check(state)), None)
            row["done_in_ha"] = bool(before_next) and check(before_next[-1])
            row["to_ha_state_s"] = round(hit - end, 3) if hit is not None else None
        rows.append(row)
    confirm = [r["to_confirmation_s"] for r in rows if r["to_confirmation_s"] is not None]
    state = [r["to_ha_state_s"] for r in rows if r.get("to_ha_state_s") is not None]
    load = os.getloadavg()
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_avg": [round(x, 2) for x in load],
        "echo_db": args.echo_db, "commands": len(rows), "replied": len(confirm),
        "actions": sum("done_in_ha" in r for r in rows), "done_in_ha": sum(bool(r.get("done_in_ha")) for r in rows),
        "end_of_speech_to_confirmation_s": pct(confirm), "end_of_speech_to_ha_state_s": pct(state),
        "names_to_asr": args.names, "wer_mean": round(statistics.mean(r["wer"] for r in rows), 3),
        "heard_exactly": sum(r["wer"] == 0 for r in rows),
        "room_late_ticks": result["stats"].get("late_ticks"), "room": room_out.strip().splitlines()[-1:],
        "rows": rows, "orchestrator_turns": turns[-len(rows) * 2:],
    }


def markdown(res: dict[str, Any]) -> str:
    c, s = res["end_of_speech_to_confirmation_s"], res["end_of_speech_to_ha_state_s"]
    d = pct([r["to_confirmation_s"] for r in res["rows"] if r.get("done_in_ha") and r["to_confirmation_s"] is not None])
    lines = [
        "# Home commands in the real-time room (bench/home_room_bench.py)", "",
        f"{res['when']}, load average {' '.join(map(str, res['load_avg']))} (2 cores), echo {res['echo_db']} dB, "
        f"room late ticks {res['room_late_ticks']}. HA 2024.3.3 on loopback; whisper tiny.en, Piper, our "
        "satellite (VAD mode, no tones), `voice-orchestrator serve --home-assistant`.", "",
        f"- {res['replied']}/{res['commands']} commands got a spoken reply; {res['done_in_ha']}/{res['actions']} "
        "actions reached the expected state in HA.",
        f"- End of speech → confirmation starts playing: p50 {c['p50']} s, p95 {c['p95']} s, max {c['max']} s "
        f"(n={c['n']}); of the actions done in HA: p50 {d['p50']} s, p95 {d['p95']} s (n={d['n']}).",
        f"- End of speech → HA state changed: p50 {s['p50']} s, p95 {s['p95']} s (n={s['n']}).",
        f"- Home names sent to whisper as its prompt: {res.get('names_to_asr', False)}; word error rate mean "
        f"{res.get('wer_mean')}, {res.get('heard_exactly')}/{res['commands']} commands heard exactly.", "",
        "| said | heard | WER | → reply starts (s) | reply length (s) | done in HA | → HA state (s) |",
        "|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['said']} | {r.get('heard', '')} | {r.get('wer', '')} | {r['to_confirmation_s']} | "
                     f"{r['reply_played_s']} | {r.get('done_in_ha', '-')} | {r.get('to_ha_state_s', '-')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the 10 commands")
    parser.add_argument("--echo-db", type=float, default=-6.0)
    parser.add_argument("--keep", type=Path, help="keep the room's files here")
    parser.add_argument("--names", action="store_true", help="send the home's names to whisper as its prompt")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/home_room")
    parser.add_argument("--render", type=Path, help="only write the Markdown of an earlier JSON result")
    args = parser.parse_args()
    res = json.loads(args.render.read_text()) if args.render else asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(res), encoding="utf-8")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
