"""``benchgen check``: decide, with evidence, whether a scenario script is a good benchmark.

The pipeline, cheapest stage first, stops at the first failure:

1. sandboxed builds, in two separate sandbox processes run side by side: seeds ``0..N-1``
   at scale 1 and seed 0 at scales 0.5 and 2.0 in one; seed 1 at scales 0.5 and 2.0 and
   then seed 0 at scale 1 again (the determinism repeat) in the other, which has another
   string-hash seed, so a value drawn once per process cannot pass for deterministic;
2. trusted loading of the emitted data in a loader process (contract, exact solids,
   meshes re-made and cross-checked, caps on bodies, faces and triangles);
3. determinism (the full record and every body's exact properties) and scale (seeds 0
   and 1);
4. bounds, the ground, zones and intersections for every build;
5. randomization across seeds;
6. collision geometry and a MuJoCo stability run for every build;
7. for seed 0 at scale 1, when an output directory is given: MJCF + meshes, 24 renders and
   ``report.json``.

Stages 2-6 share one time budget (``trusted_budget_s``) on the checker's own clock.
Nothing here imports or executes the script: it only reads what the sandbox wrote.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from benchgen.decomposition import DecompositionCache, DecompositionSettings
from benchgen.geometry import (
    GeometryLoader,
    GeometrySettings,
    LoadedScene,
    check_bounds,
    check_intersections,
    check_zones,
    export_step_files,
    scene_extent,
    scene_fingerprint,
)
from benchgen.physics import (
    CollisionPiece,
    PhysicsSettings,
    bounds_frame,
    build_spec,
    collision_pieces,
    compile_spec,
    judge,
    simulate,
    stability_model,
    write_mjcf,
)
from benchgen.rendering import RenderSettings, RolloutRecorder, View, record_passive_rollout, render_views
from benchgen.sandbox import (
    REPEAT_HASH_SEED,
    BuildOutcome,
    BuildRequest,
    SandboxLimits,
    SandboxResult,
    prestart,
    run_script,
)
from benchgen.settings import default_cache_dir
from benchgen.verdict import (
    BodySummary,
    BuildMetrics,
    CheckFailure,
    CheckMetrics,
    CheckReport,
    CollisionInfo,
    Deadline,
    GateVariant,
    Progress,
    Randomization,
    RejectCode,
    SandboxTimes,
    SimulationMetrics,
    SolutionGate,
    StageTimer,
)

REFERENCE_SCALES: tuple[float, float] = (0.5, 2.0)
SOLUTION_VIEWS = [View(elevation=-35.0, azimuth=a) for a in (0.0, 90.0, 180.0, 270.0)]
"""The solved scene is rendered from these four views (the 24 passive ones are in ``renders/``)."""
SCALE_SEEDS: tuple[int, int] = (0, 1)
"""Scale must be honoured at every one of these seeds, not just at one."""


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
    payload_gap_fraction: float = Field(default=0.5, gt=0)
    """A part's collision pieces may reach at most this fraction of the payload's smallest
    width outside the part (``invalid_geometry`` beyond): a phantom wall that thick could stop
    a payload that the real part lets through, or hold one it would drop."""
    render: RenderSettings = Field(default_factory=RenderSettings)
    cache_dir: Path | None = Field(default_factory=default_cache_dir)
    simulate: bool = True
    """False stops after the static stages (contract, geometry, zones, randomization): a fast validate."""
    trusted_budget_s: float | None = Field(default=600.0, gt=0)
    """Wall time for every trusted stage after the sandbox (loading, geometry, decomposition,
    simulation); ``resource_limit`` when spent. None: no budget."""

    def sandbox_batches(self) -> tuple[list[BuildRequest], list[BuildRequest]]:
        """The builds of the two sandbox processes; the second ends with the determinism repeat.

        The repeat comes after other builds in a process with another hash seed, so neither
        a value drawn once per process nor one that depends on the call count can pass.
        """
        first = [BuildRequest(seed=s, scale=1.0) for s in range(self.seeds)]
        first += [BuildRequest(seed=SCALE_SEEDS[0], scale=s) for s in REFERENCE_SCALES]
        second = [BuildRequest(seed=seed, scale=s) for seed in SCALE_SEEDS[1:] for s in REFERENCE_SCALES]
        second.append(BuildRequest(seed=0, scale=1.0))
        return first, second

    def requests(self) -> list[BuildRequest]:
        """Every (seed, scale) build checked, in judging order, the determinism repeat last."""
        first, second = self.sandbox_batches()
        return first + second


SANDBOX_CODES: dict[str, RejectCode] = {
    "script_error": RejectCode.SCRIPT_ERROR,
    "contract_error": RejectCode.CONTRACT_ERROR,
    "timeout": RejectCode.TIMEOUT,
    "resource_limit": RejectCode.RESOURCE_LIMIT,
    "sandbox_violation": RejectCode.SANDBOX_VIOLATION,
}


class _Run(StageTimer):
    """Mutable bookkeeping of one check: stage timings and metrics for the report."""

    def __init__(self, progress: Progress | None) -> None:
        super().__init__(progress)
        self.metrics = CheckMetrics()
        self.scenes: list[LoadedScene] = []
        """Scenes loaded so far, so artifacts can be written even for a rejected script."""
        self.first_pieces: dict[str, list[CollisionPiece]] | None = None
        self.pieces: list[dict[str, list[CollisionPiece]]] = []
        """Collision pieces of every checked (simulated) scene, in order."""
        self.deadline: Deadline | None = None
        self.solution_artifacts: dict[str, Any] = {}


def check_script(
    script: Path,
    options: CheckOptions | None = None,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    solution: Path | None = None,
) -> CheckReport:
    """Check one scenario script and return the verdict; writes artifacts to ``out_dir`` if given.

    With ``solution`` (a reference ``solution.py``) the last stage is the solvability gate:
    the solution runs in its own sandbox on every checked variant and must solve each
    within budget (``unsolved`` / ``over_budget`` otherwise); with ``out_dir`` its model,
    renders and rollout animation for seed 0 go to ``out_dir/solution/``.
    """
    options = options or CheckOptions()
    prestart()
    run = _Run(progress)
    seeds = list(range(options.seeds))
    scales = [1.0, *REFERENCE_SCALES]
    workdir = Path(tempfile.mkdtemp(prefix="benchgen-check-"))
    report: CheckReport
    # Started now so that it imports OCCT while the sandbox runs.
    loader = GeometryLoader(options.geometry)
    try:
        try:
            _verify(script, options, run, workdir, loader)
            if solution is not None and options.simulate:
                _solvable(solution, options, run, workdir, loader, out_dir)
            non_finite = _non_finite(run.metrics.model_dump())
            if non_finite:
                raise CheckFailure(
                    RejectCode.CONTRACT_ERROR, f"non-finite value at {non_finite}; nothing is published"
                )
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
            report.artifacts = _write_artifacts(out_dir, options, run, loader)
            if run.solution_artifacts:
                report.artifacts["solution"] = {
                    k: (f"solution/{v}" if isinstance(v, str) else [f"solution/{x}" for x in v])
                    for k, v in run.solution_artifacts.items()
                }
        report.metrics.timings_s = run.rounded()
        if out_dir is not None:
            (out_dir / "report.json").write_text(report.model_dump_json(indent=2))
            report.artifacts["report"] = "report.json"
        return report
    finally:
        loader.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _non_finite(value: object, path: str = "metrics") -> str | None:
    """Where ``value`` (nested dicts/lists) holds a NaN or an infinity, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items: list[tuple[str, object]] = [(f"{path}.{k}", v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return None
    for where, item in items:
        found = _non_finite(item, where)
        if found:
            return found
    return None


def _run_sandboxes(script: Path, options: CheckOptions, workdir: Path) -> tuple[SandboxResult, SandboxResult]:
    """Both sandbox processes at once: the second's cost hides behind the first's.

    The second runs in a daemon thread, so an interrupted check does not wait for it (its
    sandbox dies with this process).
    """
    first, second = options.sandbox_batches()
    limits = SandboxLimits(timeout_s=options.timeout_s, memory_mb=options.memory_mb)
    outcome: dict[str, SandboxResult | BaseException] = {}

    def repeat() -> None:
        try:
            outcome["result"] = run_script(
                script, second, workdir / "repeat", limits, hash_seed=REPEAT_HASH_SEED
            )
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=repeat, name="benchgen-repeat-sandbox", daemon=True)
    thread.start()
    main = run_script(script, first, workdir / "main", limits)
    thread.join()
    error, other = outcome.get("error"), outcome.get("result")
    if isinstance(error, BaseException):
        raise error
    assert isinstance(other, SandboxResult)
    return main, other


def _verify(script: Path, options: CheckOptions, run: _Run, workdir: Path, loader: GeometryLoader) -> None:
    """Run every stage; raises :class:`CheckFailure` at the first problem."""
    with run.stage("sandbox"):
        main, repeat = _run_sandboxes(script, options, workdir)
    run.metrics.isolation = main.isolation
    run.metrics.sandbox = SandboxTimes(
        import_s=round(main.import_seconds, 3),
        wall_s=round(main.wall_seconds, 3),
        repeat_wall_s=round(repeat.wall_seconds, 3),
    )
    _raise_for_sandbox(main)
    _raise_for_sandbox(repeat)

    deadline = run.deadline = Deadline(options.trusted_budget_s)
    with run.stage("geometry"):
        for build in [*main.builds, *repeat.builds]:
            run.scenes.append(_load_build(build, options, loader, deadline))
    checked, repeated = run.scenes[:-1], run.scenes[-1]
    with run.stage("geometry"):
        _check_determinism(checked[0], repeated)
        _check_scale(checked, options, run)
        for scene in checked:
            check_bounds(scene, options.geometry)
            check_zones(scene, options.geometry)
            check_intersections(scene, options.geometry, deadline)
            deadline.check(f"geometry checks at {scene.where}")
        _check_randomization(checked[: options.seeds], options, run)

    run.metrics.scene = checked[0].record
    run.metrics.bodies = {
        label: BodySummary(
            volume_mm3=round(geom.volume_mm3, 3),
            bbox_min=[round(float(v), 4) for v in geom.bbox_min],
            bbox_max=[round(float(v), 4) for v in geom.bbox_max],
        )
        for label, geom in checked[0].bodies.items()
    }
    if not options.simulate:
        return
    cache = decomposition_cache(options)
    per_build: list[BuildMetrics] = []
    run.metrics.per_build = per_build
    for scene in checked:
        with run.stage("decomposition"):
            pieces, infos = scene_collision_geometry(scene, options, cache, deadline)
        run.pieces.append(pieces)
        if scene is checked[0]:
            run.first_pieces = pieces
            run.metrics.collision = infos
        with run.stage("simulation"):
            metrics = _simulate(scene, pieces, options, deadline)
        per_build.append(BuildMetrics(**metrics.model_dump(), params=scene.record.params))
        judge(metrics, scene.record, options.physics)


def _solvable(
    solution: Path,
    options: CheckOptions,
    run: _Run,
    workdir: Path,
    loader: GeometryLoader,
    out_dir: Path | None,
) -> None:
    """The solvability gate: the reference solution must solve every checked variant within budget."""
    from benchgen.evaluate import EvaluateCode, EvaluateSettings, judge_solution

    scenes = run.scenes[: len(run.pieces)]
    recorder = RolloutRecorder(bounds_frame(scenes[0].record)) if out_dir is not None else None
    with run.stage("solution"):
        solved = judge_solution(
            solution,
            scenes,
            run.pieces,
            loader,
            options.physics,
            options.decomposition,
            EvaluateSettings(),
            decomposition_cache(options),
            SandboxLimits(timeout_s=options.timeout_s, memory_mb=options.memory_mb),
            workdir / "solution",
            deadline=run.deadline,
            recorder=recorder,
        )
    report = solved.report
    budget = scenes[0].record.constraints
    run.metrics.solution = SolutionGate(
        passed=report.passed,
        success_rate=report.success_rate,
        cost_usd=report.cost_usd,
        weight_g=report.weight_g,
        budget_headroom=round(budget.max_unit_cost / report.cost_usd, 4) if report.cost_usd else None,
        per_seed=[
            GateVariant(seed=o.seed, scale=o.scale, success=o.success, code=o.code, cost_usd=o.cost_usd)
            for o in report.per_seed
        ],
    )
    if out_dir is not None and solved.spec is not None and recorder is not None:
        from benchgen.evaluate import write_design_artifacts

        with run.stage("rendering"):
            run.solution_artifacts = write_design_artifacts(
                out_dir / "solution", solved.spec, scenes[0], recorder, options.render, views=SOLUTION_VIEWS
            )
        recorder.close()
    if report.passed:
        return
    code = RejectCode.UNSOLVED
    if report.code in (EvaluateCode.OVER_BUDGET, EvaluateCode.OVERWEIGHT):
        code = RejectCode.OVER_BUDGET
    raise CheckFailure(code, f"the reference solution fails: {report.message}")


def _load_build(
    build: BuildOutcome, options: CheckOptions, loader: GeometryLoader, deadline: Deadline
) -> LoadedScene:
    """Load one build in the loader process and make sure it is the build that was asked for."""
    scene = loader.load_scene(build.directory, deadline)
    if scene.record.seed != build.seed or scene.record.scale != build.scale:
        raise CheckFailure(
            RejectCode.CONTRACT_ERROR,
            f"build(seed={build.seed}, scale={build.scale:g}) wrote a scene for "
            f"seed={scene.record.seed}, scale={scene.record.scale:g}",
        )
    return scene


def _simulate(
    scene: LoadedScene,
    pieces: dict[str, list[CollisionPiece]],
    options: CheckOptions,
    deadline: Deadline | None,
) -> SimulationMetrics:
    model = stability_model(scene, pieces, options.physics, _render_size(options))
    return simulate(model, scene.record, options.physics, deadline=deadline)


def decomposition_cache(options: CheckOptions) -> DecompositionCache | None:
    """The on-disk decomposition cache under ``options.cache_dir`` (None: no caching)."""
    return DecompositionCache(options.cache_dir / "decomposition") if options.cache_dir else None


def check_scene(
    directory: Path,
    options: CheckOptions,
    loader: GeometryLoader,
    *,
    physics: bool = True,
    deadline: Deadline | None = None,
) -> LoadedScene:
    """Every per-scene trusted stage on one build directory; raises :class:`CheckFailure`.

    Loading (in ``loader``'s process), bounds and the ground, zones, intersections, and with
    ``physics`` the collision geometry, MuJoCo model and stability run. What needs several
    builds (determinism, scale, randomization) is :func:`check_script`'s.
    """
    scene = loader.load_scene(directory, deadline)
    check_bounds(scene, options.geometry)
    check_zones(scene, options.geometry)
    check_intersections(scene, options.geometry, deadline)
    if physics:
        pieces, _ = scene_collision_geometry(scene, options, decomposition_cache(options), deadline)
        metrics = _simulate(scene, pieces, options, deadline)
        judge(metrics, scene.record, options.physics)
    return scene


def _render_size(options: CheckOptions) -> tuple[int, int]:
    return options.render.width, options.render.height


def _raise_for_sandbox(result: SandboxResult) -> None:
    if result.status == "ok":
        return
    code = SANDBOX_CODES[result.status]
    detail = result.traceback if code in (RejectCode.SCRIPT_ERROR, RejectCode.CONTRACT_ERROR) else None
    raise CheckFailure(code, result.message, detail)


def scene_collision_geometry(
    scene: LoadedScene,
    options: CheckOptions,
    cache: DecompositionCache | None,
    deadline: Deadline | None = None,
) -> tuple[dict[str, list[CollisionPiece]], dict[str, CollisionInfo]]:
    """Collision pieces and how they were made, for every body of a scene (label → pieces, info)."""
    pieces: dict[str, list[CollisionPiece]] = {}
    infos: dict[str, CollisionInfo] = {}
    payload = scene.bodies.get(scene.record.payload.label)
    max_gap_mm = None
    if payload is not None:
        max_gap_mm = options.payload_gap_fraction * float(np.min(payload.bbox_max - payload.bbox_min))
    for label, body in scene.bodies.items():
        if deadline is not None:
            deadline.check(f"collision geometry of {label!r} at {scene.where}")
        bound = None if body is payload else max_gap_mm
        pieces[label], infos[label] = collision_pieces(body, options.decomposition, cache, bound)
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
        RejectCode.NONDETERMINISTIC,
        f"two runs of build(seed=0, scale=1.0), in separate processes, produced different {what}",
    )


