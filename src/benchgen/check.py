"""``benchgen check``: decide, with evidence, whether a scenario script is a good benchmark.

The pipeline, cheapest stage first, stops at the first failure:

1. sandboxed build of every checked (seed, scale): seeds ``0..N-1`` at scale 1, seed 0 at
   scales 0.5 and 2.0, and seed 0 once more (determinism);
2. trusted loading of the emitted data (contract and solid validity);
3. determinism and scale;
4. bounds, zones and intersections for every build;
5. randomization across seeds;
6. collision geometry and a MuJoCo stability run for every build;
7. for seed 0 at scale 1, when an output directory is given: MJCF + meshes, 24 renders and
   ``report.json``.

Nothing here imports or executes the script: it only reads what the sandbox wrote.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from benchgen.decomposition import DecompositionCache, DecompositionSettings
from benchgen.geometry import (
    GeometrySettings,
    LoadedScene,
    check_bounds,
    check_intersections,
    check_zones,
    export_step_files,
    load_scene,
    scene_extent,
    scene_fingerprint,
)
from benchgen.physics import (
    CollisionInfo,
    CollisionPiece,
    PhysicsSettings,
    bounds_frame,
    build_spec,
    collision_pieces,
    compile_spec,
    judge,
    simulate,
    write_mjcf,
)
from benchgen.rendering import RenderSettings, render_views
from benchgen.sandbox import BuildRequest, SandboxLimits, SandboxResult, run_script
from benchgen.verdict import CheckFailure, CheckReport, RejectCode

Progress = Callable[[str], None]

REFERENCE_SCALES: tuple[float, float] = (0.5, 2.0)


def default_cache_dir() -> Path:
    """``$BENCHGEN_CACHE_DIR`` or ``~/.cache/benchgen``."""
    return Path(os.environ.get("BENCHGEN_CACHE_DIR") or Path.home() / ".cache" / "benchgen")


class CheckOptions(BaseModel):
    """Everything that shapes a verdict. Recorded in the report so a verdict can be reproduced."""

    seeds: int = Field(default=8, ge=2)
    timeout_s: float = Field(default=60.0, gt=0)
    memory_mb: int = Field(default=4096, ge=256)
    randomization_bar: float = 0.4
    """Fraction of the workspace size that the payload start or goal centre must move across seeds."""
    scale_tolerance: float = 0.1
    """Allowed relative deviation of the scene's extent from the requested scale."""
    geometry: GeometrySettings = Field(default_factory=GeometrySettings)
    physics: PhysicsSettings = Field(default_factory=PhysicsSettings)
    decomposition: DecompositionSettings = Field(default_factory=DecompositionSettings)
    render: RenderSettings = Field(default_factory=RenderSettings)
    cache_dir: Path | None = Field(default_factory=default_cache_dir)
    simulate: bool = True
    """False stops after the static stages (contract, geometry, zones, randomization): a fast validate."""

    def requests(self) -> list[BuildRequest]:
        """The (seed, scale) builds to run, the determinism repeat last."""
        requests = [BuildRequest(seed=s, scale=1.0) for s in range(self.seeds)]
        requests += [BuildRequest(seed=0, scale=s) for s in REFERENCE_SCALES]
        requests.append(BuildRequest(seed=0, scale=1.0))
        return requests


SANDBOX_CODES: dict[str, RejectCode] = {
    "script_error": RejectCode.SCRIPT_ERROR,
    "contract_error": RejectCode.CONTRACT_ERROR,
    "timeout": RejectCode.TIMEOUT,
    "resource_limit": RejectCode.RESOURCE_LIMIT,
    "sandbox_violation": RejectCode.SANDBOX_VIOLATION,
}


