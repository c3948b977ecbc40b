"""The offline author: writes real scenario scripts procedurally, with no language model.

Each *family* is a reviewed ``build`` template (see :mod:`benchgen.authors.templates`)
that refers to named constants. The author's random generator picks a family and then
its structural choices (obstacle count and shape, materials, whether there is a
forbidden pit, the ranges the script draws from, ...) and writes them as constants at
the top of the script. The script's own ``build(seed, scale)`` then draws per-seed
values inside those ranges. The output follows exactly the contract an LLM author must
follow, so it goes through the same checker.

Every family lays its scene out in a canonical frame (start on -x, goal on +x) and
mirrors it on odd seeds, which guarantees the checker's randomization bar for any
choices the author makes here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from string import Template
from typing import Any, Literal

import numpy as np
from build123d import Location
from pydantic import BaseModel, Field

from benchgen.authors import templates
from benchgen.errors import UsageError
from benchgen.materials import MATERIALS
from benchgen.scenario import Scenario, Zone

ConstValue = float | int | str | bool | tuple[float, float]


class Family(BaseModel):
    """A kind of puzzle the offline author can write."""

    name: str
    tier: Literal["spatial", "kinematic", "mechanism"]
    keywords: tuple[str, ...]
    summary: str


FAMILIES: tuple[Family, ...] = (
    Family(
        name="shelf_to_bin",
        tier="spatial",
        keywords=("shelf", "bin", "container", "concave", "ramp", "roll", "ball", "chute"),
        summary="A ball rolls off a sloped launch shelf; deliver it into an open bin on the floor.",
    ),
    Family(
        name="arch_tunnel",
        tier="spatial",
        keywords=("arch", "tunnel", "wall", "opening", "doorway", "block", "pocket"),
        summary="Route a dropped block through an arched opening in a wall into a kerbed pocket behind it.",
    ),
    Family(
        name="peg_in_hole",
        tier="spatial",
        keywords=("peg", "hole", "socket", "insertion", "fit", "clearance", "assembly"),
        summary="Seat a dropped peg upright in a blind hole of a socket block with little radial play.",
    ),
    Family(
        name="gap_pit",
        tier="spatial",
        keywords=("gap", "pit", "chasm", "bridge", "ledge", "forbidden", "cross"),
        summary="Carry a ball that rolls off a high ledge across a forbidden pit onto a lower ledge.",
    ),
    Family(
        name="step_up",
        tier="spatial",
        keywords=("stairs", "stair", "staircase", "step", "steps", "landing", "climb"),
        summary="Lower a block released up high onto the landing at the top of a staircase.",
    ),
    Family(
        name="obstacle_field",
        tier="spatial",
        keywords=("obstacle", "obstacles", "field", "posts", "clutter", "avoid", "pen", "maze"),
        summary="Thread a dropped payload past posts and blocks into a kerbed pen on the floor.",
    ),
    Family(
        name="lever_seesaw",
        tier="kinematic",
        keywords=("lever", "seesaw", "see-saw", "plank", "pivot", "hinge", "hinged", "tipping", "balance"),
        summary="A hinged plank on a post, resting on its stop, tips a ball into a bin or back at you.",
    ),
    Family(
        name="drawer_slide",
        tier="kinematic",
        keywords=("drawer", "slide", "slider", "rail", "runner", "prismatic", "cabinet"),
        summary="Land a ball in a half-open drawer that slides freely on its runners in a cabinet.",
    ),
    Family(
        name="flap_gate",
        tier="kinematic",
        keywords=("gate", "flap", "door", "hinge", "hinged", "one-way", "trapdoor", "wall"),
        summary="Push a ball through a one-way hinged flap in a wall into the pocket behind it.",
    ),
    Family(
        name="table_push",
        tier="mechanism",
        keywords=(
            "push",
            "pusher",
            "motor",
            "motorised",
            "motorized",
            "actuator",
            "table",
            "conveyor",
            "mechanism",
        ),
        summary="A ball rests on a flat table; only a driven mechanism can move it into the bin beyond.",
    ),
    Family(
        name="funnel_to_cup",
        tier="spatial",
        keywords=("funnel", "cup", "cone", "outlet", "drop", "pour", "hopper", "round", "curved"),
        summary="A ball is released in mid-air; get it into a funnel on legs that empties into a cup.",
    ),
    Family(
        name="bowl_landing",
        tier="spatial",
        keywords=("bowl", "dish", "basin", "round", "curved", "land", "landing", "shelf", "roll", "ball"),
        summary="A ball rolls off a sloped shelf; land it in a round-bottomed bowl on the floor.",
    ),
)

_STOPWORDS = frozenset({"the", "and", "for", "with", "into", "onto", "from", "that", "this", "its", "off"})


class NoFamilyMatches(UsageError, ValueError):
    """No family matches the requested theme and tier; the message lists what exists."""


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9-]*", text.lower()) if w not in _STOPWORDS}


def _family_words(family: Family) -> set[str]:
    words = set(family.name.split("_")) | {family.name} | {k.lower() for k in family.keywords}
    return words | _words(family.summary)


def select_families(theme: str | None, tier: str | None, names: Sequence[str] | None = None) -> list[Family]:
    """Families matching ``names`` (if given), ``tier`` (exact) and ``theme`` (any word of it
    names a family word).

    A theme that is exactly a family's name selects just that family. Otherwise theme
    words are matched against each family's name, keywords and summary, also without a
    trailing ``s`` so "gates" finds the gate family. An unknown name is an error.
    """
    chosen = [f for f in FAMILIES if tier is None or f.tier == tier]
    if names is not None:
        unknown = sorted(set(names) - {f.name for f in FAMILIES})
        if unknown:
            raise NoFamilyMatches(
                f"unknown families {unknown}. Available families: {', '.join(f.name for f in FAMILIES)}"
            )
        chosen = [f for f in chosen if f.name in set(names)]
    exact = [f for f in chosen if theme is not None and f.name == theme.strip().lower()]
    if exact:
        return exact
    if theme is not None and theme.strip():
        wanted = {w for w in _words(theme) if len(w) >= 3}
        wanted |= {w[:-1] for w in wanted if w.endswith("s") and len(w) > 3}
        chosen = [f for f in chosen if wanted & _family_words(f)]
    if not chosen:
        listing = "; ".join(f"{f.name} ({f.tier}): {', '.join(f.keywords)}" for f in FAMILIES)
        asked = f"theme={theme!r}, tier={tier!r}" + (f", families={list(names)}" if names is not None else "")
        raise NoFamilyMatches(f"no family matches {asked}. Available families: {listing}")
    return chosen


def solvable_families(
    theme: str | None, tier: str | None, names: Sequence[str] | None = None
) -> list[Family]:
    """The families :func:`select_families` picks that have a reference solution.

    ``generate`` rejects a candidate without one (``unsolved``), so dealing such a family
    would only spend the budget; a selection with none left is an error that says which
    families matched and lack a reference.
    """
    matching = select_families(theme, tier, names)
    solvable = [f for f in matching if templates.solution(f.name) is not None]
    if not solvable:
        raise NoFamilyMatches(
            f"no family with a reference solution matches: {', '.join(f.name for f in matching)} "
            "have none yet, and generate rejects every candidate without one ('unsolved')"
        )
    return solvable


class Candidate(BaseModel):
    """One generated script plus the structural choices that shaped it."""

    family: str
    tier: str
    script: str
    choices: dict[str, float | int | str]
    solution: str | None = None
    """The reference ``solution.py`` that shows every variant can be solved (``None``: none written yet)."""
    provenance: dict[str, Any] = Field(default_factory=dict)
    """Who wrote it beyond the family: for agent-authored scripts the session, models and token usage."""


@dataclass(frozen=True)
class Const:
    """A constant written at the top of a generated script."""

    name: str
    value: ConstValue
    comment: str = ""

    def line(self) -> str:
        text = f"{self.name} = {_literal(self.value)}"
        return f"{text}  # {self.comment}" if self.comment else text


def _literal(value: ConstValue) -> str:
    """Source text for a constant; floats with one decimal so scripts read (and diff) cleanly."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, tuple):
        return f"({value[0]:.1f}, {value[1]:.1f})"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


