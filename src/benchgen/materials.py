"""The material library: density, friction, cost and display colour per material id.

Scenario scripts refer to materials by id (``Part(..., material="steel")``). The
physics model takes density and friction from here, the renderer the colour, and the
cost model the price per kilogram. An id that is not in the library is a contract
error.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field


class Material(BaseModel):
    """Physical and economic properties of one material (SI units, USD)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    density_kg_m3: float = Field(gt=0)
    friction: float = Field(ge=0, description="Sliding (Coulomb) friction coefficient")
    cost_per_kg_usd: float = Field(ge=0)
    rgba: tuple[float, float, float, float]


_LIBRARY: tuple[Material, ...] = (
    Material(
        id="aluminum_6061",
        name="Aluminium 6061-T6",
        density_kg_m3=2700,
        friction=0.6,
        cost_per_kg_usd=4.5,
        rgba=(0.72, 0.74, 0.78, 1.0),
    ),
    Material(
        id="steel",
        name="Structural steel",
        density_kg_m3=7850,
        friction=0.6,
        cost_per_kg_usd=1.2,
        rgba=(0.45, 0.47, 0.50, 1.0),
    ),
    Material(
        id="abs",
        name="ABS plastic",
        density_kg_m3=1040,
        friction=0.5,
        cost_per_kg_usd=2.5,
        rgba=(0.95, 0.55, 0.10, 1.0),
    ),
    Material(
        id="pla",
        name="PLA plastic",
        density_kg_m3=1240,
        friction=0.45,
        cost_per_kg_usd=2.0,
        rgba=(0.30, 0.55, 0.95, 1.0),
    ),
    Material(
        id="wood",
        name="Pine wood",
        density_kg_m3=500,
        friction=0.5,
        cost_per_kg_usd=1.5,
        rgba=(0.70, 0.52, 0.30, 1.0),
    ),
    Material(
        id="rubber",
        name="Natural rubber",
        density_kg_m3=1100,
        friction=1.0,
        cost_per_kg_usd=3.0,
        rgba=(0.15, 0.15, 0.15, 1.0),
    ),
)

MATERIALS: Mapping[str, Material] = MappingProxyType({m.id: m for m in _LIBRARY})
"""Read-only mapping from material id to :class:`Material`."""


def get_material(material_id: str) -> Material:
    """Return the material with this id, or raise ``KeyError`` naming the known ids."""
    try:
        return MATERIALS[material_id]
    except KeyError:
        known = ", ".join(sorted(MATERIALS))
        raise KeyError(f"unknown material {material_id!r} (known: {known})") from None
