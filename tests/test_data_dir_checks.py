"""``--data-dir`` as users give it: ``~`` expanded (env, `.env` or a quoted flag), a folder the
timers cannot be written to refused at start with one line, and a timer that cannot be saved
later not kept as set. As root a read-only folder cannot be faked with chmod: a directory where
the temporary timers file goes (fault injection) and /sys (read-only even for root) stand in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from proc import run_to_exit
from test_timers_data_dir import serve_command

from orchestrator.__main__ import build_parser
from orchestrator.timers import PROBE_NAME, TimerAction, TimerManager, TimerNotSaved, claim_data_dir


def test_a_tilde_in_hearth_data_dir_or_the_flag_is_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", "~/timers-here")
    args = build_parser().parse_args(["serve"])
    assert args.data_dir == tmp_path / "timers-here"  # before: Path("~/timers-here"), under the start folder
    args = build_parser().parse_args(["serve", "--data-dir", "~/other"])
    assert args.data_dir == tmp_path / "other"


def _unwritable(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / PROBE_NAME).mkdir()  # every save writes this file first: now it cannot


def test_a_data_dir_the_timers_cannot_be_written_to_is_refused_when_claimed(tmp_path: Path) -> None:
    _unwritable(tmp_path)
    with pytest.raises(IsADirectoryError):
        claim_data_dir(tmp_path)
    claim_data_dir(tmp_path / "fine").release()  # type: ignore[union-attr]
    assert not (tmp_path / "fine" / PROBE_NAME).exists()  # the probe is removed


@pytest.mark.parametrize("where", ["unwritable", "/sys"])
async def test_serve_on_an_unwritable_data_dir_stops_at_start_with_one_line(tmp_path: Path, where: str) -> None:
    data_dir = Path(where) if where.startswith("/") else tmp_path / where
    if where == "unwritable":
        _unwritable(data_dir)
    exited = await run_to_exit(*serve_command(data_dir))
    said = exited.stderr.strip().splitlines()
    assert exited.code == 1, said
    assert said[-1].startswith(f"--data-dir {data_dir}: "), said
    assert "Traceback" not in exited.stderr, said


async def test_a_timer_that_cannot_be_saved_is_not_set_and_a_change_is_undone(tmp_path: Path) -> None:
    timers = TimerManager(tmp_path, wall=lambda: 1_800_000_000.0)
    kept = await timers.start("kitchen", minutes=5)
    saved = (tmp_path / "timers.json").read_text()
    (tmp_path / PROBE_NAME).mkdir()  # now every save fails (as a full disk would)
    with pytest.raises(TimerNotSaved) as failed:
        await timers.start("kitchen", minutes=2)
    assert failed.value.code == "timer-not-saved" and failed.value.spoken
    assert [t.id for t in timers.timers("kitchen")] == [kept.id]  # the new one is not kept as set
    with pytest.raises(TimerNotSaved):
        await timers.apply(kept, TimerAction.CANCEL)
    assert timers.timers("kitchen") == [kept]  # still running, as the file says
    assert (tmp_path / "timers.json").read_text() == saved
    assert [t["id"] for t in json.loads(saved)["timers"]] == [kept.id]