# --- Choosing --------------------------------------------------------------------

Rng = np.random.Generator
_PART_MATERIALS = ("aluminum_6061", "steel", "wood", "pla", "abs")


def _u(rng: Rng, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 1)


def _span(rng: Rng, lo: float, hi: float, min_width: float) -> tuple[float, float]:
    """A sub-range of [lo, hi] at least ``min_width`` wide, for a script to draw from."""
    width = _u(rng, min_width, hi - lo)
    start = _u(rng, lo, hi - width)
    return (start, round(start + width, 1))


def _pick(rng: Rng, options: tuple[str, ...]) -> str:
    return str(options[int(rng.integers(len(options)))])


def _common(rng: Rng, family: str, height: float) -> list[Const]:
    """Workspace, lane dressing (obstacles, pit) and budget, shared by all families."""
    n_min = 2 if family == "obstacle_field" else 0
    tall = family == "obstacle_field"
    return [
        Const("WIDTH", 640.0, "workspace along x at scale 1 (mm)"),
        Const("DEPTH", 320.0, "workspace along y"),
        Const("HEIGHT", height, "workspace along z"),
        Const("N_OBSTACLES", int(rng.integers(n_min, 4)), "obstacles in the lane between start and goal"),
        Const("OBSTACLE_SHAPE", _pick(rng, ("post", "block"))),
        Const("OBSTACLE_SIZE", _span(rng, 30.0, 60.0, 8.0), "diameter or side (mm)"),
        Const("OBSTACLE_HEIGHT", _span(rng, 80.0, 180.0, 30.0) if tall else _span(rng, 40.0, 140.0, 20.0)),
        Const("OBSTACLE_MATERIAL", _pick(rng, _PART_MATERIALS)),
        Const("PIT", family != "gap_pit" and bool(rng.random() < 0.5), "a forbidden pit in the lane"),
        Const("PIT_HEIGHT", _u(rng, 25.0, 60.0), "how high above the floor the pit's keep-out reaches"),
        Const("TARGET_QUANTITY", int(_pick(rng, ("50", "100", "500", "1000", "5000")))),
        Const("MAX_UNIT_COST", _u(rng, 5.0, 25.0), "USD"),
        Const("MAX_WEIGHT_G", float(_pick(rng, ("500", "800", "1200", "2000")))),
    ]


