"""``benchgen check`` next to the raw-library floor of the same work, stage by stage, in one run.

The floor is what the libraries alone need for the work a check does: one fresh interpreter
that imports build123d and MuJoCo, runs the script's builds (every (seed, scale) the check
builds), meshes every solid with OCCT at the check's tolerances, runs the check's MuJoCo
simulations (``mj_step`` with ``nstep``) and renders and saves the 24 views. benchgen adds
the sandbox (bubblewrap, seccomp, a second process for the determinism repeat), the trusted
re-loading and checking of the geometry, collision geometry, the rules, the artifacts.

Two measurements, each repeated and interleaved (the machine may be shared; medians are
reported with the load average):

- **one-shot**: ``benchgen check SCRIPT --json --out DIR`` as a fresh process (with an
  empty decomposition cache), against the floor in a fresh interpreter. ``start-up`` is
  the process's wall time outside the check's stages (imports, isolation probe, report).
- **warm** (per candidate inside ``generate``, where imports are paid once per worker):
  ``check_script`` on distinct candidates in one long-lived process, after one warm-up
  candidate, against the floor of each candidate in one long-lived process (builds,
  meshing, simulations and renders, no imports).

- **evaluate** (``--solution``): ``benchgen evaluate SCRIPT SOLUTION --json`` as a fresh
  process on the same variants, next to the one-shot check, per variant: what scoring a
  design costs a user against what checking the benchmark cost.

Usage: ``.venv/bin/python benchmarks/bench_check.py [--rounds N] [--warm K] [--solution] [SCRIPT ...]``
(default: a convex scene written by this file, at ``VARIANT`` 0..K). ``--solution`` also
runs the solvability gate with a solution that drops the ball into the goal, and evaluate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

REPO = Path(__file__).resolve().parents[1]

CONVEX_SCENE = """\
\"\"\"Bench scene: drop a ball into a kerbed pen across the room; every body is convex.\"\"\"

import random

from build123d import Box, Pos, Rot, Sphere

from benchgen.scenario import Constraints, Part, Payload, Scenario, Zone

VARIANT = {variant}


def build(seed: int, scale: float = 1.0) -> Scenario:
    rng = random.Random(seed * 7919 + VARIANT)
    k = scale
    sx = -1.0 if seed % 2 else 1.0  # odd seeds mirror the layout

    def box(x0, x1, y0, y1, z0, z1):
        a, b = sorted((sx * x0, sx * x1))
        return Pos((a + b) / 2 * k, (y0 + y1) / 2 * k, (z0 + z1) / 2 * k) * Box((b - a) * k, (y1 - y0) * k, (z1 - z0) * k)

    def zone(x0, x1, y0, y1, z0, z1, name):
        a, b = sorted((sx * x0, sx * x1))
        return Zone((a * k, y0 * k, z0 * k), (b * k, y1 * k, z1 * k), name)

    start = (rng.uniform(-230.0, -180.0), rng.uniform(-40.0, 40.0), rng.uniform(190.0, 230.0))
    gx, gy = rng.uniform(150.0, 200.0) + VARIANT % 5, rng.uniform(-50.0, 50.0)
    kerb = 30.0
    block_x = rng.uniform(0.0, 60.0)
    ramp = Pos(sx * -150.0 * k, -120.0 * k, 40.0 * k) * Rot(0, sx * 20.0, 0) * Box(160 * k, 30 * k, 8 * k)
    return Scenario(
        name="convex bench",
        description="Get the ball from where it is dropped into the kerbed pen across the room.",
        tier="spatial",
        parts=[
            Part("kerb_near", box(gx - 50, gx - 42, gy - 50, gy + 50, 0, kerb), material="wood"),
            Part("kerb_far", box(gx + 42, gx + 50, gy - 50, gy + 50, 0, 2.5 * kerb), material="wood"),
            Part("kerb_left", box(gx - 40, gx + 40, gy - 50, gy - 42, 0, kerb), material="wood"),
            Part("kerb_right", box(gx - 40, gx + 40, gy + 42, gy + 50, 0, kerb), material="wood"),
            Part("block", box(block_x - 15, block_x + 15, 105, 135, 0, 80), material="steel"),
            Part("ramp", ramp, material="aluminum_6061"),
        ],
        payload=Payload(
            "ball", Sphere(15 * k), material="abs", start=(sx * start[0] * k, start[1] * k, start[2] * k),
            jitter=(5 * k, 5 * k, 2 * k),
        ),
        goal_zone=zone(gx - 40, gx + 40, gy - 40, gy + 40, 0, 60, "pen"),
        build_zone=Zone((-290 * k, -145 * k, 0), (290 * k, 145 * k, 290 * k), "build"),
        bounds=Zone((-300 * k, -150 * k, 0), (300 * k, 150 * k, 300 * k), "bounds"),
        constraints=Constraints(target_quantity=100, max_unit_cost=20.0),
        forbid_zones=[zone(0, 60, -145, -110, 0, 10, "pit")],
        params={{"start_x": start[0], "start_y": start[1], "start_z": start[2], "goal_x": gx, "goal_y": gy}},
    )
