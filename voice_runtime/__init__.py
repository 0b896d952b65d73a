"""Shared runtime for the hearth Wyoming services.

Everything more than one service needs lives here exactly once: the event reader with
size limits, the handler base class, server start-up (tcp/unix/stdio) with zeroconf,
audio conversion, retry, task cancellation, latency monitoring, clocks, `.env` loading,
logging and default-model resolution.
"""

__version__ = "0.1.0"