def _ball(rng: Rng, radius: tuple[float, float], materials: tuple[str, ...]) -> list[Const]:
    return [
        Const("BALL_RADIUS", _span(rng, radius[0], radius[1], 2.0), "mm"),
        Const("BALL_MATERIAL", _pick(rng, materials)),
    ]


def _shelf_to_bin(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "shelf_to_bin", 300.0),
        *_ball(rng, (12.0, 20.0), ("steel", "abs", "rubber", "pla")),
        Const("SHELF_HEIGHT", _span(rng, 130.0, 200.0, 20.0), "mm"),
        Const("SHELF_TILT", _span(rng, 4.0, 9.0, 1.5), "degrees, down towards the bin"),
        Const("SHELF_LENGTH", _u(rng, 140.0, 180.0)),
        Const("SHELF_MATERIAL", _pick(rng, ("aluminum_6061", "wood", "steel"))),
        Const("BIN_SIZE", _span(rng, 110.0, 160.0, 15.0), "outer width and depth (mm)"),
        Const("BIN_HEIGHT", _span(rng, 50.0, 90.0, 10.0)),
        Const("BIN_WALL", _u(rng, 5.0, 10.0)),
        Const("BIN_MATERIAL", _pick(rng, ("pla", "abs", "wood", "aluminum_6061"))),
    ]


