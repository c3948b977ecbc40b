"""A valid scenario script as a template, so each check test can break exactly one thing.

``scenario_source(before=..., parts=..., after=...)`` returns script text: ``before`` runs
after the randomized draws, ``parts`` right after the base parts list is made, ``after``
just before ``Scenario`` is constructed. Indentation is handled here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

TEMPLATE = '''\
"""Test scenario: deliver a ball from a platform into an open bin."""
import random

from build123d import Box, Pos, Sphere

from benchgen.scenario import Constraints, Hinge, Part, Payload, Scenario, Slide, Zone


def build(seed: int, scale: float = 1.0) -> Scenario:
    rng = random.Random(seed)
    s = scale
    bin_x = rng.uniform(-190.0, 190.0)
{before}
    wall = 6
    cavity = Pos(0, 0, wall * s) * Box((100 - 2 * wall) * s, (100 - 2 * wall) * s, 60 * s)
    bin_shape = Pos(bin_x * s, 80 * s, 30 * s) * (Box(100 * s, 100 * s, 60 * s) - cavity)
    platform = Pos(-150 * s, -100 * s, 50 * s) * Box(80 * s, 80 * s, 100 * s)
    parts = [Part("bin", bin_shape), Part("platform", platform, material="wood")]
{parts}
    start = (-150 * s, -100 * s, 116 * s)
    goal = Zone((bin_x * s - 44 * s, 36 * s, 6 * s), (bin_x * s + 44 * s, 124 * s, 60 * s), "bin")
    forbid = [Zone((0, -60 * s, 0), (60 * s, 0, 20 * s), "pit")]
    bounds = Zone((-250 * s, -200 * s, 0), (250 * s, 200 * s, 300 * s), "bounds")
    build_zone = Zone((-200 * s, -150 * s, 0), (200 * s, 30 * s, 200 * s), "build")
{after}
    return Scenario(
        name="ball to bin",
        description="Deliver the ball from the platform into the bin without touching the pit.",
        tier="spatial",
        parts=parts,
        payload=Payload("ball", Sphere(15 * s), start=start, jitter=(5 * s, 5 * s, 0)),
        goal_zone=goal,
        build_zone=build_zone,
        bounds=bounds,
        constraints=Constraints(target_quantity=100, max_unit_cost=20.0, max_weight_g=500.0),
        forbid_zones=forbid,
        params={{"bin_x": bin_x}},
    )
'''


def _indent(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") if code.strip() else ""


def scenario_source(before: str = "", parts: str = "", after: str = "", header: str = "") -> str:
    """The template with code inserted at the three hooks (and ``header`` at module level)."""
    body = TEMPLATE.format(before=_indent(before), parts=_indent(parts), after=_indent(after))
    return textwrap.dedent(header) + "\n" + body if header else body


def write_scenario(directory: Path, name: str, **hooks: str) -> Path:
    """Write a templated scenario to ``directory/name.py`` and return its path."""
    path = directory / f"{name}.py"
    path.write_text(scenario_source(**hooks))
    return path
