"""Concave bin (spatial tier): roll a ball off a raised launch deck into an open bin.

A steel ball starts at the top of a gently sloped deck on a pedestal. Left alone it
rolls off the deck's lip, drops onto the floor and fetches up against the bin's outer
wall. The solver must design a chute or funnel that carries it over a strip of floor
the solver may not build on (a cable trench) and drops it inside the bin's walls.

Layout is written in a canonical frame (launch deck on -x, bin on +x, unit scale) and
mapped to the world by ``Frame``: odd seeds mirror the scene so that, across seeds,
start and goal sweep the whole workspace.
"""

from __future__ import annotations

import math
import random

from build123d import Box, Cylinder, Pos, Rot, Sphere

from benchgen.scenario import Constraints, Hinge, Part, Payload, Scenario, Slide, Zone

WIDTH, DEPTH, HEIGHT = 640.0, 320.0, 300.0  # workspace at scale 1 (mm)
CLEARANCE = 2.0  # gap kept between separate bodies so meshes never interpenetrate


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

    # Launch deck: a slab tilted down towards the bin, fused onto a square pedestal.
    deck_height = rng.uniform(140.0, 190.0)
    tilt = rng.uniform(4.0, 8.0)  # degrees; steep enough to roll, shallow enough to stay on the deck
    pedestal_x = rng.uniform(-235.0, -200.0)
    deck_len, deck_w, deck_t = 160.0, 90.0, 8.0
    # Sink the slab 6 mm into the pedestal so the two fuse into one solid at any tilt.
    deck_c = (pedestal_x, 0.0, deck_height - 6.0 + deck_t / 2)
    deck = Pos(*f.point(*deck_c)) * Rot(0, f.sx * tilt, 0) * Box(deck_len * f.k, deck_w * f.k, deck_t * f.k)
    launcher = deck + f.box(pedestal_x - 30, pedestal_x + 30, -30, 30, 0, deck_height)

    # Ball: sits near the high end of the deck, CLEARANCE above the slab along its normal.
    radius = rng.uniform(14.0, 20.0)
    a = math.radians(tilt)
    along = -deck_len / 2 + radius + 12.0  # distance from deck centre along the slope
    lift = deck_t / 2 + radius + CLEARANCE + 1.0  # extra 1 mm covers the x-jitter on the slope
    start = (
        deck_c[0] + along * math.cos(a) + lift * math.sin(a),
        rng.uniform(-15.0, 15.0),
        deck_c[2] - along * math.sin(a) + lift * math.cos(a),
    )

    # Open bin on the floor, well past where the ball lands when it leaves the lip.
    bin_w = rng.uniform(120.0, 160.0)
    bin_d = rng.uniform(120.0, 170.0)
    bin_h = rng.uniform(60.0, 90.0)
    wall = 8.0
    bin_x = rng.uniform(bin_w / 2 + 60.0, WIDTH / 2 - bin_w / 2 - 10.0)
    bin_y = rng.uniform(-40.0, 40.0)
    x0, x1, y0, y1 = bin_x - bin_w / 2, bin_x + bin_w / 2, bin_y - bin_d / 2, bin_y + bin_d / 2
    bin_part = f.box(x0, x1, y0, y1, 0, bin_h) - f.box(
        x0 + wall, x1 - wall, y0 + wall, y1 - wall, wall, bin_h + 1
    )

    lip_x = pedestal_x + deck_len / 2 * math.cos(a)
    trench = f.zone(lip_x + 40.0, x0 - 20.0, -DEPTH / 2, DEPTH / 2, 0.0, 35.0, "cable_trench")

    return Scenario(
        name="concave_bin",
        description=(
            "Deliver the steel ball from the sloped launch deck into the open bin. Nothing may be "
            "built in the cable trench on the floor between them."
        ),
        tier="spatial",
        parts=[
            Part("launch_deck", launcher, material="aluminum_6061"),
            Part("bin", bin_part, material="pla"),
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material="steel",
            start=f.point(*start),
            jitter=(3.0 * f.k, 5.0 * f.k, 0.0),
        ),
        goal_zone=f.zone(
            x0 + wall + 1, x1 - wall - 1, y0 + wall + 1, y1 - wall - 1, wall, bin_h, "bin_interior"
        ),
        build_zone=f.zone(pedestal_x - 80.0, x1 + 5.0, -DEPTH / 2, DEPTH / 2, 0.0, HEIGHT - 10.0, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0.0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=rng.choice([100, 500, 2000]), max_unit_cost=15.0, max_weight_g=1200.0
        ),
        forbid_zones=[trench],
        params={
            "deck_height": deck_height,
            "tilt_deg": tilt,
            "pedestal_x": pedestal_x,
            "ball_radius": radius,
            "bin_x": bin_x,
            "bin_y": bin_y,
            "bin_width": bin_w,
            "bin_depth": bin_d,
            "bin_height": bin_h,
            "mirrored": float(seed % 2),
        },
    )
