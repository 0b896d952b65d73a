"""Models on demand: what is installed, what can be fetched, fetch, verify, remove.

Names users know: a faster-whisper size (``small.en``, ``distil-small.en``, ``large-v3-turbo``),
a Piper voice from its catalogue (``en_GB-alan-medium``, every language), a Kokoro voice
(``bf_emma``, ``jf_alpha``: ``voices/NAME.bin`` of the Kokoro ONNX repo) or Kokoro model
(``kokoro-int8``, ``kokoro-fp32``, ...), or any GGUF by ``owner/repo/file.gguf``. Files land in
the download dir (``--download-dir``; default the first writable ``--data-dir``, else
``$HEARTH_CACHE_DIR/models``) where the services look for them (``whisper-NAME/``, ``piper/``,
``kokoro/``, ``llm/``), each download with a ``manifest.json`` of sizes and sha256, so
``verify`` works offline. The registry-packaged defaults (tiny.en, en_US-joe-medium,
SmolLM2-135M, Kokoro af_heart and the English voices) need no hub at all.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import logging
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .hub import (
    ConsoleProgress,
    HubError,
    Interrupted,
    Progress,
    RemoteFile,
    download,
    fetch_json,
    file_sha256,
    list_files,
    offline,
)
from .models import (
    KOKORO_VOICE_BYTES,
    KOKORO_VOICE_RE,
    ModelDirs,
    ModelError,
    installed_whisper_models,
    kokoro_voice_files,
    model_dirs,
    piper_voices,
    resolve_kokoro_model,
    resolve_kokoro_voices,
    resolve_llm,
    resolve_piper,
    resolve_whisper,
)

WHISPER_REPOS = {
    "tiny.en": "Systran/faster-whisper-tiny.en", "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en", "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en", "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en", "medium": "Systran/faster-whisper-medium",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}
PIPER_REPO = "rhasspy/piper-voices"
KOKORO_REPO = "onnx-community/Kokoro-82M-v1.0-ONNX"
KOKORO_MODELS = {  # name -> file of KOKORO_REPO (kokoro-int8 is the quantisation the set-up installs)
    "kokoro-int8": "onnx/model_quantized.onnx", "kokoro-fp32": "onnx/model.onnx",
    "kokoro-fp16": "onnx/model_fp16.onnx", "kokoro-q8f16": "onnx/model_q8f16.onnx",
    "kokoro-q4": "onnx/model_q4.onnx",
}
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


def _d(dirs: ModelDirs | None) -> ModelDirs:
    return dirs if dirs is not None else model_dirs()


def piper_catalogue(dirs: ModelDirs | None = None) -> dict[str, dict[str, Any]]:
    """Piper's voices.json (cached beside the voices): name -> {"files": {path: {size_bytes, md5_digest}}}."""
    cached = _d(dirs).download / "piper" / "voices.json"
    try:
        catalogue = fetch_json(PIPER_REPO, "voices.json")
    except HubError:
        if cached.is_file():
            return json.loads(cached.read_text())  # type: ignore[no-any-return]
        raise
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(catalogue))
    return catalogue  # type: ignore[no-any-return]


def kokoro_catalogue() -> dict[str, RemoteFile]:
    """The Kokoro voices on the hub (``voices/NAME.bin``), by name."""
    return {Path(f.path).stem: f for f in list_files(KOKORO_REPO)
            if f.path.startswith("voices/") and f.path.endswith(".bin")}


def kind_of(name: str) -> str:
    if name in WHISPER_REPOS:
        return "whisper"
    if name.endswith(".gguf") and name.count("/") >= 2:
        return "gguf"
    if name in KOKORO_MODELS:
        return "kokoro-model"
    if KOKORO_VOICE_RE.fullmatch(name):
        return "kokoro-voice"
    return "piper"


