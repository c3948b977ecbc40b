"""Process pool vs Ray on the same small workload: N candidate checks, 2 at a time.

Each executor evaluates the same offline-author candidates (check + render review, as
``generate`` does) with two workers; Ray's time includes starting a local instance and
shipping each candidate's files to and from its task. Each run gets an empty
decomposition cache, so both do the same work. Prints wall times and the ratio.

Usage: ``.venv/bin/python benchmarks/bench_executors.py [N]`` (default 4 candidates).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from benchgen.authors.offline import write_candidate  # noqa: E402
from benchgen.check import CheckOptions  # noqa: E402
from benchgen.executors import ExecutorKind, make_executor  # noqa: E402
from benchgen.generate import evaluate_candidate  # noqa: E402
from benchgen.review import ReviewSettings  # noqa: E402

WORKERS = 2


def scripts(count: int) -> list[str]:
    """The first ``count`` candidate scripts of run seed 42."""
    return [write_candidate(np.random.default_rng([42, i])).script for i in range(count)]


def run(kind: ExecutorKind, sources: list[str]) -> tuple[float, float, int]:
    """(total seconds, executor start-up seconds, accepted) for one executor."""
    with tempfile.TemporaryDirectory() as tmp:
        options = CheckOptions(cache_dir=Path(tmp) / "cache")
        started = time.perf_counter()
        executor = make_executor(kind, WORKERS)
        ready = time.perf_counter()
        try:
            tasks = []
            for index, source in enumerate(sources):
                staged = Path(tmp) / f"c{index}"
                staged.mkdir()
                (staged / "script.py").write_text(source)
                tasks.append(executor.submit_in_dir(evaluate_candidate, staged, options, ReviewSettings()))
            accepted = sum(bool(task.result().report.accepted) for task in tasks)
        finally:
            executor.stop()
        return time.perf_counter() - started, ready - started, accepted


def main(count: int) -> None:
    sources = scripts(count)
    results = {kind: run(kind, sources) for kind in ("process", "ray")}
    print(f"{count} candidate checks, {WORKERS} workers")
    print(f"{'executor':>9}{'seconds':>9}{'start-up':>10}{'accepted':>10}")
    for kind, (seconds, startup, accepted) in results.items():
        print(f"{kind:>9}{seconds:>9.1f}{startup:>10.1f}{accepted:>10}")
    print(f"ratio (ray / process pool, wall time): {results['ray'][0] / results['process'][0]:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
