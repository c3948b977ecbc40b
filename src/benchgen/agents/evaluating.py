"""What the coder's ``evaluate_solution()`` runs and what it shows the model.

The tool scores the workspace's ``/solution.py`` against its ``/script.py`` with the real
evaluator (:func:`benchgen.solving.evaluate_solution`): the scenario's variants are
built in one sandbox, the solution's ``design(view)`` runs in another, and the trusted
side judges each variant (static rules, cost, a MuJoCo rollout). Neither file is ever
imported here. The interactive loop uses a few seeds (``AgentSettings.solution_seeds``);
the dataset's solvability gate later runs every checked seed and scale.

Everything a model sees from an evaluation is built here: a compact report (verdict,
one line per variant, the first failure in full, cost and weight against the budget, a
hint per failure code, where the renders are) and, for the reviewer, a summary dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchgen.evaluate import EvaluateCode, EvaluationReport, SeedOutcome
from benchgen.scenario import Constraints
from benchgen.solving import EvaluateOptions, evaluate_solution

Evaluator = Callable[[Path, Path, EvaluateOptions, Path | None], EvaluationReport]
"""Scores a solution: (script, solution, options, out_dir) -> report. Tests may memoize it."""

MAX_DETAIL_CHARS = 2500
MAX_LINE_CHARS = 300

EVALUATE_HINTS: dict[EvaluateCode, str] = {
    EvaluateCode.SCRIPT_ERROR: "design(view) raised: the traceback's /solution.py lines say where; a part label that does not exist is a KeyError naming the labels.",
    EvaluateCode.CONTRACT_ERROR: "design(view) must return Design(parts=[Part(...)], motors=[...]) with labels that the scene does not use: see /skills/solution-contract/SKILL.md.",
    EvaluateCode.TIMEOUT: "design(view) took too long: fewer booleans, no search loops.",
    EvaluateCode.RESOURCE_LIMIT: "design(view) used too much memory, or the design's geometry is too heavy: simplify it.",
    EvaluateCode.SANDBOX_VIOLATION: "design(view) must be pure: no files, network or subprocesses.",
    EvaluateCode.INVALID_GEOMETRY: "Every design part must be one closed 3D solid (extrude 2D shapes; fuse overlapping pieces with +).",
    EvaluateCode.OUTSIDE_BUILD_ZONE: "Every design part's bounding box must lie inside view.build_zone: clamp positions to it (tilted parts reach further than their length).",
    EvaluateCode.INTERSECTION: "Keep >= 2 mm from every scene part (view.parts[i].bbox_min/max or .shape), from the payload's start ± jitter, and between design parts (or fuse them into one).",
    EvaluateCode.IN_FORBID_ZONE: "No design part may overlap a forbid zone, and the payload must never touch one during the rollout: route around view.forbid_zones.",
    EvaluateCode.OVER_BUDGET: "Cost = Σ volume × density × cost per kg: thinner walls, less material, or a cheaper material (get_docs_for('materials')).",
    EvaluateCode.OVERWEIGHT: "Weight = Σ volume × density: thinner walls, shorter parts, or a lighter material.",
    EvaluateCode.UNSTABLE: "The rollout exploded: a design part spawned touching something, or a motor is far too fast or strong.",
    EvaluateCode.MISSED_GOAL: "The payload did not come to rest in the goal: read the rollout's last frame (rollout_poster.png) and the payload's end position; derive every position from the view, not from one seed.",
}

_SOLUTION_IN_SANDBOX = re.compile(r"(?:/[^\s'\"()<>]+)?/sandbox/script\.py(?![\w.-])")
"""The solution's path inside its sandbox (where the runner names it script.py)."""


def default_evaluator(
    script: Path, solution: Path, options: EvaluateOptions, out_dir: Path | None
) -> EvaluationReport:
    """The real evaluation, as ``benchgen evaluate`` runs it."""
    return evaluate_solution(script, solution, options, out_dir)


def solution_side(text: str) -> str:
    """Name the solution ``/solution.py`` in messages from its sandbox (the runner calls every job's file script.py)."""
    return _SOLUTION_IN_SANDBOX.sub("/solution.py", text)


def for_the_model(report: EvaluationReport) -> EvaluationReport:
    """The report with the solution's sandbox paths named as the workspace names them."""
    per_seed = [o.model_copy(update={"message": solution_side(o.message)}) for o in report.per_seed]
    return report.model_copy(update={"message": solution_side(report.message), "per_seed": per_seed})


