"""What Home Assistant heard from our satellite: a Wyoming proxy between the rig's HA and the
satellite that keeps every ``audio-chunk`` the satellite sends (the stream HA's VAD runs on), and
HA's end of the command replayed on it offline (``satellite/ha_vad.py``: MicroVad 1.0.1, HA's
segmenter).

    .venv/bin/python bench/ha_tap.py RUN.ha.raw [--silence 0.7]     # replay a kept stream

``bench/ha_end_of_turn.py --tap DIR`` keeps one ``NAME-MODE-N.ha.raw`` per run (the audio HA
got, back to back) and ``.ha.json`` (per chunk: the time it came, its bytes; ``audio-stop``'s time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming.audio import AudioChunk, AudioStop  # noqa: E402
from wyoming.event import async_read_event, async_write_event  # noqa: E402

from satellite.ha_vad import WINDOW_SECONDS, HaVad  # noqa: E402


class AudioTap:
    """Forwards HA <-> satellite event by event; keeps the satellite's audio chunks and audio-stop."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.chunks: list[tuple[float, bytes]] = []
        self.stops: list[float] = []
        self.t0 = time.monotonic()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, keep: bool) -> None:
        try:
            while (event := await async_read_event(src)) is not None:
                if keep and AudioChunk.is_type(event.type):
                    self.chunks.append((time.monotonic() - self.t0, AudioChunk.from_event(event).audio))
                elif keep and AudioStop.is_type(event.type):
                    self.stops.append(time.monotonic() - self.t0)
                await async_write_event(event, dst)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            dst.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer, False), self._pipe(up_reader, writer, True))

    def save(self, folder: Path, name: str) -> None:
        """``folder/NAME.ha.raw`` (the audio) and ``NAME.ha.json`` (chunk times and sizes, audio-stop)."""
        (folder / f"{name}.ha.raw").write_bytes(b"".join(audio for _, audio in self.chunks))
        meta = {"chunks": [[round(t, 4), len(audio)] for t, audio in self.chunks], "audio_stop": self.stops}
        (folder / f"{name}.ha.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")


@contextlib.asynccontextmanager
async def audio_tap(upstream_port: int) -> AsyncIterator[tuple[AudioTap, int]]:
    """A proxy to the satellite at ``upstream_port``: (the tap, the port HA should dial)."""
    tap = AudioTap(upstream_port)
    server = await asyncio.start_server(tap._connection, "127.0.0.1", 0)
    try:
        yield tap, server.sockets[0].getsockname()[1]
    finally:
        server.close()


def replay(audio: bytes, silence_seconds: float = 0.7) -> dict[str, Any]:
    """HA's segmenter on ``audio``: where it ended the command (s into the stream, None: it did not),
    and where MicroVad's windows were speech (> 0.5) as runs of (start, end) s."""
    vad = HaVad(silence_seconds)
    vad.feed(audio)
    runs: list[list[float]] = []
    for i, p in enumerate(vad.probabilities):
        if p > 0.5:
            if runs and abs(runs[-1][1] - i * WINDOW_SECONDS) < 1e-6:
                runs[-1][1] = round((i + 1) * WINDOW_SECONDS, 2)
            else:
                runs.append([round(i * WINDOW_SECONDS, 2), round((i + 1) * WINDOW_SECONDS, 2)])
    ended = None if vad.ended_at is None else round((vad.ended_at + 1) * WINDOW_SECONDS, 2)
    return {"ended_s": ended, "stream_s": round(len(audio) / 32000, 2), "speech_runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw", type=Path, nargs="+")
    parser.add_argument("--silence", type=float, default=0.7, help="HA's finished speaking detection (s)")
    args = parser.parse_args()
    for path in args.raw:
        print(path.name, json.dumps(replay(path.read_bytes(), args.silence)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
