"""Models on demand: what is installed, what can be fetched, fetch, verify, remove.

Names users know: a faster-whisper size (``small.en``, ``distil-small.en``, ``large-v3-turbo``),
a Piper voice from its catalogue (``en_GB-alan-medium``, every language), or any GGUF by
``owner/repo/file.gguf``. Files land where the services look for them
(``$HEARTH_CACHE_DIR/models``: ``whisper-NAME/``, ``piper/``, ``llm/``), each download with a
``manifest.json`` of sizes and sha256, so ``verify`` works offline. The registry-packaged
defaults (tiny.en, en_US-joe-medium, SmolLM2-135M, Kokoro) need no hub at all.
"""

from __future__ import annotations

import difflib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .hub import (
    ConsoleProgress,
    HubError,
    Progress,
    RemoteFile,
    download,
    fetch_json,
    file_sha256,
    list_files,
    offline,
)
from .models import ModelError, installed_whisper_models, models_dir, piper_voices, resolve_piper, resolve_whisper

WHISPER_REPOS = {
    "tiny.en": "Systran/faster-whisper-tiny.en", "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en", "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en", "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en", "medium": "Systran/faster-whisper-medium",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}
PIPER_REPO = "rhasspy/piper-voices"
RECOMMENDED_GGUF = (
    "Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    "Qwen/Qwen2.5-3B-Instruct-GGUF/qwen2.5-3b-instruct-q4_k_m.gguf",
    "bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf",
    "bartowski/Llama-3.2-3B-Instruct-GGUF/Llama-3.2-3B-Instruct-Q4_K_M.gguf",
)
_SKIP = (".gitattributes", "README.md")
_LOGGER = logging.getLogger(__name__)


class ModelNotFound(HubError):
    """An unknown name; the message lists close matches."""


def llm_dir() -> Path:
    return models_dir() / "llm"


def piper_catalogue() -> dict[str, dict[str, Any]]:
    """Piper's voices.json (cached beside the voices): name -> {"files": {path: {size_bytes, md5_digest}}}."""
    cached = models_dir() / "piper" / "voices.json"
    try:
        catalogue = fetch_json(PIPER_REPO, "voices.json")
    except HubError:
        if cached.is_file():
            return json.loads(cached.read_text())  # type: ignore[no-any-return]
        raise
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(catalogue))
    return catalogue  # type: ignore[no-any-return]


def kind_of(name: str) -> str:
    if name in WHISPER_REPOS:
        return "whisper"
    if name.endswith(".gguf") and name.count("/") >= 2:
        return "gguf"
    return "piper"


