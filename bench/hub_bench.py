"""Models on demand: download throughput from a local hub and the verify time of a 1 GB file.

The hub is tests/fake_hub.py's FakeHub (the Hugging Face URL layout on loopback; this machine
has no network), serving one LFS file of ``--mb`` MB of random bytes. Measured: the download
through ``voice_runtime.hub.download`` (streamed to a ``.part``, sha256-checked, renamed), and
``hearth models verify`` on it (sha256 of the whole file, from its manifest).

    .venv/bin/python bench/hub_bench.py [--mb 1024]

Results go to bench/results/hub.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_hub import FakeHub  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    data = os.urandom(args.mb * 1_000_000)
    with tempfile.TemporaryDirectory() as tmp, FakeHub(repos={"bench/big-model": {"model.bin": data}}) as hub:
        os.environ["HEARTH_CACHE_DIR"] = tmp
        os.environ["HF_ENDPOINT"] = hub.url
        from voice_runtime import modelctl
        from voice_runtime.hub import list_files

        remote = list_files("bench/big-model")[0]
        began = time.perf_counter()
        modelctl._fetch_files("bench/big-model", [remote], Path(tmp) / "models" / "llm", None, flat=True)
        fetched = time.perf_counter() - began  # download + sha256 check + the manifest's sha256
        began = time.perf_counter()
        ok = all(modelctl.verify_installed().values())
        verified = time.perf_counter() - began
    report = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.platform(), "load": os.getloadavg(),
              "mb": args.mb, "fetch_s": round(fetched, 2), "fetch_mb_per_s": round(args.mb / fetched, 1),
              "verify_s": round(verified, 2), "verify_mb_per_s": round(args.mb / verified, 1), "intact": ok}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hub.json").write_text(json.dumps(report, indent=1))
    text = (f"# Models on demand ({report['when']}, load {report['load'][0]:.1f} on 2 cores)\n\n"
            f"A {args.mb} MB file from a local hub (loopback): fetched, sha256-checked and renamed in "
            f"{fetched:.1f} s ({report['fetch_mb_per_s']} MB/s, two sha256 passes included); "
            f"`hearth models verify` {verified:.1f} s ({report['verify_mb_per_s']} MB/s); intact: {ok}.\n")
    (args.out / "hub.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
