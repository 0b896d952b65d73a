"""``wyoming-session record --out``: a folder that cannot be written to is refused at start (one
line, exit 2 like every unusable file of this command); a missing folder is made, as a user who
names a new file in a new folder expects. Before: the recorder started, and the whole session was
lost with an asyncio traceback when the connection ended. As root a read-only folder cannot be
faked with chmod: /sys (read-only even for root) and a folder under a file stand in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from proc import run_to_exit

from voice_runtime.session.record import Recorder


@pytest.mark.parametrize("where", ["/sys/s.jsonl", "a-file/s.jsonl"])
async def test_record_to_a_folder_that_cannot_be_written_stops_at_start_with_one_line(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    out = Path(where) if where.startswith("/") else tmp_path / where
    exited = await run_to_exit(
        sys.executable,
        "-m",
        "voice_runtime.session",
        "record",
        "--listen",
        "tcp://127.0.0.1:0",
        "--server",
        "tcp://127.0.0.1:9",
        "--out",
        str(out),
        timeout=30,  # before: it started and kept listening
    )
    said = exited.stderr.strip().splitlines()
    assert exited.code == 2, said
    assert said == [f"wyoming-session: error: --out {out}: cannot write there ({said[0].rsplit('(', 1)[1]}"], said
    assert "Traceback" not in exited.stderr


async def test_record_makes_a_missing_folder_and_leaves_no_probe(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "s.jsonl"
    recorder = Recorder("tcp://127.0.0.1:0", "tcp://127.0.0.1:9", out)
    await recorder.start()
    await recorder.stop()
    assert out.parent.is_dir() and list(out.parent.iterdir()) == []
