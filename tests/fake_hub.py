"""FakeHub: a local HTTP server with the Hugging Face hub's URL layout (no network here).

``/api/models/{repo}/tree/{rev}?recursive=true`` lists files (LFS ones with ``lfs.oid`` =
sha256 and ``lfs.size``, others with ``oid`` = git blob sha1), ``/{repo}/resolve/{rev}/{path}``
serves them with ``Range`` support. Fault injection: ``break_after`` (bytes of one file sent
before the connection drops, once), ``corrupt`` (paths served with flipped bytes), ``rate`` (bytes
a second per download: a slow hub, so a download can be interrupted midway).
``kokoro_repo`` builds the Kokoro ONNX repo's layout (``voices/NAME.bin``, ``onnx/*.onnx``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass
class FakeHub:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    lfs_min: int = 1024  # files this large are "LFS" (sha256 published)
    break_after: dict[str, int] = field(default_factory=dict)  # path -> bytes before a drop (once)
    corrupt: set[str] = field(default_factory=set)
    ranges: list[str] = field(default_factory=list)  # Range headers seen
    rate: int | None = None  # bytes per second per download (None: as fast as it goes)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                if path.startswith("/api/models/"):
                    repo, _, _rev = path[len("/api/models/"):].rpartition("/tree/")
                    files = hub.repos.get(repo)
                    if files is None:
                        return self._send(404, b'{"error": "Repository not found"}')
                    return self._send(200, json.dumps([hub._entry(p, d) for p, d in files.items()]).encode())
                for repo, files in hub.repos.items():
                    prefix = f"/{repo}/resolve/"
                    if path.startswith(prefix):
                        name = path[len(prefix):].split("/", 1)[1]
                        if name in files:
                            return self._file(name, files[name])
                return self._send(404, b"Entry not found")

            def _file(self, name: str, data: bytes) -> None:
                if name in hub.corrupt:
                    data = bytes(b ^ 0xFF for b in data[:16]) + data[16:]
                start = 0
                wanted = self.headers.get("Range")
                if wanted:
                    hub.ranges.append(wanted)
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                body = data[start:]
                self.send_response(206 if wanted else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = hub.break_after.pop(name, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                step = max(1, (hub.rate or len(body) or 1) // 20)
                try:
                    for offset in range(0, len(body), step):
                        self.wfile.write(body[offset:offset + step])
                        if hub.rate:
                            self.wfile.flush()
                            time.sleep(step / hub.rate)  # pacing a slow hub, not synchronisation
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client went away mid-download

            def _send(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake hub").start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _entry(self, path: str, data: bytes) -> dict[str, object]:
        if len(data) >= self.lfs_min:
            return {"type": "file", "path": path, "size": 134,
                    "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}}
        blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()
        return {"type": "file", "path": path, "size": len(data), "oid": blob}


def kokoro_repo(voices: dict[str, bytes], models: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Files of the Kokoro ONNX repo (onnx-community/Kokoro-82M-v1.0-ONNX): ``voices/NAME.bin`` (raw
    float32 510 x 1 x 256 each) and ``onnx/FILE.onnx``, plus the small files a real repo has."""
    files = {f"voices/{name}.bin": data for name, data in voices.items()}
    files.update({f"onnx/{name}": data for name, data in (models or {}).items()})
    files["config.json"] = b'{"model_type": "style_text_to_speech_2"}'
    return files
