"""Measure ``benchgen check`` stage by stage against the raw library calls doing the same work.

For each bundled example: the check's stage times (sandboxed build, geometry checks,
decomposition, simulation, rendering) next to the raw cost of the same work done directly
(the script's builds in-process without a sandbox, BREP import + tessellation, CoACD with
fast settings on the non-primitive solids, bare ``mj_step`` loops, bare renders), and the ratio.

Usage: ``.venv/bin/python benchmarks/bench_check.py [SCRIPT ...]``
"""

from __future__ import annotations

import os
import runpy
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from benchgen.check import CheckOptions, check_script  # noqa: E402
from benchgen.geometry import GeometrySettings, tessellate_solid  # noqa: E402
from benchgen.rendering import RenderSettings, box_corners, frame_camera, standard_views  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "benchgen" / "examples"


def raw_builds(script: Path, options: CheckOptions) -> tuple[float, list[object]]:
    """Run the script's builds in this process (what the sandbox wraps), return seconds and scenarios."""
    started = time.perf_counter()
    namespace = runpy.run_path(str(script))
    scenarios = [namespace["build"](r.seed, r.scale) for r in options.requests()]
    return time.perf_counter() - started, scenarios


def raw_geometry(scenarios: list[object]) -> tuple[float, list[np.ndarray]]:
    """Tessellate every solid directly; returns seconds and the meshes of the first scene."""
    settings = GeometrySettings()
    started = time.perf_counter()
    first = []
    for index, scenario in enumerate(scenarios):
        for part in [*scenario.parts, scenario.payload]:  # type: ignore[attr-defined]
            for solid in part.shape.solids():
                mesh = tessellate_solid(solid, settings)
                if index == 0:
                    first.append(mesh)
    return time.perf_counter() - started, first


def raw_coacd(meshes: list[object]) -> float:
    """CoACD with fast settings on every tessellated solid of the first scene."""
    import coacd

    coacd.set_log_level("error")
    started = time.perf_counter()
    for mesh in meshes:
        coacd.run_coacd(
            coacd.Mesh(mesh.vertices, mesh.faces),  # type: ignore[attr-defined]
            threshold=0.1,
            preprocess_mode="off",
            mcts_iterations=30,
            mcts_nodes=8,
            mcts_max_depth=2,
            resolution=300,
        )
    return time.perf_counter() - started


def raw_sim_and_render(model_path: Path, builds: int, steps: int) -> tuple[float, float]:
    """Bare mj_step loops (as many runs as the check simulates) and 24 bare renders."""
    model = mujoco.MjModel.from_xml_path(str(model_path))
    started = time.perf_counter()
    for _ in range(builds):
        data = mujoco.MjData(model)
        mujoco.mj_step(model, data, nstep=steps)
    sim = time.perf_counter() - started
    settings = RenderSettings()
    center = np.asarray(model.stat.center)
    corners = box_corners(center - model.stat.extent / 2, center + model.stat.extent / 2)
    started = time.perf_counter()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with mujoco.Renderer(model, settings.height, settings.width) as renderer:
        for view in standard_views():
            renderer.update_scene(data, camera=frame_camera(view, center, corners, settings, 45.0))
            renderer.render()
    return sim, time.perf_counter() - started


def main(scripts: list[Path]) -> None:
    options = CheckOptions(cache_dir=None)  # no cache: measure the real decomposition work
    print(f"{'script':<18}{'stage':<15}{'benchgen s':>11}{'raw s':>9}{'ratio':>8}")
    for script in scripts:
        with tempfile.TemporaryDirectory() as out:
            report = check_script(script, options, out_dir=Path(out))
            stages = report.metrics.get("timings_s", {})
            build_s, scenarios = raw_builds(script, options)
            geometry_s, meshes = raw_geometry(scenarios)
            coacd_s = raw_coacd(meshes)
            sim_s, render_s = raw_sim_and_render(
                Path(out) / "model.xml", len(options.requests()) - 1, options.physics.steps
            )
        raw = {
            "sandbox": build_s,
            "geometry": geometry_s,
            "decomposition": coacd_s,
            "simulation": sim_s,
            "rendering": render_s,
        }
        verdict = "accepted" if report.accepted else f"rejected ({report.code})"
        print(f"{script.name:<18}{'verdict':<15}{verdict:>28}")
        for stage, raw_s in raw.items():
            ours = stages.get(stage, float("nan"))
            print(
                f"{'':<18}{stage:<15}{ours:>11.2f}{raw_s:>9.2f}{ours / raw_s if raw_s else float('nan'):>8.2f}"
            )


if __name__ == "__main__":
    paths = [Path(a) for a in sys.argv[1:]] or sorted(EXAMPLES.glob("*.py"))
    main(paths)