def fetch(name: str, *, progress: Progress | None = None) -> Path:
    """Fetch ``name``; returns the folder (Whisper) or file (Piper ``.onnx``, GGUF)."""
    kind = kind_of(name)
    if kind == "whisper":
        repo = WHISPER_REPOS[name]
        files = [f for f in list_files(repo) if f.path not in _SKIP and not f.path.startswith(".")]
        return _fetch_files(repo, files, models_dir() / f"whisper-{name}", progress)
    if kind == "gguf":
        repo, _, path = name.rpartition("/")
        remote = next((f for f in list_files(repo) if f.path == path), None)
        if remote is None:
            raise ModelNotFound(f"{repo} has no file {path!r}")
        _fetch_files(repo, [remote], llm_dir(), progress, flat=True)
        return llm_dir() / Path(path).name
    catalogue = piper_catalogue()
    if name not in catalogue:
        close = difflib.get_close_matches(name, [*catalogue, *WHISPER_REPOS], n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `hearth models list --all` shows them"
        raise ModelNotFound(f"unknown model or voice {name!r}{hint}")
    files = [RemoteFile(path, int(str(meta["size_bytes"])), None, None, md5=str(meta["md5_digest"]))
             for path, meta in catalogue[name]["files"].items() if path.endswith((".onnx", ".onnx.json"))]
    _fetch_files(PIPER_REPO, files, models_dir() / "piper", progress, flat=True)
    return models_dir() / "piper" / f"{name}.onnx"


def resolve_or_fetch_whisper(name: str) -> Path:
    """:func:`resolve_whisper`, fetching a known size from the hub when it is missing."""
    return _resolve_or_fetch(name, resolve_whisper, fetchable=name in WHISPER_REPOS, what="Whisper model")


def resolve_or_fetch_piper(name: str | None) -> Path:
    """:func:`resolve_piper`, fetching a voice of the Piper catalogue when it is missing."""
    fetchable = bool(name) and "/" not in str(name) and not str(name).endswith(".onnx")
    return _resolve_or_fetch(name, resolve_piper, fetchable=fetchable, what="Piper voice")


def _resolve_or_fetch(name: str | None, resolve: Callable[[Any], Path], *, fetchable: bool, what: str) -> Path:
    try:
        return resolve(name)
    except ModelError:
        if not fetchable or name is None or offline():
            raise
    _LOGGER.info("fetching %s=%s from the hub", what.lower(), name)
    try:
        fetch(name, progress=ConsoleProgress())
    except HubError as err:
        raise ModelError(f"{what} {name!r} is not installed and could not be fetched: {err}") from err
    return resolve(name)


def _fetch_files(repo: str, files: list[RemoteFile], folder: Path, progress: Progress | None, *,
                 flat: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for remote in files:
        target = folder / (Path(remote.path).name if flat else remote.path)
        download(repo, remote, target, progress=progress)
        manifest[target.name if flat else remote.path] = {**asdict(remote), "repo": repo,
                                                          "sha256_local": file_sha256(target)}
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(manifest_path)
    return folder


def verify_installed() -> dict[str, bool]:
    """Every downloaded file against its manifest (offline): path -> intact."""
    results: dict[str, bool] = {}
    for manifest_path in sorted(models_dir().glob("**/manifest.json")):
        for rel, meta in json.loads(manifest_path.read_text()).items():
            path = manifest_path.parent / rel
            results[str(path)] = (path.is_file() and path.stat().st_size == meta["size"]
                                  and file_sha256(path) == meta["sha256_local"])
    return results


def remove(name: str) -> list[Path]:
    """Remove a downloaded model (never a packaged default); returns what was removed."""
    removed: list[Path] = []
    if kind_of(name) == "whisper":
        folder = models_dir() / f"whisper-{name}"
        if (folder / "manifest.json").is_file():
            shutil.rmtree(folder)
            removed.append(folder)
    else:
        base = llm_dir() / Path(name).name if kind_of(name) == "gguf" else models_dir() / "piper" / f"{name}.onnx"
        for path in (base, base.with_name(base.name + ".json")):
            if path.is_file():
                path.unlink()
                removed.append(path)
    if not removed:
        raise ModelNotFound(f"{name!r} is not a downloaded model (packaged defaults cannot be removed)")
    return removed


def listing(*, everything: bool = False) -> str:
    lines = ["installed:"]
    lines += [f"  whisper  {n:18} {p}" for n, p in sorted(installed_whisper_models().items())]
    lines += [f"  piper    {n:18} {p}" for n, p in sorted(piper_voices().items())]
    lines += [f"  gguf     {p.name:18} {p}" for p in sorted(llm_dir().glob("*.gguf"))]
    lines.append("can be fetched (hearth models fetch NAME):")
    lines.append("  whisper  " + " ".join(n for n in WHISPER_REPOS if n not in installed_whisper_models()))
    lines += [f"  gguf     {g}" for g in RECOMMENDED_GGUF]
    if everything:
        lines.append("  piper    " + " ".join(sorted(piper_catalogue())))
    else:
        lines.append("  piper    any voice of the Piper catalogue (--all lists them), e.g. en_GB-alan-medium")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``hearth models list [--all] | fetch NAME… | verify | remove NAME…``."""
    import argparse

    parser = argparse.ArgumentParser(prog="hearth models", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list").add_argument("--all", action="store_true", help="every Piper voice too (needs the hub)")
    sub.add_parser("fetch").add_argument("names", nargs="+")
    sub.add_parser("verify")
    sub.add_parser("remove").add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.action == "list":
            print(listing(everything=args.all))
        elif args.action == "fetch":
            for name in args.names:
                print(f"{name}: {fetch(name, progress=ConsoleProgress())}")
        elif args.action == "verify":
            results = verify_installed()
            for checked, ok in results.items():
                print(f"{'ok     ' if ok else 'CORRUPT'} {checked}")
            return 0 if all(results.values()) else 1
        else:
            for name in args.names:
                for path in remove(name):
                    print(f"removed {path}")
    except HubError as err:
        print(f"hearth models: {err}")
        return 2
    return 0
