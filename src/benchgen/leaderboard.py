"""Score a directory of solutions against a whole dataset: the leaderboard file.

``benchgen evaluate DATASET SOLUTIONS_DIR`` looks for ``SOLUTIONS_DIR/<id>.py`` for every
benchmark in the dataset, evaluates each one (in parallel worker processes, each running
:func:`benchgen.solving.evaluate_solution`: the same sandbox and trusted judge as a single
evaluation) and writes one JSON line per benchmark, in dataset order, plus a summary.

Nothing is lost when a run stops: each result is appended to ``<results>.partial`` as it
arrives, and a re-run reuses every row whose benchmark content hash, solution hash and
evaluation options are unchanged (PHYRE's rule: a result records the hashes it was
evaluated with). The final file holds no timings, so the same dataset, solutions and
options give a byte-identical results file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from benchgen.solving import EvaluateOptions

NO_SOLUTION = "no_solution"
"""Row code of a benchmark with no ``<id>.py`` in the solutions directory (counted as failed)."""
BENCHMARK_ERROR = "benchmark_error"
"""Row code of a benchmark whose own script no longer builds valid variants here."""


class LeaderboardRow(BaseModel):
    """One benchmark's result: one line of the results JSONL."""

    id: str
    family: str
    tier: str
    content_hash: str
    """The benchmark's content hash: a result is only comparable for the same benchmark."""
    solution: str | None
    solution_sha256: str | None
    passed: bool
    code: str | None
    message: str
    success_rate: float
    cost_usd: float | None
    weight_g: float | None
    max_unit_cost: float | None
    cost_ratio: float | None
    """The design's worst-case cost ÷ the benchmark's ``max_unit_cost`` (lower is better)."""
    per_seed: list[dict[str, Any]] = Field(default_factory=list)
    evaluated_with: dict[str, Any]


class TierSummary(BaseModel):
    """Counts and means over a group of rows."""

    benchmarks: int
    solved: int
    mean_success_rate: float
    mean_cost_ratio: float | None
    """Over the solved benchmarks (a failed design's cost says little)."""


class LeaderboardSummary(BaseModel):
    """What ``benchgen evaluate DATASET SOLUTIONS_DIR --json`` prints."""

    dataset: str
    solutions: str
    results: str
    overall: TierSummary
    by_tier: dict[str, TierSummary]
    missing: int
    """Benchmarks with no solution file."""
    reused: int
    """Rows taken from an earlier run's results (same benchmark, solution and options)."""