def _arch_tunnel(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "arch_tunnel", 300.0),
        Const("WALL_THICKNESS", _u(rng, 12.0, 24.0)),
        Const("WALL_HEIGHT", _span(rng, 170.0, 240.0, 20.0)),
        Const("WALL_MATERIAL", _pick(rng, ("wood", "steel", "aluminum_6061", "pla"))),
        # Wide and tall enough for a chute carrying the block to pass through.
        Const("OPENING_WIDTH", _span(rng, 95.0, 130.0, 15.0), "mm"),
        Const("OPENING_HEIGHT", _span(rng, 75.0, 100.0, 10.0)),
        Const("ARCH_TOP", bool(rng.random() < 0.6), "round the opening's top into an arch"),
        Const("BLOCK_SIZE", _span(rng, 22.0, 34.0, 3.0), "payload cube side (mm)"),
        Const("PAYLOAD_MATERIAL", _pick(rng, ("abs", "pla", "wood", "aluminum_6061"))),
    ]


def _peg_in_hole(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "peg_in_hole", 300.0),
        Const("PEG_RADIUS", _span(rng, 7.0, 13.0, 1.5), "mm"),
        Const("PEG_LENGTH", _span(rng, 40.0, 60.0, 5.0)),
        Const("HOLE_CLEARANCE", _u(rng, 1.5, 5.0), "radial play (mm)"),
        Const("HOLE_DEPTH_FRACTION", round(float(rng.uniform(0.6, 0.8)), 2), "of the socket height"),
        Const("SOCKET_SIZE", _span(rng, 80.0, 130.0, 15.0)),
        Const("SOCKET_HEIGHT", _span(rng, 50.0, 80.0, 8.0)),
        Const("SOCKET_MATERIAL", _pick(rng, ("steel", "aluminum_6061", "wood", "abs"))),
        Const("PAYLOAD_MATERIAL", _pick(rng, ("steel", "aluminum_6061", "pla"))),
    ]


def _gap_pit(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "gap_pit", 300.0),
        *_ball(rng, (12.0, 20.0), ("steel", "abs", "rubber")),
        Const("START_LEDGE_HEIGHT", _span(rng, 140.0, 190.0, 15.0), "mm"),
        Const("DECK_TILT", _span(rng, 4.0, 9.0, 1.5), "degrees, down towards the gap"),
        Const("GAP", _span(rng, 180.0, 260.0, 20.0), "from the start ledge's lip to the far ledge"),
        Const("FAR_LEDGE_HEIGHT", _span(rng, 60.0, 110.0, 15.0)),
        Const("LEDGE_MATERIAL", _pick(rng, ("wood", "steel", "aluminum_6061"))),
    ]


def _step_up(rng: Rng) -> list[Const]:
    steps = int(rng.integers(2, 5))
    run_hi = min(60.0, (300.0 - 140.0) / steps)
    return [
        *_common(rng, "step_up", 360.0),  # room to release the block high above the landing
        Const("N_STEPS", steps, "including the landing"),
        Const("STEP_RISE", _span(rng, 25.0, 40.0, 4.0), "mm"),
        Const("STEP_RUN", _span(rng, 35.0, run_hi, 3.0)),
        Const("LANDING_LENGTH", _span(rng, 100.0, 140.0, 10.0)),
        Const("STAIR_WIDTH", _span(rng, 150.0, 240.0, 20.0)),
        Const("STAIR_MATERIAL", _pick(rng, ("wood", "steel", "aluminum_6061", "pla"))),
        Const("BLOCK_SIZE", _span(rng, 22.0, 34.0, 3.0), "payload cube side (mm)"),
        # Not rubber: a rubber block (friction 1.0) only slides down slopes steeper than 45°.
        Const("PAYLOAD_MATERIAL", _pick(rng, ("abs", "pla", "wood", "steel"))),
    ]


def _obstacle_field(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "obstacle_field", 300.0),
        # A ball: a sliding block cannot be carried this far this low (it needs slopes past ~30°).
        Const("PAYLOAD_KIND", "ball"),
        Const("PAYLOAD_SIZE", _span(rng, 22.0, 36.0, 3.0), "ball diameter or cube side (mm)"),
        Const("PAYLOAD_MATERIAL", _pick(rng, ("steel", "abs", "pla", "rubber", "wood"))),
        Const("PEN_SIZE", _span(rng, 100.0, 160.0, 15.0), "outer side of the square pen (mm)"),
        Const("KERB_HEIGHT", _u(rng, 25.0, 45.0)),
        Const("PEN_MATERIAL", _pick(rng, ("abs", "wood", "steel"))),
    ]