def fetch(name: str, *, progress: Progress | None = None, dirs: ModelDirs | None = None) -> Path:
    """Fetch ``name`` into the download dir; returns the folder (Whisper) or file."""
    where = _d(dirs).download
    kind = kind_of(name)
    if kind == "whisper":
        repo = WHISPER_REPOS[name]
        files = [f for f in list_files(repo) if f.path not in _SKIP and not f.path.startswith(".")]
        return _fetch_files(repo, files, where / f"whisper-{name}", progress)
    if kind == "gguf":
        owner, repo_name, path = name.split("/", 2)  # the file may sit in a folder of the repo
        repo = f"{owner}/{repo_name}"
        remote = next((f for f in list_files(repo) if f.path == path), None)
        if remote is None:
            raise ModelNotFound(f"{repo} has no file {path!r}")
        _fetch_files(repo, [remote], where / "llm", progress, flat=True)
        return where / "llm" / Path(path).name
    if kind == "kokoro-model":
        remote = next((f for f in list_files(KOKORO_REPO) if f.path == KOKORO_MODELS[name]), None)
        if remote is None:
            raise ModelNotFound(f"{KOKORO_REPO} has no file {KOKORO_MODELS[name]!r}")
        _fetch_files(KOKORO_REPO, [remote], where / "kokoro", progress, flat=True)
        return where / "kokoro" / Path(remote.path).name
    if kind == "kokoro-voice":
        return _fetch_kokoro_voice(name, where, progress)
    try:
        catalogue = piper_catalogue(dirs)
    except HubError as err:  # no hub: still name the close matches among the names known here
        close = difflib.get_close_matches(name, [*WHISPER_REPOS, *KOKORO_MODELS, *piper_voices(dirs)], n=5,
                                          cutoff=0.6)
        if close and name not in piper_voices(dirs):
            raise ModelNotFound(f"unknown model or voice {name!r}; did you mean {', '.join(close)}? ({err})") from err
        raise
    if name not in catalogue:
        close = difflib.get_close_matches(name, [*catalogue, *WHISPER_REPOS, *KOKORO_MODELS], n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `hearth models list --all` shows them"
        raise ModelNotFound(f"unknown model or voice {name!r}{hint}")
    files = [RemoteFile(path, int(str(meta["size_bytes"])), None, None, md5=str(meta["md5_digest"]))
             for path, meta in catalogue[name]["files"].items() if path.endswith((".onnx", ".onnx.json"))]
    _fetch_files(PIPER_REPO, files, where / "piper", progress, flat=True)
    return where / "piper" / f"{name}.onnx"


def _fetch_kokoro_voice(name: str, where: Path, progress: Progress | None) -> Path:
    catalogue = kokoro_catalogue()
    if name not in catalogue:
        close = difflib.get_close_matches(name, catalogue, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; {KOKORO_REPO} has {len(catalogue)} voices"
        raise ModelNotFound(f"unknown Kokoro voice {name!r}{hint}")
    remote = catalogue[name]
    if remote.size != KOKORO_VOICE_BYTES:
        raise HubError(f"{KOKORO_REPO}/{remote.path} has {remote.size} bytes, not a Kokoro voice "
                       f"(float32 510x1x256 = {KOKORO_VOICE_BYTES})")
    folder = _fetch_files(KOKORO_REPO, [remote], where / "kokoro" / "voices", progress, flat=True)
    return folder / f"{name}.bin"


def resolve_or_fetch_whisper(name: str, dirs: ModelDirs | None = None) -> Path:
    """:func:`resolve_whisper`, fetching a known size from the hub when it is missing."""
    return _resolve_or_fetch(name, lambda n: resolve_whisper(n, dirs), fetchable=name in WHISPER_REPOS,
                             what="Whisper model", dirs=dirs)


def resolve_or_fetch_piper(name: str | None, dirs: ModelDirs | None = None) -> Path:
    """:func:`resolve_piper`, fetching a voice of the Piper catalogue when it is missing."""
    fetchable = bool(name) and "/" not in str(name) and not str(name).endswith(".onnx")
    return _resolve_or_fetch(name, lambda n: resolve_piper(n, dirs), fetchable=fetchable, what="Piper voice",
                             dirs=dirs)


def resolve_or_fetch_kokoro_model(name: str | None, dirs: ModelDirs | None = None) -> Path:
    """The Kokoro ``.onnx``: a path or file name, or a :data:`KOKORO_MODELS` name fetched when missing."""
    if name in KOKORO_MODELS:
        file = Path(KOKORO_MODELS[name]).name
        return _resolve_or_fetch(name, lambda _n: resolve_kokoro_model(file, dirs), fetchable=True,
                                 what="Kokoro model", dirs=dirs)
    return resolve_kokoro_model(name, dirs)


def resolve_or_fetch_kokoro_voice(name: str, installed: set[str], dirs: ModelDirs | None = None) -> Path | None:
    """A Kokoro voice not among ``installed`` (nor fetched before) is fetched; None if it is there."""
    if name in installed:
        return None

    def resolve(voice: str) -> Path:
        found = kokoro_voice_files(dirs).get(voice)
        if found is None:
            raise ModelError(f"Kokoro voice {voice!r} is not installed (installed: {', '.join(sorted(installed))})")
        return found

    try:
        return _resolve_or_fetch(name, resolve, fetchable=bool(KOKORO_VOICE_RE.fullmatch(name)),
                                 what="Kokoro voice", dirs=dirs)
    except ModelError as err:
        close = difflib.get_close_matches(name, installed, n=3, cutoff=0.6)
        if not close:
            raise
        raise ModelError(f"{err}; did you mean {', '.join(close)}?") from err


def resolve_or_fetch_llm(name: str | None, dirs: ModelDirs | None = None) -> Path:
    """:func:`resolve_llm`, fetching a hub ``owner/repo/file.gguf`` when it is missing."""
    # a hub name is owner/repo/file.gguf: a path (absolute, ~, ./) or a file that is there is never fetched
    fetchable = (name is not None and kind_of(name) == "gguf" and not name.startswith(("/", "~", "."))
                 and not Path(name).exists())
    return _resolve_or_fetch(name, lambda n: resolve_llm(n, dirs), fetchable=fetchable, what="GGUF model", dirs=dirs)


def _resolve_or_fetch(name: str | None, resolve: Callable[[Any], Path], *, fetchable: bool, what: str,
                      dirs: ModelDirs | None) -> Path:
    try:
        return resolve(name)
    except ModelError:
        if not fetchable or name is None or offline():
            raise
    _LOGGER.info("fetching %s=%s from the hub into %s", what.lower(), name, _d(dirs).download)
    try:
        fetch(name, progress=ConsoleProgress(), dirs=dirs)
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


def verify_installed(dirs: ModelDirs | None = None) -> dict[str, bool]:
    """Every downloaded file of every model dir against its manifest (offline): path -> intact."""
    results: dict[str, bool] = {}
    for folder in _d(dirs).search:
        for manifest_path in sorted(folder.glob("**/manifest.json")):
            for rel, meta in json.loads(manifest_path.read_text()).items():
                path = manifest_path.parent / rel
                results[str(path)] = (path.is_file() and path.stat().st_size == meta["size"]
                                      and file_sha256(path) == meta["sha256_local"])
    return results


def remove(name: str, dirs: ModelDirs | None = None) -> list[Path]:
    """Remove a downloaded model from the first model dir that has it (never a packaged default)."""
    removed: list[Path] = []
    kind = kind_of(name)
    for where in _d(dirs).search:
        if kind == "whisper":
            folder = where / f"whisper-{name}"
            if (folder / "manifest.json").is_file():
                shutil.rmtree(folder)
                removed.append(folder)
            candidates: tuple[Path, ...] = ()
        elif kind == "gguf":
            candidates = (where / "llm" / Path(name).name,)
        elif kind == "kokoro-model":
            candidates = (where / "kokoro" / Path(KOKORO_MODELS[name]).name,)
        elif kind == "kokoro-voice":
            candidates = (where / "kokoro" / "voices" / f"{name}.bin",)
        else:
            onnx = where / "piper" / f"{name}.onnx"
            candidates = (onnx, onnx.with_name(onnx.name + ".json"))
        for path in candidates:
            if path.is_file() and (path.parent / "manifest.json").is_file():
                path.unlink()
                removed.append(path)
        if removed:
            return removed
    raise ModelNotFound(f"{name!r} is not a downloaded model (packaged defaults cannot be removed)")


def listing(*, everything: bool = False, dirs: ModelDirs | None = None) -> str:
    lines = [f"model dirs (searched in order): {' '.join(str(d) for d in _d(dirs).search)}",
             f"downloads go to: {_d(dirs).download}", "installed:"]
    lines += [f"  whisper  {n:18} {p}" for n, p in sorted(installed_whisper_models(dirs).items())]
    lines += [f"  piper    {n:18} {p}" for n, p in sorted(piper_voices(dirs).items())]
    with contextlib.suppress(ModelError):
        lines.append(f"  kokoro   {'(model)':18} {resolve_kokoro_model(None, dirs)}")
    with contextlib.suppress(ModelError):
        lines.append(f"  kokoro   {'(packaged voices)':18} {resolve_kokoro_voices(None, dirs)}")
    lines += [f"  kokoro   {n:18} {p}" for n, p in sorted(kokoro_voice_files(dirs).items())]
    ggufs = [p for d in _d(dirs).search for p in sorted((d / "llm").glob("*.gguf"))]
    with contextlib.suppress(ModelError):  # the default (LLAMA_MODEL_PATH or the packaged SmolLM2)
        ggufs += [default] if (default := resolve_llm(None, dirs)) not in ggufs else []
    lines += [f"  gguf     {p.name:18} {p}" for p in ggufs]
    lines.append("can be fetched (hearth models fetch NAME):")
    lines.append("  whisper  " + " ".join(n for n in WHISPER_REPOS if n not in installed_whisper_models(dirs)))
    lines.append("  gguf     any owner/repo/file.gguf; recommended for voice (small, instruct, Q4_K_M):")
    lines += [f"             {g}" for g in RECOMMENDED_GGUF]
    lines.append("  kokoro   models: " + " ".join(KOKORO_MODELS))
    if everything:
        for label, names in (("kokoro   voices: ", kokoro_catalogue), ("piper    ", lambda: piper_catalogue(dirs))):
            try:
                lines.append(f"  {label}" + " ".join(sorted(names())))
            except HubError as err:
                lines.append(f"  {label}(not listed: {err})")
    else:
        lines.append(f"  kokoro   voices: any of {KOKORO_REPO}/voices (--all lists them), e.g. bf_emma")
        lines.append("  piper    any voice of the Piper catalogue (--all lists them), e.g. en_GB-alan-medium")
    return "\n".join(lines)


def add_model_dir_args(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--data-dir`` (repeatable, searched in order) and ``--download-dir``, as the Wyoming services."""
    parser.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                        help="a folder with models, searched in order (repeatable; "
                        "$HEARTH_CACHE_DIR/models is always searched last)")
    parser.add_argument("--download-dir", default=None, metavar="DIR",
                        help="where fetched models go (default: the first writable --data-dir, "
                        "else $HEARTH_CACHE_DIR/models)")


def dirs_from_args(args: argparse.Namespace) -> ModelDirs:
    return model_dirs(args.data_dir, args.download_dir)


def main(argv: list[str]) -> int:
    """``hearth models list [--all] | fetch NAME… | verify | remove NAME…``."""
    parser = argparse.ArgumentParser(prog="hearth models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from .cli import add_version_arg

    add_version_arg(parser)
    common = argparse.ArgumentParser(add_help=False)
    add_model_dir_args(common)
    sub = parser.add_subparsers(dest="action", required=True)
    listed = sub.add_parser("list", parents=[common], help="what is installed and what can be fetched")
    listed.add_argument("--all", action="store_true", help="every Piper and Kokoro voice too (needs the hub)")
    sub.add_parser("fetch", parents=[common], help="download, check and install").add_argument("names", nargs="+")
    sub.add_parser("verify", parents=[common], help="check downloads against their manifest (offline)")
    sub.add_parser("remove", parents=[common], help="delete downloaded models").add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    dirs = dirs_from_args(args)
    try:
        if args.action == "list":
            print(listing(everything=args.all, dirs=dirs))
        elif args.action == "fetch":
            for name in args.names:
                print(f"{name}: {fetch(name, progress=ConsoleProgress(), dirs=dirs)}", flush=True)
        elif args.action == "verify":
            results = verify_installed(dirs)
            for checked, ok in results.items():
                print(f"{'ok     ' if ok else 'CORRUPT'} {checked}")
            return 0 if all(results.values()) else 1
        else:
            for name in args.names:
                for path in remove(name, dirs):
                    print(f"removed {path}")
    except HubError as err:
        print(f"hearth models: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"hearth models: {err.strerror or err}: {err.filename}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"\nhearth models: interrupted; {stop.part} ({stop.have} bytes) is kept and never used as "
              "the model: run the same command again to resume it", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nhearth models: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
