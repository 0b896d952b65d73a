#!/usr/bin/env bash
# The project's commands; each one sets up first (idempotent, seconds when done before).
#   ./run.sh test    lint, types and the whole test suite (with its 30 slowest steps listed)
#   ./run.sh test tests/test_demo.py ...   lint, types and only those test files (pytest arguments)
#   ./run.sh demo    the assistant end to end on the default models
#   ./run.sh bench [NAME ...]   the benchmarks bench/NAME_bench.py (default: all; bench/__main__.py)
#   ./run.sh setup   only the set-up
set -euo pipefail
cd "$(dirname "$0")"
cmd=${1:-help}
shift || true
case "$cmd" in
  setup) bash scripts/setup.sh ;;
  test)
    bash scripts/setup.sh
    .venv/bin/ruff check .
    .venv/bin/mypy
    exec .venv/bin/pytest -q -p no:cacheprovider --durations=30 "$@"
    ;;
  demo)
    bash scripts/setup.sh
    exec .venv/bin/python -m orchestrator.demo "$@"
    ;;
  bench)
    bash scripts/setup.sh
    exec .venv/bin/python -m bench "$@"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d'
    exit 2
    ;;
esac
