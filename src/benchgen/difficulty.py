"""A documented difficulty score for an accepted benchmark, computed from its seed-0 scene.

difficulty = 1
           + 2.0 · distance      (start → goal centre, as a fraction of the workspace diagonal)
           + 3.0 · lift          (how far the goal centre is above the start, fraction of workspace height; ≥ 0)
           + 0.5 · blockers      (fixed parts whose box the straight start→goal segment crosses)
           + 0.75 · hazards      (forbid zones the straight start→goal segment crosses)
           + 2.0 · tightness     (payload width / smallest horizontal goal width, capped at 1)
           + 2.0 · budget        (how much of its budget the reference solution needs: the larger of
                                  cost / max_unit_cost and weight / max_weight_g, capped at 1;
                                  1 / headroom, 0 when no reference was judged)
           + tier bonus          (spatial 0, kinematic 0.5, mechanism 1.0)

Each term is recorded so the score can be audited and re-weighted later.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from benchgen.scene import SceneRecord
from benchgen.verdict import BodySummary, SolutionGate

TIER_BONUS = {"spatial": 0.0, "kinematic": 0.5, "mechanism": 1.0}
WEIGHTS = {"distance": 2.0, "lift": 3.0, "blockers": 0.5, "hazards": 0.75, "tightness": 2.0, "budget": 2.0}


class Difficulty(BaseModel):
    """The score and its terms."""

    score: float
    terms: dict[str, float]


def _segment_hits_box(a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Slab test: does the segment a→b pass through the box [lo, hi]?"""
    direction = b - a
    t0, t1 = 0.0, 1.0
    for axis in range(3):
        if abs(direction[axis]) < 1e-12:
            if not lo[axis] <= a[axis] <= hi[axis]:
                return False
            continue
        ta, tb = (lo[axis] - a[axis]) / direction[axis], (hi[axis] - a[axis]) / direction[axis]
        t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
        if t0 > t1:
            return False
    return True


def budget_use(scene: SceneRecord, solution: SolutionGate | None) -> float:
    """The fraction of its budget the reference solution needs (cost or weight, whichever is tighter)."""
    if solution is None or not solution.cost_usd:
        return 0.0
    constraints = scene.constraints
    use = solution.cost_usd / constraints.max_unit_cost
    if solution.weight_g and constraints.max_weight_g:
        use = max(use, solution.weight_g / constraints.max_weight_g)
    return min(use, 1.0)


def score(
    scene: SceneRecord, bodies: dict[str, BodySummary], solution: SolutionGate | None = None
) -> Difficulty:
    """Score a check report's seed-0 scene given its body summaries and, when the solvability
    gate ran, the gate's result."""
    bounds_lo, bounds_hi = np.array(scene.bounds.min), np.array(scene.bounds.max)
    size = bounds_hi - bounds_lo
    start = np.array(scene.payload.start, dtype=float)
    goal_lo, goal_hi = np.array(scene.goal_zone.min), np.array(scene.goal_zone.max)
    goal = (goal_lo + goal_hi) / 2
    payload = bodies[scene.payload.label]
    payload_width = float(np.max(np.array(payload.bbox_max[:2]) - np.array(payload.bbox_min[:2])))
    fixed = [p.label for p in scene.parts if p.joint.kind == "fixed"]
    blockers = sum(
        _segment_hits_box(start, goal, np.array(bodies[label].bbox_min), np.array(bodies[label].bbox_max))
        for label in fixed
    )
    hazards = sum(
        _segment_hits_box(start, goal, np.array(z.min), np.array(z.max)) for z in scene.forbid_zones
    )
    terms = {
        "distance": float(np.linalg.norm(goal - start) / np.linalg.norm(size)),
        "lift": float(max(goal[2] - start[2], 0.0) / size[2]),
        "blockers": float(blockers),
        "hazards": float(hazards),
        "tightness": float(min(payload_width / max(float(np.min(goal_hi[:2] - goal_lo[:2])), 1e-9), 1.0)),
        "budget": budget_use(scene, solution),
    }
    total = 1.0 + sum(WEIGHTS[k] * v for k, v in terms.items()) + TIER_BONUS.get(scene.tier, 0.0)
    terms["tier"] = TIER_BONUS.get(scene.tier, 0.0)
    return Difficulty(score=round(total, 3), terms={k: round(v, 4) for k, v in terms.items()})
