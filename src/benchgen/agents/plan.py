"""The plan gate between planner and coder: cheap, mechanical checks of plan.md and todo.md.

A plan passes when both files exist, plan.md has substance, names at least
``MIN_RANGED_PARAMETERS`` parameters with numeric ranges (one per line, e.g.
``- bin_x: 160..250 mm``), and says how randomized parts are kept from colliding.
Anything else goes back to the planner as feedback.
"""

from __future__ import annotations

import re

MIN_PLAN_CHARS = 300
MIN_RANGED_PARAMETERS = 2

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
RANGE_PATTERN = re.compile(
    rf"(?:{_NUMBER})\s*(?:\.\.\.?|…|–|—|\bto\b)\s*(?:{_NUMBER})"  # 140..190, 140 – 190, 140 to 190
    rf"|(?<![\w.])\d+(?:\.\d+)?\s?-\s?{_NUMBER}(?![\w.])"  # 140-190, 140 - -20
    rf"|[\[(]\s*{_NUMBER}\s*[,;]\s*{_NUMBER}\s*[\])]"  # [140, 190], (140, 190)
)
PARAMETER_LINE = re.compile(r"[A-Za-z_][A-Za-z0-9_ ]*")
COLLISION_WORDS = re.compile(r"collision|collide|overlap|intersect|clearance|interpenetrat", re.IGNORECASE)


def ranged_parameter_lines(plan: str) -> list[str]:
    """Lines of the plan that name something and give it a numeric range."""
    return [
        line.strip()
        for line in plan.splitlines()
        if RANGE_PATTERN.search(line) and PARAMETER_LINE.search(line)
    ]


def plan_problems(plan: str | None, todo: str | None) -> list[str]:
    """What is wrong with the plan, as instructions for the planner (empty when it passes)."""
    problems = []
    if plan is None or not plan.strip():
        problems.append("/plan.md is missing or empty: write it with write_file.")
    else:
        if len(plan.strip()) < MIN_PLAN_CHARS:
            problems.append(
                f"/plan.md is too short ({len(plan.strip())} characters): describe objects, randomization and collision avoidance."
            )
        ranged = ranged_parameter_lines(plan)
        if len(ranged) < MIN_RANGED_PARAMETERS:
            problems.append(
                f"/plan.md lists {len(ranged)} randomized parameter(s) with a numeric range; list at least "
                f"{MIN_RANGED_PARAMETERS}, one per line, like '- bin_x: 160..250 mm (uniform)'."
            )
        if not COLLISION_WORDS.search(plan):
            problems.append(
                "/plan.md does not say how randomized parts avoid collisions: add a 'Collision avoidance' section "
                "(slots, derived positions, clearances) covering every draw."
            )
    if todo is None or not todo.strip():
        problems.append("/todo.md is missing or empty: write the coder's checklist.")
    return problems
