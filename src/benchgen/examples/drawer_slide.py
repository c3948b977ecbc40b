"""Drawer slide (kinematic tier): drop a ball into a half-open drawer that slides on its runners.

A wooden drawer sits on a horizontal slide in a cabinet carcass, pulled part-way out
towards the solver. The goal is the exposed part of the drawer. A ball released from
a dispenser well to the side just drops to the floor. The catch: the drawer is free to
slide, so a ball arriving with horizontal speed shoves the drawer back into the cabinet
and ends up under the countertop. The solver's chute must deliver it gently, or also
hold the drawer.

Odd seeds mirror the canonical layout (dispenser on -x, cabinet on +x side).
"""

from __future__ import annotations

import random

from build123d import Box, Cylinder, Pos, Rot, Sphere

from benchgen.scenario import Constraints, Hinge, Part, Payload, Scenario, Slide, Zone

WIDTH, DEPTH, HEIGHT = 640.0, 320.0, 280.0  # workspace at scale 1 (mm)
GAP = 3.0  # running clearance between drawer and carcass
PANEL = 12.0  # carcass panel thickness
DRAWER_WALL = 5.0


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

    drawer_l = rng.uniform(170.0, 200.0)
    drawer_w = rng.uniform(130.0, 160.0)
    drawer_h = rng.uniform(50.0, 70.0)
    cab_len = rng.uniform(drawer_l + 20.0, 230.0)
    cab_x0 = rng.uniform(40.0, WIDTH / 2 - 10.0 - cab_len)
    cab_y = rng.uniform(-40.0, 40.0)
    pull = rng.uniform(90.0, 130.0)  # how far the drawer is pulled out towards the solver

    # Carcass: a rectangular tube open at both ends, the drawer running inside it.
    half_in = drawer_w / 2 + GAP
    floor_z = PANEL + GAP  # drawer underside
    top_z = floor_z + drawer_h + GAP + PANEL
    carcass = f.box(
        cab_x0, cab_x0 + cab_len, cab_y - half_in - PANEL, cab_y + half_in + PANEL, 0, top_z
    ) - f.box(cab_x0 - 1, cab_x0 + cab_len + 1, cab_y - half_in, cab_y + half_in, PANEL, top_z - PANEL)

    # Drawer: an open tray whose floor hangs GAP above the carcass base; the slide, not
    # contact, carries its weight, and no force acts along a horizontal slide, so it
    # stays put until something hits it.
    dx0, dx1 = cab_x0 - pull, cab_x0 - pull + drawer_l
    dy0, dy1 = cab_y - drawer_w / 2, cab_y + drawer_w / 2
    w = DRAWER_WALL
    drawer = f.box(dx0, dx1, dy0, dy1, floor_z, floor_z + drawer_h) - f.box(
        dx0 + w, dx1 - w, dy0 + w, dy1 - w, floor_z + w, floor_z + drawer_h + 1
    )

    radius = rng.uniform(12.0, 17.0)
    start = (rng.uniform(-260.0, -190.0), rng.uniform(-70.0, 70.0), rng.uniform(170.0, 230.0))

    return Scenario(
        name="drawer_slide",
        description=(
            "Land the ball in the exposed part of the half-open drawer. The drawer slides freely "
            "on its runners; nothing may be placed on the countertop."
        ),
        tier="kinematic",
        parts=[
            Part("carcass", carcass, material="wood"),
            Part("drawer", drawer, material="wood", joint=f.slide_x((-40.0, pull - 5.0))),
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material="rubber",
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(
            dx0 + w + 1, cab_x0 - 2, dy0 + w + 1, dy1 - w - 1, floor_z + w, floor_z + drawer_h, "drawer"
        ),
        build_zone=f.zone(-WIDTH / 2 + 10, cab_x0 - 1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=rng.choice([100, 1000, 5000]), max_unit_cost=8.0, max_weight_g=900.0
        ),
        forbid_zones=[
            f.zone(
                cab_x0,
                cab_x0 + cab_len,
                cab_y - half_in - PANEL,
                cab_y + half_in + PANEL,
                top_z,
                top_z + 60,
                "countertop",
            )
        ],
        params={
            "drawer_length": drawer_l,
            "drawer_width": drawer_w,
            "drawer_height": drawer_h,
            "cabinet_length": cab_len,
            "cabinet_x": cab_x0,
            "cabinet_y": cab_y,
            "pull_out": pull,
            "ball_radius": radius,
            "start_x": start[0],
            "start_y": start[1],
            "start_z": start[2],
            "mirrored": float(seed % 2),
        },
    )
