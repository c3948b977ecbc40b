"""What every family module is made of: the :class:`Family` entry, the constants a chooser
writes (:class:`Const`) and the chooser helpers the families share.

A chooser draws a family's structural choices from the author's generator; the helpers
here round every draw to one decimal so the written constants read (and diff) cleanly.
The order of draws is part of a family's output: the same generator state must give the
same script, so a chooser's draws are never reordered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel

ConstValue = float | int | str | bool | tuple[float, float]
Rng = np.random.Generator


class Family(BaseModel):
    """A kind of puzzle the offline author can write."""

    name: str
    tier: Literal["spatial", "kinematic", "mechanism"]
    keywords: tuple[str, ...]
    summary: str


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


PART_MATERIALS = ("aluminum_6061", "steel", "wood", "pla", "abs")


def u(rng: Rng, lo: float, hi: float) -> float:
    """A value in [lo, hi], one decimal."""
    return round(float(rng.uniform(lo, hi)), 1)


def span(rng: Rng, lo: float, hi: float, min_width: float) -> tuple[float, float]:
    """A sub-range of [lo, hi] at least ``min_width`` wide, for a script to draw from."""
    width = u(rng, min_width, hi - lo)
    start = u(rng, lo, hi - width)
    return (start, round(start + width, 1))


def pick(rng: Rng, options: tuple[str, ...]) -> str:
    """One of ``options``."""
    return str(options[int(rng.integers(len(options)))])


def common(
    rng: Rng, height: float, *, min_obstacles: int = 0, tall_obstacles: bool = False, pit: bool = True
) -> list[Const]:
    """Workspace, lane dressing (obstacles, pit) and budget, shared by all families.

    ``min_obstacles`` and ``tall_obstacles`` make the lane a field of taller obstacles;
    ``pit=False`` never puts a pit in the lane (and draws nothing for it).
    """
    return [
        Const("WIDTH", 640.0, "workspace along x at scale 1 (mm)"),
        Const("DEPTH", 320.0, "workspace along y"),
        Const("HEIGHT", height, "workspace along z"),
        Const(
            "N_OBSTACLES", int(rng.integers(min_obstacles, 4)), "obstacles in the lane between start and goal"
        ),
        Const("OBSTACLE_SHAPE", pick(rng, ("post", "block"))),
        Const("OBSTACLE_SIZE", span(rng, 30.0, 60.0, 8.0), "diameter or side (mm)"),
        Const(
            "OBSTACLE_HEIGHT",
            span(rng, 80.0, 180.0, 30.0) if tall_obstacles else span(rng, 40.0, 140.0, 20.0),
        ),
        Const("OBSTACLE_MATERIAL", pick(rng, PART_MATERIALS)),
        Const("PIT", pit and bool(rng.random() < 0.5), "a forbidden pit in the lane"),
        Const("PIT_HEIGHT", u(rng, 25.0, 60.0), "how high above the floor the pit's keep-out reaches"),
        Const("TARGET_QUANTITY", int(pick(rng, ("50", "100", "500", "1000", "5000")))),
        Const("MAX_UNIT_COST", u(rng, 5.0, 25.0), "USD"),
        Const("MAX_WEIGHT_G", float(pick(rng, ("500", "800", "1200", "2000")))),
    ]


def ball(rng: Rng, radius: tuple[float, float], materials: tuple[str, ...]) -> list[Const]:
    """A ball payload: its radius range and material."""
    return [
        Const("BALL_RADIUS", span(rng, radius[0], radius[1], 2.0), "mm"),
        Const("BALL_MATERIAL", pick(rng, materials)),
    ]
