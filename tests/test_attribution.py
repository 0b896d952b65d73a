"""Every server credits the project the same way in describe (its models and voices credit their
makers). The whisper, kokoro and llama servers are checked over real sockets in
test_models_dirs.py / test_models_kokoro.py; the satellite's info is built here."""

from __future__ import annotations

from satellite.handler import satellite_info
from voice_runtime.cli import ATTRIBUTION, PROJECT_URL


def test_the_satellite_credits_the_project_as_the_servers_do() -> None:
    info = satellite_info("kitchen", None)
    assert info.satellite is not None
    assert info.satellite.attribution == ATTRIBUTION
    assert ATTRIBUTION.url == PROJECT_URL