def _lever_seesaw(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "lever_seesaw", 300.0),
        *_ball(rng, (12.0, 20.0), ("steel", "abs", "rubber")),
        Const("POST_HEIGHT", _span(rng, 110.0, 150.0, 10.0), "mm"),
        Const("POST_MATERIAL", _pick(rng, ("steel", "wood", "aluminum_6061"))),
        Const("PLANK_LENGTH", _span(rng, 200.0, 240.0, 10.0)),
        Const("PLANK_TILT", _span(rng, 8.0, 14.0, 2.0), "degrees, resting on the stop, goal end down"),
        Const("PIVOT_OFFSET", _u(rng, 20.0, 40.0), "pivot's distance from mid-plank, towards the start"),
        Const("PLANK_MATERIAL", _pick(rng, ("wood", "pla", "aluminum_6061"))),
    ]


def _drawer_slide(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "drawer_slide", 280.0),
        *_ball(rng, (10.0, 18.0), ("steel", "abs", "rubber", "pla")),
        Const("DRAWER_LENGTH", _span(rng, 160.0, 200.0, 10.0), "mm"),
        Const("DRAWER_WIDTH", _span(rng, 120.0, 170.0, 15.0)),
        Const("DRAWER_HEIGHT", _span(rng, 45.0, 75.0, 8.0)),
        Const("PULL_OUT", _span(rng, 90.0, 130.0, 10.0), "how far the drawer stands open"),
        Const("EXTRA_PULL", _u(rng, 10.0, 40.0), "further travel outwards before the stop"),
        Const("CARCASS_MATERIAL", _pick(rng, ("wood", "steel", "aluminum_6061"))),
        Const("DRAWER_MATERIAL", _pick(rng, ("wood", "pla", "abs"))),
    ]


def _flap_gate(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "flap_gate", 300.0),
        # Only a steel ball carries the momentum to swing a flap open; a rubber one stalls under it.
        *_ball(rng, (12.0, 18.0), ("steel",)),
        Const("DOOR_WIDTH", _span(rng, 85.0, 125.0, 10.0), "mm"),
        Const("DOOR_HEIGHT", _span(rng, 70.0, 100.0, 8.0)),
        Const("FLAP_LEAN", _u(rng, 8.0, 15.0), "degrees past vertical, onto the stop"),
        Const("OPEN_LIMIT", _u(rng, 60.0, 80.0), "degrees the flap can swing open"),
        Const("FLAP_MATERIAL", _pick(rng, ("wood", "pla"))),
        Const("WALL_MATERIAL", _pick(rng, ("wood", "steel", "aluminum_6061"))),
    ]


def _table_push(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "table_push", 300.0),
        *_ball(rng, (12.0, 20.0), ("steel", "abs", "rubber", "pla")),
        Const("TABLE_HEIGHT", _span(rng, 100.0, 170.0, 15.0), "mm"),
        Const("TABLE_LENGTH", _span(rng, 140.0, 200.0, 15.0)),
        Const("TABLE_WIDTH", _span(rng, 110.0, 180.0, 15.0)),
        Const("TABLE_MATERIAL", _pick(rng, ("wood", "steel", "aluminum_6061"))),
        Const("GAP", _span(rng, 30.0, 140.0, 20.0), "floor between the table and the bin"),
        Const("BIN_SIZE", _span(rng, 110.0, 160.0, 15.0), "outer width and depth (mm)"),
        Const("BIN_HEIGHT", _span(rng, 50.0, 90.0, 10.0)),
        Const("BIN_WALL", _u(rng, 5.0, 10.0)),
        Const("BIN_MATERIAL", _pick(rng, ("pla", "abs", "wood", "aluminum_6061"))),
    ]


