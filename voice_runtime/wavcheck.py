"""A WAV file the user named, checked before anything starts: why it cannot be read, in one line."""

from __future__ import annotations

import wave
from pathlib import Path


def wav_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a WAV file (one line, naming it), or None: checked at start,
    so a typo is not a traceback later (``ask --wav``, the satellite's ``--mic-wav``)."""
    if not path.exists():
        return f"{path}: no such file"
    if not path.is_file():
        return f"{path}: not a file"
    try:
        with wave.open(str(path), "rb") as wav:
            wav.getnframes()
    except (wave.Error, EOFError) as err:
        return f"{path} is not a WAV file ({err or 'truncated'})"
    except OSError as err:
        return f"{path}: {err.strerror or err}"
    return None
