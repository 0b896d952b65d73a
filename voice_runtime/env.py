"""`.env` loading and environment defaults for flags.

Precedence everywhere: command-line flag > process environment > `.env` file > built-in
default. The `.env` file is read from the current directory, then the project root.

The file is parsed by python-dotenv (the format users know from docker compose and every
other tool): quotes, `# comments` after a value, escapes in double quotes (`\n`, `\"`), values
spanning lines inside quotes, an `export ` prefix. `${VAR}` is not expanded (a value means what
it says); a line python-dotenv cannot parse is skipped with a warning naming its line.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

from dotenv import dotenv_values

# The variables the project reads; `.env.example` documents each.
KNOWN_VARIABLES = (
    "LLAMA_EXE_PATH",
    "LLAMA_MODEL_PATH",
    "TTS_PROVIDER",
    "KOKORO_VOICE",
    "PIPER_MODEL_PATH",
    "ENABLE_CLOUD_FALLBACK",
    "DEEPGRAM_API_KEY",
    "DEEPSEEK_API_KEY",
    "HEARTH_CACHE_DIR",
    "WHISPER_MODEL",
    "WHISPER_DEVICE",
    "LLM_PROVIDER",
    "LLAMA_URL",
    "LLM_SYSTEM_PROMPT",
    "DEEPSEEK_BASE_URL",
    "SATELLITE_NAME",
    "SATELLITE_AREA",
    "DEEPGRAM_URL",
    "DEEPSEEK_URL",
    "HEARTH_DATA_DIR",
    "HA_TOKEN",
)
SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_PASSWORD")
# Variables from the original seed's `.env` that do nothing here, and why (a warning at start).
IGNORED_VARIABLES = {
    "PIPER_EXE_PATH": "Piper runs in this process (the piper-tts package); there is no executable to point "
    "at. Choose the voice with PIPER_MODEL_PATH or --piper-model",
    "SERVER_URL": "the controller connects to the satellite, as Home Assistant does, not the other way "
    "round: the satellite listens on --uri; give that address to Home Assistant or to "
    "'voice-orchestrator serve --satellite tcp://HOST:10700'",
}
_LOGGER = logging.getLogger(__name__)

_loaded: dict[str, str] | None = None


def parse_dotenv(text: str) -> dict[str, str]:
    """The ``KEY=value`` pairs of a `.env` text (python-dotenv's parser; a bare ``KEY`` is skipped)."""
    parsed = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in parsed.items() if value is not None}


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def load_dotenv(path: Path | None = None, *, reload: bool = False) -> dict[str, str]:
    """Read `.env` once (cwd first, then the project root); does not modify os.environ."""
    global _loaded
    if _loaded is not None and not reload and path is None:
        return _loaded
    candidates = [path] if path is not None else [Path.cwd() / ".env", _project_root() / ".env"]
    values: dict[str, str] = {}
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            values = parse_dotenv(candidate.read_text(encoding="utf-8"))
            break
    if path is None:
        _loaded = values
    return values


def env(name: str, default: str | None = None) -> str | None:
    """The value of ``name`` from the environment, else `.env`, else ``default``."""
    if name in os.environ:
        return os.environ[name]
    return load_dotenv().get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def secret_values() -> list[str]:
    """Every secret-looking value from the environment and `.env` (for log redaction)."""
    found: list[str] = []
    sources = [dict(os.environ), load_dotenv()]
    for source in sources:
        for key, value in source.items():
            if key.upper().endswith(SECRET_SUFFIXES) and len(value) >= 6:
                found.append(value)
    return sorted(set(found), key=len, reverse=True)


def warn_ignored(*names: str) -> list[str]:
    """Log a warning for each of ``names`` (keys of IGNORED_VARIABLES) that is set; the names warned of."""
    warned = [name for name in names if env(name) not in (None, "")]
    for name in warned:
        _LOGGER.warning("%s is set but ignored: %s", name, IGNORED_VARIABLES[name])
    return warned