def _funnel_to_cup(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "funnel_to_cup", 300.0),
        *_ball(rng, (10.0, 14.0), ("steel", "abs", "rubber", "pla")),
        Const("FUNNEL_TOP", _u(rng, 54.0, 66.0), "inner radius of the funnel's mouth (mm)"),
        Const("FUNNEL_HEIGHT", _span(rng, 45.0, 70.0, 8.0), "height of the conical part"),
        Const("OUTLET_PLAY", _u(rng, 5.0, 9.0), "radial play of the ball in the outlet"),
        Const("SPOUT", 20.0, "length of the outlet's straight spout"),
        Const("FUNNEL_WALL", 3.0),
        Const("LEG_RADIUS", 5.0),
        Const("FUNNEL_MATERIAL", _pick(rng, ("abs", "pla", "aluminum_6061", "steel"))),
        Const("CUP_RADIUS", _span(rng, 32.0, 44.0, 4.0), "outer radius of the cup (mm)"),
        Const("CUP_HEIGHT", _span(rng, 40.0, 60.0, 8.0)),
        Const("CUP_WALL", 4.0),
        Const("CUP_MATERIAL", _pick(rng, ("pla", "abs", "wood", "aluminum_6061"))),
    ]


def _bowl_landing(rng: Rng) -> list[Const]:
    return [
        *_common(rng, "bowl_landing", 300.0),
        *_ball(rng, (12.0, 18.0), ("steel", "abs", "rubber", "pla")),
        Const("SHELF_HEIGHT", _span(rng, 130.0, 200.0, 20.0), "mm"),
        Const("SHELF_TILT", _span(rng, 4.0, 9.0, 1.5), "degrees, down towards the bowl"),
        Const("SHELF_LENGTH", _u(rng, 140.0, 180.0)),
        Const("SHELF_MATERIAL", _pick(rng, ("aluminum_6061", "wood", "steel"))),
        Const("BOWL_RADIUS", _span(rng, 55.0, 75.0, 8.0), "outer radius of the spherical bowl (mm)"),
        Const("BOWL_WALL", 5.0),
        Const("FOOT", 2.0, "how far the sphere is flattened where it stands on the floor"),
        Const("BOWL_MATERIAL", _pick(rng, ("pla", "abs", "wood", "aluminum_6061"))),
    ]


_CHOOSERS: dict[str, Callable[[Rng], list[Const]]] = {
    "shelf_to_bin": _shelf_to_bin,
    "arch_tunnel": _arch_tunnel,
    "peg_in_hole": _peg_in_hole,
    "gap_pit": _gap_pit,
    "step_up": _step_up,
    "obstacle_field": _obstacle_field,
    "lever_seesaw": _lever_seesaw,
    "drawer_slide": _drawer_slide,
    "flap_gate": _flap_gate,
    "table_push": _table_push,
    "funnel_to_cup": _funnel_to_cup,
    "bowl_landing": _bowl_landing,
}


# --- Writing ---------------------------------------------------------------------

_B3D_NAMES = ("Box", "Cone", "Cylinder", "Pos", "Rot", "Sphere")
_CONTRACT_NAMES = ("Constraints", "Hinge", "Part", "Payload", "Scenario", "Slide", "Zone")


def _imports(code: str) -> str:
    """Import exactly the names the assembled code uses, so scripts stay lint-clean."""
    stdlib = [f"import {m}" for m in ("math", "random") if re.search(rf"\b{m}\.", code)]
    b3d = [n for n in _B3D_NAMES if re.search(rf"\b{n}\b", code)]
    contract = [n for n in _CONTRACT_NAMES if re.search(rf"\b{n}\b", code)]
    return "\n".join(
        [
            *stdlib,
            "",
            f"from build123d import {', '.join(b3d)}",
            "",
            f"from benchgen.scenario import {', '.join(contract)}",
        ]
    )


def render_script(family: Family, consts: list[Const]) -> str:
    """Assemble a family's script from its constants; pure text, deterministic."""
    code = templates.FRAME + templates.body(family.name)
    head = Template(templates.HEAD).substitute(
        title=family.name.replace("_", " ").capitalize(),
        tier=family.tier,
        family=family.name,
        summary=family.summary,
        imports=_imports(code),
        constants="\n".join(c.line() for c in consts),
    )
    return head + code


