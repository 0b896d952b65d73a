"""`.env` loading and environment defaults for flags.

Precedence everywhere: command-line flag > process environment > `.env` file > built-in
default. The `.env` file is read from the current directory, then the project root.
"""

from __future__ import annotations

import os
from pathlib import Path

# The variables the project reads; `.env.example` documents each.
KNOWN_VARIABLES = (
    "LLAMA_EXE_PATH",
    "LLAMA_MODEL_PATH",
    "TTS_PROVIDER",
    "KOKORO_VOICE",
    "PIPER_MODEL_PATH",
    "SERVER_URL",
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

_loaded: dict[str, str] | None = None


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines; ``#`` comments, ``export`` prefixes and quotes allowed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            values[key] = value
    return values


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
