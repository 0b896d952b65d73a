"""What the echo delay meter (:mod:`satellite.delay`) says about the mic, as the front end
(:class:`satellite.aec.AudioFrontend`) passes it on to the echo judge. Pure and synchronous."""

from __future__ import annotations

from .delay import EchoDelay


class DelayView:
    _delay: EchoDelay | None

    @property
    def mic_not_echo(self) -> bool:
        """No echo delay was ever measured and the mic is loud with sound the playback explains
        at no delay (:attr:`satellite.delay.EchoDelay.unexplained`): no echo path (a speaker
        the mic does not hear), so the mic's sound is the user's. Checked every 90 ms."""
        return self._delay is not None and self._delay.unexplained

    @property
    def double_talk(self) -> bool:
        """The mic is loud and the playback explains little of it at any delay: someone is
        speaking over it (:attr:`satellite.delay.EchoDelay.double_talk`, every 90 ms while
        :meth:`watch` is on, else every 250 ms)."""
        return self._delay is not None and self._delay.double_talk

    @property
    def explained(self) -> float:
        """How much of the loud mic the playback explains at its best delay (0..1, the last
        estimate: :attr:`satellite.delay.EchoDelay.explained`); 0 without a canceller."""
        return self._delay.explained if self._delay is not None else 0.0

    @property
    def echo_only(self) -> bool:
        """The mic is loud and the playback explains it (at some delay, measured or not) as well
        as echo alone does (:attr:`satellite.delay.EchoDelay.echo_only`)."""
        return self._delay is not None and self._delay.echo_only

    def watch(self, closely: bool) -> None:
        """Estimate (delay, double talk) every 90 ms, not 250, while the judge does not trust the
        canceller yet: then double talk is what lets the user through."""
        if self._delay is not None:
            self._delay.watch = closely
