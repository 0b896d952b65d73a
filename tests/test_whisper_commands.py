"""Short commands heard right (:mod:`wyoming_whisper.commands`, ``--short-commands``): a final of 1-4
words tiny.en was unsure of is scored against known short home commands on the same encoder output,
and the likeliest is the transcript when it is nearly as likely as the free text.

The two stored clips are fresh2 probe set commands tiny.en mishears whole ("Pause." -> "Oh.",
"Cancel that." -> "and pull back."; tests/audio/README.md); the real tiny.en decodes them in the
service's own runner (what the scheduler calls for every final).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from speech import speak
from test_whisper_unsure_open import stopped_after, utterance_at_its_verdict
from whisper_clip import AUDIO, clip_float

import wyoming_whisper.__main__ as whisper_main
from voice_runtime.models import resolve_whisper, silero_vad
from wyoming_whisper.commands import SHORT_COMMANDS, asks, chosen
from wyoming_whisper.engine import EngineConfig, WhisperEngine
from wyoming_whisper.service import WhisperService
from wyoming_whisper.stream import StreamPolicy
from wyoming_whisper.vad import SileroVad


@pytest.fixture(scope="module")
def engines() -> tuple[WhisperEngine, WhisperEngine]:
    tiny = resolve_whisper("tiny.en")
    return WhisperEngine(EngineConfig(tiny)), WhisperEngine(EngineConfig(tiny, short_commands=SHORT_COMMANDS))


def _service(engine: WhisperEngine) -> WhisperService:
    from wyoming.info import Info

    return WhisperService(engine=engine, vad=SileroVad(silero_vad()), policy=StreamPolicy(), info=Info)


@pytest.mark.parametrize(("clip", "misheard", "heard"), [
    ("fresh2_pause_far.wav", "Oh.", "Pause."),
    ("fresh2_cancel_that.wav", "and pull back.", "Cancel that."),
])
def test_a_misheard_short_command_is_heard_right_with_short_commands(
        engines: tuple[WhisperEngine, WhisperEngine], clip: str, misheard: str, heard: str) -> None:
    plain, with_commands = engines
    audio = clip_float(AUDIO / clip)
    alone = _service(plain)._run("final", [audio], "en", False, None)[0]
    assert alone.text == misheard
    final = _service(with_commands)._run("final", [audio], "en", False, None)[0]
    assert final.text == heard
    assert final.avg_logprob is not None and alone.avg_logprob is not None
    assert final.avg_logprob < alone.avg_logprob  # the command's own score
    assert final.last_word_end is not None and final.last_word_end > 0.3  # aligned on the command's words
    assert final.command and not alone.command  # the end of turn reads a chosen command as finished
    # batched with another final (the scheduler's batch of several satellites) it is the same
    other = clip_float(AUDIO / "held63_yes_region.wav")
    together = _service(with_commands)._run("final", [audio, other], "en", False, None)
    assert together[0].text == heard
    # a partial is never rescored
    assert _service(with_commands)._run("partial", [audio], "en", False, None)[0].text != heard


def test_sure_and_long_texts_and_questions_are_left_as_heard(engines: tuple[WhisperEngine, WhisperEngine]) -> None:
    _, with_commands = engines

    for said in ("What time is it?", "Turn on the kitchen lights.", "Good morning."):
        audio = (np.frombuffer(speak(said), "<i2") / 32768).astype(np.float32)
        plain = WhisperEngine.transcribe(with_commands, audio, "en", word_end=False)  # no rescoring: not a final
        assert with_commands.transcribe(audio, "en", word_end=True).text == plain.text


def test_which_finals_are_scored_against_the_commands() -> None:
    assert asks("Oh.", -1.69) and asks("and pull back.", -0.82) and asks("Rain?", -1.09)
    assert asks("Light off Light off", -0.78)  # a loop of a command
    assert not asks("Pause.", -1.0) and not asks("lights off", -0.9)  # already a command
    assert not asks("Oh.", -0.2)  # sure
    assert not asks("Oh.", None) and not asks("", -2.0)
    assert not asks("Set an alarm for you.", -0.8)  # five words
    assert not asks("What is that?", -0.9) and not asks("Is it cold?", -0.9)  # questions of three words or more
    assert not asks("Pause.", -1.0, ("Stop.", "Pause."))
    assert asks("Stop.", -1.0, ("Pause.",))
    assert chosen(-1.69, ("Pause.", -1.79, [1])) and not chosen(-0.39, ("Stop it.", -3.47, [1]))
    assert not chosen(-1.0, None)


def test_the_flag_turns_short_commands_on_or_reads_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHISPER_SHORT_COMMANDS", raising=False)

    def config(*flags: str) -> EngineConfig:
        return whisper_main.make_config(whisper_main.parse_args(["--uri", "stdio://", *flags])).engine

    assert config().short_commands == ()  # off by default
    assert config("--short-commands", "on").short_commands == SHORT_COMMANDS
    listed = tmp_path / "commands.txt"
    listed.write_text("# ours\nOpen the blinds.\n\nFeed the cat.\n", encoding="utf-8")
    assert config("--short-commands", str(listed)).short_commands == ("Open the blinds.", "Feed the cat.")
    monkeypatch.setenv("WHISPER_SHORT_COMMANDS", "on")
    assert config().short_commands == SHORT_COMMANDS and config("--short-commands", "off").short_commands == ()
    with pytest.raises(SystemExit):
        config("--short-commands", str(tmp_path / "missing.txt"))
    second = whisper_main.make_config(whisper_main.parse_args(
        ["--uri", "stdio://", "--short-commands", "on", "--second-opinion-model", "base"])).second
    assert second is not None and second.short_commands == ()  # the second model's text is not rescored


def test_a_chosen_short_command_ends_the_turn_though_its_own_score_is_low(vad: SileroVad) -> None:
    # "Cancel that." as the rescoring chose it (fresh2: "and pull back."), at a low score: finished, at the base
    # silence. ("Pause." would not do here: a whole one-word command ends at the base silence whatever its score,
    # wyoming_whisper.short_commands; "cancel" takes an object, so it is not in that list.)
    chosen_one, kinds = utterance_at_its_verdict(vad, "Cancel that", "Cancel that.", -1.79, command=True)
    assert chosen_one.verdict is not None and chosen_one.verdict[1].finished, chosen_one.verdict
    assert stopped_after(chosen_one, kinds) < 0.5  # the base silence (0.25 s), not the weak cap
    # the same text decoded freely at that score is unsure: it waits the weak cap (the unsure rule)
    free, kinds = utterance_at_its_verdict(vad, "Cancel that", "Cancel that.", -1.79)
    assert free.verdict is not None and not free.verdict[1].finished and free.verdict[1].weak
    assert stopped_after(free, kinds) >= 1.15
