"""The coder's check tools (``validate``, ``simulate``, ``submit_for_review``), docs and journal tools.

Scripts run only through :func:`benchgen.check.check_script` and its sandbox: each
check copies the current ``/script.py`` to a file outside the workspace, named by its
content hash, and checks that copy, so a report always belongs to exactly one script
version. Results are cached per version: re-checking an unchanged script costs nothing
and does not count as a new attempt.

Repeated-failure rule: when ``max_identical_failures`` consecutive *different* script
versions fail with the same code and message, the coder is not making progress and the
session stops with status ``failed``.
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
from benchgen.agents.settings import Role
from benchgen.agents.workspace import Workspace, sha256_text
from benchgen.check import CheckOptions, check_script
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
    scene = metrics.get("scene")
    if isinstance(scene, dict):
        summary["scene"] = {k: scene.get(k) for k in ("name", "tier", "description")}
    if "randomization" in metrics:
        summary["randomization"] = metrics["randomization"]
    builds = metrics.get("per_build")
    if builds:
        summary["simulation"] = [
            {
                k: b.get(k)
                for k in (
                    "seed",
                    "scale",
                    "max_speed",
                    "final_part_speed",
                    "payload_end_mm",
                    "payload_in_goal",
                )
            }
            for b in builds
        ]
    return summary


class CheckTools:
    """validate / simulate / submit for one session's workspace (results cached per script version)."""

    def __init__(
        self,
        workspace: Workspace,
        scratch: Path,
        ledger: Ledger,
        options: CheckOptions,
        checker: Checker,
        max_identical: int,
    ) -> None:
        self.workspace = workspace
        self.scratch = scratch
        self.ledger = ledger
        self.options = options
        self.checker = checker
        self.max_identical = max_identical
        self._lock = threading.Lock()
        self._results: dict[tuple[str, Mode], CheckReport] = {}
        self._streak: tuple[tuple[str, str], str, int] | None = None
        """(failure key, sha of the last version that failed with it, consecutive versions)."""

    # -- checks ---------------------------------------------------------------

    def _current(self) -> tuple[str, str] | None:
        text = self.workspace.read("script.py")
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
        self.scratch.mkdir(parents=True, exist_ok=True)
        script = self.scratch / f"script-{sha[:12]}.py"
        script.write_text(text, encoding="utf-8")
        if mode == "validate":
            return self.checker(script, self.options.model_copy(update={"simulate": False}), None)
        out_dir = self.workspace.render_dir(sha)
        return self.checker(script, self.options.model_copy(update={"simulate": True}), out_dir)

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
                self._track_failure(report, sha)
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

    def _track_failure(self, report: CheckReport, sha: str) -> None:
        if report.accepted:
            self._streak = None
            return
        key = (str(report.code), report.message)
        if self._streak is not None and self._streak[0] == key:
            count = self._streak[2] + (self._streak[1] != sha)
        else:
            count = 1
        self._streak = (key, sha, count)
        if count >= self.max_identical:
            first = first_line(report.message)
            self.ledger.halt(
                "failed",
                f"the same check failure repeated on {count} consecutive script versions: [{report.code}] {first}",
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
            lines.append("Next: simulate()." if mode == "validate" else "Next: submit_for_review().")
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

    def submit_for_review(self) -> str:
        """Hand /script.py to the reviewer. Only allowed after simulate() passed on the current script content."""
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
            self.ledger.submitted_sha = sha
            self.workspace.append_journal("coder", f"submitted script {sha[:12]} for review")
            return "Submitted for review. Your turn is over: stop now."

    def tools(self) -> list[BaseTool]:
        """The coder's check tools."""
        return [
            StructuredTool.from_function(self.validate, name="validate"),
            StructuredTool.from_function(self.simulate, name="simulate"),
            StructuredTool.from_function(self.submit_for_review, name="submit_for_review"),
        ]


def docs_tool() -> BaseTool:
    """``get_docs_for(name)``: signatures and docstrings of build123d and the benchgen contract."""

    def get_docs_for(name: str) -> str:
        """Documentation for a build123d name (Box, Cylinder, Pos, Rot, extrude, Location.inverse ...), a contract type (Scenario, Part, Payload, Zone, Hinge, Slide, Constraints), or a topic: 'contract', 'materials', 'tiers'."""
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
