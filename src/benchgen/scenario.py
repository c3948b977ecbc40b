"""The scenario script contract: the types a scenario script builds and returns.

A scenario script is a Python file defining ``build(seed: int, scale: float = 1.0) ->
Scenario``. Units are millimetres and degrees; Z is up and gravity is -Z. A ground
plane at z=0 is always present in simulation. Every length in a scenario (shapes,
zones, anchors, slide ranges, jitter) scales with ``scale``; angles do not.

These types validate on construction so that an author gets a clear error at the
line that made the mistake. The checker never trusts that validation: it re-validates
the data the sandbox emits (see :mod:`benchgen.scene`) with the same rules.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass

from benchgen.materials import MATERIALS

Vec3 = tuple[float, float, float]
Tier = Literal["spatial", "kinematic", "mechanism"]
TIERS: tuple[str, ...] = ("spatial", "kinematic", "mechanism")

LABEL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,47}")
"""Labels name MJCF bodies and files, so they are plain identifiers; matched as a whole string."""

WORKING_RANGE_MM = 100_000.0
"""Every coordinate of a scene lies within ±100 m of the origin.

Beyond that, millimetre-scale contacts drown in floating-point noise (and no puzzle
needs it); the checker refuses such scenes instead of judging them imprecisely.
"""

FINITE = ConfigDict(allow_inf_nan=False)
"""Pydantic parses ``Infinity``/``NaN`` (JSON and strings) as floats by default; the contract refuses them."""


def check_label(label: str) -> str:
    """Validate a part or payload label (letters, digits, ``_``/``-``, at most 48 chars).

    ``fullmatch`` rather than ``match`` with ``$``, which would accept a trailing newline.
    """
    if not isinstance(label, str) or LABEL_PATTERN.fullmatch(label) is None:
        raise ValueError(
            f"invalid label {label!r}: use a letter followed by letters, digits, '_' or '-' (max 48)"
        )
    return label


def check_material(material: str) -> str:
    """Validate that a material id is in the library."""
    if material not in MATERIALS:
        raise ValueError(f"unknown material {material!r} (known: {', '.join(sorted(MATERIALS))})")
    return material


Label = Annotated[str, AfterValidator(check_label)]
"""A part or payload label, validated by :func:`check_label`."""
MaterialId = Annotated[str, AfterValidator(check_material)]
"""A material id from the library, validated by :func:`check_material`."""


def check_finite(values: tuple[float, ...], what: str) -> None:
    """Reject NaN and infinities, which would poison every later check."""
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{what} must be finite, got {values}")


def check_coordinates(values: tuple[float, ...], what: str) -> None:
    """Finite lengths within the working range (±:data:`WORKING_RANGE_MM`)."""
    check_finite(values, what)
    if any(abs(v) > WORKING_RANGE_MM for v in values):
        raise ValueError(f"{what} must lie within ±{WORKING_RANGE_MM:g} mm of the origin, got {values}")


def _check_axis(axis: Vec3) -> Vec3:
    check_finite(axis, "axis")
    if math.sqrt(sum(a * a for a in axis)) < 1e-9:
        raise ValueError("axis must be a non-zero vector")
    return axis


def _check_range(rng: tuple[float, float] | None) -> tuple[float, float] | None:
    if rng is not None:
        check_coordinates(rng, "range")
        if not rng[0] < rng[1]:
            raise ValueError(f"range must be (low, high) with low < high, got {rng}")
    return rng


@dataclass(frozen=True, config=FINITE)
class Zone:
    """An axis-aligned box from ``min`` to ``max`` corner, in millimetres."""

    min: Vec3
    max: Vec3
    name: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Zone:
        check_coordinates(self.min + self.max, f"zone {self.name!r} corners")
        for axis, lo, hi in zip("xyz", self.min, self.max, strict=True):
            if not lo < hi:
                raise ValueError(f"zone {self.name!r} is inverted or flat on {axis}: min {lo} >= max {hi}")
        return self

    @property
    def center(self) -> Vec3:
        """Centre of the box."""
        return tuple((a + b) / 2 for a, b in zip(self.min, self.max, strict=True))  # type: ignore[return-value]

    @property
    def size(self) -> Vec3:
        """Edge lengths of the box."""
        return tuple(b - a for a, b in zip(self.min, self.max, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True, config=FINITE)
class Hinge:
    """A revolute joint about ``axis`` through ``anchor``; ``range`` in degrees from the built pose."""

    anchor: Vec3
    axis: Vec3
    range: tuple[float, float] | None = None

    @field_validator("anchor")
    @classmethod
    def _anchor(cls, v: Vec3) -> Vec3:
        check_coordinates(v, "hinge anchor")
        return v

    @field_validator("axis")
    @classmethod
    def _axis(cls, v: Vec3) -> Vec3:
        return _check_axis(v)

    @field_validator("range")
    @classmethod
    def _range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return _check_range(v)


@dataclass(frozen=True, config=FINITE)
class Slide:
    """A prismatic joint along ``axis``; ``range`` in millimetres from the built pose."""

    axis: Vec3
    range: tuple[float, float] | None = None

    @field_validator("axis")
    @classmethod
    def _axis(cls, v: Vec3) -> Vec3:
        return _check_axis(v)

    @field_validator("range")
    @classmethod
    def _range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return _check_range(v)


Joint = Literal["fixed", "free"] | Hinge | Slide


@dataclass(frozen=True, config=FINITE)
class Constraints:
    """The solver's budget: how many units, at what unit cost (USD) and weight (grams)."""

    target_quantity: int = Field(gt=0)
    max_unit_cost: float = Field(gt=0)
    max_weight_g: float | None = Field(default=None, gt=0)


