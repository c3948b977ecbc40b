"""Reference solutions of the spatial offline families, and the channel toolkit they use (issue 9).

Fast, in-process checks: each family's ``SOLUTION`` is a readable solution file that
defines ``design(view)``; run on real variants (a generated script built in-process into
a :class:`SceneView` with exact shapes) it returns the same design every time, and that
design keeps the static rules a judge applies: valid solids, inside the build zone, clear
of the scene's parts, the payload's start envelope and the forbidden zones, within budget
and weight. Rollouts through the sandbox belong to the evaluate tests.
"""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np
import pytest
from build123d import Location, Solid, Vector

from benchgen import toolkit
from benchgen.authors import families
from benchgen.authors.offline import write_candidate
from benchgen.materials import get_material
from benchgen.scenario import Scenario, Zone
from benchgen.scene import JointRecord
from benchgen.solution import Design, PartView, PayloadView, SceneView
from script_audit import load_build

SPATIAL = ("shelf_to_bin", "gap_pit", "obstacle_field", "step_up", "arch_tunnel", "peg_in_hole")
ALLOWED_IMPORTS = {
    "__future__",
    "math",
    "build123d",
    "benchgen.materials",
    "benchgen.scenario",
    "benchgen.solution",
    "benchgen.toolkit",
}


def _solution_module(family: str) -> dict[str, Any]:
    source = families.solution(family)
    assert source is not None, f"{family} has no reference solution"
    namespace: dict[str, Any] = {"__name__": f"reference_{family}"}
    exec(compile(source, f"<{family} solution>", "exec"), namespace)
    return namespace


def _box(shape: Any) -> tuple[np.ndarray, np.ndarray]:
    bb = shape.bounding_box()
    return np.array([bb.min.X, bb.min.Y, bb.min.Z]), np.array([bb.max.X, bb.max.Y, bb.max.Z])


def _view(scene: Scenario, seed: int, scale: float) -> SceneView:
    """The view a solver gets of a variant, made in-process from the built scenario."""
    payload = scene.payload
    lo, hi = _box(payload.shape)
    mass = payload.shape.volume * 1e-9 * get_material(payload.material).density_kg_m3 * 1000
    parts = []
    for part in scene.parts:
        plo, phi = _box(part.shape)
        parts.append(
            PartView(
                label=part.label,
                material=part.material,
                joint=JointRecord.from_joint(part.joint),
                bbox_min=tuple(plo),
                bbox_max=tuple(phi),
                shape=part.shape,
            )
        )
    return SceneView(
        name=scene.name,
        description=scene.description,
        tier=scene.tier,
        seed=seed,
        scale=scale,
        bounds=scene.bounds,
        build_zone=scene.build_zone,
        goal_zone=scene.goal_zone,
        forbid_zones=list(scene.forbid_zones),
        constraints=scene.constraints,
        params=dict(scene.params),
        payload=PayloadView(
            label=payload.label,
            material=payload.material,
            start=payload.start,
            jitter=payload.jitter,
            bbox_min=tuple(lo),
            bbox_max=tuple(hi),
            mass_g=mass,
        ),
        parts=parts,
    )


def _zone_solid(zone: Zone) -> Solid:
    return toolkit.box_between(zone.min, zone.max)


def _overlap(a: Any, b: Any) -> float:
    """Volume common to two shapes (mm³), solid by solid."""
    total = 0.0
    for solid in a.solids():
        if np.any(_box(solid)[0] > _box(b)[1]) or np.any(_box(b)[0] > _box(solid)[1]):
            continue
        common = solid.intersect(b)
        if common is not None:
            total += sum(float(s.volume) for s in (common if isinstance(common, list) else [common]))
    return total