"""

SOLUTION = """\
\"\"\"Bench solution: a chute from under the ball's drop point to above the pen.\"\"\"

from benchgen.scenario import Part
from benchgen.solution import Design, SceneView
from benchgen.toolkit import chute


def design(view: SceneView) -> Design:
    ball, goal, k = view.payload, view.goal_zone, view.scale
    r = max(ball.size) / 2
    toward = 1.0 if goal.center[0] > ball.start[0] else -1.0
    width = 2 * (r + ball.jitter[1] + 6.0 * k)
    x0 = ball.start[0] - toward * (r + ball.jitter[0] + 10.0 * k)
    top = ball.start[2] - r - ball.jitter[2] - 3.0 * k
    end = (goal.center[0] - toward * 20.0 * k, goal.center[1], view.part("kerb_near").bbox_max[2] + 8.0 * k)
    shape = chute((x0, ball.start[1], top), end, width, wall_height=2.2 * r)
    return Design(parts=[Part("chute", shape, material="pla")])
"""


# --- the raw floor (runs in a fresh interpreter: ``bench_check.py --raw JOB.json``) -------------


def raw_floor(job: dict[str, Any], imports_before: float) -> dict[str, float]:
    """Stage times of the floor; ``imports_before`` is when this interpreter started its imports."""
    import build123d  # noqa: F401  (the script imports it; counted as an import)
    import mujoco
    import numpy as np
    from OCP.BRep import BRep_Tool
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.TopAbs import TopAbs_FACE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopLoc import TopLoc_Location
    from OCP.TopoDS import TopoDS
    from PIL import Image

    times = {"imports": time.perf_counter() - imports_before}
    started = time.perf_counter()
    namespace: dict[str, Any] = {}
    exec(compile(Path(job["script"]).read_text(), job["script"], "exec"), namespace)
    scenarios = [namespace["build"](seed, scale) for seed, scale in job["requests"]]
    times["builds"] = time.perf_counter() - started

    started = time.perf_counter()
    for scenario in scenarios:
        for body in [*scenario.parts, scenario.payload]:
            for solid in body.shape.solids():
                BRepMesh_IncrementalMesh(solid.wrapped, 0.05, True, 0.2, True)
                explorer = TopExp_Explorer(solid.wrapped, TopAbs_FACE)
                while explorer.More():
                    location = TopLoc_Location()
                    poly = BRep_Tool.Triangulation_s(TopoDS.Face(explorer.Current()), location)
                    np.array([poly.Node(i).Coord() for i in range(1, poly.NbNodes() + 1)])
                    np.array([poly.Triangle(i).Get() for i in range(1, poly.NbTriangles() + 1)])
                    explorer.Next()
    times["meshing"] = time.perf_counter() - started

    model = mujoco.MjModel.from_xml_path(job["model"])
    started = time.perf_counter()
    for _ in range(job["simulations"]):
        mujoco.mj_step(model, mujoco.MjData(model), nstep=job["steps"])
    times["simulation"] = time.perf_counter() - started

    started = time.perf_counter()
    _raw_renders(model, Path(job["renders"]), Image, np)
    times["rendering"] = time.perf_counter() - started
    return times


def _raw_renders(model: Any, out: Path, image: Any, np: Any) -> None:
    """The 24 views at the check's size, saved as PNG (camera placement from benchgen: pure arithmetic)."""
    import mujoco

    from benchgen.rendering import RenderSettings, box_corners, frame_camera, standard_views

    settings = RenderSettings()
    center = np.asarray(model.stat.center)
    corners = box_corners(center - model.stat.extent / 2, center + model.stat.extent / 2)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    out.mkdir(parents=True, exist_ok=True)
    with mujoco.Renderer(model, settings.height, settings.width) as renderer:
        for view in standard_views():
            renderer.update_scene(data, camera=frame_camera(view, center, corners, settings, 45.0))
            image.fromarray(renderer.render()).save(out / f"{view.name}.png", optimize=False)


