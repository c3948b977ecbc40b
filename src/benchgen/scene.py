"""The data a sandboxed build emits: a scene as JSON plus one BREP file per body.

This is the trust boundary. The sandbox turns a script's :class:`benchgen.scenario.Scenario`
into a :class:`SceneRecord` (``scene.json``) and BREP files; the checker reads only
these, re-validating every field with the same rules the contract states, and never
imports the script.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchgen.scenario import (
    Constraints,
    Hinge,
    Label,
    MaterialId,
    Slide,
    Tier,
    Vec3,
    Zone,
    check_coordinates,
    check_params,
    check_unique_labels,
)

SCENE_FILE = "scene.json"
BREP_NAME_PATTERN = r"^body_[0-9]{1,4}\.brep$"
MAX_SCENE_JSON_BYTES = 2_000_000
"""A scene definition is small; anything larger is refused before parsing."""

RECORD_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
"""Untrusted JSON: no unknown keys, and no ``Infinity``/``NaN`` (which pydantic accepts by default)."""


class JointRecord(BaseModel):
    """A joint in explicit form: the kind plus the fields that kind uses."""

    model_config = RECORD_CONFIG

    kind: Literal["fixed", "free", "hinge", "slide"]
    anchor: Vec3 | None = None
    axis: Vec3 | None = None
    range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _fields_match_kind(self) -> JointRecord:
        # Re-running the contract's constructors applies the same axis/range rules.
        if self.kind == "hinge":
            if self.anchor is None or self.axis is None:
                raise ValueError("a hinge needs anchor and axis")
            Hinge(anchor=self.anchor, axis=self.axis, range=self.range)
        elif self.kind == "slide":
            if self.axis is None:
                raise ValueError("a slide needs an axis")
            Slide(axis=self.axis, range=self.range)
        elif self.anchor is not None or self.axis is not None or self.range is not None:
            raise ValueError(f"a {self.kind} joint takes no anchor, axis or range")
        return self

    @classmethod
    def from_joint(cls, joint: object) -> JointRecord:
        """Convert a contract joint (``"fixed"``, ``"free"``, :class:`Hinge`, :class:`Slide`)."""
        if isinstance(joint, Hinge):
            return cls(kind="hinge", anchor=joint.anchor, axis=joint.axis, range=joint.range)
        if isinstance(joint, Slide):
            return cls(kind="slide", axis=joint.axis, range=joint.range)
        if joint in ("fixed", "free"):
            return cls(kind=joint)  # type: ignore[arg-type]
        raise ValueError(f"joint must be 'fixed', 'free', Hinge or Slide, got {joint!r}")

    @property
    def movable(self) -> bool:
        """Whether the body can move in simulation."""
        return self.kind != "fixed"


class BodyRecord(BaseModel):
    """A body: label, material and the BREP file (inside the build directory) holding its shape."""

    model_config = RECORD_CONFIG

    label: Label
    material: MaterialId
    brep: str = Field(pattern=BREP_NAME_PATTERN)


class PartRecord(BodyRecord):
    """A part, placed in world coordinates, with its joint."""

    joint: JointRecord


class PayloadRecord(BodyRecord):
    """The payload, modelled around its origin, spawned at ``start`` plus a seeded offset in ``±jitter``."""

    start: Vec3
    jitter: Vec3 = (0.0, 0.0, 0.0)

    @model_validator(mode="after")
    def _vectors(self) -> PayloadRecord:
        check_coordinates(self.start + self.jitter, "payload start/jitter")
        if any(j < 0 for j in self.jitter):
            raise ValueError(f"payload jitter must be non-negative, got {self.jitter}")
        return self


class SceneRecord(BaseModel):
    """One built scene as data: what ``build(seed, scale)`` returned, minus the shapes."""

    model_config = RECORD_CONFIG

    seed: int
    scale: float
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=20_000)
    tier: Tier
    parts: list[PartRecord]
    payload: PayloadRecord
    goal_zone: Zone
    build_zone: Zone
    bounds: Zone
    constraints: Constraints
    forbid_zones: list[Zone] = Field(default_factory=list)
    params: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SceneRecord:
        check_unique_labels([p.label for p in self.parts] + [self.payload.label])
        check_params(self.params)
        breps = [p.brep for p in self.parts] + [self.payload.brep]
        if len(set(breps)) != len(breps):
            raise ValueError("two bodies share one BREP file")
        return self

    @property
    def bodies(self) -> list[BodyRecord]:
        """All parts followed by the payload."""
        return [*self.parts, self.payload]

    def zones(self) -> list[tuple[str, Zone]]:
        """Every zone with its role: goal, build, forbid."""
        named: list[tuple[str, Zone]] = [("goal", self.goal_zone), ("build", self.build_zone)]
        named += [("forbid", z) for z in self.forbid_zones]
        return named