def _check_scale(scenes: list[LoadedScene], options: CheckOptions, run: _Run) -> None:
    """At scales 0.5 and 2.0 the scene's extent must follow the scale, at every seed in
    :data:`SCALE_SEEDS` (``contract_error`` otherwise)."""
    ratios: dict[str, dict[str, float]] = {}
    for seed in SCALE_SEEDS:
        reference = next(s for s in scenes if s.record.seed == seed and s.record.scale == 1.0)
        lo, hi = scene_extent(reference)
        size = float(np.linalg.norm(hi - lo))
        ratios[str(seed)] = {}
        for scene in scenes:
            scale = scene.record.scale
            if scene.record.seed != seed or scale == 1.0:
                continue
            lo_s, hi_s = scene_extent(scene)
            ratio = float(np.linalg.norm(hi_s - lo_s)) / size
            ratios[str(seed)][f"{scale:g}"] = round(ratio, 4)
            if abs(ratio / scale - 1.0) > options.scale_tolerance:
                raise CheckFailure(
                    RejectCode.CONTRACT_ERROR,
                    f"scale ignored: at seed={seed}, scale={scale:g} the scene extent is {ratio:.2f}× that at "
                    f"scale=1 (expected {scale:g}× ± {options.scale_tolerance:.0%})",
                )
    run.metrics.scale_extent_ratios = ratios


