"""Malformed frames on the satellite ↔ orchestrator link, both ends (issue 14): nothing crashes,
bad input is answered with an ``error``, and the dialing side (the orchestrator) re-establishes
the link. The fast part of ``bench/link_fuzz_bench.py`` (RELIABILITY.md has the 100,000-frame run)."""

from __future__ import annotations

from bench.link_fuzz_bench import fuzz_controller, fuzz_link


async def test_the_orchestrator_satellite_link_survives_malformed_frames_and_redials() -> None:
    report = await fuzz_link(2000, seed=7)
    assert report.alive, report
    assert report.unhandled_exceptions == 0, report
    assert report.sessions > 10 and report.reestablished  # sessions lost to unreadable streams were redialled
    assert report.probes_answered > 0  # sessions that only saw bad events went on serving
    assert report.error_codes.get("bad-json", 0) > 0 and report.error_codes.get("bad-frame", 0) > 0
    assert report.error_codes.get("bad-event", 0) > 0  # readable frames with unusable fields


async def test_the_satellite_controller_link_survives_malformed_frames_and_is_redialled() -> None:
    report = await fuzz_controller(1500, seed=7)
    assert report.alive, report
    assert report.unhandled_exceptions == 0, report
    assert report.errors_received > 0 and report.error_codes.get("bad-json", 0) > 0
    assert report.reestablished  # the orchestrator's link dialled it again: connected, info, pongs
