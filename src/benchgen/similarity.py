"""Near-duplicate detection between benchmarks, independent of who wrote them.

Two benchmarks are near-duplicates when their seed-0 scenes have the same *structure*
(tier, and the same bodies with the same joint kinds and materials) and every geometric
feature agrees within ``tolerance`` of the workspace size: each body's bounding box,
the payload start, and the goal and forbid zones. Scripts that differ only in comments,
names or a nudge of a few millimetres are therefore duplicates; a different layout is not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from benchgen.scene import SceneRecord
from benchgen.verdict import BodySummary

DEFAULT_TOLERANCE = 0.03


class Signature(BaseModel):
    """What two scenes are compared on: a structure key and features normalised to the workspace."""

    structure: str
    features: list[float]


def signature(scene: SceneRecord, bodies: dict[str, BodySummary]) -> Signature:
    """Build the signature from a check report's seed-0 scene and its body summaries."""
    lo, hi = np.array(scene.bounds.min), np.array(scene.bounds.max)
    size = hi - lo

    def norm(point: Sequence[float]) -> list[float]:
        return [float(v) for v in (np.array(point) - lo) / size]

    parts = sorted(scene.parts, key=lambda p: (p.joint.kind, p.material, p.label))
    structure = "|".join(
        [scene.tier, f"forbid={len(scene.forbid_zones)}"]
        + [f"{p.joint.kind}:{p.material}" for p in parts]
        + [f"payload:{scene.payload.material}"]
    )
    features: list[float] = []
    for part in parts:
        features += norm(bodies[part.label].bbox_min) + norm(bodies[part.label].bbox_max)
    features += norm(scene.payload.start)
    for zone in [scene.goal_zone, *sorted(scene.forbid_zones, key=lambda z: z.min)]:
        features += norm(zone.min) + norm(zone.max)
    return Signature(structure=structure, features=[round(f, 5) for f in features])


def near_duplicate(a: Signature, b: Signature, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Same structure and every feature within ``tolerance`` (a fraction of the workspace)."""
    if a.structure != b.structure or len(a.features) != len(b.features):
        return False
    return bool(np.max(np.abs(np.array(a.features) - np.array(b.features)), initial=0.0) <= tolerance)
