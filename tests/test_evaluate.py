"""``benchgen evaluate`` through the real sandbox, build123d and MuJoCo: every failure code is earned.

One module fixture builds the concave-bin example's variants once (sandboxed, trusted
loading, collision geometry); each test then runs a solution in its own sandboxed process
against them and asserts the exact verdict per variant.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchgen.check import CheckOptions, decomposition_cache, scene_collision_geometry
from benchgen.cli import app
from benchgen.evaluate import EvaluateCode, EvaluateSettings, SolutionRun, judge_solution
from benchgen.geometry import GeometryLoader, LoadedScene
from benchgen.physics import CollisionPiece
from benchgen.sandbox import SandboxLimits
from benchgen.solving import EvaluateOptions, build_variants, evaluate_solution

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "benchgen" / "examples"
SCENARIO = EXAMPLES / "concave_bin.py"
REFERENCE = EXAMPLES / "concave_bin_solution.py"

# Seed -> what the solution does on that variant, and the code it must earn.
MODES: dict[int, tuple[str, EvaluateCode | None]] = {
    0: ("reference", None),
    1: ("outside", EvaluateCode.OUTSIDE_BUILD_ZONE),
    2: ("overlap", EvaluateCode.INTERSECTION),
    3: ("forbid", EvaluateCode.IN_FORBID_ZONE),
    4: ("expensive", EvaluateCode.OVER_BUDGET),
    5: ("heavy", EvaluateCode.OVERWEIGHT),
    6: ("nothing", EvaluateCode.MISSED_GOAL),
    7: ("flung", EvaluateCode.UNSTABLE),
    8: ("sheet", EvaluateCode.INVALID_GEOMETRY),
    9: ("clash", EvaluateCode.CONTRACT_ERROR),
}

DISPATCH = """

from build123d import Box, Pos, Rectangle
from benchgen.scenario import Hinge
from benchgen.solution import Motor

_reference = design


def design(view):
    mode = MODES[view.seed]
    b, deck = view.build_zone, view.part("launch_deck")
    if mode == "reference":
        return _reference(view)
    if mode == "outside":
        return Design(parts=[Part("block", Pos(b.max[0] + 30, 0, 20) * Box(20, 20, 20), material="pla")])
    if mode == "overlap":
        c = [(lo + hi) / 2 for lo, hi in zip(deck.bbox_min, deck.bbox_max)]
        return Design(parts=[Part("block", Pos(c[0], c[1], 10) * Box(20, 20, 20), material="pla")])
    if mode == "forbid":
        z = view.forbid_zones[0]
        c = [(lo + hi) / 2 for lo, hi in zip(z.min, z.max)]
        return Design(parts=[Part("block", Pos(c[0], c[1], 10) * Box(20, 20, 20), material="pla")])
    if mode in ("expensive", "heavy"):
        # Aluminium at $4.5/kg costs more than the budget allows; steel at $1.2/kg is cheap but heavy.
        side = 130.0 if mode == "expensive" else 60.0
        material = "aluminum_6061" if mode == "expensive" else "steel"
        x = (view.goal_zone.min[0] + view.goal_zone.max[0]) / 2
        return Design(parts=[Part("block", Pos(x, 0, 250 - side / 2 - 1) * Box(side, side, side), material=material)])
    if mode == "nothing":
        # A tray under the deck's lip, closed at its far end: the ball stays out of the pit and the bin.
        toward = 1.0 if view.goal_zone.center[0] > deck.bbox_max[0] else -1.0
        edge = deck.bbox_max[0] if toward > 0 else deck.bbox_min[0]
        start = (edge + toward * 8, view.payload.start[1], deck.bbox_max[2] - 60)
        end = (edge + toward * 90, view.payload.start[1], deck.bbox_max[2] - 65)
        return Design(parts=[Part("tray", chute(start, end, 60, 45, end_wall=True), material="pla")])
    if mode == "flung":
        # The reference, plus an arm spun by a motor far beyond any speed gravity gives in this scene.
        answer = _reference(view)
        x, y = (b.min[0] + b.max[0]) / 2, b.max[1] - 70
        arm = Pos(x + 50, y, 270) * Box(100, 10, 10)
        hinge = Hinge(anchor=(x, y, 270), axis=(0, 0, 1))
        spinner = Part("arm", arm, material="pla", joint=hinge)
        return Design(parts=[*answer.parts, spinner], motors=[Motor("arm", speed=20000.0, max_effort=50.0)])
    if mode == "sheet":
        return Design(parts=[Part("sheet", Pos(b.min[0] + 20, 0, 200) * Rectangle(20, 20))])
    if mode == "clash":
        return Design(parts=[Part("bin", Pos(b.min[0] + 20, 0, 200) * Box(10, 10, 10))])
    raise AssertionError(mode)
