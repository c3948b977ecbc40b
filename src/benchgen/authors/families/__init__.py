"""The offline author's puzzle families, one module each, registered here in a fixed order.

Each family module (``families/<name>.py``) is the one home of its family and exports:

- ``FAMILY``: its :class:`~benchgen.authors.families.base.Family` entry (name, tier,
  theme keywords, summary);
- ``choose(rng)``: its chooser, which draws the structural choices written as constants
  at the top of the script (:class:`~benchgen.authors.families.base.Const`);
- ``BODY``: the source of the script's ``build`` (it follows the shared ``HEAD``, ``FRAME``
  and ``FILL_LANE`` of :mod:`benchgen.authors.families.source`);
- ``SOLUTION``: the reference ``solution.py`` that solves every variant, or ``None``
  (``generate`` does not deal a family without one).

:data:`REGISTRY` lists the modules in the order :data:`FAMILIES` has; that order is part of
the output (the author draws a family by its index), so a new family goes at the end.
"""

from __future__ import annotations

from typing import Protocol

from benchgen.authors.families import (
    arch_tunnel,
    bowl_landing,
    drawer_slide,
    flap_gate,
    funnel_to_cup,
    gap_pit,
    lever_seesaw,
    obstacle_field,
    peg_in_hole,
    shelf_to_bin,
    step_up,
    table_push,
)
from benchgen.authors.families.base import Const, Family, Rng


class FamilyModule(Protocol):
    """What a family module exports (mypy holds every registered module to it)."""

    @property
    def __name__(self) -> str: ...

    @property
    def FAMILY(self) -> Family: ...  # noqa: N802

    @property
    def BODY(self) -> str: ...  # noqa: N802

    @property
    def SOLUTION(self) -> str | None: ...  # noqa: N802

    def choose(self, rng: Rng) -> list[Const]: ...


def _registry(*modules: FamilyModule) -> dict[str, FamilyModule]:
    """The modules by family name; each module is named after its family, and names are unique."""
    registry: dict[str, FamilyModule] = {}
    for module in modules:
        name = module.FAMILY.name
        if module.__name__.rpartition(".")[2] != name or name in registry:
            raise RuntimeError(f"family module {module.__name__} registers {name!r}")
        registry[name] = module
    return registry


REGISTRY: dict[str, FamilyModule] = _registry(
    shelf_to_bin,
    arch_tunnel,
    peg_in_hole,
    gap_pit,
    step_up,
    obstacle_field,
    lever_seesaw,
    drawer_slide,
    flap_gate,
    table_push,
    funnel_to_cup,
    bowl_landing,
)
"""Every family module by name, in the fixed order of :data:`FAMILIES`."""

FAMILIES: tuple[Family, ...] = tuple(module.FAMILY for module in REGISTRY.values())


def get(name: str) -> FamilyModule:
    """The module of the family called ``name`` (``KeyError`` if there is none)."""
    return REGISTRY[name]


def solution(name: str) -> str | None:
    """The reference ``solution.py`` source of one family, if it has one.

    A reference solution is a complete file: it reads only the :class:`benchgen.solution.SceneView`
    it is given, never the family's constants, so it shows that every variant can be solved.
    """
    return REGISTRY[name].SOLUTION


__all__ = ["FAMILIES", "REGISTRY", "Const", "Family", "FamilyModule", "get", "solution"]
