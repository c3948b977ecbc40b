"""Physics judging on synthetic inputs: the stability verdict from hand-made metrics, the
explosion threshold in closed form, and exact primitives recognised on real build123d solids."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pytest

from benchgen.geometry import FaceSummary, GeometrySettings, SolidGeometry, TriMesh, load_brep_bytes
from benchgen.physics import PhysicsSettings, SimulationMetrics, detect_primitive, explosion_threshold, judge
from benchgen.scene import SceneRecord
from benchgen.verdict import CheckFailure, RejectCode


def record(**overrides: Any) -> SceneRecord:
    data: dict[str, Any] = {
        "seed": 3,
        "scale": 0.5,
        "name": "judge",
        "description": "synthetic",
        "tier": "kinematic",
        "parts": [
            {
                "label": "flap",
                "material": "abs",
                "brep": "body_0.brep",
                "joint": {"kind": "slide", "axis": [0, 0, 1]},
            }
        ],
        "payload": {"label": "ball", "material": "steel", "brep": "body_1.brep", "start": [0, 0, 50]},
        "goal_zone": {"min": [-10, -10, 0], "max": [10, 10, 20], "name": "bin"},
        "build_zone": {"min": [-50, -50, 0], "max": [50, 50, 100]},
        "bounds": {"min": [-100, -100, 0], "max": [100, 100, 300]},
        "constraints": {"target_quantity": 10, "max_unit_cost": 5.0},
    }
    data.update(overrides)
    return SceneRecord.model_validate(data)


def metrics(**overrides: Any) -> SimulationMetrics:
    values: dict[str, Any] = {
        "seed": 0,
        "scale": 1.0,
        "steps": 1000,
        "max_speed": 1.0,
        "initial_penetration_mm": 0.0,
        "final_kinetic_energy": 0.0,
        "final_part_speed": 0.0,
        "slowest_settling_part": None,
        "payload_end_mm": (0.0, 0.0, 50.0),
        "payload_in_goal": False,
        "warnings": {},
    }
    values.update(overrides)
    return SimulationMetrics.model_validate(values)


SETTINGS = PhysicsSettings()


def test_a_settled_scene_with_the_payload_outside_the_goal_passes() -> None:
    judge(metrics(), record(), SETTINGS)
    # A part slower than the settle speed counts as settled.
    judge(metrics(slowest_settling_part="flap", final_part_speed=SETTINGS.settle_speed), record(), SETTINGS)


def test_a_part_still_moving_is_not_settled() -> None:
    with pytest.raises(CheckFailure) as raised:
        judge(metrics(slowest_settling_part="flap", final_part_speed=0.05), record(), SETTINGS)
    assert raised.value.code is RejectCode.NOT_SETTLED
    assert raised.value.message == "part 'flap' still moves at 50.0 mm/s after 2.0 s (seed=3, scale=0.5)"


def test_a_payload_that_ends_in_the_goal_unaided_is_trivial() -> None:
    with pytest.raises(CheckFailure) as raised:
        judge(metrics(payload_in_goal=True, payload_end_mm=(1.2, -3.0, 9.6)), record(), SETTINGS)
    assert raised.value.code is RejectCode.TRIVIAL
    assert raised.value.message == (
        "payload 'ball' ends inside goal zone 'bin' at (1, -3, 10) mm with no solver (seed=3, scale=0.5)"
    )


def test_not_settled_is_reported_before_trivial() -> None:
    moving = metrics(slowest_settling_part="flap", final_part_speed=1.0, payload_in_goal=True)
    with pytest.raises(CheckFailure) as raised:
        judge(moving, record(), SETTINGS)
    assert raised.value.code is RejectCode.NOT_SETTLED


def test_explosion_threshold_is_the_floor_or_a_multiple_of_the_free_fall_speed() -> None:
    assert explosion_threshold(record(), SETTINGS) == SETTINGS.explosion_speed_floor  # 0.3 m drop: 7.3 m/s
    tall = record(bounds={"min": [-100, -100, -100], "max": [100, 100, 2000]})
    expected = SETTINGS.explosion_factor * math.sqrt(2 * 9.81 * 2.1)  # from z=2000 mm down to -100 mm
    assert explosion_threshold(tall, SETTINGS) == pytest.approx(expected)
    assert expected > SETTINGS.explosion_speed_floor


# --- exact primitives ----------------------------------------------------------------------


def solid_of(shape: Any) -> SolidGeometry:
    """The solid as the checker's loader measures it (exact BREP faces, volume, box)."""
    from build123d import export_brep

    data = io.BytesIO()
    export_brep(shape, data)
    (solid,) = load_brep_bytes(data.getvalue(), "part", GeometrySettings())
    return solid


