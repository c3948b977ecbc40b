"""Hinged gate (kinematic tier): push a one-way flap open to reach the trap pocket behind a wall.

A partition wall has a low doorway closed by a wooden flap hung from a hinge at the
top of the opening. The flap leans slightly towards the far side and rests against its
joint limit (its door stop), so it swings open only away from the solver's side and
falls shut again behind anything that passes. A steel ball is released from a
dispenser well before the wall and, left alone, just drops to the floor. The solver
must build a ramp that gives the ball enough speed to swing the flap open and roll
into the U-shaped pocket behind it, where the closed flap traps it.

Odd seeds mirror the canonical layout (dispenser on -x, wall on +x side).
"""

from __future__ import annotations

import random

from build123d import Box, Cylinder, Pos, Rot, Sphere

from benchgen.scenario import Constraints, Hinge, Part, Payload, Scenario, Slide, Zone

WIDTH, DEPTH, HEIGHT = 640.0, 320.0, 300.0  # workspace at scale 1 (mm)
WALL_T = 12.0  # partition wall thickness
FLAP_T = 5.0  # flap plate thickness
LEAN = 12.0  # degrees the flap leans past vertical onto its stop


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


def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (all lengths multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)

    wall_x = rng.uniform(40.0, 110.0)
    wall_h = rng.uniform(150.0, 200.0)
    door_w = rng.uniform(90.0, 120.0)
    door_h = rng.uniform(70.0, 95.0)
    door_y = rng.uniform(-60.0, 60.0)
    wx0, wx1 = wall_x - WALL_T / 2, wall_x + WALL_T / 2
    wall = f.box(wx0, wx1, -150, 150, 0, wall_h) - f.box(
        wx0 - 1, wx1 + 1, door_y - door_w / 2, door_y + door_w / 2, -1, door_h
    )

    # The flap hangs from an axis 6 mm under the lintel, 6 mm clear of each jamb, and is
    # built leaning LEAN degrees towards the pocket: its range starts at that pose, so
    # gravity holds it on the lower limit and only a push from the start side opens it.
    flap_len = door_h - 14.0
    anchor = (wall_x, door_y, door_h - 6.0)
    plate = Pos(0, 0, -flap_len / 2 * f.k) * Box(FLAP_T * f.k, (door_w - 12.0) * f.k, flap_len * f.k)
    flap = Pos(*f.point(*anchor)) * Rot(0, -f.sx * LEAN, 0) * plate

    # U-shaped curb behind the door, open towards it, deep enough that the flap never reaches it.
    pocket_len = flap_len + rng.uniform(40.0, 70.0)
    px0, px1 = wx1 + 2.0, wx1 + 2.0 + pocket_len
    py0, py1 = door_y - door_w / 2 - 14.0, door_y + door_w / 2 + 14.0
    curb = f.box(px0, px1, py0, py1, 0, 30) - f.box(px0 - 1, px1 - 8, py0 + 8, py1 - 8, -1, 31)

    radius = rng.uniform(12.0, 16.0)
    start = (rng.uniform(-260.0, -180.0), rng.uniform(-80.0, 80.0), rng.uniform(180.0, 240.0))

    # Keep-out in front of the solid half of the wall: the approach must come in square to the door.
    if door_y >= 0:
        beam = f.zone(wall_x - 90, wx0 - 2, -150, door_y - door_w / 2 - 10, 0, wall_h, "sensor_beam")
    else:
        beam = f.zone(wall_x - 90, wx0 - 2, door_y + door_w / 2 + 10, 150, 0, wall_h, "sensor_beam")

    return Scenario(
        name="hinged_gate",
        description=(
            "Get the steel ball through the one-way flap in the partition wall and into the "
            "pocket behind it. The flap only opens away from you and drops shut by itself."
        ),
        tier="kinematic",
        parts=[
            Part("wall", wall, material="wood"),
            Part("flap", flap, material="wood", joint=f.hinge_y(anchor, axis_y=-1.0, limits=(0.0, 75.0))),
            Part("pocket_curb", curb, material="abs"),
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material="steel",
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(wx1 + 14.0, px1 - 9, py0 + 9, py1 - 9, 0, 45, "pocket"),
        build_zone=f.zone(-WIDTH / 2 + 10, wx0 - 1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=rng.choice([50, 250, 1000]), max_unit_cost=20.0, max_weight_g=1500.0
        ),
        forbid_zones=[beam],
        params={
            "wall_x": wall_x,
            "wall_height": wall_h,
            "door_width": door_w,
            "door_height": door_h,
            "door_y": door_y,
            "pocket_length": pocket_len,
            "ball_radius": radius,
            "start_x": start[0],
            "start_y": start[1],
            "start_z": start[2],
            "mirrored": float(seed % 2),
        },
    )
