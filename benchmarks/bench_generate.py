"""Accepted benchmarks per minute and acceptance rate of `benchgen generate`, 1 vs 2 workers.

Usage: ``.venv/bin/python benchmarks/bench_generate.py [COUNT]`` (default 4 per run).
Each run starts from an empty directory and an empty decomposition cache, with the same
seed, so both runs do the same work; the ratio is the parallel speed-up.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from benchgen.check import CheckOptions  # noqa: E402
from benchgen.generate import GenerateOptions, Generator  # noqa: E402


def run(workers: int, count: int) -> tuple[float, float, float]:
    """(accepted per minute, acceptance rate, seconds) of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        options = GenerateOptions(
            out=Path(tmp) / "ds",
            count=count,
            seed=42,
            workers=workers,
            check=CheckOptions(cache_dir=Path(tmp) / "cache"),
        )
        summary = Generator(options).run()
    per_minute = summary.accepted / (summary.seconds / 60)
    return per_minute, summary.accepted / max(summary.candidates, 1), summary.seconds


def main(count: int) -> None:
    results = {w: run(w, count) for w in (1, 2)}
    print(f"{'workers':>8}{'accepted/min':>14}{'acceptance':>12}{'seconds':>9}")
    for workers, (rate, acceptance, seconds) in results.items():
        print(f"{workers:>8}{rate:>14.2f}{acceptance:>12.0%}{seconds:>9.1f}")
    print(f"scaling ratio (2 workers / 1 worker, accepted per minute): {results[2][0] / results[1][0]:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
