"""Fetch model files from a Hugging Face-style hub: resumable, verified, atomic.

The hub's URL layout (the one users know; ``HF_ENDPOINT`` points elsewhere, e.g. a mirror):
``{endpoint}/api/models/{repo}/tree/{revision}?recursive=true`` lists files with their size and,
for LFS files, the sha256 (``lfs.oid``); other files carry their git blob sha1 (``oid``).
``{endpoint}/{repo}/resolve/{revision}/{path}`` serves a file (redirects are followed).

A download goes to ``NAME.part`` beside the target and continues from its size with a
``Range`` request; the finished file is checked against the published size and hash and only
then renamed into place, so a half-written or corrupt file is never used. ``HF_HUB_OFFLINE=1``
(or ``HEARTH_OFFLINE=1``) refuses every request. Synchronous (command line and start-up).
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from .env import env, env_bool

DEFAULT_ENDPOINT = "https://huggingface.co"
_CHUNK = 1 << 20
Progress = Callable[[str, int, int], None]  # (file name, bytes so far, total bytes)


class HubError(RuntimeError):
    """A model could not be fetched; the message says what and why."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a download: ``part`` (``have`` bytes) is kept for a resume, never used."""

    def __init__(self, part: Path, have: int) -> None:
        super().__init__(f"interrupted at {have} bytes of {part}")
        self.part, self.have = part, have


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # LFS files
    git_sha1: str | None  # small files kept in git
    md5: str | None = None  # where a catalogue publishes md5 (Piper's voices.json)


def endpoint() -> str:
    return (env("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    return env_bool("HF_HUB_OFFLINE") or env_bool("HEARTH_OFFLINE")


def _client() -> httpx.Client:
    if offline():
        raise HubError("offline mode (HF_HUB_OFFLINE/HEARTH_OFFLINE) is on: nothing can be fetched")
    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=60.0))


def list_files(repo: str, revision: str = "main") -> list[RemoteFile]:
    """Every file of ``repo`` with its published size and hash."""
    url = f"{endpoint()}/api/models/{repo}/tree/{revision}"
    with _client() as client:
        try:
            response = client.get(url, params={"recursive": "true"})
        except httpx.HTTPError as err:
            raise HubError(f"cannot reach the hub at {endpoint()}: {err}") from err
    if response.status_code == 404:
        raise HubError(f"no repository {repo!r} (revision {revision}) on {endpoint()}")
    if response.status_code != 200:
        raise HubError(f"the hub answered HTTP {response.status_code} for {repo!r}")
    entries: list[dict[str, Any]] = response.json()
    files = []
    for entry in entries:
        if entry.get("type") != "file":
            continue
        lfs = entry.get("lfs") or {}
        files.append(RemoteFile(entry["path"], int(lfs.get("size", entry.get("size", 0))),
                                lfs.get("oid"), None if lfs else entry.get("oid")))
    return files


def download(repo: str, remote: RemoteFile, target: Path, *, revision: str = "main",
             progress: Progress | None = None) -> Path:
    """``remote`` into ``target`` (resuming a ``.part``), verified, renamed into place."""
    if target.is_file() and verify(target, remote):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if have > remote.size:
        part.unlink()
        have = 0
    url = f"{endpoint()}/{repo}/resolve/{revision}/{remote.path}"
    headers = {"Range": f"bytes={have}-"} if have else {}
    with _client() as client:
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 404:
                    raise HubError(f"{repo}/{remote.path} is not on {endpoint()} (HTTP 404)")
                if response.status_code == 200 and have:
                    have = 0  # the server ignored the range: start over
                elif response.status_code not in (200, 206):
                    raise HubError(f"the hub answered HTTP {response.status_code} for {repo}/{remote.path}")
                with part.open("r+b" if have else "wb") as out:
                    out.seek(have)
                    out.truncate()
                    for block in response.iter_bytes():  # as it arrives: a break keeps what came
                        out.write(block)
                        have += len(block)
                        if progress is not None:
                            progress(remote.path, have, remote.size)
        except httpx.HTTPError as err:
            raise HubError(f"download of {repo}/{remote.path} broke off at {have} bytes ({err}); "
                           "run it again to resume") from err
        except KeyboardInterrupt:
            raise Interrupted(part, have) from None
    if not verify(part, remote):
        part.unlink()
        raise HubError(f"{repo}/{remote.path}: size or checksum does not match the hub's; the file was removed")
    part.replace(target)
    return target


def fetch_json(repo: str, path: str, *, revision: str = "main") -> Any:
    """A small JSON file of ``repo`` (e.g. a catalogue), not verified."""
    url = f"{endpoint()}/{repo}/resolve/{revision}/{path}"
    with _client() as client:
        try:
            response = client.get(url)
        except httpx.HTTPError as err:
            raise HubError(f"cannot reach the hub at {endpoint()}: {err}") from err
    if response.status_code != 200:
        raise HubError(f"the hub answered HTTP {response.status_code} for {repo}/{path}")
    return response.json()


def verify(path: Path, remote: RemoteFile) -> bool:
    """True if ``path`` has the published size and hash."""
    if path.stat().st_size != remote.size:
        return False
    if remote.sha256 is not None:
        return file_sha256(path) == remote.sha256
    if remote.md5 is not None:
        digest_md5 = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as fh:
            while block := fh.read(_CHUNK):
                digest_md5.update(block)
        return digest_md5.hexdigest() == remote.md5
    if remote.git_sha1 is not None:
        digest = hashlib.sha1(f"blob {remote.size}\0".encode(), usedforsecurity=False)
        with path.open("rb") as fh:
            while block := fh.read(_CHUNK):
                digest.update(block)
        return digest.hexdigest() == remote.git_sha1
    return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class ConsoleProgress:
    """Download progress on stderr: on a terminal a bar redrawn at most 4 times a second; in a log
    (not a TTY: systemd, a pipe) one plain line every ``log_every`` seconds and one at the end."""

    def __init__(self, stream: TextIO | None = None, *, log_every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._every = 0.25 if self._tty else log_every
        self._clock = clock
        self._last: float | None = None
        self._started: dict[str, float] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        now = self._clock()
        start = self._started.setdefault(name, now)
        finished = done >= total
        if self._last is not None and now - self._last < self._every and not finished:
            return
        self._last = now
        share = done / total if total else 1.0
        rate = done / (now - start) / 1e6 if now > start else 0.0
        if self._tty:
            bar = "#" * int(share * 30)
            self._stream.write(f"\r{name[-40:]:40} [{bar:30}] {share:6.1%} {done / 1e6:8.1f} MB {rate:6.1f} MB/s")
            if finished:
                self._stream.write("\n")
        else:
            self._stream.write(f"{name}: {share:.0%} ({done / 1e6:.1f} of {total / 1e6:.1f} MB, {rate:.1f} MB/s)\n")
        self._stream.flush()
