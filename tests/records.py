"""Hand-made check records for unit tests: a few fields in, valid typed records out.

Tests describe only what they are about (zones, a payload start, joint kinds); the helpers
fill in what the record types require and the test does not care about (BREP file names,
a hinge's anchor, the name, the quantity), so every record is one the checker could have made.
"""

from __future__ import annotations

import copy
from typing import Any

from benchgen.scene import SceneRecord
from benchgen.verdict import BodySummary

JOINT_DEFAULTS: dict[str, dict[str, Any]] = {
    "hinge": {"anchor": [0, 0, 0], "axis": [0, 1, 0]},
    "slide": {"axis": [1, 0, 0]},
}


def scene_record(fields: dict[str, Any]) -> SceneRecord:
    """A :class:`SceneRecord` from ``fields`` (the scene.json keys a test sets), completed."""
    data = copy.deepcopy(fields)
    parts = data.setdefault("parts", [])
    for index, part in enumerate(parts):
        part.setdefault("brep", f"body_{index}.brep")
        joint = part.setdefault("joint", {"kind": "fixed"})
        for key, value in JOINT_DEFAULTS.get(joint["kind"], {}).items():
            joint.setdefault(key, value)
    data["payload"].setdefault("brep", f"body_{len(parts)}.brep")
    data["payload"].setdefault("material", "steel")
    data.setdefault("seed", 0)
    data.setdefault("scale", 1.0)
    data.setdefault("name", "synthetic")
    data.setdefault("description", "a hand-made record")
    data.setdefault("tier", "spatial")
    data.setdefault("build_zone", data["bounds"])
    data.setdefault("constraints", {})
    data["constraints"].setdefault("target_quantity", 10)
    data["constraints"].setdefault("max_unit_cost", 5.0)
    return SceneRecord.model_validate(data)


def body_summaries(boxes: dict[str, dict[str, Any]]) -> dict[str, BodySummary]:
    """Body summaries from ``{label: {"bbox_min": ..., "bbox_max": ...}}`` (volume 0 unless given)."""
    return {label: BodySummary.model_validate({"volume_mm3": 0.0, **box}) for label, box in boxes.items()}


def manifest_fields(index: int, **overrides: Any) -> dict[str, Any]:
    """The fields of a manifest of the shape generate writes, for a benchmark nobody checked
    (``Manifest.model_validate(manifest_fields(3, family="gap_pit"))``)."""
    fields: dict[str, Any] = {
        "id": f"synthetic-{index:012d}",
        "name": f"synthetic {index}",
        "tier": "spatial",
        "theme": None,
        "description": "synthetic",
        "family": "synthetic",
        "target_quantity": 10,
        "max_unit_cost": 5.0,
        "max_weight_g": None,
        "params": {},
        "seeds": [0, 1],
        "scales": [0.5, 1.0, 2.0],
        "validation": {},
        "review": {
            "approved": True,
            "reasons": ["payload visible"],
            "payload_visible_views": 24,
            "goal_visible_views": 24,
            "clipped_views": 0,
            "blank_views": 0,
        },
        "difficulty": {"score": 2.0, "terms": {}},
        "signature": {"structure": f"synthetic-{index}", "features": [0.5]},
        "author": {"kind": "offline", "family": "synthetic"},
        "benchgen_version": "test",
        "content_hash": f"{index:064x}",
        "script_sha256": "0" * 64,
        "evaluated_with": {"benchgen_version": "test", "check_options_sha256": "0" * 64, "isolation": None},
        "candidate": {"index": index, "seed": 0, "run_key": "synthetic"},
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    fields.update(overrides)
    return fields