def _check_randomization(scenes: list[LoadedScene], options: CheckOptions, run: _Run) -> None:
    """Payload start or goal centre must move ≥ bar × workspace size along some axis across seeds."""
    starts = np.array([s.record.payload.start for s in scenes], dtype=float)
    goals = np.array([s.record.goal_zone.center for s in scenes], dtype=float)
    workspace = np.mean([s.record.bounds.size for s in scenes], axis=0)
    start_ratio = np.ptp(starts, axis=0) / workspace
    goal_ratio = np.ptp(goals, axis=0) / workspace
    best = float(max(start_ratio.max(), goal_ratio.max()))
    run.metrics.randomization = Randomization(
        bar=options.randomization_bar,
        payload_start_spread_ratio=[round(float(v), 4) for v in start_ratio],
        goal_center_spread_ratio=[round(float(v), 4) for v in goal_ratio],
        best_ratio=round(best, 4),
        params_drawn=sorted({k for s in scenes for k in s.record.params}),
    )
    if best < options.randomization_bar:
        raise CheckFailure(
            RejectCode.INSUFFICIENT_RANDOMIZATION,
            f"across seeds 0..{len(scenes) - 1} the payload start moves at most {start_ratio.max():.0%} and the "
            f"goal centre at most {goal_ratio.max():.0%} of the workspace size along any axis "
            f"(need {options.randomization_bar:.0%})",
        )


