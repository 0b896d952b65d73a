"""Each error code in voice_runtime.error_codes is spelled once: product code imports the constant.

A code is protocol (one program sends it, another compares it; or several send it): a copy of the
string in a second place drifts. This reads the product packages' source (ast string constants)."""

from __future__ import annotations

import ast
from pathlib import Path

from voice_runtime import error_codes

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("voice_runtime", "orchestrator", "satellite", "wyoming_whisper", "wyoming_kokoro", "wyoming_llama")
# Still spelled out, owned by another helper this session (the "lat" helper's wyoming_llama handler).
KNOWN_LEFT = {("wyoming_llama/handler.py", "internal-error")}


def _codes() -> dict[str, str]:
    return {v: k for k, v in vars(error_codes).items() if k.isupper() and isinstance(v, str)}


def test_error_codes_are_spelled_only_in_error_codes_py() -> None:
    codes = _codes()
    assert {"bad-event", "satellite-busy", "unknown-event", "internal-error", "idle-timeout"} <= set(codes)
    found = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "voice_runtime/error_codes.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in codes:
                    found.add((rel, node.value))
    assert found - KNOWN_LEFT == set(), "use voice_runtime.error_codes' constant: " + repr(sorted(found - KNOWN_LEFT))