def test_a_box_is_an_exact_box_primitive() -> None:
    from build123d import Box, Pos

    primitive = detect_primitive(solid_of(Pos(1, 2, 3) * Box(10, 20, 30)))
    assert primitive is not None
    assert primitive.kind == "box"
    np.testing.assert_allclose(primitive.center, [1, 2, 3], atol=1e-6)
    np.testing.assert_allclose(primitive.size, [5, 10, 15], atol=1e-6)


def test_a_sphere_is_an_exact_sphere_primitive() -> None:
    from build123d import Pos, Sphere

    primitive = detect_primitive(solid_of(Pos(5, 6, 7) * Sphere(8)))
    assert primitive is not None
    assert primitive.kind == "sphere"
    np.testing.assert_allclose(primitive.center, [5, 6, 7], atol=1e-6)
    np.testing.assert_allclose(primitive.size, [8], atol=1e-6)


def test_hollow_rotated_and_cylindrical_solids_are_not_primitives() -> None:
    from build123d import Box, Cylinder, Rot

    assert detect_primitive(solid_of(Box(10, 10, 10) - Box(6, 6, 6))) is None  # 12 planar faces
    assert detect_primitive(solid_of(Rot(0, 0, 45) * Box(10, 10, 10))) is None  # not axis-aligned
    assert detect_primitive(solid_of(Cylinder(5, 10))) is None


def synthetic(
    faces: tuple[FaceSummary, ...], volume: float, lo: float = -5.0, hi: float = 5.0
) -> SolidGeometry:
    empty = TriMesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    return SolidGeometry(empty, volume, np.full(3, lo), np.full(3, hi), faces)


def box_faces(lo: float = -5.0, hi: float = 5.0) -> tuple[FaceSummary, ...]:
    faces = []
    for axis in range(3):
        for position, sign in ((lo, -1.0), (hi, 1.0)):
            origin, normal = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
            origin[axis], normal[axis] = position, sign
            faces.append(FaceSummary("plane", tuple(origin), tuple(normal)))  # type: ignore[arg-type]
    return tuple(faces)


def test_box_and_volume_alone_prove_nothing() -> None:
    assert detect_primitive(synthetic(box_faces(), 1000.0)) is not None
    assert detect_primitive(synthetic((), 1000.0)) is None  # no face summary
    assert detect_primitive(synthetic(box_faces(), 1000.0 * 0.9)) is None  # box faces, not filled (hollow)
    inner = box_faces()[:5] + (FaceSummary("plane", (0.0, 0.0, 2.0), (0.0, 0.0, 1.0)),)
    assert detect_primitive(synthetic(inner, 1000.0)) is None  # a plane inside the box
    ball_volume = 4 / 3 * math.pi * 5**3
    assert (
        detect_primitive(synthetic((FaceSummary("sphere", (0, 0, 0), (0, 0, 1), 5.0),), ball_volume))
        is not None
    )
    # A sphere face whose ball does not fill the box, or whose volume is wrong, is not a sphere.
    assert (
        detect_primitive(synthetic((FaceSummary("sphere", (0, 0, 0), (0, 0, 1), 4.0),), ball_volume)) is None
    )
    assert (
        detect_primitive(synthetic((FaceSummary("sphere", (0, 0, 0), (0, 0, 1), 5.0),), ball_volume / 2))
        is None
    )
    assert detect_primitive(synthetic(box_faces(), 0.0, 0.0, 0.0)) is None  # flat
