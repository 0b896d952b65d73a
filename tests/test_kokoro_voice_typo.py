"""A Kokoro voice the user named but misspelt (``--voice af_hart``, ``KOKORO_VOICE=af_hart``) stops
``wyoming-kokoro`` with one line that names the voice meant. Before (found as a new user,
2026-12-02): Kokoro was dropped with a warning ("not loading kokoro: ...") and the server died
later with "default voice 'af_hart' is not among the installed voices", no suggestion."""

from __future__ import annotations

import pytest

import wyoming_kokoro.__main__ as kokoro_main


@pytest.mark.parametrize("how", ["--voice", "KOKORO_VOICE"])
def test_a_misspelt_kokoro_voice_stops_the_server_naming_the_close_one(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing to fetch: the answer must not depend on the network
    argv = ["--uri", "stdio://"]
    if how == "--voice":
        argv += ["--voice", "af_hart"]
    else:
        monkeypatch.setenv("KOKORO_VOICE", "af_hart")
    with pytest.raises(SystemExit) as stopped:
        kokoro_main.make_config(kokoro_main.parse_args(argv))
    text = str(stopped.value.code)
    assert text.startswith("kokoro: Kokoro voice 'af_hart' is not installed"), text
    assert "; did you mean af_heart" in text, text  # the closest first