# --- measuring ---------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB RAM, {platform.system()} {platform.release()}"


def _requests(seeds: int = 8) -> list[tuple[int, float]]:
    from benchgen.check import CheckOptions

    return [(r.seed, r.scale) for r in CheckOptions(seeds=seeds).requests()]


def _run_benchgen(arguments: list[str]) -> tuple[dict[str, Any], float]:
    """``benchgen ARGUMENTS`` as a fresh process with an empty cache: its JSON report and wall time."""
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        env = {**os.environ, "BENCHGEN_CACHE_DIR": cache}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "benchgen", *arguments],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        wall = time.perf_counter() - started
    return json.loads(proc.stdout), wall


def one_shot_benchgen(script: Path, solution: Path | None, out: Path) -> dict[str, float]:
    """``benchgen check`` as a fresh process; stage times plus start-up and total wall time."""
    command = ["check", str(script), "--json", "--out", str(out)]
    if solution is not None:
        command += ["--solution", str(solution)]
    report, wall = _run_benchgen(command)
    if not report["accepted"]:
        raise SystemExit(f"{script.name} was rejected ({report['code']}): {report['message'][:300]}")
    stages = dict(report["metrics"]["timings_s"])
    stages["start-up"] = wall - sum(stages.values())
    stages["total"] = wall
    stages["simulations"] = len(report["metrics"]["per_build"])
    return stages


def one_shot_evaluate(script: Path, solution: Path) -> dict[str, float]:
    """``benchgen evaluate`` as a fresh process on the variants check builds; stage times and wall time."""
    report, wall = _run_benchgen(["evaluate", str(script), str(solution), "--json"])
    if not report["passed"]:
        raise SystemExit(f"the bench solution failed ({report['code']}): {report['message'][:300]}")
    stages = dict(report["metrics"]["timings_s"])
    stages["start-up"] = wall - sum(stages.values())
    stages["total"] = wall
    stages["count"] = len(report["per_seed"])
    return stages


def print_evaluate_table(checks: list[dict[str, float]], evaluations: list[dict[str, float]]) -> None:
    """Evaluate's cost per variant next to check's, both one-shot processes on the same variants."""
    print(f"\nevaluate next to check, per variant (medians of {len(evaluations)} runs)")
    check_variants = statistics.median(run["simulations"] for run in checks)
    variants = statistics.median(run["count"] for run in evaluations)
    print(f"  check: {check_variants:.0f} variants; evaluate: {variants:.0f} variants")
    check_total = statistics.median(run["total"] for run in checks)
    stages = sorted({key for run in evaluations for key in run} - {"total", "count"})
    for stage in stages:
        value = _median(evaluations, stage)
        if value is not None:
            print(f"  evaluate {stage:<14}{value / variants:8.2f} s/variant")
    total = statistics.median(run["total"] for run in evaluations)
    per_check = check_total / check_variants
    print(f"  evaluate total      {total / variants:8.2f} s/variant")
    print(
        f"  check total         {per_check:8.2f} s/variant; evaluate / check {total / variants / per_check:.2f}"
    )


def one_shot_raw(script: Path, model: Path, simulations: int, work: Path) -> dict[str, float]:
    """The floor in a fresh interpreter."""
    job = {
        "script": str(script),
        "requests": _requests(),
        "model": str(model),
        "simulations": simulations,
        "steps": 1000,
        "renders": str(work / "raw-renders"),
    }
    job_file = work / "raw-job.json"
    job_file.write_text(json.dumps(job))
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--raw", str(job_file)], capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the raw floor failed: {proc.stderr[-2000:]}")
    times: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    times["imports"] = wall - sum(v for k, v in times.items() if k != "imports")
    times["total"] = wall
    return times


