"""The coder's check tools (``validate``, ``simulate``, ``evaluate_solution``, ``submit_for_review``), docs and journal tools.

Scripts run only through :func:`benchgen.check.check_script` and its sandbox: each
check copies the current ``/script.py`` to a file outside the workspace, named by its
content hash, and checks that copy, so a report always belongs to exactly one script
version. Results are cached per version: re-checking an unchanged script costs nothing
and does not count as a new attempt. ``evaluate_solution()`` does the same for the pair
(``/script.py``, ``/solution.py``) through :func:`benchgen.solving.evaluate_solution`
(see :mod:`benchgen.agents.evaluating`). ``submit_for_review()`` takes the pair only when
simulate() passed on that script and evaluate_solution() on that script and solution.

Repeated-failure rule: when ``max_identical_failures`` consecutive *different* versions
of the script (or of the solution) fail with the same code and message, the coder is not
making progress and the session stops with status ``failed``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from langchain_core.tools import BaseTool, StructuredTool

from benchgen.agents.accounting import Ledger
from benchgen.agents.docs import get_docs
from benchgen.agents.evaluating import (
    Evaluator,
    default_evaluator,
    evaluation_summary,
    for_the_model,
    format_evaluation,
    variants_text,
)
from benchgen.agents.settings import Role
from benchgen.agents.workspace import Workspace, remove_tree, sha256_text
from benchgen.check import CheckOptions, check_script
from benchgen.evaluate import EvaluationReport
from benchgen.scenario import Constraints
from benchgen.solving import BenchmarkError, EvaluateOptions
from benchgen.verdict import CheckReport, RejectCode

Checker = Callable[[Path, CheckOptions, Path | None], CheckReport]
"""Runs the trusted check: (script, options, out_dir) -> report. Tests may memoize it."""
Mode = Literal["validate", "simulate"]

MAX_MESSAGE_CHARS = 3000

HINTS: dict[RejectCode, str] = {
    RejectCode.SCRIPT_ERROR: "build() raised: read the traceback, fix that code path for the named seed/scale.",
    RejectCode.CONTRACT_ERROR: "The returned data breaks the contract (types, materials, scale): see /skills/scenario-contract/SKILL.md.",
    RejectCode.TIMEOUT: "A build took too long: simplify booleans, avoid big loops.",
    RejectCode.RESOURCE_LIMIT: "A build used too much memory: simplify the geometry.",
    RejectCode.SANDBOX_VIOLATION: "build() must be pure: no files, network or subprocesses.",
    RejectCode.INVALID_GEOMETRY: "A part is not a closed valid solid: see /skills/build123d-idioms/SKILL.md.",
    RejectCode.INTERSECTION: "Bodies overlap for some seed: keep >= 2 mm clearance for every draw, or fuse touching pieces into one part (see /skills/randomization/SKILL.md).",
    RejectCode.OUT_OF_BOUNDS: "Something leaves bounds: shrink ranges or derive positions from the bounds.",
    RejectCode.ZONE_CONFLICT: "Zones are inconsistent: compute zones from the drawn geometry, inside bounds, goal away from forbid zones.",
    RejectCode.UNSTABLE: "The simulation exploded: usually an overlap at spawn; see /skills/stability/SKILL.md.",
    RejectCode.NOT_SETTLED: "A movable part keeps moving: rest hinges on a limit, lay free parts flat (see /skills/stability/SKILL.md).",
    RejectCode.TRIVIAL: "Left alone the payload already reaches the goal: the solver must have something to do.",
    RejectCode.NONDETERMINISTIC: "Same seed, different scene: draw everything from random.Random(seed) in a fixed order.",
    RejectCode.INSUFFICIENT_RANDOMIZATION: "Move the payload start or the goal >= 40% of the workspace across seeds (e.g. mirror odd seeds; see /skills/randomization/SKILL.md).",
    RejectCode.UNSOLVED: "The reference solution misses some variant: run evaluate_solution() and read its per-variant report.",
    RejectCode.OVER_BUDGET: "The reference solution costs or weighs more than the budget: a lighter design, or a larger budget in Constraints.",
}


def default_checker(script: Path, options: CheckOptions, out_dir: Path | None) -> CheckReport:
    """The trusted check, as ``benchgen check`` runs it."""
    return check_script(script, options, out_dir=out_dir)


def first_line(text: str) -> str:
    """The first line of a message (empty for an empty message)."""
    return text.strip().splitlines()[0] if text.strip() else ""


def _clip(text: str) -> str:
    # Keep the head (the verdict) and the tail (the traceback's last frames), drop the middle.
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    half = MAX_MESSAGE_CHARS // 2
    return f"{text[:half]}\n... [{len(text) - MAX_MESSAGE_CHARS} characters cut] ...\n{text[-half:]}"


def report_summary(report: CheckReport) -> dict[str, Any]:
    """The parts of a check report worth showing a model: verdict, randomization, physics per build."""
    metrics = report.metrics
    summary: dict[str, Any] = {
        "accepted": report.accepted,
        "code": report.code,
        "message": _clip(report.message),
    }
    if metrics.scene is not None:
        scene = metrics.scene
        summary["scene"] = {"name": scene.name, "tier": scene.tier, "description": scene.description}
    if metrics.randomization is not None:
        summary["randomization"] = metrics.randomization.model_dump()
    if metrics.per_build:
        summary["simulation"] = [
            b.model_dump(
                include={
                    "seed",
                    "scale",
                    "max_speed",
                    "final_part_speed",
                    "payload_end_mm",
                    "payload_in_goal",
                }
            )
            for b in metrics.per_build
        ]
    return summary


class FailureStreak:
    """Consecutive *different* versions of one file that failed with the same (code, message)."""

    def __init__(self) -> None:
        self._last: tuple[tuple[str, str], str, int] | None = None
        """(failure key, sha of the last version that failed with it, consecutive versions)."""

    def record(self, failure: tuple[str, str] | None, sha: str) -> int:
        """Record a result (None: passed); return how many consecutive versions failed like this one."""
        if failure is None:
            self._last = None
            return 0
        if self._last is not None and self._last[0] == failure:
            count = self._last[2] + (self._last[1] != sha)
        else:
            count = 1
        self._last = (failure, sha, count)
        return count


class CheckTools:
    """validate / simulate / evaluate_solution / submit for one session's workspace (results cached per version)."""

    def __init__(
        self,
        workspace: Workspace,
        scratch: Path,
        ledger: Ledger,
        options: CheckOptions,
        checker: Checker,
        max_identical: int,
        *,
        evaluator: Evaluator = default_evaluator,
        evaluate_options: EvaluateOptions | None = None,
    ) -> None:
        self.workspace = workspace
        self.scratch = scratch
        self.ledger = ledger
        self.options = options
        self.checker = checker
        self.max_identical = max_identical
        self.evaluator = evaluator
        self.evaluate_options = evaluate_options or EvaluateOptions(
            check=options, timeout_s=options.timeout_s, memory_mb=options.memory_mb
        )
        self._lock = threading.Lock()
        self._results: dict[tuple[str, Mode], CheckReport] = {}
        self._evaluations: dict[tuple[str, str], EvaluationReport] = {}
        self._script_streak = FailureStreak()
        self._solution_streak = FailureStreak()

    # -- checks ---------------------------------------------------------------

    def _current(self, name: str = "script.py") -> tuple[str, str] | None:
        text = self.workspace.read(name)
        return (text, sha256_text(text)) if text is not None else None

    def cached(self, sha: str, mode: Mode) -> CheckReport | None:
        """A report for this version and mode: in memory, or simulate()'s report.json on disk."""
        if (sha, mode) in self._results:
            return self._results[(sha, mode)]
        if mode == "simulate":
            saved = self.workspace.render_dir(sha) / "report.json"
            if saved.is_file():
                report = CheckReport.model_validate_json(saved.read_text())
                self._results[(sha, mode)] = report
                return report
        return None

    def run_check(self, text: str, sha: str, mode: Mode) -> CheckReport:
        """Check this exact script text (no caching, no bookkeeping)."""
        script = self._scratch_copy("script", text, sha)
        if mode == "validate":
            return self.checker(script, self.options.model_copy(update={"simulate": False}), None)
        out_dir = self.workspace.render_dir(sha)
        return self.checker(script, self.options.model_copy(update={"simulate": True}), out_dir)

    def _scratch_copy(self, kind: str, text: str, sha: str) -> Path:
        # Outside the workspace and named by content, so a run always belongs to one version.
        self.scratch.mkdir(parents=True, exist_ok=True)
        path = self.scratch / f"{kind}-{sha[:12]}.py"
        path.write_text(text, encoding="utf-8")
        return path

    def _check(self, mode: Mode) -> str:
        with self._lock:  # one check at a time: parallel tool calls must not race on the cache
            current = self._current()
            if current is None:
                return f"{mode}: no /script.py yet. Write it with write_file first."
            text, sha = current
            report = self.cached(sha, mode)
            note = ""
            if report is not None:
                note = "(unchanged script: cached result)"
            elif (
                mode == "simulate"
                and (failed := self.cached(sha, "validate")) is not None
                and not failed.accepted
            ):
                report, note = failed, "(validate already failed for this exact script: fix it first)"
            else:
                report = self.run_check(text, sha, mode)
                self._results[(sha, mode)] = report
                self._track(self._script_streak, report.accepted, report.code, report.message, sha, "script")
                self.workspace.append_journal(
                    "checker",
                    f"{mode} of script {sha[:12]}: "
                    + (
                        "PASSED"
                        if report.accepted
                        else f"FAILED [{report.code}] {first_line(report.message)}"
                    ),
                )
            return self.format(report, mode, sha, note)

    def _track(
        self, streak: FailureStreak, passed: bool, code: object, message: str, sha: str, what: str
    ) -> None:
        count = streak.record(None if passed else (str(code), message), sha)
        if count >= self.max_identical:
            self.ledger.halt(
                "failed",
                f"the same failure repeated on {count} consecutive {what} versions: [{code}] {first_line(message)}",
            )

    def format(self, report: CheckReport, mode: Mode, sha: str, note: str = "") -> str:
        """The readable report a model sees."""
        head = f"{mode} of /script.py (version {sha[:12]}) {note}".rstrip()
        lines = [head]
        if report.accepted:
            lines.append(
                "PASSED"
                + (
                    " the static stages (contract, geometry, intersections, zones, randomization)."
                    if mode == "validate"
                    else ": the full check accepted the script."
                )
            )
        else:
            lines.append(f"FAILED [{report.code}]")
            lines.append(_clip(report.message))
            if report.code is not None and report.code in HINTS:
                lines.append(f"Hint: {HINTS[report.code]}")
        metrics = {
            k: v
            for k, v in report_summary(report).items()
            if k not in ("accepted", "code", "message", "scene")
        }
        if metrics:
            lines.append("Metrics: " + json.dumps(metrics, default=str))
        renders = self.render_paths(sha) if mode == "simulate" else []
        if renders:
            lines.append(
                f"Renders of seed 0 ({len(renders)} views, read_file shows them): "
                + ", ".join(renders[:4])
                + (" ..." if len(renders) > 4 else "")
            )
        if self.ledger.stop is not None:
            lines.append(f"SESSION STOPPED: {self.ledger.stop.reason}")
        elif report.accepted:
            lines.append(
                "Next: simulate()."
                if mode == "validate"
                else "Next: evaluate_solution() until it passes, then submit_for_review()."
            )
        else:
            lines.append(f"Fix /script.py and run {mode}() again.")
        return "\n".join(lines)

    def render_paths(self, sha: str) -> list[str]:
        """Virtual paths of simulate()'s renders for this version (sorted by view name)."""
        directory = self.workspace.render_dir(sha) / "renders"
        return (
            [self.workspace.virtual(p) for p in sorted(directory.glob("*.png"))] if directory.is_dir() else []
        )

    def validate(self) -> str:
        """Fast static check of /script.py: sandboxed builds of every seed, contract, geometry, overlaps, zones, randomization. No physics."""
        return self._check("validate")

    def simulate(self) -> str:
        """Full trusted check of /script.py: everything validate() does plus MuJoCo stability runs for every seed and 24 renders of seed 0."""
        return self._check("simulate")

    # -- the reference solution -----------------------------------------------

    def cached_evaluation(self, script_sha: str, solution_sha: str) -> EvaluationReport | None:
        """The evaluation of this (script, solution) pair: in memory, or its evaluation.json on disk."""
        key = (script_sha, solution_sha)
        if key not in self._evaluations:
            saved = self.workspace.evaluation_dir(script_sha, solution_sha) / "evaluation.json"
            if not saved.is_file():
                return None
            self._evaluations[key] = for_the_model(EvaluationReport.model_validate_json(saved.read_text()))
        return self._evaluations[key]

    def run_evaluation(
        self, script_text: str, script_sha: str, solution_text: str, solution_sha: str
    ) -> EvaluationReport:
        """Evaluate this exact pair with artifacts for seed 0 (no caching, no bookkeeping).

        Raises :class:`benchgen.solving.BenchmarkError` when the script builds no valid variants.
        """
        script = self._scratch_copy("script", script_text, script_sha)
        solution = self._scratch_copy("solution", solution_text, solution_sha)
        out_dir = self.workspace.evaluation_dir(script_sha, solution_sha)
        remove_tree(out_dir)  # an interrupted run's partial artifacts must not pass for this one's
        return for_the_model(self.evaluator(script, solution, self.evaluate_options, out_dir))

    def budget(self, script_sha: str) -> Constraints | None:
        """The benchmark's budget (seed 0), from this script version's check report."""
        report = self.cached(script_sha, "simulate") or self.cached(script_sha, "validate")
        scene = report.metrics.scene if report is not None else None
        return scene.constraints if scene is not None else None

    def evaluation_state(self, script_sha: str, solution_sha: str) -> dict[str, Any] | None:
        """What the session keeps of the pair's evaluation (None when it was not evaluated)."""
        report = self.cached_evaluation(script_sha, solution_sha)
        return evaluation_summary(report, self.budget(script_sha)) if report is not None else None

    def evaluation_artifacts(self, script_sha: str, solution_sha: str) -> list[str]:
        """Virtual paths of the images a model may open: the rollout's last frame, then a few views."""
        directory = self.workspace.evaluation_dir(script_sha, solution_sha)
        found = [directory / "rollout_poster.png"]
        found += [directory / "renders" / f"{view}.png" for view in ("e35_a045", "e15_a000", "e60_a000")]
        return [self.workspace.virtual(p) for p in found if p.is_file()]

    def evaluate_solution(self) -> str:
        """Score /solution.py against /script.py with the trusted evaluator: the variants are built, design(view) runs in the sandbox for each, and every variant is judged (build zone, overlaps, forbid zones, cost and weight against the budget, a MuJoCo rollout where the payload must come to rest in the goal). Needs validate() or simulate() to have passed on the current /script.py."""
        with self._lock:
            script, solution = self._current(), self._current("solution.py")
            if script is None:
                return "evaluate_solution: no /script.py yet. Write the scenario first."
            if solution is None:
                return (
                    "evaluate_solution: no /solution.py yet. Write design(view) -> Design with write_file "
                    "(see /skills/solution-contract/SKILL.md)."
                )
            (script_text, script_sha), (solution_text, solution_sha) = script, solution
            checked = self.cached(script_sha, "simulate") or self.cached(script_sha, "validate")
            if checked is None:
                return (
                    "Refused: run validate() (or simulate()) on the current /script.py first: a solution "
                    "is scored against the variants the script builds."
                )
            if not checked.accepted:
                return (
                    f"Refused: the current /script.py fails the check ([{checked.code}] "
                    f"{first_line(checked.message)}): fix the script first."
                )
            report = self.cached_evaluation(script_sha, solution_sha)
            note = "(unchanged script and solution: cached result)" if report is not None else ""
            if report is None:
                try:
                    report = self.run_evaluation(script_text, script_sha, solution_text, solution_sha)
                except BenchmarkError as exc:
                    return (
                        f"evaluate_solution: /script.py builds no valid variant to evaluate against: "
                        f"{_clip(str(exc))}\nFix /script.py and validate() again."
                    )
                self._evaluations[(script_sha, solution_sha)] = report
                self._track(
                    self._solution_streak,
                    report.passed,
                    report.code,
                    report.message,
                    solution_sha,
                    "solution",
                )
                self.workspace.append_journal(
                    "checker",
                    f"evaluate_solution of solution {solution_sha[:12]} on script {script_sha[:12]}: "
                    + ("PASSED" if report.passed else f"FAILED [{report.code}] {first_line(report.message)}"),
                )
            head = (
                f"evaluate_solution of /solution.py (version {solution_sha[:12]}) on /script.py "
                f"(version {script_sha[:12]}), {variants_text(self.evaluate_options)} {note}"
            ).rstrip()
            text = format_evaluation(
                report, head, self.budget(script_sha), self.evaluation_artifacts(script_sha, solution_sha)
            )
            if self.ledger.stop is not None:
                return f"{text}\nSESSION STOPPED: {self.ledger.stop.reason}"
            if not report.passed:
                return (
                    f"{text}\nFix /solution.py (or /script.py, if no device within the budget can solve it) "
                    "and run evaluate_solution() again."
                )
            simulated = self.cached(script_sha, "simulate")
            ready = simulated is not None and simulated.accepted
            return f"{text}\nNext: {'submit_for_review().' if ready else 'simulate(), then submit_for_review().'}"

    # -- hand-over ------------------------------------------------------------

    def submit_for_review(self) -> str:
        """Hand /script.py and /solution.py to the reviewer. Only allowed after simulate() passed on the current /script.py and evaluate_solution() passed on the current /script.py and /solution.py."""
        with self._lock:
            current = self._current()
            if current is None:
                return "Refused: there is no /script.py."
            _, sha = current
            report = self.cached(sha, "simulate")
            if report is None:
                return "Refused: /script.py changed since the last simulate() (or was never simulated). Run simulate() first."
            if not report.accepted:
                return (
                    f"Refused: simulate() failed on this script: [{report.code}] {first_line(report.message)}"
                )
            solution = self._current("solution.py")
            if solution is None:
                return (
                    "Refused: there is no /solution.py. Every benchmark ships a reference solution: write "
                    "design(view) -> Design (see /skills/solution-contract/SKILL.md) and get "
                    "evaluate_solution() to pass."
                )
            _, solution_sha = solution
            evaluation = self.cached_evaluation(sha, solution_sha)
            if evaluation is None:
                return (
                    "Refused: evaluate_solution() has not run on the current /script.py and /solution.py "
                    "(one of them changed since). Run evaluate_solution() first."
                )
            if not evaluation.passed:
                return (
                    f"Refused: evaluate_solution() failed on the current /solution.py: [{evaluation.code}] "
                    f"{first_line(evaluation.message)}. Fix it and run evaluate_solution() again."
                )
            self.ledger.submitted_sha = sha
            self.ledger.submitted_solution_sha = solution_sha
            self.workspace.append_journal(
                "coder", f"submitted script {sha[:12]} with solution {solution_sha[:12]} for review"
            )
            return "Submitted for review. Your turn is over: stop now."

    def tools(self) -> list[BaseTool]:
        """The coder's check tools."""
        return [
            StructuredTool.from_function(self.validate, name="validate"),
            StructuredTool.from_function(self.simulate, name="simulate"),
            StructuredTool.from_function(self.evaluate_solution, name="evaluate_solution"),
            StructuredTool.from_function(self.submit_for_review, name="submit_for_review"),
        ]


def docs_tool() -> BaseTool:
    """``get_docs_for(name)``: signatures and docstrings of build123d and the benchgen contract."""

    def get_docs_for(name: str) -> str:
        """Documentation for a build123d name (Box, Cylinder, Pos, Rot, extrude, Location.inverse ...), a contract type (Scenario, Part, Payload, Zone, Hinge, Slide, Constraints), a solution type (Design, Motor, SceneView, PartView, PayloadView), a solution helper (chute, plate, ... or toolkit.<name>), or a topic: 'contract', 'solution', 'toolkit', 'materials', 'tiers'."""
        return get_docs(name)

    return StructuredTool.from_function(get_docs_for)


def journal_tool(workspace: Workspace, role: Role) -> BaseTool:
    """``append_journal(entry)``: the only way to write /journal.md (append-only)."""

    def append_journal(entry: str) -> str:
        """Append a note to /journal.md, the session's memory across rounds: what you tried, what failed, what fixed it, decisions."""
        if not entry.strip():
            return "Nothing appended: the entry is empty."
        workspace.append_journal(role, entry[:4000])
        return "Appended to /journal.md."

    return StructuredTool.from_function(append_journal)