def _flatten(consts: list[Const]) -> dict[str, float | int | str]:
    """Choices as flat scalars: a range becomes ``<name>_lo``/``<name>_hi``, a flag 0/1."""
    out: dict[str, float | int | str] = {}
    for c in consts:
        key = c.name.lower()
        if isinstance(c.value, tuple):
            out[f"{key}_lo"], out[f"{key}_hi"] = c.value
        elif isinstance(c.value, bool):
            out[key] = int(c.value)
        else:
            out[key] = c.value
    return out


def choose(family: str, rng: np.random.Generator) -> list[Const]:
    """Draw the structural choices of the named family (what its script's constants will be)."""
    return _CHOOSERS[family](rng)


def write_candidate(
    rng: np.random.Generator, theme: str | None = None, tier: str | None = None, family: str | None = None
) -> Candidate:
    """Write a scenario script of ``family``, or of a family matching ``theme``/``tier`` drawn
    from ``rng`` (``generate`` deals families itself: :mod:`benchgen.balance`).

    The same generator state always gives byte-identical script text.
    """
    if family is None:
        families = select_families(theme, tier)
        spec = families[int(rng.integers(len(families)))]
    else:
        spec = select_families(None, None, [family])[0]
    consts = choose(spec.name, rng)
    unknown = [c.value for c in consts if c.name.endswith("MATERIAL") and c.value not in MATERIALS]
    if unknown:  # a programming error in a chooser, caught before a script is written
        raise AssertionError(f"unknown materials {unknown}")
    return Candidate(
        family=spec.name,
        tier=spec.tier,
        script=render_script(spec, consts),
        choices=_flatten(consts),
        solution=templates.solution(spec.name),
    )


# --- Static audit ----------------------------------------------------------------


class Audit(BaseModel):
    """What a cheap, in-process audit of a script found (no sandbox, no physics)."""

    problems: list[str]
    randomization_ratio: float
    """Largest spread of payload start or goal centre across the seeds, as a fraction of the workspace."""


def load_build(source: str, filename: str = "<scenario>") -> Callable[..., Any]:
    """Execute trusted script source in a fresh namespace and return its ``build``."""
    namespace: dict[str, Any] = {"__name__": "scenario_script", "__file__": filename}
    exec(compile(source, filename, "exec"), namespace)
    build: Callable[..., Any] = namespace["build"]
    return build


def _bbox(shape: Any) -> tuple[np.ndarray, np.ndarray]:
    box = shape.bounding_box()
    return np.array([box.min.X, box.min.Y, box.min.Z]), np.array([box.max.X, box.max.Y, box.max.Z])


def _inside(lo: np.ndarray, hi: np.ndarray, zone: Zone, tol: float = 1e-3) -> bool:
    return bool(np.all(lo >= np.array(zone.min) - tol) and np.all(hi <= np.array(zone.max) + tol))


def _zones_overlap(a: Zone, b: Zone) -> bool:
    return all(a.min[i] < b.max[i] and b.min[i] < a.max[i] for i in range(3))


def _near(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], gap: float) -> bool:
    return bool(np.all(a[0] < b[1] + gap) and np.all(b[0] < a[1] + gap))