RowCallback = Callable[[LeaderboardRow, bool], None]
"""Called with each row as it is known, and whether it was reused from an earlier run."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def options_record(options: EvaluateOptions) -> dict[str, Any]:
    """The options a result depends on (not the sandbox's timeout or memory, which only decide
    whether it runs at all), with the benchgen version."""
    from benchgen import __version__

    return {
        "benchgen": __version__,
        "seeds": options.seeds,
        "first_seed": options.first_seed,
        "scales": options.scales,
        "settings": options.settings.model_dump(mode="json"),
    }


def _row(manifest: Any, solution: Path | None, options: dict[str, Any]) -> LeaderboardRow:
    return LeaderboardRow(
        id=manifest.id,
        family=manifest.family,
        tier=manifest.tier,
        content_hash=manifest.content_hash,
        solution=solution.name if solution else None,
        solution_sha256=file_sha256(solution) if solution else None,
        passed=False,
        code=NO_SOLUTION if solution is None else None,
        message="no solution file" if solution is None else "",
        success_rate=0.0,
        cost_usd=None,
        weight_g=None,
        max_unit_cost=manifest.max_unit_cost,
        cost_ratio=None,
        evaluated_with=options,
    )


def evaluate_one(script: str, solution: str, options_json: str) -> dict[str, Any]:
    """Worker entry: evaluate one solution against one benchmark script; a plain dict comes back.

    A benchmark that no longer builds is a row (``benchmark_error``), not the end of the run;
    a sandbox that cannot start is the end of the run (it would fail every benchmark alike).
    """
    from benchgen.solving import BenchmarkError, evaluate_solution

    options = EvaluateOptions.model_validate_json(options_json)
    try:
        report = evaluate_solution(Path(script), Path(solution), options)
    except BenchmarkError as exc:
        return {"code": BENCHMARK_ERROR, "message": str(exc), "passed": False, "success_rate": 0.0}
    # metrics hold wall-clock timings: the row must not depend on the machine
    return report.model_dump(mode="json", exclude={"metrics", "artifacts"})


def _complete(row: LeaderboardRow, result: dict[str, Any]) -> LeaderboardRow:
    update = {k: result.get(k) for k in ("passed", "code", "message", "success_rate", "cost_usd", "weight_g")}
    update["per_seed"] = result.get("per_seed", [])
    cost, budget = update["cost_usd"], row.max_unit_cost
    update["cost_ratio"] = round(cost / budget, 6) if cost is not None and budget else None
    return row.model_copy(update=update)


def _summary(rows: list[LeaderboardRow]) -> TierSummary:
    solved = [r for r in rows if r.passed]
    ratios = [r.cost_ratio for r in solved if r.cost_ratio is not None]
    return TierSummary(
        benchmarks=len(rows),
        solved=len(solved),
        mean_success_rate=round(sum(r.success_rate for r in rows) / len(rows), 6) if rows else 0.0,
        mean_cost_ratio=round(sum(ratios) / len(ratios), 6) if ratios else None,
    )


def _read_rows(path: Path) -> dict[str, LeaderboardRow]:
    """Rows of an earlier (possibly interrupted) run; unreadable lines are ignored."""
    rows: dict[str, LeaderboardRow] = {}
    if not path.is_file():
        return rows
    for line in path.read_text().splitlines():
        try:
            row = LeaderboardRow.model_validate_json(line)
        except ValueError:
            continue
        rows[row.id] = row
    return rows


def _reusable(old: LeaderboardRow | None, fresh: LeaderboardRow) -> bool:
    return (
        old is not None
        and old.code != BENCHMARK_ERROR
        and (
            (old.content_hash, old.solution_sha256, old.evaluated_with)
            == (fresh.content_hash, fresh.solution_sha256, fresh.evaluated_with)
        )
    )


def evaluate_dataset(
    dataset: Any,
    solutions: Path,
    results: Path,
    options: EvaluateOptions | None = None,
    workers: int = 1,
    on_row: RowCallback | None = None,
) -> LeaderboardSummary:
    """Evaluate ``solutions/<id>.py`` against every benchmark of ``dataset`` (a
    :class:`benchgen.dataset.Dataset`); write ``results`` (JSONL, dataset order) and return
    the summary. Raises :class:`benchgen.sandbox.SandboxError` when the sandbox cannot run."""
    from benchgen.executors import ProcessExecutor

    options = options or EvaluateOptions()
    recorded = options_record(options)
    partial = results.with_name(results.name + ".partial")
    earlier = {**_read_rows(results), **_read_rows(partial)}
    results.parent.mkdir(parents=True, exist_ok=True)
    rows: dict[str, LeaderboardRow] = {}
    pending: dict[str, LeaderboardRow] = {}
    order: list[str] = []
    reused = 0
    with partial.open("a") as log:

        def keep(row: LeaderboardRow, was_reused: bool) -> None:
            rows[row.id] = row
            log.write(row.model_dump_json() + "\n")
            log.flush()
            if on_row:
                on_row(row, was_reused)

        for benchmark in dataset:
            order.append(benchmark.id)
            file = solutions / f"{benchmark.id}.py"
            fresh = _row(benchmark.manifest, file if file.is_file() else None, recorded)
            if fresh.solution is None:
                keep(fresh, False)
            elif _reusable(earlier.get(fresh.id), fresh):
                reused += 1
                keep(earlier[fresh.id], True)
            else:
                pending[benchmark.id] = fresh
        if pending:
            executor = ProcessExecutor(max(1, min(workers, len(pending))))
            try:
                futures = {
                    executor.submit(
                        evaluate_one,
                        str(dataset.get(bid).script_path),
                        str(solutions / f"{bid}.py"),
                        options.model_dump_json(),
                    ): bid
                    for bid in pending
                }
                import concurrent.futures

                for future in concurrent.futures.as_completed(futures):
                    bid = futures[future]
                    keep(_complete(pending[bid], future.result()), False)
            finally:
                executor.stop()
    ordered = [rows[i] for i in order]
    tmp = results.with_name(f".{results.name}.tmp{os.getpid()}")
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in ordered))
    os.replace(tmp, results)
    partial.unlink(missing_ok=True)
    tiers = sorted({r.tier for r in ordered})
    return LeaderboardSummary(
        dataset=str(dataset.root),
        solutions=str(solutions),
        results=str(results),
        overall=_summary(ordered),
        by_tier={t: _summary([r for r in ordered if r.tier == t]) for t in tiers},
        missing=sum(r.code == NO_SOLUTION for r in ordered),
        reused=reused,
    )


def summary_json(summary: LeaderboardSummary) -> str:
    """The summary as one JSON line (what ``--json`` prints)."""
    return json.dumps(summary.model_dump(mode="json"), sort_keys=True)
