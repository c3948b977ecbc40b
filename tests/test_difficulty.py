"""The difficulty score on a hand-made scene: every term against its closed-form value."""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchgen.difficulty import TIER_BONUS, WEIGHTS, Difficulty
from benchgen.difficulty import budget_use as record_budget_use
from benchgen.difficulty import score as record_score
from benchgen.verdict import SolutionGate
from records import body_summaries, scene_record


def scene(**overrides: Any) -> dict[str, Any]:
    """A 100 mm cube workspace; payload at (10, 50, 10), goal centred at (90, 50, 50).

    The straight path runs through the fixed ``wall`` (x 45..50) and the forbid zone (x 60..70);
    the hinged ``lever`` stands on the path too but is movable, and ``shelf`` is off the path.
    """
    record: dict[str, Any] = {
        "tier": "kinematic",
        "bounds": {"min": [0, 0, 0], "max": [100, 100, 100]},
        "payload": {"label": "ball", "material": "steel", "start": [10, 50, 10]},
        "goal_zone": {"min": [80, 40, 40], "max": [100, 60, 60]},
        "forbid_zones": [{"min": [60, 40, 0], "max": [70, 60, 100]}],
        "parts": [
            {"label": "wall", "material": "abs", "joint": {"kind": "fixed"}},
            {"label": "shelf", "material": "abs", "joint": {"kind": "fixed"}},
            {"label": "lever", "material": "abs", "joint": {"kind": "hinge"}},
        ],
        "constraints": {"max_unit_cost": 20.0, "max_weight_g": 100.0},
    }
    record.update(overrides)
    return record


BODIES: dict[str, dict[str, Any]] = {
    "ball": {"bbox_min": [5, 45, 5], "bbox_max": [15, 55, 15]},
    "wall": {"bbox_min": [45, 0, 0], "bbox_max": [50, 100, 100]},
    "shelf": {"bbox_min": [0, 0, 90], "bbox_max": [10, 10, 100]},
    "lever": {"bbox_min": [30, 0, 0], "bbox_max": [35, 100, 100]},
}


def gate(values: dict[str, Any] | None) -> SolutionGate | None:
    """The solvability gate's result with the given cost and weight (everything else passing)."""
    if values is None:
        return None
    fields = {"passed": True, "success_rate": 1.0, "cost_usd": None, "weight_g": None}
    return SolutionGate.model_validate({**fields, "budget_headroom": None, "per_seed": [], **values})


def score(
    scene: dict[str, Any], bodies: dict[str, dict[str, Any]], solution: dict[str, Any] | None = None
) -> Difficulty:
    return record_score(scene_record(scene), body_summaries(bodies), gate(solution))


def budget_use(scene: dict[str, Any], solution: dict[str, Any] | None) -> float:
    return record_budget_use(scene_record(scene), gate(solution))


def test_every_term_has_its_closed_form_value() -> None:
    result = score(scene(), BODIES, {"cost_usd": 5.0, "weight_g": 50.0})
    distance = math.sqrt(80**2 + 40**2) / math.sqrt(3 * 100**2)
    assert result.terms["distance"] == pytest.approx(distance, abs=1e-4)
    assert result.terms["lift"] == pytest.approx(0.4)
    assert result.terms["blockers"] == 1.0  # the wall; the shelf is off the path, the lever is not fixed
    assert result.terms["hazards"] == 1.0
    assert result.terms["tightness"] == pytest.approx(0.5)  # 10 mm payload / 20 mm goal
    assert result.terms["budget"] == pytest.approx(0.5)  # weight 50/100 is tighter than cost 5/20
    assert result.terms["tier"] == TIER_BONUS["kinematic"] == 0.5
    expected = 1 + 2 * distance + 3 * 0.4 + 0.5 + 0.75 + 2 * 0.5 + 2 * 0.5 + 0.5
    assert result.score == pytest.approx(round(expected, 3))
    assert result.score == pytest.approx(6.983)


def test_score_is_one_plus_the_weighted_terms_plus_the_tier_bonus() -> None:
    for tier in ("spatial", "kinematic", "mechanism"):
        result = score(scene(tier=tier), BODIES)
        weighted = sum(WEIGHTS[k] * result.terms[k] for k in WEIGHTS)
        assert result.score == pytest.approx(1 + weighted + TIER_BONUS[tier], abs=2e-3)
        assert result.terms["tier"] == TIER_BONUS[tier]


def test_a_goal_below_the_start_has_no_lift_and_a_clear_path_no_blockers() -> None:
    low = scene(
        payload={"label": "ball", "material": "steel", "start": [10, 50, 80]},
        goal_zone={"min": [10, 70, 0], "max": [30, 90, 20]},
        forbid_zones=[],
    )
    result = score(low, BODIES)
    assert result.terms["lift"] == 0.0
    assert result.terms["blockers"] == 0.0  # the path stays at x 10..20, short of the wall
    assert result.terms["hazards"] == 0.0
    assert result.terms["budget"] == 0.0  # no reference solution


def test_tightness_is_capped_at_one() -> None:
    narrow = scene(goal_zone={"min": [85, 48, 40], "max": [95, 52, 60]})  # 4 mm wide, payload 10 mm
    assert score(narrow, BODIES).terms["tightness"] == 1.0


@pytest.mark.parametrize(
    ("solution", "constraints", "expected"),
    [
        (None, {"max_unit_cost": 20.0}, 0.0),
        ({"cost_usd": 0}, {"max_unit_cost": 20.0}, 0.0),
        ({"cost_usd": 5.0}, {"max_unit_cost": 20.0}, 0.25),
        ({"cost_usd": 5.0, "weight_g": 90.0}, {"max_unit_cost": 20.0}, 0.25),  # no weight limit
        ({"cost_usd": 5.0, "weight_g": 10.0}, {"max_unit_cost": 20.0, "max_weight_g": 100.0}, 0.25),
        ({"cost_usd": 50.0}, {"max_unit_cost": 20.0}, 1.0),  # capped
    ],
)
def test_budget_use(solution: dict[str, Any] | None, constraints: dict[str, float], expected: float) -> None:
    assert budget_use(scene(constraints=constraints), solution) == pytest.approx(expected)
