"""The end-to-end benchmark in short: two questions through our stack and the peer chain.

Runs ``bench/e2e_bench.py`` as the README does (a real process starting real servers,
satellites and peers), with one echo-only run, one barge-in run and one concurrency turn (no sweep),
then checks that the report files exist and that their numbers are consistent. Speed is not
asserted here (that is what the benchmark reports).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SILENCE_FRAMES = 20
QUESTIONS = ["What is the capital of France?", "Turn on the kitchen lights."]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "e2e_bench.py"), "--questions", "2", "--scale", "1",
         "--scale-rounds", "1", "--play-seconds", "1.5",  # one concurrency turn; the reply's start is enough
         "--echo-runs", "1", "--barge-in-runs", "1", "--warmup", "0", "--silence-frames", str(SILENCE_FRAMES),
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def words(text: str) -> list[str]:
    return "".join(c for c in text.lower() if c.isalnum() or c == " ").split()


def load(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report / "e2e.json").read_text())
    return data


def test_every_turn_completes_with_the_expected_transcript(report: Path) -> None:
    turns = [t for t in load(report)["turns"] if t["pipeline"] in ("ours", "peer")]
    assert sorted((t["pipeline"], t["question"]) for t in turns) == sorted(
        (p, q) for p in ("ours", "peer") for q in QUESTIONS)
    for turn in turns:
        assert turn["error"] is None
        assert words(turn["transcript"]) == words(turn["question"])
        assert turn["reply"].strip()
        assert turn["intent"] == turn["question"].startswith("Turn on")
    # The home command is answered by the same intent in both pipelines.
    assert len({t["reply"] for t in turns if t["intent"]}) == 1


def test_stages_are_ordered_on_the_mic_timeline(report: Path) -> None:
    for turn in load(report)["turns"]:
        stages = turn["stages"]
        assert set(stages) == {"vad", "asr", "text", "tts", "sent", "speaker"}, turn
        # The peer waits for the satellite, which cannot decide the question ended before hearing
        # its whole silence window. Ours also ends it on whisper's endpoint (vad_sensitivity
        # aggressive: 0.25 s of silence, judged on 32 ms Silero windows, so allow a little).
        floor = SILENCE_FRAMES * 0.03 - 0.03 if turn["pipeline"] == "peer" else 0.25 - 0.1
        assert stages["vad"] >= floor, turn
        assert stages["vad"] <= stages["asr"] <= stages["sent"] and stages["text"] <= stages["tts"] <= stages["sent"]
        if "preemptive" not in turn["marks"]:  # a prepared reply's text may be ready before the transcript
            assert stages["asr"] <= stages["text"], turn
        # The first reply sample is heard after it was sent (two clocks: allow one 30 ms frame).
        assert stages["speaker"] >= stages["sent"] - 0.03
        assert turn["perceived"] == stages["speaker"]
        assert 0 < turn["perceived"] < 60


def test_summary_matches_the_raw_turns(report: Path) -> None:
    data = load(report)
    assert data["settings"]["silence_frames"] == SILENCE_FRAMES
    for name in ("ours", "peer"):
        values = sorted(t["perceived"] for t in data["turns"] if t["pipeline"] == name)
        summary = data["single"][name]
        assert summary["turns"] == 2 and summary["errors"] == 0
        assert summary["p50"] == pytest.approx(sum(values) / 2)
        assert values[0] <= summary["p95"] <= values[1]
    targets = {t["what"]: t for t in data["targets"]}
    ratio = targets["ratio to the peer, p50"]
    assert ratio["measured"] == pytest.approx(data["single"]["ours"]["p50"] / data["single"]["peer"]["p50"])
    assert ratio["met"] == (ratio["measured"] <= 0.5)
    echo = [t for t in data["turns"] if t["pipeline"] == "ours-echo"]
    # The echo run ends on the satellite's own turn end: its reply played, or (a loaded box) it gave
    # up waiting for the reply, which then counts for nothing (the bench waited 120 s for it before).
    assert len(echo) == 1 and echo[0]["echo_end"] in ("played", "satellite gave up"), echo
    assert (echo[0]["false_barge_in"] is not None) == (echo[0]["echo_end"] == "played")
    assert data["echo"]["ends"] == [echo[0]["echo_end"]]
    assert data["echo"]["played"] == sum(t["false_barge_in"] is not None for t in echo)
    assert data["echo"]["false_barge_ins"] == sum(bool(t["false_barge_in"]) for t in echo)
    assert len(data["barge_in"]) == 1 and 0 < data["barge_in"][0]["onset_to_silent_ms"] < 2000
    servers = data["usage"]["servers"]
    for name in ("wyoming_whisper", "wyoming_llama", "wyoming_kokoro", "wyoming-faster-whisper", "wyoming-piper"):
        assert servers[name]["peak_rss_mb"] > 10 and servers[name]["cpu_seconds"] > 0
    assert data["cpu_per_turn"]["ours x1"]["wyoming_whisper"] > 0


def test_report_files_are_readable(report: Path) -> None:
    markdown = (report / "e2e.md").read_text()
    for heading in ("## Targets", "## Single satellite", "## Concurrency (ours)", "## Barge-in and echo",
                    "## Memory and CPU", "![latency](e2e.png)", f"--silence-frames-required {SILENCE_FRAMES}"):
        assert heading in markdown
    png = (report / "e2e.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    with (report / "e2e.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(load(report)["turns"])
    assert all(float(r["perceived_s"]) > 0 for r in rows)
