"""The geometric checks on synthetic scenes: boxes made with manifold3d, no BREP, no sandbox.

Every body is an axis-aligned box, so each overlap volume is known in closed form. The
payload is a 20 mm cube at (-50, -50, 40) with ±2 mm jitter in x and y: its start envelope
is the box x, y ∈ [-62, -38], z ∈ [30, 50].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import manifold3d as m3
import numpy as np
import pytest

from benchgen.geometry import (
    BodyGeometry,
    GeometrySettings,
    LoadedScene,
    SolidGeometry,
    TriMesh,
    check_bounds,
    check_intersections,
    check_zones,
    jitter_corners,
    lowest_centre_height,
)
from benchgen.scene import SceneRecord
from benchgen.verdict import CheckFailure, RejectCode

SETTINGS = GeometrySettings()
Box = tuple[tuple[float, float, float], tuple[float, float, float]]


def box_body(label: str, lo: tuple[float, float, float], hi: tuple[float, float, float]) -> BodyGeometry:
    low, high = np.array(lo, dtype=float), np.array(hi, dtype=float)
    mesh64 = m3.Manifold.cube(tuple(high - low)).translate(tuple(low)).to_mesh64()
    mesh = TriMesh(
        np.array(mesh64.vert_properties, dtype=np.float64)[:, :3].copy(),  # writable, as Mesh64 needs
        np.array(mesh64.tri_verts, dtype=np.int64).reshape(-1, 3),
    )
    volume = float(np.prod(high - low))
    solid = SolidGeometry(mesh, volume, low, high, centroid=(low + high) / 2)
    return BodyGeometry(label, [solid], volume, low, high, (low + high) / 2, "")


PARTS: dict[str, Box] = {
    "base": ((-80, -80, 0), (80, 80, 10)),
    "post": ((40, 40, 10), (60, 60, 50)),  # touches the base: no overlap
}


def scene(parts: dict[str, Box] | None = None, **overrides: Any) -> LoadedScene:
    parts = PARTS if parts is None else parts
    data: dict[str, Any] = {
        "seed": 0,
        "scale": 1.0,
        "name": "boxes",
        "description": "synthetic",
        "tier": "spatial",
        "parts": [
            {"label": label, "material": "abs", "brep": f"body_{i}.brep", "joint": {"kind": "fixed"}}
            for i, label in enumerate(parts)
        ],
        "payload": {
            "label": "cube",
            "material": "steel",
            "brep": "body_99.brep",
            "start": [-50, -50, 40],
            "jitter": [2, 2, 0],
        },
        "goal_zone": {"min": [-20, -20, 10], "max": [20, 20, 40], "name": "goal"},
        "forbid_zones": [{"min": [40, -80, 10], "max": [80, -40, 30], "name": "pit"}],
        "build_zone": {"min": [-80, -80, 10], "max": [80, 80, 90], "name": "build"},
        "bounds": {"min": [-100, -100, 0], "max": [100, 100, 100], "name": "bounds"},
        "constraints": {"target_quantity": 10, "max_unit_cost": 5.0},
    }
    data.update(overrides)
    bodies = {label: box_body(label, *box) for label, box in parts.items()}
    bodies["cube"] = box_body("cube", (-10, -10, -10), (10, 10, 10))
    return LoadedScene(SceneRecord.model_validate(data), Path("."), bodies)


def failure(check: Any, loaded: LoadedScene) -> CheckFailure:
    with pytest.raises(CheckFailure) as raised:
        check(loaded, SETTINGS)
    return raised.value


def test_the_envelope_is_the_payload_swept_over_its_jitter() -> None:
    lo, hi = scene().envelope.aabb
    np.testing.assert_allclose(lo, [-62, -62, 30])
    np.testing.assert_allclose(hi, [-38, -38, 50])
    assert scene().envelope.signed_volume == pytest.approx(24 * 24 * 20)
    assert len(jitter_corners((2, 2, 0))) == 4
    assert lowest_centre_height(scene().payload) == pytest.approx(10.0)


def test_a_valid_scene_passes_every_check() -> None:
    loaded = scene()
    check_bounds(loaded, SETTINGS)
    check_zones(loaded, SETTINGS)
    check_intersections(loaded, SETTINGS)


def test_a_part_beyond_bounds() -> None:
    error = failure(check_bounds, scene({**PARTS, "post": ((90, 40, 10), (110, 60, 50))}))
    assert error.code is RejectCode.OUT_OF_BOUNDS
    assert "part 'post' lies outside bounds" in error.message
    assert "x=110.0 > bounds max 100.0" in error.message


def test_a_part_in_the_ground_even_when_bounds_allow_it() -> None:
    deep = {"min": [-100, -100, -50], "max": [100, 100, 100]}
    error = failure(check_bounds, scene({**PARTS, "post": ((40, 40, -5), (60, 60, 50))}, bounds=deep))
    assert error.code is RejectCode.OUT_OF_BOUNDS
    assert "reaches z=-5.00 mm, into the ground" in error.message


def test_a_payload_envelope_beyond_bounds_or_in_the_ground() -> None:
    payload = {
        "label": "cube",
        "material": "steel",
        "brep": "body_99.brep",
        "start": [-92, -50, 40],
        "jitter": [2, 2, 0],
    }
    error = failure(check_bounds, scene(payload=payload))
    assert error.code is RejectCode.OUT_OF_BOUNDS
    assert "payload 'cube' start envelope lies outside bounds" in error.message
    assert "x=-104.0 < bounds min -100.0" in error.message
    low = {**payload, "start": [-50, -50, 5]}
    deep = {"min": [-100, -100, -50], "max": [100, 100, 100]}
    error = failure(check_bounds, scene(payload=low, bounds=deep))
    assert "can start at z=-5.00 mm (jitter included), into the ground" in error.message


def test_zone_conflicts() -> None:
    outside = failure(
        check_zones, scene(build_zone={"min": [-80, -80, 10], "max": [80, 80, 120], "name": "build"})
    )
    assert outside.code is RejectCode.ZONE_CONFLICT
    assert outside.message.startswith("build zone 'build' is not inside bounds")

    goal_in_forbid = [{"min": [0, 0, 10], "max": [30, 30, 30], "name": "pit"}]
    overlap = failure(check_zones, scene(forbid_zones=goal_in_forbid))
    assert overlap.message.startswith("goal zone 'goal' overlaps forbid zone 'pit'")

    under_start = [{"min": [-60, -60, 30], "max": [-40, -40, 35], "name": "trap"}]
    spawn = failure(check_zones, scene(forbid_zones=under_start))
    assert spawn.message.startswith("payload start envelope enters forbid zone 'trap'")
    assert "(2000.0 mm³)" in spawn.message  # 20 × 20 × 5


def test_a_goal_the_payload_centre_cannot_reach() -> None:
    low_goal = {"min": [-20, -20, 0], "max": [20, 20, 5], "name": "slot"}
    error = failure(check_zones, scene(goal_zone=low_goal))
    assert error.code is RejectCode.ZONE_CONFLICT
    assert "tops out at z=5.0 mm" in error.message
    assert "cannot get lower than 10.0 mm" in error.message

    filled = {"min": [40, 40, 10], "max": [60, 60, 50], "name": "post"}  # exactly the post
    error = failure(check_zones, scene(goal_zone=filled))
    assert "is filled by fixed parts" in error.message
    assert "0.0 mm³ of it is free" in error.message


def test_overlapping_parts_intersect_and_touching_ones_do_not() -> None:
    error = failure(check_intersections, scene({**PARTS, "post": ((40, 40, 5), (60, 60, 50))}))
    assert error.code is RejectCode.INTERSECTION
    assert error.message.startswith("parts 'base' and 'post' overlap by 2000.0 mm³")  # 20 × 20 × 5
    # 20 × 20 × 0.001 = 0.4 mm³ is under min_overlap_mm3: touching.
    check_intersections(scene({**PARTS, "post": ((40, 40, 9.999), (60, 60, 50))}), SETTINGS)


def test_a_part_in_the_payload_start_envelope_intersects() -> None:
    error = failure(check_intersections, scene({**PARTS, "post": ((-55, -55, 10), (-45, -45, 60))}))
    assert error.code is RejectCode.INTERSECTION
    assert error.message.startswith(
        "part 'post' overlaps payload 'cube' at its start (jitter included) by 2000.0 mm³"
    )
