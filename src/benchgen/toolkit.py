"""Building blocks for solutions: chutes, plates and pushers placed between world points.

Solutions (and scenario scripts) may use these; each returns a build123d solid in world
millimetres. They are plain geometry: nothing here knows about a particular benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from build123d import Box, Location, Plane, Solid, Vector

Point = Sequence[float]


def _frame(start: Point, end: Point) -> tuple[Plane, float]:
    """A plane at ``start`` whose x axis runs to ``end`` and whose z axis leans up; and the length."""
    a, b = Vector(*start), Vector(*end)
    along = b - a
    length = along.length
    if length < 1e-6:
        raise ValueError("start and end must differ")
    x_dir = along.normalized()
    up = Vector(0, 0, 1)
    normal = up - x_dir * up.dot(x_dir)
    if normal.length < 1e-6:  # a vertical run: any horizontal normal will do
        normal = Vector(1, 0, 0)
    return Plane(origin=a, x_dir=x_dir, z_dir=normal.normalized()), length


def chute(
    start: Point,
    end: Point,
    width: float,
    wall_height: float,
    thickness: float = 3.0,
    end_wall: bool = False,
) -> Solid:
    """A U-channel whose floor's top surface runs along the segment ``start`` → ``end``.

    ``width`` is the clear width between the walls, ``wall_height`` how far the walls rise
    above the floor, ``thickness`` the floor and wall thickness; ``end_wall`` closes the
    lower end (a stop).
    """
    plane, length = _frame(start, end)
    t = thickness
    floor = Location((length / 2, 0, -t / 2)) * Box(length, width + 2 * t, t)
    wall = Box(length, t, wall_height + t)
    left = Location((length / 2, (width + t) / 2, (wall_height - t) / 2)) * wall
    right = Location((length / 2, -(width + t) / 2, (wall_height - t) / 2)) * wall
    shape = floor + left + right
    if end_wall:
        shape += Location((length - t / 2, 0, (wall_height - t) / 2)) * Box(t, width + 2 * t, wall_height + t)
    return plane.location * shape  # type: ignore[no-any-return]


def plate(start: Point, end: Point, width: float, thickness: float = 3.0) -> Solid:
    """A flat plate whose top surface runs along ``start`` → ``end`` (a ramp or a shelf)."""
    plane, length = _frame(start, end)
    return plane.location * (Location((length / 2, 0, -thickness / 2)) * Box(length, width, thickness))  # type: ignore[no-any-return]


def box_between(lo: Point, hi: Point) -> Solid:
    """An axis-aligned box between two opposite corners."""
    sx, sy, sz = (abs(b - a) for a, b in zip(lo, hi, strict=True))
    center = tuple((a + b) / 2 for a, b in zip(lo, hi, strict=True))
    return Location(center) * Box(sx, sy, sz)  # type: ignore[no-any-return]


def slope_deg(start: Point, end: Point) -> float:
    """The angle of ``start`` → ``end`` below the horizontal, in degrees (positive = downhill)."""
    dx, dy, dz = (end[i] - start[i] for i in range(3))
    return math.degrees(math.atan2(-dz, math.hypot(dx, dy)))
