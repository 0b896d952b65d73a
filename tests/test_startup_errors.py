"""A server given a model or setting the user named that cannot be used says so in one line and
exits, instead of a traceback or a server that silently does something else.

- ``wyoming-kokoro``: a wrong ``--kokoro-model`` / ``--piper-model`` path used to give a warning
  and a server speaking with the other engine only (with the default ``--provider auto``). Only
  the default models may be missing (that engine is then skipped).
- ``wyoming-kokoro``: a Kokoro ``.onnx`` that is not a model ended in onnxruntime's traceback.
- every server: a flag's default taken from the environment or `.env` was not checked against the
  flag's choices (``TTS_PROVIDER=kokor`` started a server that spoke Piper).
- ``wyoming-whisper``: a model folder whose ``model.bin`` is not a CTranslate2 model ended in
  CTranslate2's RuntimeError traceback.
- ``wyoming-llama``: a local ``.gguf`` path to a file that is not a GGUF was taken for a hub name
  (``owner/repo/file``), fetched, and reported as "not installed and could not be fetched".

Flag and model-path errors are checked in-process (``make_config`` raises the ``SystemExit`` whose
text the command prints); a model that fails to load is run as the command, whose whole output is
checked for a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

import wyoming_kokoro.__main__ as kokoro_main
import wyoming_llama.__main__ as llama_main
import wyoming_whisper.__main__ as whisper_main


@pytest.mark.parametrize(("flag", "said"), [
    ("--kokoro-model", "kokoro: Kokoro model {path} is missing"),
    ("--piper-model", "piper: Piper model {path} does not exist"),
])
def test_a_named_model_that_is_missing_stops_the_server(flag: str, said: str, tmp_path: Path) -> None:
    path = tmp_path / "typo.onnx"
    with pytest.raises(SystemExit) as stopped:  # the old code warned and served with the other engine
        kokoro_main.make_config(kokoro_main.parse_args(["--uri", "stdio://", flag, str(path)]))
    assert str(stopped.value).startswith(said.format(path=path)), stopped.value


def test_a_local_gguf_path_that_is_not_a_gguf_is_not_fetched(tmp_path: Path) -> None:
    bad = tmp_path / "sub" / "model.gguf"  # three slashes and .gguf: looked like owner/repo/file.gguf
    bad.parent.mkdir()
    bad.write_bytes(b"garbage\n")
    with pytest.raises(SystemExit, match=r"^LLM model .*model\.gguf is not a GGUF file$"):
        llama_main.make_config(llama_main.parse_args(["--uri", "stdio://", "--model", str(bad)]))


@pytest.mark.parametrize("case", [
    (kokoro_main, "TTS_PROVIDER", "kokor", "--provider"),
    (llama_main, "LLM_PROVIDER", "cloud", "--provider"),
    (whisper_main, "WHISPER_DEVICE", "gpu", "--device"),
])
def test_a_bad_choice_from_the_environment_is_refused(case: tuple[object, str, str, str],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    main, variable, value, flag = case
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        main.parse_args(["--uri", "stdio://"])  # type: ignore[attr-defined]
    assert stopped.value.code == 2
    assert f"{flag} {value!r} (from the environment or .env) is not one of" in capsys.readouterr().err


async def run_module(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", *argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, (out + err).decode()


async def test_a_whisper_model_folder_with_a_broken_model_is_one_line(tmp_path: Path) -> None:
    from voice_runtime.models import resolve_whisper

    good = resolve_whisper("tiny.en")
    for name in ("config.json", "vocabulary.txt"):
        (tmp_path / name).write_bytes((good / name).read_bytes())
    (tmp_path / "model.bin").write_bytes(b"not a model\n" * 100)
    code, text = await run_module("wyoming_whisper", "--uri", "stdio://", "--model", str(tmp_path), "--no-warmup")
    assert code == 1 and "Traceback" not in text, text
    assert f"wyoming-whisper: cannot load the model {tmp_path.name} from {tmp_path}: RuntimeError" in text, text


async def test_a_kokoro_model_that_is_not_onnx_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "kokoro.onnx"
    bad.write_bytes(bytes(range(256)) * 8000)  # over the 1 MB "truncated" check
    code, text = await run_module("wyoming_kokoro", "--uri", "stdio://", "--kokoro-model", str(bad), "--no-warmup",
                                  "--provider", "kokoro", "--engines", "kokoro")
    assert code == 1 and "Traceback" not in text, text
    assert "wyoming-kokoro: cannot load the engines kokoro: InvalidProtobuf" in text, text