"""


def _solution(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture(scope="module")
def variants(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[LoadedScene], list[dict[str, list[CollisionPiece]]], GeometryLoader, CheckOptions]]:
    options = EvaluateOptions(seeds=len(MODES), scales=False)
    loader = GeometryLoader(options.check.geometry)
    workdir = tmp_path_factory.mktemp("variants")
    try:
        scenes = build_variants(SCENARIO, options, loader, workdir)
        cache = decomposition_cache(options.check)
        pieces = [scene_collision_geometry(s, options.check, cache)[0] for s in scenes]
        yield scenes, pieces, loader, options.check
    finally:
        loader.close()


def _judge(
    variants: tuple, solution: Path, workdir: Path, only: list[int] | None = None, **limits: float
) -> SolutionRun:  # type: ignore[type-arg]
    scenes, pieces, loader, check = variants
    chosen = only if only is not None else list(range(len(scenes)))
    return judge_solution(
        solution,
        [scenes[i] for i in chosen],
        [pieces[i] for i in chosen],
        loader,
        check.physics,
        check.decomposition,
        EvaluateSettings(),
        decomposition_cache(check),
        SandboxLimits(**limits),
        workdir,
    )


def test_each_design_fault_earns_its_code(variants: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    modes = {seed: mode for seed, (mode, _) in MODES.items()}
    solution = _solution(tmp_path, "modes", f"{REFERENCE.read_text()}\nMODES = {modes!r}\n{DISPATCH}")
    run = _judge(variants, solution, tmp_path / "work")
    got = {o.seed: o.code for o in run.report.per_seed}
    assert got == {seed: code for seed, (_, code) in MODES.items()}, [o.message for o in run.report.per_seed]
    assert not run.report.passed and run.report.code is EvaluateCode.OUTSIDE_BUILD_ZONE
    assert run.report.success_rate == pytest.approx(0.1)
    solved = run.report.per_seed[0]
    assert solved.success and solved.cost_usd and solved.cost_usd > 0 and solved.time_in_goal_s >= 1.0
    overweight = run.report.per_seed[5]
    assert overweight.weight_g is not None and overweight.weight_g > 1200


SANDBOX_CASES = {
    "script_error": (
        "def design(view):\n    raise RuntimeError('no idea')\n",
        EvaluateCode.SCRIPT_ERROR,
        "no idea",
    ),
    "timeout": ("def design(view):\n    while True:\n        pass\n", EvaluateCode.TIMEOUT, "timeout"),
    "network": (
        "import socket\n\ndef design(view):\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n",
        EvaluateCode.SANDBOX_VIOLATION,
        "127.0.0.1",
    ),
    "memory": ("def design(view):\n    hog = bytearray(64 * 1024**3)\n", EvaluateCode.RESOURCE_LIMIT, ""),
    "no_design": ("def solve(view):\n    return None\n", EvaluateCode.CONTRACT_ERROR, "design"),
}


@pytest.mark.parametrize("name", sorted(SANDBOX_CASES))
def test_solutions_run_only_in_the_sandbox(variants: tuple, tmp_path: Path, name: str) -> None:  # type: ignore[type-arg]
    body, code, needle = SANDBOX_CASES[name]
    solution = _solution(tmp_path, name, body)
    run = _judge(variants, solution, tmp_path / "work", only=[0, 1], timeout_s=5.0)
    assert [o.code for o in run.report.per_seed] == [code, code], run.report.message
    assert needle in run.report.per_seed[0].message
    # A failure inside design(view) leaves the later variants unrun; one before any call fails them all alike.
    second = run.report.per_seed[1].message
    assert second.startswith("not run") or second == run.report.per_seed[0].message


def test_a_reference_moved_a_few_centimetres_fails(variants: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    moved = REFERENCE.read_text() + textwrap.dedent(
        """

        from build123d import Pos

        _reference = design


        def design(view):
            answer = _reference(view)
            shifted = [Part(p.label, Pos(0, 40, 0) * p.shape, p.material, p.joint) for p in answer.parts]
            return Design(parts=shifted, motors=answer.motors)
        """
    )
    run = _judge(variants, _solution(tmp_path, "moved", moved), tmp_path / "work", only=[0, 1, 2, 3])
    assert run.report.success_rate < 1.0
    assert {o.code for o in run.report.per_seed if not o.success} <= {
        EvaluateCode.MISSED_GOAL,
        EvaluateCode.IN_FORBID_ZONE,
        EvaluateCode.OUTSIDE_BUILD_ZONE,
        EvaluateCode.INTERSECTION,
    }


def test_cli_evaluates_unseen_seeds_deterministically_with_artifacts(tmp_path: Path) -> None:
    args = ["evaluate", str(SCENARIO), str(REFERENCE), "--seeds", "2", "--first-seed", "40", "--json"]
    first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["passed"] and report["success_rate"] == 1.0
    assert [(o["seed"], o["scale"]) for o in report["per_seed"]] == [
        (40, 1.0),
        (41, 1.0),
        (40, 0.5),
        (40, 2.0),
        (41, 0.5),
        (41, 2.0),
    ]
    out = tmp_path / "out"
    assert len(list((out / "renders").glob("*.png"))) == 24
    assert (out / "rollout.gif").stat().st_size > 10_000 and (out / "model.xml").is_file()
    again = evaluate_solution(SCENARIO, REFERENCE, EvaluateOptions(seeds=2, first_seed=40))
    strip = {"metrics"}
    assert again.model_dump(mode="json", exclude=strip) == {
        k: v for k, v in report.items() if k not in strip | {"artifacts"}
    } | {"artifacts": {}}


def test_check_gates_on_the_reference_solution(tmp_path: Path) -> None:
    """``check --solution``: accepted with the reference's cost and artifacts; a costly one is over_budget."""
    from benchgen.check import CheckOptions, check_script
    from benchgen.verdict import RejectCode

    report = check_script(SCENARIO, CheckOptions(seeds=2), out_dir=tmp_path / "ok", solution=REFERENCE)
    assert report.accepted, report.message
    solution = report.metrics.solution
    assert solution is not None and solution.passed and solution.success_rate == 1.0
    assert solution.budget_headroom is not None and solution.budget_headroom > 1
    assert len(solution.per_seed) == 6
    assert (tmp_path / "ok" / report.artifacts["solution"]["animation"]).stat().st_size > 10_000
    assert len(report.artifacts["solution"]["renders"]) == 4

    gold = _solution(
        tmp_path,
        "gold",
        REFERENCE.read_text()
        .replace('material="pla"', 'material="steel"')
        .replace("wall = 3.0", "wall = 12.0"),
    )
    costly = check_script(SCENARIO, CheckOptions(seeds=2), solution=gold)
    assert costly.code is RejectCode.OVER_BUDGET, costly.message
