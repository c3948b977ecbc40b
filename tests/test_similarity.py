"""Near-duplicate detection on hand-made check records: structure, features and tolerance."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from benchgen.similarity import DEFAULT_TOLERANCE, Signature, near_duplicate
from benchgen.similarity import signature as record_signature
from records import body_summaries, scene_record

SCENE: dict[str, Any] = {
    "tier": "spatial",
    "bounds": {"min": [0, 0, 0], "max": [200, 100, 100]},
    "payload": {"label": "ball", "material": "steel", "start": [20, 50, 80]},
    "goal_zone": {"min": [160, 30, 0], "max": [200, 70, 40]},
    "forbid_zones": [{"min": [100, 0, 0], "max": [120, 100, 10]}],
    "parts": [
        {"label": "ramp", "material": "abs", "joint": {"kind": "fixed"}},
        {"label": "flap", "material": "aluminum_6061", "joint": {"kind": "hinge"}},
    ],
}
BODIES: dict[str, dict[str, Any]] = {
    "ramp": {"bbox_min": [0, 20, 0], "bbox_max": [100, 80, 60]},
    "flap": {"bbox_min": [100, 20, 0], "bbox_max": [110, 80, 50]},
    "ball": {"bbox_min": [-5, -5, -5], "bbox_max": [5, 5, 5]},
}


def signature(scene: dict[str, Any], bodies: dict[str, dict[str, Any]]) -> Signature:
    return record_signature(scene_record(scene), body_summaries(bodies))


def test_signature_structure_and_normalised_features() -> None:
    sig = signature(SCENE, BODIES)
    # Parts sorted by (joint kind, material, label): fixed < hinge.
    assert sig.structure == "spatial|forbid=1|fixed:abs|hinge:aluminum_6061|payload:steel"
    assert sig.features == pytest.approx(
        [0.0, 0.2, 0.0, 0.5, 0.8, 0.6]  # ramp box / (200, 100, 100)
        + [0.5, 0.2, 0.0, 0.55, 0.8, 0.5]  # flap box
        + [0.1, 0.5, 0.8]  # payload start
        + [0.8, 0.3, 0.0, 1.0, 0.7, 0.4]  # goal zone
        + [0.5, 0.0, 0.0, 0.6, 1.0, 0.1]  # forbid zone
    )


def test_renamed_parts_and_a_nudge_are_duplicates() -> None:
    scene = copy.deepcopy(SCENE)
    bodies = copy.deepcopy(BODIES)
    scene["parts"][0]["label"] = "chute"
    bodies["chute"] = bodies.pop("ramp")
    scene["payload"]["start"] = [22, 51, 79]  # 2 mm on a 200 mm axis: 0.01 of the workspace
    a, b = signature(SCENE, BODIES), signature(scene, bodies)
    assert a.features != b.features
    assert near_duplicate(a, b)
    assert near_duplicate(b, a)


def test_a_move_beyond_the_tolerance_is_not_a_duplicate() -> None:
    scene = copy.deepcopy(SCENE)
    scene["goal_zone"] = {"min": [150, 30, 0], "max": [190, 70, 40]}  # 10 mm = 0.05 of 200 mm
    a, b = signature(SCENE, BODIES), signature(scene, BODIES)
    assert a.structure == b.structure
    assert not near_duplicate(a, b)
    assert near_duplicate(a, b, tolerance=0.05 + 1e-9)
    assert DEFAULT_TOLERANCE < 0.05


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(tier="kinematic"),
        lambda s: s["parts"][1].update(material="abs"),
        lambda s: s["parts"][1].update(joint={"kind": "slide"}),
        lambda s: s["payload"].update(material="abs"),
        lambda s: s.update(forbid_zones=[]),
    ],
    ids=["tier", "material", "joint", "payload material", "forbid count"],
)
def test_a_different_structure_is_never_a_duplicate(change: Any) -> None:
    scene = copy.deepcopy(SCENE)
    change(scene)
    a, b = signature(SCENE, BODIES), signature(scene, BODIES)
    assert a.structure != b.structure
    assert not near_duplicate(a, b, tolerance=10.0)


def test_same_structure_with_a_different_feature_count_is_not_a_duplicate() -> None:
    a = signature(SCENE, BODIES)
    b = a.model_copy(update={"features": a.features[:-1]})
    assert not near_duplicate(a, b, tolerance=10.0)