_SHAPES = ConfigDict(arbitrary_types_allowed=True, allow_inf_nan=False)


@dataclass(frozen=True, config=_SHAPES)
class Part:
    """A part of the scene: a build123d shape already placed in world coordinates."""

    label: Label
    shape: Any
    material: MaterialId = "aluminum_6061"
    joint: Joint = "fixed"


@dataclass(frozen=True, config=_SHAPES)
class Payload:
    """The object to deliver, modelled around its own origin and spawned at ``start`` ± ``jitter``."""

    label: Label
    shape: Any
    material: MaterialId = "abs"
    start: Vec3 = (0.0, 0.0, 0.0)
    jitter: Vec3 = (0.0, 0.0, 0.0)

    @model_validator(mode="after")
    def _vectors(self) -> Payload:
        check_coordinates(self.start, "payload start")
        check_coordinates(self.jitter, "payload jitter")
        if any(j < 0 for j in self.jitter):
            raise ValueError(f"payload jitter must be non-negative, got {self.jitter}")
        return self


def check_unique_labels(labels: list[str]) -> None:
    """Raise if two bodies share a label (labels name MJCF bodies and files).

    Labels that differ only in case are duplicates too: as file names they would
    overwrite each other on case-insensitive file systems.
    """
    seen: set[str] = set()
    for label in labels:
        if label.casefold() in seen:
            raise ValueError(f"duplicate label {label!r} (labels are compared ignoring case)")
        seen.add(label.casefold())


def check_params(params: dict[str, float]) -> None:
    """Params are the randomized values actually drawn: finite floats keyed by name."""
    for key, value in params.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"param {key!r} must be a finite number, got {value!r}")


@dataclass(frozen=True, config=_SHAPES)
class Scenario:
    """Everything a benchmark scene defines; returned by a script's ``build``."""

    name: str
    description: str
    tier: Tier
    parts: list[Part]
    payload: Payload
    goal_zone: Zone
    build_zone: Zone
    bounds: Zone
    constraints: Constraints
    forbid_zones: list[Zone] = Field(default_factory=list)
    params: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if not self.name.strip():
            raise ValueError("scenario name must not be empty")
        check_unique_labels([p.label for p in self.parts] + [self.payload.label])
        check_params(self.params)
        return self
