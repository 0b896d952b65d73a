"""Run the benchmarks: ``python -m bench [NAME …]`` (default: every one), results in bench/results/.

Each benchmark is a script ``bench/NAME_bench.py`` that also runs on its own with its own
flags (``python bench/NAME_bench.py --help``). Arguments after ``--`` go to every script.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.name.removesuffix("_bench.py") for p in HERE.glob("*_bench.py"))


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"=== bench {name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / f"{name}_bench.py"), *extra])
        print(f"=== bench {name}: exit {code} in {time.monotonic() - started:.0f}s ===", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
