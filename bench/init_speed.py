"""Cold `deploysmith init` wall time on the example apps (goal: under 0.3 s for a typical app).

Each run is a fresh interpreter (cold imports) on a fresh copy of the example, so the
number is what a user waits for. Usage: python bench/init_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def time_init(example: Path, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / example.name
            shutil.copytree(example, target)
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "deploysmith", "init", str(target), "--yes"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
            )
            timings.append(time.perf_counter() - start)
            if result.returncode != 0:
                raise SystemExit(f"{example.name}: init failed ({result.returncode}): {result.stderr.strip()}")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    baseline = time.perf_counter() - start
    print(f"python startup baseline: {baseline * 1000:.0f} ms")
    print(f"{'example':<22} {'median':>8} {'min':>8} {'max':>8}")
    for example in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        timings = time_init(example, args.runs)
        print(
            f"{example.name:<22} {statistics.median(timings) * 1000:>6.0f}ms "
            f"{min(timings) * 1000:>6.0f}ms {max(timings) * 1000:>6.0f}ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
