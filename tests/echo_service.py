"""A tiny service on the shared runtime, run as a real process by the runtime tests.

``python tests/echo_service.py --uri stdio://`` or ``--uri tcp://127.0.0.1:PORT --zeroconf``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wyoming.event import Event
from wyoming.info import Attribution, Info, IntentModel, IntentProgram

from voice_runtime.cli import add_server_args, server_config
from voice_runtime.handler import ServiceHandler
from voice_runtime.logs import setup_logging
from voice_runtime.server import run_server

ATTR = Attribution("hearth tests", "")
INFO = Info(intent=[IntentProgram(
    name="echo", description="echo", attribution=ATTR, installed=True, version="1",
    models=[IntentModel(name="echo", description="", attribution=ATTR, installed=True, version="1", languages=["en"])],
)])


class Echo(ServiceHandler):
    async def handle_event(self, event: Event) -> bool:
        if event.type == "echo":
            await self.write_event(Event("echo", event.data, event.payload))
            return True
        if event.type == "hang":
            await asyncio.Event().wait()  # in-flight work that shutdown must cancel
        return await super().handle_event(event)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_server_args(parser, default_uri="tcp://127.0.0.1:10999")
    args = parser.parse_args()
    setup_logging(args.debug, log_format=args.log_format)
    config = server_config(args, "echo")
    asyncio.run(run_server(config, lambda r, w: Echo(r, w, info=lambda: INFO, limits=config.limits)))


if __name__ == "__main__":
    main()
