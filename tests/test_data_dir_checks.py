"""``--data-dir`` as users give it: ``~`` expanded (env, `.env` or a quoted flag)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.__main__ import build_parser


def test_a_tilde_in_hearth_data_dir_or_the_flag_is_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", "~/timers-here")
    args = build_parser().parse_args(["serve"])
    assert args.data_dir == tmp_path / "timers-here"  # before: Path("~/timers-here"), under the start folder
    args = build_parser().parse_args(["serve", "--data-dir", "~/other"])
    assert args.data_dir == tmp_path / "other"
