"""The static audit the script tests rely on (``tests/script_audit.py``) catches broken scripts.

A tiny box scene, built in-process in milliseconds: the clean script passes, and each
deliberately broken variant is reported with what was broken.
"""

from __future__ import annotations

import pytest
from build123d import Box, Pos

from benchgen.scenario import Part
from script_audit import audit_scene, audit_script, load_build

CLEAN = """
import random

from build123d import Box, Pos, Sphere

from benchgen.scenario import Constraints, Part, Payload, Scenario, Zone

WALL_X = 0.0  # where the wall stands, at scale 1
WALL_Z = 0.0  # its foot above the ground
WALL_HEIGHT = 60.0
FORBID_X = (-60.0, -40.0)  # the pit's x range, canonical


def build(seed: int, scale: float = 1.0) -> Scenario:
    rng = random.Random(seed)
    k, sx = scale, (-1.0 if seed % 2 else 1.0)
    goal_x = params_x = rng.uniform(200.0, 260.0)
    start_x = -rng.uniform(200.0, 260.0)
    wall = Pos(sx * WALL_X * k, 0, (WALL_Z + WALL_HEIGHT / 2) * k) * Box(20 * k, 100 * k, WALL_HEIGHT * k)
    gx0, gx1 = sorted((sx * (goal_x - 30) * k, sx * (goal_x + 30) * k))
    fx0, fx1 = sorted((sx * FORBID_X[0] * k, sx * FORBID_X[1] * k))
    return Scenario(
        name="audit_probe",
        description="A ball over a wall into a goal.",
        tier="spatial",
        parts=[Part("wall", wall)],
        payload=Payload("ball", Sphere(10 * k), start=(sx * start_x * k, 0, 100 * k), jitter=(5 * k, 5 * k, 0)),
        goal_zone=Zone(min=(gx0, -40 * k, 0), max=(gx1, 40 * k, 40 * k), name="goal"),
        build_zone=Zone(min=(-300 * k, -150 * k, 0), max=(300 * k, 150 * k, 190 * k), name="build"),
        bounds=Zone(min=(-300 * k, -150 * k, 0), max=(300 * k, 150 * k, 200 * k), name="bounds"),
        constraints=Constraints(target_quantity=100, max_unit_cost=10.0),
        forbid_zones=[Zone(min=(fx0, -150 * k, 0), max=(fx1, 150 * k, 30 * k), name="pit")],
        params={"goal_x": params_x, "start_x": start_x},
    )
"""


def _broken(old: str, new: str) -> str:
    assert old in CLEAN
    return CLEAN.replace(old, new)


def test_a_clean_script_passes() -> None:
    audit = audit_script(CLEAN, seeds=4)
    assert audit.problems == []
    assert audit.randomization_ratio >= 0.4


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("WALL_X = 0.0", "WALL_X = 295.0", "part 'wall' leaves bounds"),
        ("WALL_Z = 0.0", "WALL_Z = -1.0", "part 'wall' goes below the ground"),
        ("WALL_HEIGHT = 60.0", "WALL_HEIGHT = 250.0", "part 'wall' leaves bounds"),
        ("FORBID_X = (-60.0, -40.0)", "FORBID_X = (200.0, 220.0)", "goal zone overlaps forbid zone 'pit'"),
        ("FORBID_X = (-60.0, -40.0)", "FORBID_X = (-400.0, -380.0)", "zone 'pit' leaves bounds"),
        (
            "start=(sx * start_x * k, 0, 100 * k)",
            "start=(0, 0, 70.5 * k)",  # the ball's lowest point 0.5 mm over the wall
            "payload start envelope comes within 1.0 mm of 'wall'",
        ),
        (
            "start=(sx * start_x * k, 0, 100 * k)",
            "start=(sx * -50.0 * k, 0, 20 * k)",
            "payload start envelope overlaps forbid zone 'pit'",
        ),
        ("(-1.0 if seed % 2 else 1.0)", "1.0", "randomization: best spread"),  # no mirroring
        ('params={"goal_x": params_x, "start_x": start_x}', "params={}", "params do not vary with the seed"),
        ("k, sx = scale,", "k, sx = 1.0,", "scale 2.0: extent ratio"),
        ("rng = random.Random(seed)", "rng = random.Random()", "is not deterministic"),
    ],
)
def test_a_broken_script_is_caught(old: str, new: str, problem: str) -> None:
    audit = audit_script(_broken(old, new), seeds=4)
    assert any(problem in p for p in audit.problems), audit.problems


def test_touching_parts_are_caught() -> None:
    scene = load_build(CLEAN)(0, 1.0)
    assert audit_scene(scene) == []
    scene.parts.append(Part("block", Pos(20.5, 0, 30) * Box(20, 100, 60)))  # 0.5 mm from the wall
    assert audit_scene(scene) == ["parts 'wall' and 'block' are closer than 1.0 mm"]
