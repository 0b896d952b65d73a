#!/usr/bin/env bash
# Set up only the satellite (a Raspberry Pi or any Debian box): no llama-server build, no
# faster-whisper, no onnxruntime. Creates .venv-satellite with `pip install '.[satellite]'`.
#   scripts/setup_satellite.sh && .venv-satellite/bin/voice-satellite --help
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[setup-satellite] $*"; }
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "FAILED: Python 3.11+ needed"; exit 1; }
# Debian packages: pyaudio has no aarch64 (or x86-64 Linux) wheel, so pip builds it: PortAudio
# headers, Python headers and a C compiler. libspeexdsp is the default echo canceller (without it
# the satellite uses WebRTC AEC3 and says so). Debian's Python needs python3-venv for a venv.
# Every other satellite dependency has an aarch64 wheel on PyPI (README: "The satellite").
need=()
[ -e /usr/include/portaudio.h ] || need+=(portaudio19-dev)
"$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need+=(python3-dev)
command -v cc >/dev/null || need+=(build-essential)
"$PYTHON" -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
ldconfig -p 2>/dev/null | grep -q libspeexdsp.so.1 || need+=(libspeexdsp1)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    say "installing ${need[*]}"
    $sudo apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
      || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${need[@]}" >/dev/null; }
  else
    say "install ${need[*]} (or their equivalents) and rerun"; exit 1
  fi
fi
[ -d .venv-satellite ] || "$PYTHON" -m venv .venv-satellite
.venv-satellite/bin/python -m pip install -q --upgrade pip
PYTHONWARNINGS=ignore::UserWarning .venv-satellite/bin/python -m pip install -q -e '.[satellite]'  # no setuptools editable banner
if .venv-satellite/bin/python -c 'import faster_whisper' 2>/dev/null \
    || .venv-satellite/bin/python -c 'import onnxruntime' 2>/dev/null; then
  say "FAILED: the satellite venv pulled a server dependency"; exit 1
fi
say "done: .venv-satellite/bin/voice-satellite --help"
