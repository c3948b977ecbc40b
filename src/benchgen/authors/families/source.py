"""The shared source of every generated script, around one family's ``BODY``.

A generated script is: ``HEAD`` (docstring, imports, the author's constants), the shared
helpers ``FRAME`` (the :class:`Frame` that maps canonical millimetres into the world) and
``FILL_LANE`` (obstacles and a pit between start and goal), then the family's ``BODY``
(its ``build``). Bodies are plain Python that refer to the constants by name, so the author
only ever writes the constants block; everything else is fixed, reviewed code.

Every script carries its own copy of ``FRAME`` so it runs standalone, and so do the
bundled examples (``benchgen/examples``); ``tests/test_frame_copies.py`` holds every copy
to this one.
"""

from __future__ import annotations

HEAD = '''"""$title ($tier tier), written by the benchgen offline author (family `$family`).

$summary

The constants below are the author's structural choices for this script; ``build``
draws the per-seed values inside their ranges and records them in ``params``. The
layout is written in a canonical frame (start on -x, goal on +x, unit scale) and odd
seeds mirror it, so across seeds the start and the goal sweep the workspace.
"""

from __future__ import annotations

$imports

# Structural choices (edit freely) ------------------------------------------------
$constants

CLEARANCE = 2.0  # gap kept between separate bodies so their meshes never interpenetrate
'''

FRAME = '''

class Frame:
    """Maps canonical millimetres (start on -x, goal on +x, scale 1) into the world."""

    def __init__(self, mirror: bool, scale: float) -> None:
        self.sx = -1.0 if mirror else 1.0
        self.k = scale

    def point(self, x: float, y: float, z: float) -> tuple[float, float, float]:
        return (self.sx * x * self.k, y * self.k, z * self.k)

    def box(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> Box:
        """An axis-aligned box between two canonical corners."""
        k = self.k
        return Pos(*self.point((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2)) * Box(
            abs(x1 - x0) * k, abs(y1 - y0) * k, abs(z1 - z0) * k
        )

    def slab(
        self, center: tuple[float, float, float], length: float, width: float, thick: float, tilt: float
    ) -> Box:
        """A box centred at ``center`` and tilted by ``tilt`` degrees about y (its +x end down)."""
        k = self.k
        return Pos(*self.point(*center)) * Rot(0, self.sx * tilt, 0) * Box(length * k, width * k, thick * k)

    def post(self, x: float, y: float, radius: float, height: float) -> Cylinder:
        """A vertical cylinder standing on the ground."""
        return Pos(*self.point(x, y, height / 2)) * Cylinder(radius * self.k, height * self.k)

    def zone(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, name: str) -> Zone:
        a, b = sorted((self.sx * x0 * self.k, self.sx * x1 * self.k))
        return Zone(min=(a, y0 * self.k, z0 * self.k), max=(b, y1 * self.k, z1 * self.k), name=name)

    def hinge_y(
        self, anchor: tuple[float, float, float], axis_y: float, limits: tuple[float, float]
    ) -> Hinge:
        """A hinge about y; mirroring x flips the axis so the same range turns the mirrored way."""
        return Hinge(anchor=self.point(*anchor), axis=(0.0, self.sx * axis_y, 0.0), range=limits)

    def slide_x(self, travel: tuple[float, float]) -> Slide:
        """A slide along canonical +x; its range is a length, so it scales."""
        return Slide(axis=(self.sx, 0.0, 0.0), range=(travel[0] * self.k, travel[1] * self.k))
'''

FILL_LANE = '''

def fill_lane(
    f: Frame, rng: random.Random, x0: float, x1: float, params: dict[str, float]
) -> tuple[list[Part], list[Zone]]:
    """Fill the free lane x0..x1 between start and goal with obstacles and, if PIT, a forbidden pit.

    The lane is cut into equal slots, one per obstacle plus one for the pit, in a seeded
    order, so nothing placed here can touch anything else; slots too narrow stay empty.
    """
    kinds = ["obstacle"] * N_OBSTACLES + (["pit"] if PIT else [])
    rng.shuffle(kinds)
    slot = (x1 - x0) / max(len(kinds), 1)
    parts: list[Part] = []
    zones: list[Zone] = []
    for i, kind in enumerate(kinds):
        a, b = x0 + i * slot, x0 + (i + 1) * slot
        if kind == "pit" and slot > 30.0:
            zones.append(f.zone(a + 5.0, b - 5.0, -DEPTH / 2, DEPTH / 2, 0.0, PIT_HEIGHT, "pit"))
            params["pit_x"] = (a + b) / 2
            continue
        size = min(rng.uniform(*OBSTACLE_SIZE), slot - 10.0)
        if kind == "pit" or size < 15.0:
            continue
        name = f"obstacle_{len(parts)}"
        x = params[name + "_x"] = rng.uniform(a + 5.0 + size / 2, b - 5.0 - size / 2)
        y = params[name + "_y"] = rng.uniform(-DEPTH / 2 + 10.0 + size / 2, DEPTH / 2 - 10.0 - size / 2)
        h = params[name + "_height"] = rng.uniform(*OBSTACLE_HEIGHT)
        if OBSTACLE_SHAPE == "post":
            shape = f.post(x, y, size / 2, h)
        else:
            shape = f.box(x - size / 2, x + size / 2, y - size / 2, y + size / 2, 0.0, h)
        parts.append(Part(name, shape, material=OBSTACLE_MATERIAL))
    return parts, zones
'''
