"""Frame and connection limits shared by every server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Caps applied to every incoming Wyoming frame and connection.

    A header line longer than ``max_header_bytes``, a ``data_length`` above
    ``max_data_bytes`` or a ``payload_length`` above ``max_payload_bytes`` is refused with an
    ``error`` event and the connection is closed (the stream cannot be resynchronised).
    """

    max_header_bytes: int = 64 * 1024
    max_data_bytes: int = 1024 * 1024
    max_payload_bytes: int = 4 * 1024 * 1024
    max_connections: int = 64
    # Seconds without any incoming event before a connection is closed; None disables it.
    idle_timeout: float | None = None
    # Once a frame's first byte has arrived, the whole frame must arrive within this many
    # seconds (a slowloris client trickling a header is cut off).
    frame_timeout: float = 30.0
    # A client that stops reading: a write that cannot drain within this many seconds closes it.
    write_timeout: float = 30.0
    # Events waiting for the handler; when full the reader stops reading (TCP back-pressure).
    queue_size: int = 256
