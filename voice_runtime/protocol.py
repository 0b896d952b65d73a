"""A Wyoming frame reader that enforces size limits and reports what was wrong.

``wyoming.event.async_read_event`` trusts the peer's ``data_length`` and
``payload_length`` and swallows every error as end-of-stream; a server facing the network
needs to refuse oversized frames and tell the client what it did wrong.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event

from .limits import Limits


class ProtocolError(Exception):
    """A frame that could not be accepted.

    ``fatal`` means the byte stream can no longer be trusted and the connection must close.
    """

    def __init__(self, code: str, text: str, *, fatal: bool) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.fatal = fatal


def _length(header: dict[str, Any], key: str, cap: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError("bad-frame", f"{key} must be a non-negative integer", fatal=True)
    if value > cap:
        raise ProtocolError("frame-too-large", f"{key} {value} exceeds the limit {cap}", fatal=True)
    return value


async def read_frame(reader: asyncio.StreamReader, limits: Limits) -> Event | None:
    """Read one event; ``None`` at a clean end of stream.

    Raises :class:`ProtocolError` for anything malformed. A malformed JSON header whose line
    was complete is not fatal (the next line is a new frame); an oversized or truncated frame
    is.
    """
    try:
        first = await reader.readexactly(1)  # waiting for a frame to begin may take forever
    except asyncio.IncompleteReadError:
        return None
    try:
        async with asyncio.timeout(limits.frame_timeout):
            return await _rest_of_frame(first, reader, limits)
    except TimeoutError as err:
        raise ProtocolError("frame-timeout", f"frame not complete within {limits.frame_timeout:.0f}s",
                            fatal=True) from err


async def _rest_of_frame(first: bytes, reader: asyncio.StreamReader, limits: Limits) -> Event | None:
    try:
        line = first if first == b"\n" else first + await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if not (first + err.partial).strip():
            return None
        raise ProtocolError("truncated", "stream ended inside a header", fatal=True) from err
    except asyncio.LimitOverrunError as err:
        raise ProtocolError(
            "frame-too-large", f"header line exceeds {limits.max_header_bytes} bytes", fatal=True
        ) from err
    if len(line) > limits.max_header_bytes:
        raise ProtocolError(
            "frame-too-large", f"header line exceeds {limits.max_header_bytes} bytes", fatal=True
        )
    if not line.strip():
        raise ProtocolError("bad-frame", "empty header line", fatal=False)
    try:
        header = json.loads(line)
    except (ValueError, RecursionError) as err:  # bad JSON, bad UTF-8, 4300+ digit ints, deep nesting
        raise ProtocolError("bad-json", f"header is not valid JSON: {err}", fatal=False) from err
    if not isinstance(header, dict):
        raise ProtocolError("bad-frame", "header must be a JSON object", fatal=False)
    event_type = header.get("type")
    data_length = _length(header, "data_length", limits.max_data_bytes)
    payload_length = _length(header, "payload_length", limits.max_payload_bytes)
    data = header.get("data") or {}
    try:
        extra = await reader.readexactly(data_length) if data_length else b""
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError as err:
        raise ProtocolError("truncated", "stream ended inside a frame", fatal=True) from err
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("bad-frame", "header has no string 'type'", fatal=False)
    if not isinstance(data, dict):
        raise ProtocolError("bad-frame", "'data' must be a JSON object", fatal=False)
    if extra:
        try:
            more = json.loads(extra)
        except (ValueError, RecursionError) as err:
            raise ProtocolError("bad-json", f"data is not valid JSON: {err}", fatal=False) from err
        if not isinstance(more, dict):
            raise ProtocolError("bad-frame", "data block must be a JSON object", fatal=False)
        data = {**data, **more}
    return Event(type=event_type, data=data, payload=payload)
