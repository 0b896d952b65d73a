"""PortAudio devices: finding one by index or name, listing them, and checking them at start-up.

``pyaudio`` is imported only here and only when a PortAudio device is used, so a satellite
with a command or WAV microphone and speaker never loads it.
"""

from __future__ import annotations

from typing import Any


def find_device(pa: Any, device: str | None, *, want_input: bool) -> int | None:
    """A PortAudio device index from an index or part of a name (None: the default device)."""
    if device is None or device == "":
        return None
    if device.isdigit():
        return int(device)
    key = "maxInputChannels" if want_input else "maxOutputChannels"
    for index in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(index)
        if info.get(key, 0) > 0 and device.lower() in str(info.get("name", "")).lower():
            return index
    raise ValueError(f"no {'input' if want_input else 'output'} audio device matches {device!r}")


def list_devices() -> list[str]:
    """One line per PortAudio device: index, direction, name, default rate."""
    import pyaudio

    pa = pyaudio.PyAudio()
    try:
        lines = []
        for index in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(index)
            kinds = [k for k, f in (("in", "maxInputChannels"), ("out", "maxOutputChannels")) if info.get(f, 0) > 0]
            rate = int(info.get("defaultSampleRate", 0))
            lines.append(f"{index}: [{'/'.join(kinds)}] {info.get('name')} ({rate} Hz)")
        return lines
    finally:
        pa.terminate()


def check_devices(*, mic: tuple[str | None, int, int, int] | None, speaker: tuple[str | None, int] | None) -> None:
    """Raise ValueError (a message for the user) unless PortAudio can open these devices.

    ``mic``: (device, rate, width, channels) or None when the mic is not PortAudio; ``speaker``:
    (device, rate) or None. Checked at start-up, so a satellite without a sound card exits at
    once with the reason instead of announcing itself and failing at the first connection.
    """
    if mic is None and speaker is None:
        return
    try:
        import pyaudio
    except ImportError as err:
        raise ValueError(
            f"PortAudio is not installed ({err}): install the [satellite] extra, or use "
            "--mic-command/--mic-wav and --snd-command/--snd-wav"
        ) from err
    pa = pyaudio.PyAudio()
    try:
        if mic is not None:
            device, rate, width, channels = mic
            _check(
                pa,
                "input",
                "--mic-device",
                device,
                lambda i: pa.is_format_supported(
                    rate, input_device=i, input_channels=channels, input_format=pa.get_format_from_width(width)
                ),
            )
        if speaker is not None:
            device, rate = speaker
            _check(
                pa,
                "output",
                "--snd-device",
                device,
                lambda i: pa.is_format_supported(
                    rate, output_device=i, output_channels=1, output_format=pa.get_format_from_width(2)
                ),
            )
    finally:
        pa.terminate()


def _check(pa: Any, kind: str, flag: str, device: str | None, supported: Any) -> None:
    index = find_device(pa, device, want_input=kind == "input")
    try:
        if index is None:
            info = pa.get_default_input_device_info() if kind == "input" else pa.get_default_output_device_info()
            index = int(info["index"])
        supported(index)
    except (OSError, ValueError) as err:
        reason = err.args[0] if err.args else err
        which = f"device {device!r}" if device else "the default device"
        raise ValueError(
            f"no usable audio {kind}: {which}: {reason} (sound cards seen: "
            f"{pa.get_device_count()}; see --list-devices, or use {flag.replace('device', 'command')}/"
            f"{flag.replace('device', 'wav')})"
        ) from err
