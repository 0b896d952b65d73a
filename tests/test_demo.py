"""The README's ``./run.sh demo``: the demo's question through ``voice-orchestrator ask`` on our
three real servers (the session's ``stack``), with the flags the demo builds.

The demo used to build the ``ask`` flags by hand; every option the orchestrator gained later
(``--no-preemptive``, ``--ha-confirm-window``, ``--ha-names-to-asr``) was missing and
``./run.sh demo`` died with an AttributeError before it asked anything.
"""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import pytest
from speech import speak_to_wav

from orchestrator.__main__ import ask, build_config
from orchestrator.demo import ask_namespace


def demo_args(out: Path) -> argparse.Namespace:
    return argparse.Namespace(voice=None, no_intents=False, debug=False, log_format="text", out=out,
                              realtime=False)


def test_demo_flags_build_a_config(tmp_path: Path) -> None:
    args = ask_namespace(demo_args(tmp_path / "r.wav"), tmp_path / "q.wav", asr="tcp://127.0.0.1:1",
                         handle="tcp://127.0.0.1:2", tts="tcp://127.0.0.1:3")
    config = build_config(args)
    assert config.asr == ("tcp://127.0.0.1:1",) and config.handle == ("tcp://127.0.0.1:2",)
    assert config.pipeline.vad_sensitivity is None  # ask waits for the end of the WAV file
    assert config.pipeline.preemptive and config.home_assistant is None and config.data_dir is None


async def test_demo_question_answered_end_to_end(stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    question = speak_to_wav("What time is it?", tmp_path / "question.wav")
    out = tmp_path / "reply.wav"
    args = ask_namespace(demo_args(out), question, asr=stack.whisper.uri, handle=stack.llama.uri,
                         tts=stack.tts.uri)
    assert await ask(args) == 0
    printed = capsys.readouterr().out
    assert "what time is it" in printed.lower() and "(intent HassGetCurrentTime)" in printed
    with wave.open(str(out), "rb") as w:
        assert w.getnframes() > w.getframerate() // 2  # half a second of reply at least


async def test_demo_with_a_file_that_is_not_a_wav_says_so_before_starting_servers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.demo import main

    text = tmp_path / "question.txt"
    text.write_text("what time is it")
    args = demo_args(tmp_path / "reply.wav")
    args.wav, args.extra = text, {}
    assert await main(args) == 1
    err = capsys.readouterr()
    assert f"{text} is not a WAV file" in err.err and "starting" not in err.out
    args.wav = tmp_path / "missing.wav"
    assert await main(args) == 1
    assert capsys.readouterr().err.strip() == f"missing {args.wav}"  # not "run ./run.sh setup": it is the user's file
