"""``benchgen evaluate``: score a solution against a benchmark, end to end.

Flow (Kubric-style, flat): options → build the benchmark's variants in the sandbox → load
and validate them on the trusted side → collision geometry → run the solution's
``design(view)`` in a second sandbox process → judge every variant
(:mod:`benchgen.evaluate`) → report and, optionally, artifacts for the first variant.

Both the scenario script and the solution are untrusted: each runs only in its own
sandboxed process, and the solution never shares a process with the scenario.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from benchgen.check import (
    REFERENCE_SCALES,
    SCALE_SEEDS,
    CheckOptions,
    decomposition_cache,
    scene_collision_geometry,
)
from benchgen.errors import UsageError
from benchgen.evaluate import (
    EvaluateSettings,
    EvaluationReport,
    judge_solution,
    write_design_artifacts,
)
from benchgen.geometry import GeometryLoader, LoadedScene, check_bounds, check_intersections, check_zones
from benchgen.physics import CollisionPiece, bounds_frame
from benchgen.rendering import RolloutRecorder
from benchgen.sandbox import BuildRequest, SandboxLimits, run_script
from benchgen.verdict import CheckFailure, Deadline, Progress, StageTimer


class BenchmarkError(UsageError):
    """The target does not build valid variants, so no solution can be scored against it (misuse)."""


class EvaluateOptions(BaseModel):
    """What shapes an evaluation. The check settings (geometry, physics, decomposition) are the checker's."""

    seeds: int = Field(default=8, ge=1)
    first_seed: int = Field(default=0, ge=0)
    scales: bool = True
    """Also evaluate the first two seeds at scales 0.5 and 2.0, as ``check`` builds them."""
    timeout_s: float = Field(default=60.0, gt=0)
    memory_mb: int = Field(default=4096, ge=256)
    settings: EvaluateSettings = Field(default_factory=EvaluateSettings)
    check: CheckOptions = Field(default_factory=CheckOptions)
    unsafe_no_isolation: bool | None = None

    def requests(self) -> list[BuildRequest]:
        """Seeds ``first_seed ..`` at scale 1, then the reference scales, like ``check``."""
        requests = [BuildRequest(seed=self.first_seed + i, scale=1.0) for i in range(self.seeds)]
        if self.scales:
            seeds = [self.first_seed + offset for offset in SCALE_SEEDS]
            requests += [BuildRequest(seed=seed, scale=scale) for seed in seeds for scale in REFERENCE_SCALES]
        return requests

    def limits(self) -> SandboxLimits:
        """The sandbox limits of both processes."""
        return SandboxLimits(timeout_s=self.timeout_s, memory_mb=self.memory_mb)


def build_variants(
    target: Path,
    options: EvaluateOptions,
    loader: GeometryLoader,
    workdir: Path,
    deadline: Deadline | None = None,
) -> list[LoadedScene]:
    """Build and validate the target's variants; raises :class:`BenchmarkError` when it cannot."""
    result = run_script(
        target, options.requests(), workdir, options.limits(), unsafe_no_isolation=options.unsafe_no_isolation
    )
    if result.status != "ok":
        raise BenchmarkError(f"the benchmark's script failed ({result.status}): {result.message}")
    scenes = []
    for build in result.builds:
        try:
            scene = loader.load_scene(build.directory, deadline)
            check_bounds(scene, options.check.geometry)
            check_zones(scene, options.check.geometry)
            check_intersections(scene, options.check.geometry, deadline)
        except CheckFailure as failure:
            raise BenchmarkError(
                f"the benchmark builds an invalid variant at seed={build.seed}, scale={build.scale:g} "
                f"({failure.code.value}): {failure.message}"
            ) from None
        scenes.append(scene)
    return scenes


def evaluate_solution(
    target: Path,
    solution: Path,
    options: EvaluateOptions | None = None,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Score ``solution`` against the benchmark script ``target`` on every requested variant.

    Raises :class:`BenchmarkError` when the target itself does not build valid variants and
    :class:`benchgen.sandbox.SandboxError` when the sandbox cannot run.
    """
    options = options or EvaluateOptions()
    timings = StageTimer(progress)
    workdir = Path(tempfile.mkdtemp(prefix="benchgen-evaluate-"))
    check = options.check
    deadline = Deadline(check.trusted_budget_s)
    loader = GeometryLoader(check.geometry)
    try:
        with timings.stage("variants"):
            scenes = build_variants(target, options, loader, workdir / "scenes", deadline)
        cache = decomposition_cache(check)
        pieces: list[dict[str, list[CollisionPiece]]] = []
        with timings.stage("decomposition"):
            for scene in scenes:
                try:
                    pieces.append(scene_collision_geometry(scene, check, cache, deadline)[0])
                except CheckFailure as failure:
                    raise BenchmarkError(
                        f"no collision geometry for the benchmark at {scene.where}: {failure.message}"
                    ) from None
        recorder = RolloutRecorder(bounds_frame(scenes[0].record)) if out_dir is not None else None
        with timings.stage("solution"):
            run = judge_solution(
                solution,
                scenes,
                pieces,
                loader,
                check.physics,
                check.decomposition,
                options.settings,
                cache,
                options.limits(),
                workdir / "design",
                unsafe_no_isolation=options.unsafe_no_isolation,
                deadline=deadline,
                recorder=recorder,
            )
        report = run.report
        if out_dir is not None and run.spec is not None and recorder is not None:
            with timings.stage("artifacts"):
                report.artifacts = write_design_artifacts(
                    out_dir, run.spec, scenes[0], recorder, check.render
                )
            recorder.close()
        report.metrics["timings_s"] = timings.rounded()
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "evaluation.json").write_text(report.model_dump_json(indent=2))
            report.artifacts["report"] = "evaluation.json"
        return report
    finally:
        loader.close()
        shutil.rmtree(workdir, ignore_errors=True)
