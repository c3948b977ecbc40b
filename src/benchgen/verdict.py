"""The closed set of rejection codes and the report ``benchgen check`` produces.

The report's ``metrics`` are typed (:class:`CheckMetrics`): the stages fill them in and the
consumers downstream (similarity, difficulty, the manifest) read them as models, while the
JSON written (``report.json``, ``--json``) keeps its flat, documented shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from benchgen.scene import SceneRecord


class RejectCode(StrEnum):
    """Why a scenario script was rejected. The set is closed: tools downstream switch on it."""

    SCRIPT_ERROR = "script_error"
    CONTRACT_ERROR = "contract_error"
    TIMEOUT = "timeout"
    RESOURCE_LIMIT = "resource_limit"
    SANDBOX_VIOLATION = "sandbox_violation"
    INVALID_GEOMETRY = "invalid_geometry"
    INTERSECTION = "intersection"
    OUT_OF_BOUNDS = "out_of_bounds"
    ZONE_CONFLICT = "zone_conflict"
    UNSTABLE = "unstable"
    NOT_SETTLED = "not_settled"
    TRIVIAL = "trivial"
    NONDETERMINISTIC = "nondeterministic"
    INSUFFICIENT_RANDOMIZATION = "insufficient_randomization"
    UNSOLVED = "unsolved"
    """The reference solution does not solve every checked variant."""
    OVER_BUDGET = "over_budget"
    """The reference solution solves it only over the cost or weight budget."""


class CheckFailure(Exception):
    """Raised by a check stage when the scenario fails; carries the code and a precise message."""

    def __init__(self, code: RejectCode, message: str, detail: str | None = None) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.detail = detail


class SandboxTimes(BaseModel):
    """How long the two sandbox processes took (seconds, the checker's clock)."""

    import_s: float
    wall_s: float
    repeat_wall_s: float


class BodySummary(BaseModel):
    """One body of the seed-0 scene as the trusted loader measured it (millimetres)."""

    volume_mm3: float
    bbox_min: list[float]
    bbox_max: list[float]


class Randomization(BaseModel):
    """How far the payload start and the goal centre move across seeds, per axis, as a
    fraction of the workspace size; ``bar`` is what ``best_ratio`` had to reach."""

    bar: float
    payload_start_spread_ratio: list[float]
    goal_center_spread_ratio: list[float]
    best_ratio: float
    params_drawn: list[str]


class SimulationMetrics(BaseModel):
    """What one stability run of one variant measured (SI units unless the name says mm)."""

    seed: int
    scale: float
    steps: int
    max_speed: float
    initial_penetration_mm: float
    final_kinetic_energy: float
    final_part_speed: float
    slowest_settling_part: str | None
    payload_end_mm: tuple[float, float, float]
    """Payload centre of mass at the end of the run."""
    payload_in_goal: bool
    warnings: dict[str, int]


class BuildMetrics(SimulationMetrics):
    """One checked build's stability run plus the script's own ``params`` for it, so a reader
    sees each one's range across the seeds."""

    params: dict[str, float] = Field(default_factory=dict)


class CollisionInfo(BaseModel):
    """How one body's collision geometry was made, and how faithful it is.

    ``gap_mm`` is the largest over-fill gap (how far the pieces reach outside the
    exact part, measured), ``overfill`` and ``uncovered`` the pieces' volume outside
    the part and the part's volume outside the pieces, both relative to its volume.
    """

    pieces: int
    methods: list[str]
    error: float
    seconds: float
    cached: bool
    gap_mm: float = 0.0
    overfill: float = 0.0
    uncovered: float = 0.0


class GateVariant(BaseModel):
    """The reference solution on one checked variant."""

    seed: int
    scale: float
    success: bool
    code: str | None
    cost_usd: float | None


class SolutionGate(BaseModel):
    """The solvability gate: how the reference solution fared on every checked variant."""

    passed: bool
    success_rate: float
    cost_usd: float | None
    """The most expensive variant's design cost."""
    weight_g: float | None
    budget_headroom: float | None
    """``max_unit_cost / cost_usd`` (None when the design costs nothing)."""
    per_seed: list[GateVariant]


class CheckMetrics(BaseModel):
    """What the check measured, stage by stage; a stage that did not run leaves its field None.

    ``scene`` is the seed-0, scale-1 scene record and ``bodies`` its bodies, the facts
    similarity, difficulty and the manifest are computed from.
    """

    isolation: str | None = None
    sandbox: SandboxTimes | None = None
    scale_extent_ratios: dict[str, dict[str, float]] | None = None
    """Per seed, per scale: the scene's extent relative to scale 1."""
    randomization: Randomization | None = None
    scene: SceneRecord | None = None
    bodies: dict[str, BodySummary] | None = None
    per_build: list[BuildMetrics] | None = None
    collision: dict[str, CollisionInfo] | None = None
    solution: SolutionGate | None = None
    timings_s: dict[str, float] | None = None

    @model_serializer(mode="wrap")
    def _without_missing_stages(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A stage that did not run is absent from the JSON, not null.
        return {k: v for k, v in handler(self).items() if v is not None}

    def checked_scene(self) -> tuple[SceneRecord, dict[str, BodySummary]]:
        """The seed-0 scene and its bodies; raises ``ValueError`` when the check stopped before them."""
        if self.scene is None or self.bodies is None:
            raise ValueError("the check stopped before the scene was measured")
        return self.scene, self.bodies


class ReviewVerdict(BaseModel):
    """The render reviewer's verdict and its counts over the views (what a manifest records;
    :class:`benchgen.review.ReviewDecision` adds the per-view evidence)."""

    reviewer: str = "offline-segmentation"
    approved: bool
    reasons: list[str] = Field(default_factory=list)
    payload_visible_views: int
    goal_visible_views: int
    clipped_views: int
    blank_views: int


class CheckReport(BaseModel):
    """The verdict on one script, exactly what ``benchgen check --json`` prints."""

    accepted: bool
    code: RejectCode | None
    message: str
    seeds: list[int] = Field(default_factory=list)
    scales: list[float] = Field(default_factory=list)
    metrics: CheckMetrics = Field(default_factory=CheckMetrics)
    artifacts: dict[str, Any] = Field(default_factory=dict)


Progress = Callable[[str], None]
"""Told the name of each stage as it starts (the CLI shows it)."""


class StageTimer:
    """Wall-clock seconds per stage (summed when a stage runs more than once), announced to ``progress``."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed work as ``name``."""
        if self.progress:
            self.progress(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    def rounded(self) -> dict[str, float]:
        """The timings in milliseconds' precision, as reports record them."""
        return {k: round(v, 3) for k, v in self.timings.items()}


class Deadline:
    """A time budget for the trusted stages, on the checker's own monotonic clock.

    Stages call :meth:`check` between units of work (a body, a pair, a batch of steps);
    once the budget is spent the check ends with ``resource_limit`` instead of hanging.
    ``seconds=None`` means no budget.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def check(self, stage: str) -> None:
        """Raise ``resource_limit`` if the budget is spent; ``stage`` names the work in the message."""
        if self.seconds is not None and time.monotonic() - self.started > self.seconds:
            raise CheckFailure(
                RejectCode.RESOURCE_LIMIT,
                f"the trusted checks exceeded their {self.seconds:g} s budget ({stage})",
            )