ROWS = [
    ("start-up / imports", "start-up", "imports"),
    ("sandbox / builds", "sandbox", "builds"),
    ("geometry / meshing", "geometry", "meshing"),
    ("decomposition", "decomposition", None),
    ("simulation", "simulation", "simulation"),
    ("solution", "solution", None),
    ("rendering", "rendering", "rendering"),
    ("rollout (passive GIF)", "rollout", None),
    ("artifacts", "artifacts", None),
    ("total", "total", "total"),
]


def _median(runs: list[dict[str, float]], key: str | None) -> float | None:
    if key is None:
        return None
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else None


def print_table(title: str, ours: list[dict[str, float]], raw: list[dict[str, float]]) -> None:
    print(f"\n{title} (medians of {len(ours)} runs)")
    print(f"  {'stage (benchgen / floor)':<26}{'benchgen s':>11}{'floor s':>9}{'ratio':>8}")
    for name, our_key, raw_key in ROWS:
        mine, floor = _median(ours, our_key), _median(raw, raw_key)
        if mine is None and floor is None:
            continue
        ratio = f"{mine / floor:8.2f}" if mine is not None and floor else f"{'':>8}"
        mine_text = f"{mine:11.2f}" if mine is not None else f"{'-':>11}"
        floor_text = f"{floor:9.2f}" if floor is not None else f"{'-':>9}"
        print(f"  {name:<26}{mine_text}{floor_text}{ratio}")
    pairs = [a["total"] / b["total"] for a, b in zip(ours, raw, strict=True) if b.get("total")]
    if pairs:
        spread = ", ".join(f"{r:.2f}" for r in pairs)
        print(f"  total ratio per run: {spread}; median {statistics.median(pairs):.2f}")