def _assert_static_rules(scene: Scenario, design: Design) -> None:
    """The judge's static rules, checked with exact shapes (1 mm³ of overlap counts as touching)."""
    payload = scene.payload
    # The payload at the corners, edge and face middles and centre of its start jitter box.
    starts = [
        np.array(payload.start) + np.array(payload.jitter) * (np.array(c) - 1) for c in np.ndindex(3, 3, 3)
    ]
    spawned = [payload.shape.moved(Location(tuple(float(v) for v in p))) for p in starts]
    cost = weight = 0.0
    for part in design.parts:
        shape = part.shape
        assert shape.is_valid and shape.solids(), part.label
        lo, hi = _box(shape)
        zone = scene.build_zone
        assert np.all(lo >= np.array(zone.min) - 1e-3) and np.all(hi <= np.array(zone.max) + 1e-3), part.label
        for other in scene.parts:
            assert _overlap(shape, other.shape) <= 1.0, f"{part.label} overlaps {other.label}"
        for where in spawned:
            assert _overlap(shape, where) <= 1.0, f"{part.label} overlaps the payload's start envelope"
        for forbid in scene.forbid_zones:
            assert _overlap(shape, _zone_solid(forbid)) <= 1.0, f"{part.label} in {forbid.name}"
        material = get_material(part.material)
        mass_kg = sum(s.volume for s in shape.solids()) * 1e-9 * material.density_kg_m3
        cost += mass_kg * material.cost_per_kg_usd
        weight += mass_kg * 1000
    assert cost <= scene.constraints.max_unit_cost
    assert scene.constraints.max_weight_g is None or weight <= scene.constraints.max_weight_g


@pytest.mark.parametrize("family", SPATIAL)
def test_solution_text_is_a_solution_file(family: str) -> None:
    source = families.solution(family)
    assert source is not None
    tree = ast.parse(source)
    assert ast.get_docstring(tree), "the reference explains its idea in a module docstring"
    designs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "design"]
    assert len(designs) == 1 and [a.arg for a in designs[0].args.args] == ["view"]
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    # Computed from the view alone: the family's private constants are not in reach.
    constants = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id.isupper()}
    assert not constants & {"WIDTH", "DEPTH", "HEIGHT", "CLEARANCE", "PIT", "N_OBSTACLES"}


@pytest.mark.parametrize("family", SPATIAL)
def test_candidate_carries_the_reference(family: str) -> None:
    candidate = write_candidate(np.random.default_rng([0, 1]), theme=family)
    assert candidate.solution == families.solution(family)


@pytest.mark.e2e  # builds scenes and reference designs (~5 s each)
@pytest.mark.parametrize(("family", "author", "seed", "scale"), [
    ("shelf_to_bin", 2, 3, 1.0),
    ("gap_pit", 1, 1, 0.5),
    ("obstacle_field", 0, 13, 1.0),
    ("step_up", 5, 4, 1.0),
    ("arch_tunnel", 0, 12, 2.0),
    ("peg_in_hole", 3, 2, 2.0),
])  # fmt: skip
def test_reference_design_keeps_the_static_rules(family: str, author: int, seed: int, scale: float) -> None:
    script = write_candidate(np.random.default_rng([0, author]), theme=family).script
    scene = load_build(script)(seed, scale)
    design_fn = _solution_module(family)["design"]
    first = design_fn(_view(scene, seed, scale))
    assert isinstance(first, Design) and first.parts
    _assert_static_rules(scene, first)
    again = design_fn(_view(scene, seed, scale))
    assert [(p.label, p.material, round(p.shape.volume, 6)) for p in again.parts] == [
        (p.label, p.material, round(p.shape.volume, 6)) for p in first.parts
    ]


# --- the channel toolkit -------------------------------------------------------------------------


def test_sloped_path_steps_down_at_bends_only() -> None:
    plan = [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (200.0, 100.0)]
    path = toolkit.sloped_path(plan, 100.0, [0.1, 0.2, 0.3], half_width=20.0)
    # Straight on at (100, 0): no step; a 90° turn at (200, 0): a step of (0.2 + 0.3)·20·tan 45°.
    assert [p[:2] for p in path] == [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (200.0, 0.0), (200.0, 100.0)]
    assert path[1][2] == pytest.approx(90.0) and path[2][2] == pytest.approx(70.0)
    assert path[3][2] == pytest.approx(70.0 - 0.5 * 20.0)
    assert path[4][2] == pytest.approx(path[3][2] - 30.0)