class _Run:
    """Mutable bookkeeping of one check: stage timings and metrics for the report."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.metrics: dict[str, Any] = {}
        self.scenes: list[LoadedScene] = []
        """Scenes loaded so far, so artifacts can be written even for a rejected script."""
        self.first_pieces: dict[str, list[CollisionPiece]] | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.progress:
            self.progress(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started


def check_script(
    script: Path,
    options: CheckOptions | None = None,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """Check one scenario script and return the verdict; writes artifacts to ``out_dir`` if given."""
    options = options or CheckOptions()
    run = _Run(progress)
    requests = options.requests()
    seeds = list(range(options.seeds))
    scales = [1.0, *REFERENCE_SCALES]
    workdir = Path(tempfile.mkdtemp(prefix="benchgen-check-"))
    report: CheckReport
    try:
        try:
            _verify(script, requests, options, run, workdir)
            report = CheckReport(
                accepted=True, code=None, message="accepted", seeds=seeds, scales=scales, metrics=run.metrics
            )
        except CheckFailure as failure:
            message = failure.message if not failure.detail else f"{failure.message}\n{failure.detail}"
            report = CheckReport(
                accepted=False,
                code=failure.code,
                message=message,
                seeds=seeds,
                scales=scales,
                metrics=run.metrics,
            )
        if out_dir is not None:
            report.artifacts = _write_artifacts(out_dir, options, run)
        report.metrics["timings_s"] = {k: round(v, 3) for k, v in run.timings.items()}
        if out_dir is not None:
            (out_dir / "report.json").write_text(report.model_dump_json(indent=2))
            report.artifacts["report"] = "report.json"
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _verify(
    script: Path,
    requests: list[BuildRequest],
    options: CheckOptions,
    run: _Run,
    workdir: Path,
) -> None:
    """Run every stage; raises :class:`CheckFailure` at the first problem."""
    with run.stage("sandbox"):
        limits = SandboxLimits(timeout_s=options.timeout_s, memory_mb=options.memory_mb)
        result = run_script(script, requests, workdir, limits)
    run.metrics["isolation"] = result.isolation
    run.metrics["sandbox"] = {
        "import_s": round(result.import_seconds, 3),
        "wall_s": round(result.wall_seconds, 3),
    }
    _raise_for_sandbox(result)

    with run.stage("geometry"):
        for build in result.builds:
            run.scenes.append(load_scene(build.directory, options.geometry))
    checked, repeat = run.scenes[:-1], run.scenes[-1]
    with run.stage("geometry"):
        _check_determinism(checked[0], repeat)
        _check_scale(checked, options, run)
        for scene in checked:
            check_bounds(scene, options.geometry)
            check_zones(scene, options.geometry)
            check_intersections(scene, options.geometry)
        _check_randomization(checked[: options.seeds], options, run)

    run.metrics["scene"] = checked[0].record.model_dump(mode="json")
    run.metrics["bodies"] = {
        label: {
            "volume_mm3": round(geom.volume_mm3, 3),
            "bbox_min": [round(float(v), 4) for v in geom.bbox_min],
            "bbox_max": [round(float(v), 4) for v in geom.bbox_max],
        }
        for label, geom in checked[0].bodies.items()
    }
    if not options.simulate:
        return
    cache = DecompositionCache(options.cache_dir / "decomposition") if options.cache_dir else None
    per_build: list[dict[str, Any]] = []
    run.metrics["per_build"] = per_build
    for scene in checked:
        with run.stage("decomposition"):
            pieces, infos = _collision_geometry(scene, options, cache)
        if scene is checked[0]:
            run.first_pieces = pieces
            run.metrics["collision"] = {label: info.model_dump() for label, info in infos.items()}
        with run.stage("simulation"):
            model = compile_spec(build_spec(scene, pieces, options.physics, _render_size(options)))
            metrics = simulate(model, scene.record, options.physics)
        per_build.append({"seed": scene.record.seed, "scale": scene.record.scale, **metrics.model_dump()})
        judge(metrics, scene.record, options.physics)


def _render_size(options: CheckOptions) -> tuple[int, int]:
    return options.render.width, options.render.height


def _raise_for_sandbox(result: SandboxResult) -> None:
    if result.status == "ok":
        return
    code = SANDBOX_CODES[result.status]
    detail = result.traceback if code in (RejectCode.SCRIPT_ERROR, RejectCode.CONTRACT_ERROR) else None
    raise CheckFailure(code, result.message, detail)


def _collision_geometry(
    scene: LoadedScene, options: CheckOptions, cache: DecompositionCache | None
) -> tuple[dict[str, list[CollisionPiece]], dict[str, CollisionInfo]]:
    pieces: dict[str, list[CollisionPiece]] = {}
    infos: dict[str, CollisionInfo] = {}
    for label, body in scene.bodies.items():
        pieces[label], infos[label] = collision_pieces(body, options.decomposition, cache)
    return pieces, infos


def _check_determinism(first: LoadedScene, repeat: LoadedScene) -> None:
    if scene_fingerprint(first) == scene_fingerprint(repeat):
        return
    differences = [
        label
        for label in first.bodies
        if label not in repeat.bodies
        or first.bodies[label].fingerprint() != repeat.bodies[label].fingerprint()
    ]
    what = f"bodies {differences}" if differences else "scene fields (zones, start, params, ...)"
    raise CheckFailure(
        RejectCode.NONDETERMINISTIC, f"two runs of build(seed=0, scale=1.0) produced different {what}"
    )


def _check_scale(scenes: list[LoadedScene], options: CheckOptions, run: _Run) -> None:
    """At scales 0.5 and 2.0 the scene's extent must follow the scale (``contract_error`` otherwise)."""
    reference = next(s for s in scenes if s.record.seed == 0 and s.record.scale == 1.0)
    lo, hi = scene_extent(reference)
    size = float(np.linalg.norm(hi - lo))
    ratios: dict[str, float] = {}
    for scene in scenes:
        scale = scene.record.scale
        if scene.record.seed != 0 or scale == 1.0:
            continue
        lo_s, hi_s = scene_extent(scene)
        ratio = float(np.linalg.norm(hi_s - lo_s)) / size
        ratios[f"{scale:g}"] = round(ratio, 4)
        if abs(ratio / scale - 1.0) > options.scale_tolerance:
            raise CheckFailure(
                RejectCode.CONTRACT_ERROR,
                f"scale ignored: at scale={scale:g} the scene extent is {ratio:.2f}× that at scale=1 "
                f"(expected {scale:g}× ± {options.scale_tolerance:.0%})",
            )
    run.metrics["scale_extent_ratios"] = ratios