def _write_artifacts(
    out_dir: Path, options: CheckOptions, run: _Run, loader: GeometryLoader | None = None
) -> dict[str, Any]:
    """MJCF + meshes and the 24 renders for seed 0 at scale 1, whenever that scene loaded."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not run.scenes:
        return {}
    scene = run.scenes[0]
    try:
        pieces = run.first_pieces
        if pieces is None:  # rejected before simulation: decompose now, for the debugging artifacts
            with run.stage("decomposition"):
                pieces, _ = scene_collision_geometry(scene, options, decomposition_cache(options))
        spec = build_spec(scene, pieces, options.physics, _render_size(options))
        model = compile_spec(spec)
    except CheckFailure:
        return {}
    rendered_before = run.timings.get("rendering", 0.0)
    with run.stage("artifacts"), ThreadPoolExecutor(1, thread_name_prefix="benchgen-step") as steps:
        # The loader process writes the STEP files on the other core while this one renders.
        cad_files = steps.submit(export_step_files, scene, out_dir / "cad", loader)
        xml_path = write_mjcf(spec, out_dir)
        with run.stage("rendering"):
            renders = render_views(model, bounds_frame(scene.record), out_dir / "renders", options.render)
        # The passive scene in motion, as long as the stability run: a person sees at once
        # that nothing moves on its own and where the payload goes if nobody solves it.
        with run.stage("rollout"):
            duration = options.physics.steps * options.physics.timestep
            animation = record_passive_rollout(model, bounds_frame(scene.record), duration, out_dir)
        cad = cad_files.result()
    run.timings["artifacts"] -= run.timings["rendering"] - rendered_before  # timed on its own
    run.timings["artifacts"] -= run.timings["rollout"]
    return {
        "model": xml_path.name,
        "meshes": sorted(p.relative_to(out_dir).as_posix() for p in (out_dir / "meshes").glob("*.stl")),
        "renders": [p.relative_to(out_dir).as_posix() for p in renders],
        "cad": [p.relative_to(out_dir).as_posix() for p in cad],
        **animation,
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

    The variant's geometry is re-validated (loading, bounds, zones, intersections) before
    the model is written; a failure raises :class:`CheckFailure`. Returns the path of ``model.xml``.
    """
    options = options or CheckOptions()
    workdir = Path(tempfile.mkdtemp(prefix="benchgen-variant-"))
    loader = GeometryLoader(options.geometry)
    try:
        limits = SandboxLimits(timeout_s=options.timeout_s, memory_mb=options.memory_mb)
        result = run_script(script, [BuildRequest(seed=seed, scale=scale)], workdir, limits)
        _raise_for_sandbox(result)
        deadline = Deadline(options.trusted_budget_s)
        scene = check_scene(result.builds[0].directory, options, loader, physics=False, deadline=deadline)
        pieces, _ = scene_collision_geometry(scene, options, decomposition_cache(options), deadline)
        spec = build_spec(scene, pieces, options.physics, _render_size(options))
        model = compile_spec(spec)
        xml_path = write_mjcf(spec, out_dir)
        (out_dir / "scene.json").write_text(scene.record.model_dump_json(indent=2))
        if render:
            render_views(model, bounds_frame(scene.record), out_dir / "renders", options.render)
        return xml_path
    finally:
        loader.close()
        shutil.rmtree(workdir, ignore_errors=True)
