"""systemd units for the home server (one unit for the supervisor) and for a satellite.

Hardened: a named service user (models and the llama-server build live in its cache dir,
``HEARTH_CACHE_DIR``), ``ProtectSystem=strict`` with only the state and cache dirs writable
(the orchestrator's timers live in the state dir, ``HEARTH_DATA_DIR``: its default under the
home folder is read-only there, and the orchestrator would stop at start, again and again),
``ProtectHome``, ``PrivateTmp``, ``NoNewPrivileges``, no new capabilities; restarted on failure.
Pure: returns text.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

_HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices={private_devices}
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
CapabilityBoundingSet=
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
"""


@dataclass(frozen=True)
class UnitOptions:
    user: str  # the service user (owns the cache dir)
    venv: Path  # the project's virtualenv
    cache_dir: Path  # models and llama-server (HEARTH_CACHE_DIR)
    state_dir: Path  # status.json (and the data of timers etc.)
    config: Path | None  # the hearth TOML file


def home_unit(opts: UnitOptions) -> str:
    command = [str(opts.venv / "bin" / "hearth"), "serve"]
    if opts.config is not None:
        command += ["--config", str(opts.config)]
    return f"""\
[Unit]
Description=hearth home voice server (speech-to-text, LLM, text-to-speech, orchestrator)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={opts.user}
Environment=HEARTH_CACHE_DIR={opts.cache_dir}
Environment=HEARTH_DATA_DIR={opts.state_dir}
Environment=PYTHONUNBUFFERED=1
ExecStart={shlex.join(command)} --state-dir {opts.state_dir}
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
KillMode=mixed
{_state_directory(opts.state_dir)}ReadWritePaths={opts.state_dir} {opts.cache_dir}
{_HARDENING.format(private_devices="yes")}
[Install]
WantedBy=multi-user.target
"""


def satellite_unit(opts: UnitOptions, satellite_args: list[str]) -> str:
    command = [str(opts.venv / "bin" / "voice-satellite"), *satellite_args]
    return f"""\
[Unit]
Description=hearth voice satellite (microphone, speaker, wake word)
Wants=network-online.target sound.target
After=network-online.target sound.target

[Service]
Type=simple
User={opts.user}
SupplementaryGroups=audio
Environment=HEARTH_DATA_DIR={opts.state_dir}
Environment=PYTHONUNBUFFERED=1
ExecStart={shlex.join(command)}
Restart=always
RestartSec=3
{_state_directory(opts.state_dir)}ReadWritePaths={opts.state_dir}
{_HARDENING.format(private_devices="no")}
[Install]
WantedBy=multi-user.target
"""


def _state_directory(state_dir: Path) -> str:
    """systemd creates /var/lib/NAME for the service user (StateDirectory=NAME)."""
    parent = Path("/var/lib")
    return f"StateDirectory={state_dir.name}\n" if state_dir.parent == parent else ""
