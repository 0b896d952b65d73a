"""The barge-in judge's state at a speaker kill, as one debug line (:mod:`satellite.speaker_path`'s
``_abort_speaker``): which gate let the user through."""

from __future__ import annotations

import logging

from .aec import AudioFrontend
from .echojudge import EchoJudge

_LOGGER = logging.getLogger("satellite.core")


def log_judge(why: str, guard: EchoJudge, frontend: AudioFrontend | None) -> None:
    """What the judge knew when the speaker was killed for ``why`` (debug level only)."""
    if _LOGGER.isEnabledFor(logging.DEBUG):  # what the judge knew (which gate let the user through)
        erle = guard.erle_db
        _LOGGER.debug(
            "barge-in judge action=%s trusted=%s suspended=%s erle_db=%s cancelling=%s double_talk=%s "
            "echo_only=%s excess_db=%.1f coupling_db=%.1f hi_excess_db=%.1f hi_learned=%d span_ms=%.0f",
            why,
            guard.converged,
            guard.suspended,
            "n/a" if erle is None else f"{erle:.1f}",
            frontend is not None and frontend.cancelling,
            frontend is not None and frontend.double_talk,
            frontend is not None and frontend.echo_only,
            guard.residual.excess_db,
            guard.residual.coupling_db,
            guard.residual_hi.excess_db,
            guard.residual_hi.learned,
            guard.span_s * 1000,
        )