def audit_scene(scene: Scenario, min_gap: float = 1.0) -> list[str]:
    """Geometry problems of one built scene, the checker's static rules made stricter.

    Separate bodies must keep ``min_gap`` mm apart (the checker only forbids overlap, but
    touching meshes can start a simulation interpenetrating).
    """
    problems: list[str] = []
    bounds = scene.bounds
    boxes = {}
    for part in scene.parts:
        shape = part.shape
        if not shape.is_valid or len(shape.solids()) != 1 or shape.volume <= 0:
            problems.append(f"part {part.label!r} is not one valid solid with volume")
        boxes[part.label] = _bbox(shape)
        if not _inside(*boxes[part.label], bounds):
            problems.append(f"part {part.label!r} leaves bounds")
        if boxes[part.label][0][2] < -1e-6:
            problems.append(f"part {part.label!r} goes below the ground")
    for i, a in enumerate(scene.parts):
        for b in scene.parts[i + 1 :]:
            if _near(boxes[a.label], boxes[b.label], min_gap) and a.shape.distance_to(b.shape) < min_gap:
                problems.append(f"parts {a.label!r} and {b.label!r} are closer than {min_gap} mm")

    payload = scene.payload
    start, jitter = np.array(payload.start), np.array(payload.jitter)
    # The start envelope, sampled at its 27 extreme and middle offsets (-1, 0, +1 per axis).
    corners = [start + jitter * (np.array(c) - 1) for c in np.ndindex(3, 3, 3)]
    plo, phi = _bbox(payload.shape)
    env = (plo + start - jitter, phi + start + jitter)
    if not _inside(*env, bounds):
        problems.append("payload start envelope leaves bounds")
    for part in scene.parts:
        if not _near(boxes[part.label], env, min_gap):
            continue
        for c in corners:
            if part.shape.distance_to(payload.shape.moved(Location(tuple(c)))) < min_gap:
                problems.append(f"payload start envelope comes within {min_gap} mm of {part.label!r}")
                break
    for zone in [scene.goal_zone, scene.build_zone, *scene.forbid_zones]:
        if not _inside(np.array(zone.min), np.array(zone.max), bounds):
            problems.append(f"zone {zone.name!r} leaves bounds")
    env_zone = Zone(min=tuple(env[0]), max=tuple(env[1]))
    for zone in scene.forbid_zones:
        if _zones_overlap(zone, scene.goal_zone):
            problems.append(f"goal zone overlaps forbid zone {zone.name!r}")
        if _zones_overlap(zone, env_zone):
            problems.append(f"payload start envelope overlaps forbid zone {zone.name!r}")
    return problems


def _fingerprint(scene: Scenario) -> tuple[object, ...]:
    shapes = [round(p.shape.volume, 3) for p in scene.parts] + [
        tuple(np.round(_bbox(p.shape)[0], 4)) for p in scene.parts
    ]
    return (scene.params, scene.payload.start, scene.goal_zone, scene.forbid_zones, scene.bounds, shapes)


def _extent(scene: Scenario) -> float:
    lows, highs = zip(*(_bbox(p.shape) for p in scene.parts), strict=True)
    return float(np.linalg.norm(np.max(highs, axis=0) - np.min(lows, axis=0)))


def audit_script(source: str, seeds: int = 8, scales: tuple[float, ...] = (0.5, 2.0)) -> Audit:
    """Build ``source`` the way the checker does and report static problems.

    Seeds ``0..seeds-1`` at scale 1, seed 0 at each of ``scales`` and seed 0 twice;
    determinism, seed variation, scale, geometry (:func:`audit_scene`) and the
    randomization bar (payload start or goal centre spread ≥ 40 % of the workspace).
    """
    build = load_build(source)
    problems: list[str] = []
    scenes = [build(seed, 1.0) for seed in range(seeds)]
    if _fingerprint(build(0, 1.0)) != _fingerprint(scenes[0]):
        problems.append("build(0, 1.0) is not deterministic")
    if len({repr(s.params) for s in scenes}) < seeds:
        problems.append("params do not vary with the seed")
    for seed, scene in enumerate(scenes):
        problems += [f"seed {seed}: {p}" for p in audit_scene(scene)]
    reference = _extent(scenes[0])
    for scale in scales:
        scene = build(0, scale)
        ratio = _extent(scene) / reference
        if abs(ratio / scale - 1) > 0.01:
            problems.append(f"scale {scale}: extent ratio {ratio:.3f}")
        problems += [f"scale {scale}: {p}" for p in audit_scene(scene, min_gap=min(1.0, scale))]
    starts = np.array([s.payload.start for s in scenes])
    goals = np.array([s.goal_zone.center for s in scenes])
    workspace = np.mean([s.bounds.size for s in scenes], axis=0)
    ratio = float(max((np.ptp(starts, axis=0) / workspace).max(), (np.ptp(goals, axis=0) / workspace).max()))
    if ratio < 0.4:
        problems.append(f"randomization: best spread {ratio:.0%} of the workspace (need 40%)")
    return Audit(problems=problems, randomization_ratio=ratio)
