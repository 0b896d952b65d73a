"""A transparent TCP proxy that records every event in both directions."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from urllib.parse import urlparse

from wyoming.event import async_write_event

from ..limits import Limits
from ..protocol import ProtocolError, read_frame
from ..tasks import cancel_and_wait, race
from .format import Direction, RecordedEvent, Session, save_session

_LOGGER = logging.getLogger(__name__)
_PROXY_LIMITS = Limits(max_header_bytes=1024 * 1024, max_data_bytes=16 * 1024 * 1024,
                       max_payload_bytes=64 * 1024 * 1024)


class Recorder:
    """Accepts clients on ``listen`` and forwards each to ``server``, recording to ``out``.

    The first connection is written to ``out``, later ones to ``out-2.jsonl``, ``out-3.jsonl``…
    Each file is written when its connection ends; a connection that carried no event is not
    written (a client's unused spare). A server that cannot be reached drops that client only.
    ``out``'s folder is made if missing and must be writable: :meth:`start` checks (ValueError).
    """

    def __init__(self, listen: str, server: str, out: Path) -> None:
        self.listen = urlparse(listen)
        self.server = urlparse(server)
        self.server_uri = server
        self.out = out
        self.count = 0
        self.saved: list[Path] = []
        self._saved_changed = asyncio.Condition()
        self._server: asyncio.AbstractServer | None = None
        self.port: int | None = None

    async def start(self) -> None:
        if self.listen.scheme != "tcp" or not self.listen.hostname or self.listen.port is None:
            raise ValueError("--listen must be tcp://HOST:PORT")
        if self.server.scheme != "tcp" or not self.server.hostname or self.server.port is None:
            raise ValueError("--server must be tcp://HOST:PORT")
        await asyncio.to_thread(self._check_out)
        self._server = await asyncio.start_server(
            self._proxy, self.listen.hostname, self.listen.port, limit=_PROXY_LIMITS.max_header_bytes + 1
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        _LOGGER.info("listening uri=tcp://%s:%d recording to %s", self.listen.hostname, self.port, self.out)

    def _check_out(self) -> None:
        """Before anything is recorded: a missing folder is made, one that cannot be written to refused."""
        probe = self.out.with_suffix(self.out.suffix + ".tmp")  # save_session writes this, then renames
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            probe.write_text("", encoding="utf-8")
            probe.unlink()
        except OSError as err:
            raise ValueError(f"--out {self.out}: cannot write there ({err.strerror or err})") from None

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_saved(self, count: int = 1) -> list[Path]:
        """Wait until ``count`` sessions have been written."""
        async with self._saved_changed:
            await self._saved_changed.wait_for(lambda: len(self.saved) >= count)
        return list(self.saved)

    def _path(self) -> Path:
        self.count += 1
        if self.count == 1:
            return self.out
        return self.out.with_name(f"{self.out.stem}-{self.count}{self.out.suffix}")

    async def _proxy(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        assert self.server.hostname and self.server.port is not None  # checked in start()
        try:
            s_reader, s_writer = await asyncio.open_connection(
                self.server.hostname, self.server.port, limit=_PROXY_LIMITS.max_header_bytes + 1
            )
        except OSError as err:  # the client is dropped, the recorder keeps listening
            _LOGGER.error("cannot reach %s (%s): client closed, nothing recorded", self.server_uri,
                          err.strerror or err)
            c_writer.close()
            return
        session = Session(server=self.server_uri)
        start = time.monotonic()

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: Direction) -> None:
            try:
                while (event := await read_frame(reader, _PROXY_LIMITS)) is not None:
                    session.events.append(RecordedEvent(time.monotonic() - start, direction, event))
                    await async_write_event(event, writer)
            except (ProtocolError, ConnectionError) as err:
                _LOGGER.warning("recording %s stopped: %s", direction, err)
            finally:
                writer.close()

        tasks = [asyncio.create_task(pump(c_reader, s_writer, "in")),
                 asyncio.create_task(pump(s_reader, c_writer, "out"))]
        try:
            await race(*tasks)
            # Give the other direction a moment to deliver what is in flight.
            await asyncio.wait(tasks, timeout=2.0)
        finally:
            for task in tasks:
                await cancel_and_wait(task)
            if session.events:
                await self._save(session)
            else:  # e.g. a client's spare connection that was never used
                _LOGGER.info("a connection with no events: not saved")

    async def _save(self, session: Session) -> None:
        path = self._path()
        try:
            await asyncio.to_thread(save_session, session, path)
        except OSError as err:  # e.g. the disk filled up: this session is lost, the recorder goes on
            _LOGGER.error("session of %d events NOT saved to %s: %s", len(session.events), path, err.strerror or err)
            return
        async with self._saved_changed:
            self.saved.append(path)
            self._saved_changed.notify_all()
        _LOGGER.info("saved %d events to %s", len(session.events), path)
