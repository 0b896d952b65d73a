"""Wake word on the device: microWakeWord (default), openWakeWord, or a remote Wyoming wake service.

:class:`WakeGate` is what the turn driver sees: :meth:`WakeGate.process` takes each
(echo-cancelled) mic frame and returns the name of a wake word heard in it, at most once per
``refractory_seconds`` of mic time. It keeps the last ``preroll_seconds`` of audio (what is
streamed first after a detection; by default only the detecting frame: the wake word's own
end must not reach the STT).

Engines (each model ships in its package as TFLite, so everything works offline):

* ``micro``: ``pymicro-wakeword`` (okay_nabu, hey_jarvis, alexa, hey_mycroft, or a JSON
  model config). About 1 % of one core here: it runs inline, on the mic tick. By default its
  near misses on words openWakeWord also ships are checked by openWakeWord in a worker thread
  (:mod:`satellite.wake_cascade`; ``WakeConfig.cascade``, ``--no-wake-cascade``).
* ``open``: ``pyopen-wakeword`` (the same plus hey_rhasspy, or a .tflite model). Heavier (a
  mel and an embedding model): it runs in a worker thread fed through a bounded queue (the
  oldest frame is dropped when full), so the mic loop never waits for it.
* ``remote``: a Wyoming wake service (``--wake-uri``, e.g. wyoming-openwakeword): ``detect``
  then ``audio-start`` and the mic as ``audio-chunk``s; its ``detection`` events come back.
  Reconnects after a failure (1 s, then up to 10 s apart).
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncClient
from wyoming.info import Attribution, WakeModel, WakeProgram
from wyoming.wake import Detect, Detection

from voice_runtime.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)
RATE = 16000
ENGINES = ("micro", "open")
VERIFIERS = ("either", "open", "ours")  # who confirms the cascade's candidates (satellite.wake_cascade)
# Built-in microWakeWord cutoffs we measured (bench/wake_bench.py, bench/results/wake.md): okay_nabu's
# own 0.85 accepted 144/216 of the tuning corpus; 0.65 accepts 170/216 with still 0 false accepts in
# 1 h of speech/music/TV-like audio (0.45: 3 per hour). The other words keep their model's cutoff.
MICRO_CUTOFFS = {"okay_nabu": 0.65}
_ATTRIBUTION = {
    "micro": Attribution(name="microWakeWord (Kevin Ahrendt)", url="https://github.com/kahrendt/microWakeWord"),
    "open": Attribution(name="openWakeWord (David Scripka)", url="https://github.com/dscripka/openWakeWord"),
}


@dataclass(frozen=True)
class WakeConfig:
    enabled: bool = True
    engine: str = "micro"
    names: tuple[str, ...] = ("okay_nabu",)
    model_paths: tuple[str, ...] = ()  # custom models (micro: a JSON config; open: a .tflite)
    uri: str | None = None  # a remote Wyoming wake service instead of a local engine
    refractory_seconds: float = 1.5
    # Audio before the detection streamed first. microWakeWord fires 0.14-0.19 s BEFORE the wake
    # word's audio ends (Piper, 4 requests), so 0.3 s sent "Nabu" to the STT ("I'll boot. Set a
    # timer", HA: "Sorry, I couldn't understand that"); 0 s (the detection frame only) heard all 4 whole.
    preroll_seconds: float = 0.0
    threshold: float | None = None  # None: each model's (MICRO_CUTOFFS, else its JSON's; open 0.5)
    cascade: bool = True  # micro: openWakeWord verifies near misses on words both ship (satellite.wake_cascade)
    verifier: str = "ours"  # the cascade's: ours (satellite.wake_verifier), openWakeWord's model ("open"), "either"
    verify_all: bool = True  # the cascade verifies microWakeWord's own detections too (near misses it is sure of)
    command_timeout_seconds: float = 5.0  # after the wake word, no speech this long ends the turn

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown wake word engine {self.engine!r}; available: {', '.join(ENGINES)}")
        if self.verifier not in VERIFIERS:
            raise ValueError(f"unknown wake verifier {self.verifier!r}; available: {', '.join(VERIFIERS)}")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"wake word threshold must be in (0, 1], got {self.threshold}")


def builtin_models(engine: str) -> list[str]:
    if engine == "micro":
        from pymicro_wakeword import Model as MicroModel

        return [m.value for m in MicroModel]
    from pyopen_wakeword import Model as OpenModel

    return [m.value for m in OpenModel]


def phrase(name: str) -> str:
    return name.replace("_", " ").title()


class Detector(Protocol):
    names: list[str]

    def process(self, frame: bytes) -> str | None: ...

    def reset(self) -> None: ...


class _Streaming(abc.ABC):
    """One feature front end feeding every model; the first model over its threshold names the word."""

    _features: Any
    _models: list[Any]

    def __init__(self, threshold: float | None) -> None:
        self.threshold = threshold  # None: each model's own (see MICRO_CUTOFFS; open: 0.5)
        self.names = [str(m.id) for m in self._models]
        self.peak: dict[str, float] = {}  # each model's highest score in the last frame (the cascade's low bar)

    @abc.abstractmethod
    def _scores(self, model: Any, features: Any) -> list[float]: ...

    @abc.abstractmethod
    def _cutoff(self, model: Any) -> float: ...

    def process(self, frame: bytes) -> str | None:
        found = None
        self.peak.clear()
        for features in self._features.process_streaming(frame):
            for model in self._models:  # every model sees every feature (their streaming state)
                scores = self._scores(model, features)
                self.peak[str(model.id)] = max([self.peak.get(str(model.id), 0.0), *scores])
                fired = any(p > (self.threshold if self.threshold is not None else self._cutoff(model))
                            for p in scores)
                if fired and found is None:
                    found = str(model.id)
        return found

    def reset(self) -> None:
        self._features.reset()
        for model in self._models:
            model.reset()

    def close(self) -> None:
        """Release the models (each holds its model file open) now, not when the detector is collected:
        whoever still holds the detector (an executor thread that ran this close) keeps no file open."""
        self._models = []


class MicroDetector(_Streaming):
    def __init__(self, names: tuple[str, ...], paths: tuple[str, ...], threshold: float | None = None) -> None:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures
        from pymicro_wakeword import Model as MicroModel

        self._models = [MicroWakeWord.from_builtin(MicroModel(n)) for n in names]
        for model in self._models:
            model.probability_cutoff = MICRO_CUTOFFS.get(str(model.id), model.probability_cutoff)
        self._models += [MicroWakeWord.from_config(p) for p in paths]
        self._features = MicroWakeWordFeatures()
        super().__init__(threshold)

    def _scores(self, model: Any, features: Any) -> list[float]:
        prob = model.process_streaming_prob(features)  # the mean over the model's sliding window
        return [] if prob is None else [float(prob)]

    def _cutoff(self, model: Any) -> float:
        return float(model.probability_cutoff)


class OpenDetector(_Streaming):
    def __init__(self, names: tuple[str, ...], paths: tuple[str, ...], threshold: float | None = None) -> None:
        from pyopen_wakeword import Model as OpenModel
        from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

        self._models = [OpenWakeWord.from_builtin(OpenModel(n)) for n in names]
        self._models += [OpenWakeWord.from_model(p) for p in paths]
        self._features = OpenWakeWordFeatures.from_builtin()
        super().__init__(threshold)

    def _scores(self, model: Any, features: Any) -> list[float]:
        return [float(p) for p in model.process_streaming(features)]

    def _cutoff(self, model: Any) -> float:
        return 0.5


def check_models(config: WakeConfig) -> None:
    """An unknown name or a missing model file is a ValueError that lists the available ones."""
    available = builtin_models(config.engine)
    unknown = [n for n in config.names if n not in available]
    if unknown:
        raise ValueError(f"unknown wake word {', '.join(unknown)} for engine {config.engine}; available: "
                         f"{', '.join(available)} (or --wake-word-model PATH)")
    for path in config.model_paths:
        if not Path(path).is_file():
            raise ValueError(f"wake word model {path} does not exist")


def make_detector(config: WakeConfig) -> Detector:
    check_models(config)
    if config.engine == "micro":
        micro = MicroDetector(config.names, config.model_paths, config.threshold)
        if config.cascade:
            from .wake_cascade import CascadeDetector, cascade_words

            if words := cascade_words(config.names):
                return CascadeDetector(micro, words, who=config.verifier, trust_micro=not config.verify_all)
        return micro
    return OpenDetector(config.names, config.model_paths, config.threshold)


class _Threaded:
    """Runs a slow detector in a worker thread; results are picked up on later ticks."""

    def __init__(self, inner: Detector, max_frames: int = 32) -> None:
        self.inner = inner
        self.names = inner.names
        self._frames: queue.Queue[bytes | None] = queue.Queue(maxsize=max_frames)
        self._found: collections.deque[str] = collections.deque(maxlen=8)
        self._thread = threading.Thread(target=self._work, name="wake word", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (frame := self._frames.get()) is not None:
            try:
                if (name := self.inner.process(frame)) is not None:
                    self._found.append(name)
            finally:
                self._frames.task_done()

    def process(self, frame: bytes) -> str | None:
        while True:
            try:
                self._frames.put_nowait(frame)
                break
            except queue.Full:  # the detector fell behind: drop the oldest audio, never block the mic
                with contextlib.suppress(queue.Empty):
                    self._frames.get_nowait()
                    self._frames.task_done()
        return self._found.popleft() if self._found else None

    def drain(self) -> None:
        """Wait until every queued frame has been looked at (tests, benchmarks)."""
        self._frames.join()

    def reset(self) -> None:
        self.inner.reset()

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._frames.put_nowait(None)


class RemoteDetector:
    """A Wyoming wake service: the mic streams to it, its detections come back."""

    def __init__(self, uri: str, names: tuple[str, ...], max_frames: int = 100) -> None:
        self.uri = uri
        self.names = list(names)
        self._frames: asyncio.Queue[bytes] = asyncio.Queue(max_frames)
        self._found: collections.deque[str] = collections.deque(maxlen=8)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.detected = asyncio.Event()  # set at each detection (tests, benchmarks)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="remote wake")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def process(self, frame: bytes) -> str | None:
        if self._frames.full():  # the service is not keeping up: drop the oldest audio
            self._frames.get_nowait()
        self._frames.put_nowait(frame)
        return self._found.popleft() if self._found else None

    def reset(self) -> None:
        return None

    async def _run(self) -> None:
        delay = 1.0
        while True:
            client = AsyncClient.from_uri(self.uri)
            try:
                await client.connect()
                await client.write_event(Detect(names=self.names or None).event())
                await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
                _LOGGER.info("wake service connected uri=%s names=%s", self.uri, self.names)
                self.connected.set()
                delay = 1.0
                await asyncio.gather(self._send(client), self._receive(client))
            except (OSError, ConnectionError, EOFError) as err:
                _LOGGER.warning("wake service %s failed: %s; retrying in %.0fs", self.uri, err, delay)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await client.disconnect()
            await asyncio.sleep(delay)
            delay = min(10.0, delay * 2)

    async def _send(self, client: AsyncClient) -> None:
        while True:
            frame = await self._frames.get()
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=frame).event())

    async def _receive(self, client: AsyncClient) -> None:
        while (event := await client.read_event()) is not None:
            if Detection.is_type(event.type):
                name = Detection.from_event(event).name or (self.names[0] if self.names else "wake")
                self._found.append(name)
                self.detected.set()
        raise EOFError("wake service closed the connection")


class WakeGate:
    """Detections with a refractory period, plus the pre-roll streamed after one."""

    def __init__(self, config: WakeConfig, frame_seconds: float,
                 detector_factory: Callable[[WakeConfig], Detector] = make_detector) -> None:
        self.config = config
        self.detector: Detector | RemoteDetector
        if config.uri:
            self.detector = RemoteDetector(config.uri, config.names)
        elif config.engine == "open":
            self.detector = _Threaded(detector_factory(config))
        else:
            self.detector = detector_factory(config)
        self._frame_seconds = frame_seconds
        self._preroll: collections.deque[bytes] = collections.deque(
            maxlen=max(1, round(config.preroll_seconds / frame_seconds)))
        self._quiet_frames = round(config.refractory_seconds / frame_seconds)
        self._since = self._quiet_frames  # frames since the last detection
        self.detections = 0
        _LOGGER.info("wake word: %s %s", config.uri or config.engine, ", ".join(self.detector.names))

    @property
    def trusted(self) -> bool:
        """The last detection was sure (the cascade: microWakeWord's peak on it passed its trusted stage;
        any other detector: always)."""
        return bool(getattr(self.detector, "trusted_detection", True))

    def request_opinion(self) -> None:
        """Ask a second model about the last detection (the cascade: openWakeWord's model; ``agreed``)."""
        if (request := getattr(self.detector, "request_opinion", None)) is not None:
            request()

    @property
    def agreed(self) -> bool | None:
        """The second model's opinion on the last detection asked about: it heard the word too (True), it did
        not (False), not yet known (None). A detector without one: True."""
        agreed = getattr(self.detector, "agreed", True)
        return None if agreed is None else bool(agreed)

    async def start(self) -> None:
        if isinstance(self.detector, RemoteDetector):
            await self.detector.start()

    async def stop(self) -> None:
        if isinstance(self.detector, RemoteDetector):
            await self.detector.stop()
        elif isinstance(self.detector, _Threaded):
            self.detector.close()
        elif (close := getattr(self.detector, "close", None)) is not None:  # the cascade's verifier thread
            await asyncio.to_thread(close)

    def process(self, frame: bytes) -> str | None:
        self._preroll.append(frame)
        self._since += 1
        name = self.detector.process(frame)
        if name is None or self._since <= self._quiet_frames:
            return None
        self._since = 0
        self.detections += 1
        return name

    def take_preroll(self) -> bytes:
        audio = b"".join(self._preroll)
        self._preroll.clear()
        return audio

    def programs(self) -> list[WakeProgram]:
        """What ``describe`` lists: the active engine and its models."""
        engine = "remote" if self.config.uri else self.config.engine
        models = [WakeModel(name=n, description=phrase(n), phrase=phrase(n), languages=["en"], installed=True,
                            attribution=_ATTRIBUTION.get(self.config.engine, _ATTRIBUTION["micro"]), version=None)
                  for n in self.detector.names]
        return [WakeProgram(name=engine, description=f"hearth satellite wake word ({engine})", installed=True,
                            attribution=_ATTRIBUTION.get(self.config.engine, _ATTRIBUTION["micro"]),
                            version=None, models=models)]