def test_graded_and_high_paths_reach_the_end() -> None:
    plan = [(0.0, 0.0), (100.0, 0.0), (150.0, 40.0), (250.0, 40.0)]
    even = toolkit.graded_path(plan, 200.0, 20.0, half_width=15.0)
    assert even[0][2] == 200.0 and even[-1][2] == pytest.approx(20.0)
    high = toolkit.high_path(plan, 200.0, 20.0, 15.0, min_grade=0.3, max_grade=2.0)
    assert high is not None and high[-1][2] == pytest.approx(20.0)
    assert (high[0][2] - high[1][2]) / 100.0 == pytest.approx(0.3)  # stays high, falls late
    early = toolkit.high_path(plan, 200.0, 20.0, 15.0, min_grade=0.3, max_grade=2.0, fall_run=0)
    assert early is not None and early[1][2] < high[1][2]
    tail = toolkit.high_path(plan, 200.0, 20.0, 15.0, min_grade=0.3, max_grade=2.0, tail_grade=0.1)
    assert tail is not None and (tail[-2][2] - tail[-1][2]) / 100.0 == pytest.approx(0.1)
    assert toolkit.high_path(plan, 200.0, 150.0, 15.0, min_grade=0.3, max_grade=2.0) is None


def test_channel_floor_follows_the_path() -> None:
    path = toolkit.graded_path([(0.0, 0.0), (120.0, 0.0), (200.0, 60.0)], 100.0, 40.0, half_width=23.0)
    shape = toolkit.channel(
        path, width=40.0, wall_height=15.0, thickness=3.0, closed_start=True, closed_end=True
    )
    assert shape.is_valid and all(s.is_valid for s in shape.solids())
    assert len(shape.solids()) == 3 * 2 + 2  # floor and two walls per run, two end walls
    floor_top = (path[0][2] + path[1][2]) / 2  # halfway along the first run

    def inside(x: float, y: float, z: float) -> bool:
        return any(s.is_inside(Vector(x, y, z)) for s in shape.solids())

    assert not inside(60.0, 0.0, floor_top + 1.0)  # in the channel, just over the floor
    assert inside(60.0, 0.0, floor_top - 1.5)  # in the floor
    assert inside(60.0, 21.5, floor_top + 10.0)  # in a wall
    assert not inside(60.0, 0.0, floor_top - 3.5)  # under the floor
    with pytest.raises(ValueError, match="bend turns"):
        toolkit.channel([(0, 0, 10), (50, 0, 5), (0, 10, 0)], 20.0, 10.0)


def test_path_clear_and_route_go_around_what_stands_in_the_way() -> None:
    region = ((-200.0, -150.0), (200.0, 150.0))
    post: toolkit.KeepOut = ((-10.0, -10.0, 0.0), (10.0, 10.0, 120.0))
    low: toolkit.KeepOut = ((-10.0, -10.0, 0.0), (10.0, 10.0, 40.0))
    straight = toolkit.graded_path([(-150.0, 0.0), (150.0, 0.0)], 100.0, 60.0, 20.0)
    assert toolkit.path_clear(straight, [low], 20.0, 5.0, region)  # passes over the low block
    assert not toolkit.path_clear(straight, [post], 20.0, 5.0, region)
    touching: toolkit.KeepOut = ((-10.0, 20.0, 0.0), (10.0, 40.0, 120.0))
    assert toolkit.path_clear(straight, [touching], 20.0, 5.0, region)  # touching is not overlapping
    assert not toolkit.path_clear(straight, [], 20.0, 5.0, ((-100.0, -150.0), (200.0, 150.0)))

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        path = toolkit.graded_path(plan, 100.0, 60.0, 20.0)
        return path if toolkit.path_clear(path, [post], 20.0, 5.0, region) else None

    path = toolkit.route(
        (-150.0, 0.0), [(150.0, 0.0)], region, build, waypoints=toolkit.corners([post], 25.0)
    )
    assert path is not None and len(path) > 2
    assert toolkit.path_clear(path, [post], 20.0, 5.0, region)
    assert all(math.hypot(p[0], p[1]) > 20.0 for p in path)
    wall: toolkit.KeepOut = ((100.0, -150.0, 0.0), (110.0, 150.0, 200.0))

    def blocked(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        path = toolkit.graded_path(plan, 100.0, 60.0, 20.0)
        return path if toolkit.path_clear(path, [wall], 20.0, 5.0, region) else None

    assert toolkit.route((-150.0, 0.0), [(150.0, 0.0)], region, blocked, grid=4) is None