def warm_runs(
    scripts: list[Path], solution: Path | None, work: Path
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Per-candidate cost in one long-lived process, benchgen and floor alternating; the first is a warm-up."""
    from benchgen.check import CheckOptions, check_script

    options = CheckOptions(cache_dir=work / "warm-cache")
    ours: list[dict[str, float]] = []
    floors: list[dict[str, float]] = []
    for index, script in enumerate(scripts):
        out = work / f"warm-{index}"
        started = time.perf_counter()
        report = check_script(script, options, out_dir=out, solution=solution)
        wall = time.perf_counter() - started
        if not report.accepted:
            raise SystemExit(f"{script.name} was rejected ({report.code}): {report.message[:300]}")
        stages = dict(report.metrics.timings_s or {})
        stages["start-up"] = wall - sum(stages.values())  # outside the stages: loader, report, cleanup
        stages["total"] = wall
        job = {
            "script": str(script),
            "requests": _requests(),
            "model": str(out / "model.xml"),
            "simulations": len(report.metrics.per_build or []),
            "steps": 1000,
            "renders": str(out / "raw-renders"),
        }
        started = time.perf_counter()
        floor = raw_floor(job, time.perf_counter())
        floor["total"] = time.perf_counter() - started
        floor["imports"] = 0.0
        if index > 0:
            ours.append(stages)
            floors.append(floor)
        print(
            f"  warm candidate {index}: benchgen {wall:.2f} s, floor {floor['total']:.2f} s, load {_load()}",
            flush=True,
        )
    return ours, floors


# --- generation with the solvability gate -----------------------------------------------------


def generation_candidate(index: int, seed: int, work: str) -> tuple[int, bool, str]:
    """What ``generate`` does for one offline candidate, plus the gate: check with its reference
    solution (when the family has one), then the render review. Runs in a pool worker."""
    import numpy as np

    from benchgen.authors.offline import write_candidate
    from benchgen.check import CheckOptions, check_script
    from benchgen.rendering import contact_sheet
    from benchgen.review import ReviewSettings, review_scene

    candidate = write_candidate(np.random.default_rng([seed, index]))
    staged = Path(work) / f"c{index:04d}"
    staged.mkdir(parents=True)
    (staged / "script.py").write_text(candidate.script)
    solution = None
    if candidate.solution is not None:
        solution = staged / "solution.py"
        solution.write_text(candidate.solution)
    check = CheckOptions(cache_dir=Path(work) / "cache")
    assets = staged / "assets"
    report = check_script(staged / "script.py", check, out_dir=assets, solution=solution)
    stages = " ".join(f"{k}={v:.1f}" for k, v in (report.metrics.timings_s or {}).items())
    if not report.accepted:
        return index, False, f"{candidate.family}: {report.code} [{stages}]"
    import mujoco

    contact_sheet([assets / r for r in report.artifacts["renders"]], assets / "contact_sheet.png")
    model = mujoco.MjModel.from_xml_path(str(assets / "model.xml"))
    scene, _ = report.metrics.checked_scene()
    frame = (np.array(scene.bounds.min) * 0.001, np.array(scene.bounds.max) * 0.001)
    decision = review_scene(model, frame, scene.payload.label, ReviewSettings(), check.render)
    gated = "gated" if solution is not None else "no solution"
    return (
        index,
        decision.approved,
        f"{candidate.family}: {'accepted' if decision.approved else 'review'} ({gated}) [{stages}]",
    )


def generation(workers: int, count: int, seed: int) -> tuple[float, int, int, float]:
    """Accepted per minute with ``workers`` long-lived worker processes (spawned, like ``generate``'s pool),
    candidates submitted ahead; (rate, accepted, candidates, seconds) until ``count`` are accepted."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    with tempfile.TemporaryDirectory(prefix="bench-generate-") as work:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            started = time.perf_counter()
            pending: set[Future[tuple[int, bool, str]]] = set()
            accepted, submitted = 0, 0
            while accepted < count:
                while len(pending) < 2 * workers:
                    pending.add(pool.submit(generation_candidate, submitted, seed, work))
                    submitted += 1
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index, ok, what = future.result()
                    accepted += ok
                    print(f"    [{workers} workers] candidate {index}: {what}", flush=True)
            seconds = time.perf_counter() - started
            for future in pending:
                future.cancel()
    return accepted / (seconds / 60), accepted, submitted - len(pending), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scripts", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3, help="one-shot repetitions (interleaved)")
    parser.add_argument("--warm", type=int, default=4, help="warm candidates after the warm-up (0: skip)")
    parser.add_argument("--solution", action="store_true", help="include the solvability gate")
    parser.add_argument(
        "--generate", type=int, default=0, metavar="N", help="also: N accepted at 1 and 2 workers"
    )
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw is not None:
        imports_before = time.perf_counter()
        print(json.dumps(raw_floor(json.loads(args.raw.read_text()), imports_before)))
        return

    print(f"machine: {_machine()}; load average at start {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        work = Path(tmp)
        solution = None
        if args.solution:
            solution = work / "solution.py"
            solution.write_text(SOLUTION)
        scripts = args.scripts
        if not scripts:
            scripts = []
            for variant in range(args.warm + 2):
                path = work / f"convex_{variant}.py"
                path.write_text(CONVEX_SCENE.format(variant=variant))
                scripts.append(path)
        one_shot = scripts[0]
        ours, raw = [], []
        for round_ in range(args.rounds):
            out = work / f"oneshot-{round_}"
            ours.append(one_shot_benchgen(one_shot, solution, out))
            raw.append(one_shot_raw(one_shot, out / "model.xml", int(ours[-1]["simulations"]), work))
            print(
                f"  round {round_}: benchgen {ours[-1]['total']:.2f} s, floor {raw[-1]['total']:.2f} s, "
                f"load {_load()}",
                flush=True,
            )
        if ours:
            print_table(f"one-shot `benchgen check {one_shot.name}`", ours, raw)
        if solution is not None and args.rounds > 0:
            evaluations = [one_shot_evaluate(one_shot, solution) for _ in range(args.rounds)]
            print_evaluate_table(ours, evaluations)
        if args.warm > 0:
            candidates = (scripts[1:] if len(scripts) > 1 else scripts * 2)[: args.warm + 1]
            warm_ours, warm_raw = warm_runs(candidates, solution, work)
            print_table("warm: per candidate in a long-lived process", warm_ours, warm_raw)
    if args.generate > 0:
        print(f"\ngeneration with the solvability gate ({args.generate} accepted per run), load {_load()}")
        rates = {}
        for workers in (1, 2):
            rate, accepted, candidates, seconds = generation(workers, args.generate, seed=7)
            rates[workers] = rate
            print(
                f"  {workers} worker(s): {rate:.1f} accepted/min ({accepted} of {candidates} candidates in {seconds:.1f} s)"
            )
        print(f"  2 workers / 1 worker: {rates[2] / rates[1]:.2f}")
    print(f"load average at end {_load()}")


if __name__ == "__main__":
    main()
