"""The home server's configuration: one TOML file (or none: the defaults), checked strictly.

```toml
host = "127.0.0.1"                    # where the engines listen (the orchestrator dials them here)
state_dir = "~/.local/state/hearth"   # the supervisor's status file
satellites = ["tcp://192.168.1.20:10700"]   # satellites to drive; none: found by zeroconf
[whisper]
args = ["--model", "tiny.en"]         # extra flags for that service
[kokoro]
port = 10200
[llama]
enabled = true
[orchestrator]
args = ["--metrics-port", "9100"]
[satellite]                           # a satellite on this machine (off unless enabled)
enabled = true
args = ["--mic-command", "arecord -r 16000 -c 1 -f S16_LE -t raw",
        "--snd-command", "aplay --buffer-time=100000 -r 22050 -c 1 -f S16_LE -t raw"]
```
An unknown key is an error that names it. Pure: no asyncio, no processes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGINES = ("whisper", "kokoro", "llama")
SERVICES = (*ENGINES, "orchestrator", "satellite")
MODULES = {"whisper": "wyoming_whisper", "kokoro": "wyoming_kokoro", "llama": "wyoming_llama",
           "orchestrator": "orchestrator", "satellite": "satellite"}
DEFAULT_PORTS = {"whisper": 10300, "kokoro": 10200, "llama": 10450, "satellite": 10700}
_TOP_KEYS = {"host", "state_dir", "satellites", *SERVICES}
_SERVICE_KEYS = {"enabled", "port", "args"}


class ConfigError(ValueError):
    """The configuration file is not valid; the message names the key."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    enabled: bool
    port: int | None  # None: the orchestrator (it dials, it does not listen)
    args: tuple[str, ...]


@dataclass(frozen=True)
class HomeConfig:
    host: str
    state_dir: Path
    satellites: tuple[str, ...]
    services: tuple[ServiceSpec, ...]

    def spec(self, name: str) -> ServiceSpec:
        return next(s for s in self.services if s.name == name)

    def uri(self, name: str) -> str:
        spec = self.spec(name)
        return f"tcp://{self.host}:{spec.port}"

    def command(self, name: str, python: str) -> list[str]:
        """The command line of one service."""
        spec = self.spec(name)
        if name != "orchestrator":
            return [python, "-m", MODULES[name], "--uri", self.uri(name), *spec.args]
        dial: list[str] = []
        for flag, engine in (("--asr", "whisper"), ("--tts", "kokoro"), ("--handle", "llama")):
            if self.spec(engine).enabled:
                dial += [flag, self.uri(engine)]
        satellites = list(self.satellites)
        if self.spec("satellite").enabled:
            satellites.append(self.uri("satellite"))
        targets = [a for uri in satellites for a in ("--satellite", uri)] or ["--discover"]
        return [python, "-m", MODULES[name], "serve", *dial, *targets, *spec.args]


def load_config(path: Path | None) -> HomeConfig:
    """The file's configuration (defaults where it is silent); ConfigError names a bad key."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from err
        except OSError as err:
            raise ConfigError(f"{path}: {err.strerror}") from err
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {path} (known: {', '.join(sorted(_TOP_KEYS))})")
    host = _typed(raw, "host", str, "127.0.0.1")
    state_dir = Path(_typed(raw, "state_dir", str, "~/.local/state/hearth")).expanduser()
    satellites = _typed(raw, "satellites", list, [])
    if not all(isinstance(s, str) and s.startswith(("tcp://", "unix://")) for s in satellites):
        raise ConfigError("'satellites' must be a list of tcp:// or unix:// URIs")
    services = tuple(_service(name, raw.get(name, {})) for name in SERVICES)
    return HomeConfig(host, state_dir, tuple(satellites), services)


def _service(name: str, raw: Any) -> ServiceSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    unknown = sorted(set(raw) - _SERVICE_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [{name}] (known: {', '.join(sorted(_SERVICE_KEYS))})")
    enabled = _typed(raw, "enabled", bool, name != "satellite", where=name)
    args = _typed(raw, "args", list, [], where=name)
    if not all(isinstance(a, str) for a in args):
        raise ConfigError(f"[{name}] args must be a list of strings")
    if any(a == "--uri" or a.startswith("--uri=") for a in args):
        raise ConfigError(f"[{name}] args must not set --uri: use port (and host)")
    port: int | None = None
    if name != "orchestrator":
        port = _typed(raw, "port", int, DEFAULT_PORTS[name], where=name)
        if not 1 <= port <= 65535:
            raise ConfigError(f"[{name}] port must be 1-65535, not {port}")
    elif "port" in raw:
        raise ConfigError("[orchestrator] has no port (it dials the others; see --metrics-port in args)")
    return ServiceSpec(name, enabled, port, tuple(args))


def _typed(raw: dict[str, Any], key: str, kind: type, default: Any, *, where: str = "") -> Any:
    value = raw.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        place = f"[{where}] " if where else ""
        raise ConfigError(f"{place}{key!r} must be a {kind.__name__}, not {type(value).__name__}")
    return value