def variants_text(options: EvaluateOptions) -> str:
    """Which variants an evaluation with these options covers, in words."""
    last = options.first_seed + options.seeds - 1
    seeds = f"seed {last}" if options.seeds == 1 else f"seeds {options.first_seed}..{last}"
    text = f"{len(options.requests())} variants: {seeds} at scale 1"
    return text + ("; seeds 0, 1 at scales 0.5 and 2" if options.scales else "")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 3] + "..."


def _clip(text: str) -> str:
    if len(text) <= MAX_DETAIL_CHARS:
        return text
    half = MAX_DETAIL_CHARS // 2
    return f"{text[:half]}\n... [{len(text) - MAX_DETAIL_CHARS} characters cut] ...\n{text[-half:]}"


def _variant_line(outcome: SeedOutcome) -> str:
    where = f"seed {outcome.seed}, scale {outcome.scale:g}"
    cost = f"; ${outcome.cost_usd:.2f}, {outcome.weight_g:.0f} g" if outcome.cost_usd is not None else ""
    if outcome.success:
        return f"- {where}: solved ({_first_line(outcome.message)}){cost}"
    end = outcome.payload_end_mm
    at = (
        f"; payload at ({end[0]:.0f}, {end[1]:.0f}, {end[2]:.0f}) mm when the rollout stopped"
        if end is not None and outcome.code is not EvaluateCode.MISSED_GOAL  # missed_goal says where
        else ""
    )
    return f"- {where}: FAILED [{outcome.code}] {_first_line(outcome.message)}{at}{cost}"


def budget_text(report: EvaluationReport, constraints: Constraints | None) -> str:
    """The design's cost and weight against the benchmark's budget."""
    if report.cost_usd is None or report.weight_g is None:
        return "Cost: not computed (no variant got as far as the design's geometry)."
    text = f"Cost: ${report.cost_usd:.2f} a unit (the most expensive variant)"
    if constraints is not None:
        share = report.cost_usd / constraints.max_unit_cost if constraints.max_unit_cost else float("inf")
        text += f", budget ${constraints.max_unit_cost:.2f} ({share:.0%} of it)"
    text += f"; weight {report.weight_g:.0f} g"
    if constraints is not None and constraints.max_weight_g is not None:
        text += f", limit {constraints.max_weight_g:.0f} g"
    return text + "."


def format_evaluation(
    report: EvaluationReport,
    head: str,
    constraints: Constraints | None,
    artifacts: list[str],
) -> str:
    """The readable report a model sees (``report`` already passed through :func:`for_the_model`)."""
    solved = sum(o.success for o in report.per_seed)
    lines = [head]
    if report.passed:
        lines.append(f"PASSED: all {len(report.per_seed)} variants solved.")
    else:
        lines.append(f"FAILED [{report.code}]: {solved}/{len(report.per_seed)} variants solved.")
    lines += ["Variants:", *(_variant_line(o) for o in report.per_seed)]
    failed = next((o for o in report.per_seed if not o.success), None)
    if failed is not None and "\n" in failed.message.strip():
        lines += [
            f"First failure in full (seed {failed.seed}, scale {failed.scale:g}):",
            _clip(failed.message),
        ]
    lines.append(budget_text(report, constraints))
    if report.code is not None and report.code in EVALUATE_HINTS:
        lines.append(f"Hint: {EVALUATE_HINTS[report.code]}")
    if artifacts:
        lines.append("Seed 0 with the design in it (read_file shows images): " + ", ".join(artifacts))
    return "\n".join(lines)


def evaluation_summary(report: EvaluationReport, constraints: Constraints | None = None) -> dict[str, Any]:
    """What the session keeps of an evaluation (and the reviewer reads): verdict, rate, cost against budget."""
    summary: dict[str, Any] = {
        "passed": report.passed,
        "code": report.code,
        "message": _first_line(report.message),
        "success_rate": report.success_rate,
        "variants": [
            {"seed": o.seed, "scale": o.scale, "success": o.success, "code": o.code} for o in report.per_seed
        ],
        "cost_usd": report.cost_usd,
        "weight_g": report.weight_g,
    }
    if constraints is not None:
        summary["max_unit_cost"] = constraints.max_unit_cost
        summary["max_weight_g"] = constraints.max_weight_g
    return summary
