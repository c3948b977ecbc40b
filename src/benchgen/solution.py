"""The solution contract: what a design for a benchmark is, and what a solver may look at.

A solution is a Python file that defines ``design(view: SceneView) -> Design``. It
runs, like a scenario script, only inside the sandbox: benchgen builds the benchmark's
variant, hands the solver a read-only :class:`SceneView` of it, and takes back a
:class:`Design` as data (``design.json`` plus one BREP file per part). The verdict on a
design (:mod:`benchgen.evaluate`) is computed by code that never imports the solution.

Units and frames are the scenario's: millimetres and degrees, Z up, world coordinates.
Motor speeds are deg/s (hinges) or mm/s (slides); motor efforts are N·m (hinges) or N
(slides), so that a designer can read them off a motor's data sheet.

The cost of a design is ``Σ volume × density × cost_per_kg`` over its parts (exact
volumes from the BREP, the material library's density and price); its weight is
``Σ volume × density``. Both are computed on the trusted side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from benchgen.scenario import (
    Constraints,
    Part,
    Tier,
    Vec3,
    Zone,
    check_finite,
    check_unique_labels,
)
from benchgen.scene import JointRecord, PartRecord

DESIGN_FILE = "design.json"
VIEW_FILE = "view.json"
PART_BREP_PATTERN = r"^part_[0-9]{1,4}\.brep$"
MAX_DESIGN_JSON_BYTES = 1_000_000
"""A design record is small; anything larger is refused before parsing."""
MAX_DESIGN_PARTS = 64
"""A design is a mechanism, not a voxel field: more parts than this is a contract error."""


# --- what a solver writes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Motor:
    """Drives the joint of one of the design's own parts at a constant speed with bounded effort.

    ``speed`` is deg/s for a hinge and mm/s for a slide (the sign picks the direction along
    the joint axis); ``max_effort`` is the most torque (N·m) or force (N) the motor can
    apply. Before ``start_s`` seconds of simulated time the motor holds its joint still
    (target speed 0, same effort limit); from then on it drives at ``speed``.
    """

    part: str
    speed: float
    max_effort: float = Field(gt=0)
    start_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _finite(self) -> Motor:
        check_finite((self.speed, self.max_effort, self.start_s), f"motor {self.part!r} speed/effort/start")
        return self


@dataclass(frozen=True, config=ConfigDict(arbitrary_types_allowed=True))
class Design:
    """A solver's answer for one variant: parts placed in the build zone, and motors."""

    parts: list[Part]
    motors: list[Motor] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if len(self.parts) > MAX_DESIGN_PARTS:
            raise ValueError(f"a design may have at most {MAX_DESIGN_PARTS} parts, got {len(self.parts)}")
        check_unique_labels([p.label for p in self.parts])
        joints = {p.label: p.joint for p in self.parts}
        driven: set[str] = set()
        for motor in self.motors:
            if motor.part not in joints:
                raise ValueError(f"motor drives {motor.part!r}, which is not a part of the design")
            if JointRecord.from_joint(joints[motor.part]).kind not in ("hinge", "slide"):
                raise ValueError(f"motor on {motor.part!r}: only a Hinge or Slide joint can be driven")
            if motor.part in driven:
                raise ValueError(f"two motors drive {motor.part!r}")
            driven.add(motor.part)
        return self


# --- what a solver may look at ----------------------------------------------------------------


class PartView(BaseModel):
    """One part of the variant: label, material, joint, world bounding box and exact shape."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    label: str
    material: str
    joint: JointRecord
    bbox_min: Vec3
    bbox_max: Vec3
    shape: Any = None
    """The part's exact shape (a build123d ``Shape``) in world coordinates, for geometry-aware designs."""