def _check_randomization(scenes: list[LoadedScene], options: CheckOptions, run: _Run) -> None:
    """Payload start or goal centre must move ≥ bar × workspace size along some axis across seeds."""
    starts = np.array([s.record.payload.start for s in scenes], dtype=float)
    goals = np.array([s.record.goal_zone.center for s in scenes], dtype=float)
    workspace = np.mean([s.record.bounds.size for s in scenes], axis=0)
    start_ratio = np.ptp(starts, axis=0) / workspace
    goal_ratio = np.ptp(goals, axis=0) / workspace
    best = float(max(start_ratio.max(), goal_ratio.max()))
    run.metrics["randomization"] = {
        "bar": options.randomization_bar,
        "payload_start_spread_ratio": [round(float(v), 4) for v in start_ratio],
        "goal_center_spread_ratio": [round(float(v), 4) for v in goal_ratio],
        "best_ratio": round(best, 4),
        "params_drawn": sorted({k for s in scenes for k in s.record.params}),
    }
    if best < options.randomization_bar:
        raise CheckFailure(
            RejectCode.INSUFFICIENT_RANDOMIZATION,
            f"across seeds 0..{len(scenes) - 1} the payload start moves at most {start_ratio.max():.0%} and the "
            f"goal centre at most {goal_ratio.max():.0%} of the workspace size along any axis "
            f"(need {options.randomization_bar:.0%})",
        )


def _write_artifacts(out_dir: Path, options: CheckOptions, run: _Run) -> dict[str, Any]:
    """MJCF + meshes and the 24 renders for seed 0 at scale 1, whenever that scene loaded."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not run.scenes:
        return {}
    scene = run.scenes[0]
    try:
        pieces = run.first_pieces
        if pieces is None:  # rejected before simulation: decompose now, for the debugging artifacts
            cache = DecompositionCache(options.cache_dir / "decomposition") if options.cache_dir else None
            with run.stage("decomposition"):
                pieces, _ = _collision_geometry(scene, options, cache)
        spec = build_spec(scene, pieces, options.physics, _render_size(options))
        model = compile_spec(spec)
    except CheckFailure:
        return {}
    xml_path = write_mjcf(spec, out_dir)
    cad = export_step_files(scene, out_dir / "cad")
    with run.stage("rendering"):
        renders = render_views(model, bounds_frame(scene.record), out_dir / "renders", options.render)
    return {
        "model": xml_path.name,
        "meshes": sorted(p.relative_to(out_dir).as_posix() for p in (out_dir / "meshes").glob("*.stl")),
        "renders": [p.relative_to(out_dir).as_posix() for p in renders],
        "cad": [p.relative_to(out_dir).as_posix() for p in cad],
    }


def build_variant(
    script: Path,
    seed: int,
    scale: float,
    out_dir: Path,
    options: CheckOptions | None = None,
    render: bool = True,
) -> Path:
    """Build one randomized variant of a script through the sandbox: MJCF + meshes (+ renders).

    The variant's geometry is re-validated (bounds, zones, intersections) before the model
    is written; a failure raises :class:`CheckFailure`. Returns the path of ``model.xml``.
    """
    options = options or CheckOptions()
    workdir = Path(tempfile.mkdtemp(prefix="benchgen-variant-"))
    try:
        limits = SandboxLimits(timeout_s=options.timeout_s, memory_mb=options.memory_mb)
        result = run_script(script, [BuildRequest(seed=seed, scale=scale)], workdir, limits)
        _raise_for_sandbox(result)
        scene = load_scene(result.builds[0].directory, options.geometry)
        check_bounds(scene, options.geometry)
        check_zones(scene, options.geometry)
        check_intersections(scene, options.geometry)
        cache = DecompositionCache(options.cache_dir / "decomposition") if options.cache_dir else None
        pieces, _ = _collision_geometry(scene, options, cache)
        spec = build_spec(scene, pieces, options.physics, _render_size(options))
        model = compile_spec(spec)
        xml_path = write_mjcf(spec, out_dir)
        (out_dir / "scene.json").write_text(scene.record.model_dump_json(indent=2))
        if render:
            render_views(model, bounds_frame(scene.record), out_dir / "renders", options.render)
        return xml_path
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