class PayloadView(BaseModel):
    """The payload: where it starts (``start`` ± ``jitter``), its size about its origin, its mass."""

    model_config = ConfigDict(frozen=True)

    label: str
    material: str
    start: Vec3
    jitter: Vec3
    bbox_min: Vec3
    """Lower corner of the payload's shape about its own origin (mm)."""
    bbox_max: Vec3
    mass_g: float

    @property
    def size(self) -> Vec3:
        """Edge lengths of the payload's bounding box (mm)."""
        return tuple(b - a for a, b in zip(self.bbox_min, self.bbox_max, strict=True))  # type: ignore[return-value]


class SceneView(BaseModel):
    """Everything a solver may know about one built variant of a benchmark (read-only)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    tier: Tier
    seed: int
    scale: float
    bounds: Zone
    build_zone: Zone
    goal_zone: Zone
    forbid_zones: list[Zone]
    constraints: Constraints
    params: dict[str, float]
    payload: PayloadView
    parts: list[PartView]

    def part(self, label: str) -> PartView:
        """The part with this label; ``KeyError`` naming the labels otherwise."""
        for part in self.parts:
            if part.label == label:
                return part
        raise KeyError(f"no part {label!r} (parts: {', '.join(p.label for p in self.parts)})")


# --- the data crossing the trust boundary -----------------------------------------------------


class ViewRecord(BaseModel):
    """A :class:`SceneView` as data (``view.json``): shapes travel as ``part_<i>.brep`` files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view: dict[str, Any]
    """The view's fields without shapes, as :meth:`SceneView.model_dump` gives them."""
    part_breps: list[str]


class MotorRecord(BaseModel):
    """A motor as data; re-validated with the contract's rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    part: str
    speed: float
    max_effort: float
    start_s: float = 0.0

    @model_validator(mode="after")
    def _contract(self) -> MotorRecord:
        Motor(part=self.part, speed=self.speed, max_effort=self.max_effort, start_s=self.start_s)
        return self


class DesignRecord(BaseModel):
    """One design as data (``design.json``): what ``design(view)`` returned, minus the shapes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    scale: float
    parts: list[PartRecord] = Field(max_length=MAX_DESIGN_PARTS)
    """Design parts; their BREP files are named like a scene's (``body_<i>.brep``) in the design's own directory."""
    motors: list[MotorRecord] = Field(default_factory=list, max_length=MAX_DESIGN_PARTS)

    @model_validator(mode="after")
    def _consistent(self) -> DesignRecord:
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive finite number, got {self.scale}")
        check_unique_labels([p.label for p in self.parts])
        breps = [p.brep for p in self.parts]
        if len(set(breps)) != len(breps):
            raise ValueError("two design parts share one BREP file")
        kinds = {p.label: p.joint.kind for p in self.parts}
        driven = [m.part for m in self.motors]
        if len(set(driven)) != len(driven):
            raise ValueError("two motors drive the same part")
        for motor in self.motors:
            if kinds.get(motor.part) not in ("hinge", "slide"):
                raise ValueError(f"motor on {motor.part!r}: not a hinged or sliding part of the design")
        return self


def design_record(design: Design, seed: int, scale: float) -> DesignRecord:
    """Convert a contract :class:`Design` into its record (BREP names ``body_<i>.brep``)."""
    return DesignRecord(
        seed=seed,
        scale=scale,
        parts=[
            PartRecord(
                label=part.label,
                material=part.material,
                joint=JointRecord.from_joint(part.joint),
                brep=f"body_{index}.brep",
            )
            for index, part in enumerate(design.parts)
        ],
        motors=[
            MotorRecord(part=m.part, speed=m.speed, max_effort=m.max_effort, start_s=m.start_s)
            for m in design.motors
        ],
    )


def load_view(directory: Path) -> SceneView:
    """Rebuild a :class:`SceneView` from ``view.json`` and its ``part_<i>.brep`` files (sandbox side)."""
    from build123d import import_brep

    record = ViewRecord.model_validate_json((directory / VIEW_FILE).read_bytes())
    data = dict(record.view)
    parts = []
    for part, brep in zip(data.pop("parts"), record.part_breps, strict=True):
        parts.append(PartView(**part, shape=import_brep(str(directory / brep))))
    return SceneView(**data, parts=parts)
