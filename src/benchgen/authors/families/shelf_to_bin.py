"""Family ``shelf_to_bin``: a ball rolls off a sloped launch shelf; deliver it into an open bin."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span, u

FAMILY = Family(
    name="shelf_to_bin",
    tier="spatial",
    keywords=("shelf", "bin", "container", "concave", "ramp", "roll", "ball", "chute"),
    summary="A ball rolls off a sloped launch shelf; deliver it into an open bin on the floor.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        *ball(rng, (12.0, 20.0), ("steel", "abs", "rubber", "pla")),
        Const("SHELF_HEIGHT", span(rng, 130.0, 200.0, 20.0), "mm"),
        Const("SHELF_TILT", span(rng, 4.0, 9.0, 1.5), "degrees, down towards the bin"),
        Const("SHELF_LENGTH", u(rng, 140.0, 180.0)),
        Const("SHELF_MATERIAL", pick(rng, ("aluminum_6061", "wood", "steel"))),
        Const("BIN_SIZE", span(rng, 110.0, 160.0, 15.0), "outer width and depth (mm)"),
        Const("BIN_HEIGHT", span(rng, 50.0, 90.0, 10.0)),
        Const("BIN_WALL", u(rng, 5.0, 10.0)),
        Const("BIN_MATERIAL", pick(rng, ("pla", "abs", "wood", "aluminum_6061"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Launch shelf: a slab tilted down towards the goal, sunk 6 mm into its pedestal so
    # the two fuse into one solid at any tilt.
    height = params["shelf_height"] = rng.uniform(*SHELF_HEIGHT)
    tilt = params["shelf_tilt_deg"] = rng.uniform(*SHELF_TILT)
    px = params["pedestal_x"] = rng.uniform(-WIDTH / 2 + 10.0 + SHELF_LENGTH / 2, -200.0)
    deck_c = (px, 0.0, height - 2.0)
    shelf = f.slab(deck_c, SHELF_LENGTH, 90.0, 8.0, tilt) + f.box(px - 30, px + 30, -30, 30, 0, height)
    a = math.radians(tilt)
    lip_x = px + SHELF_LENGTH / 2 * math.cos(a) + 4.0 * math.sin(a)

    # The ball waits near the high end, CLEARANCE (+1 mm for the x-jitter) above the slab.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    along = -SHELF_LENGTH / 2 + radius + 12.0
    lift = 4.0 + radius + CLEARANCE + 1.0
    start = (
        deck_c[0] + along * math.cos(a) + lift * math.sin(a),
        rng.uniform(-15.0, 15.0),
        deck_c[2] - along * math.sin(a) + lift * math.cos(a),
    )

    # Open bin on the floor, far enough past the lip that the ball lands short of it.
    bin_w = params["bin_width"] = rng.uniform(*BIN_SIZE)
    bin_d = params["bin_depth"] = rng.uniform(*BIN_SIZE)
    bin_h = params["bin_height"] = rng.uniform(*BIN_HEIGHT)
    bx0 = params["bin_x"] = rng.uniform(lip_x + 180.0, WIDTH / 2 - 10.0 - bin_w)
    by = params["bin_y"] = rng.uniform(-DEPTH / 2 + 10.0 + bin_d / 2, DEPTH / 2 - 10.0 - bin_d / 2)
    bx1, by0, by1, w = bx0 + bin_w, by - bin_d / 2, by + bin_d / 2, BIN_WALL
    bin_part = f.box(bx0, bx1, by0, by1, 0, bin_h) - f.box(bx0 + w, bx1 - w, by0 + w, by1 - w, w, bin_h + 1)

    extra_parts, forbid = fill_lane(f, rng, lip_x + 15.0, bx0 - 15.0, params)
    return Scenario(
        name="shelf_to_bin",
        description=(
            "A ball rolls off the sloped launch shelf. Catch it and deliver it into the open bin, "
            "keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("shelf", shelf, material=SHELF_MATERIAL),
            Part("bin", bin_part, material=BIN_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * f.k, 5 * f.k, 0.0),
        ),
        goal_zone=f.zone(bx0 + w + 1, bx1 - w - 1, by0 + w + 1, by1 - w - 1, w, bin_h, "bin_interior"),
        build_zone=f.zone(-WIDTH / 2 + 10, bx1 + 5, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''


SOLUTION = '''"""Reference solution for ``shelf_to_bin``: a wooden channel from the shelf's lip into a tray in the bin.

The ball rolls off the tilted shelf. A U-channel starts just past the lip and barely
below it, wide enough for the ball's jitter, and falls gently (about 5°, so the ball
arrives at a modest speed), around obstacles that stand higher than it and forbidden
zones, to end over the bin. The ball drops into a tray on the bin's floor that carries on
in the channel's direction, sloping down to a tall end wall: the ball rolls against the
wall and rests there at once, instead of rolling about the bin.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part, Vec3
from benchgen.solution import Design, SceneView
from benchgen.toolkit import KeepOut, channel, graded_path, path_clear, plan_direction, route, wall_thickness

MATERIAL = "wood"
TRAY_GRADE = 0.1


def design(view: SceneView) -> Design:
    k = view.scale
    shelf, bin_ = view.part("shelf"), view.part("bin")
    goal, ball = view.goal_zone, view.payload
    radius = max(ball.size) / 2
    toward = 1.0 if goal.center[0] > (shelf.bbox_min[0] + shelf.bbox_max[0]) / 2 else -1.0

    # The lip is the shelf's edge facing the bin; its top is the highest point along that edge.
    edge_x = shelf.bbox_max[0] if toward > 0 else shelf.bbox_min[0]
    lip_top = max(v.Z for v in shelf.shape.vertices() if abs(v.X - edge_x) < 1.0 * k)

    wall = wall_thickness(k)
    width = 2 * radius + 2 * ball.jitter[1] + 8.0 * k
    half = width / 2 + wall
    clearance = 3.0 * k
    start = (edge_x + toward * (clearance + wall), ball.start[1], lip_top - 2.0 * k)

    # End over the bin's interior, a ball's radius past its near wall, as low as the wall allows.
    near_x = goal.min[0] if toward > 0 else goal.max[0]
    end_x = near_x + toward * (radius + half)
    tray_half = width / 2 + 2.0 * k + wall  # the tray is a little wider than the channel
    y_lo, y_hi = goal.min[1] + tray_half + clearance, goal.max[1] - tray_half - clearance
    tray_low = goal.min[2] + wall + clearance
    tray_top = tray_low + TRAY_GRADE * math.hypot(goal.size[0], goal.size[1]) + radius + 2.0 * k
    z_end = max(bin_.bbox_max[2], tray_top) + wall + 1.5 * clearance
    ys = [ball.start[1], goal.center[1], *(y_lo + (y_hi - y_lo) * i / 4 for i in range(5))]
    ends = [(end_x, min(max(y, y_lo), y_hi)) for y in ys]

    boxes: list[KeepOut] = [(p.bbox_min, p.bbox_max) for p in view.parts if p.label != "shelf"]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    boxes.append(((goal.min[0], goal.min[1], 0.0), (goal.max[0], goal.max[1], tray_top)))
    zone = view.build_zone
    region = ((zone.min[0], zone.min[1]), (zone.max[0], zone.max[1]))
    reach, cut = half + clearance, (0.0, 1.0)

    def tray_fits(at: tuple[float, float], d: tuple[float, float]) -> bool:
        """Whether a tray from under the channel's end, along its direction, fits the bin."""
        n, w = (-d[1], d[0]), tray_half + clearance
        corners = [(at[0] + s * w * n[0], at[1] + s * w * n[1]) for s in (-1.0, 1.0)]
        inside = all(goal.min[i] <= c[i] <= goal.max[i] for c in corners for i in range(2))
        return inside and _room(at, d, w, goal.min, goal.max) > 2 * radius + clearance + wall

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        if not tray_fits(plan[-1], plan_direction(plan[-2], plan[-1])):
            return None
        # Fall no steeper than about 5°, so the ball reaches the bin at a modest speed.
        run = sum(math.dist(plan[i], plan[i + 1]) for i in range(len(plan) - 1))
        path = graded_path(plan, start[2], max(z_end, start[2] - 0.09 * run), half)
        return path if path_clear(path, boxes, reach, wall + clearance, region, cut) else None

    path = route((start[0], start[1]), ends, region, build, heading=(toward, 0.0), min_run=2 * reach)
    if path is None:
        raise RuntimeError("no clear route from the shelf to the bin")
    shape = channel(path, width, wall_height=radius + 2.0 * k, thickness=wall, start_cut=(0.0, 1.0))
    # The tray carries on from under the channel's end in its direction, as far as the bin
    # allows; its end wall stands as high as a ball leaving the channel can fly.
    end = path[-1]
    last = next(p for p in reversed(path) if math.hypot(p[0] - end[0], p[1] - end[1]) > 1e-6)
    d = plan_direction((last[0], last[1]), (end[0], end[1]))
    length = _room(end, d, tray_half + clearance, goal.min, goal.max) - clearance - wall
    tray = channel(
        [
            (end[0], end[1], tray_low + TRAY_GRADE * length),
            (end[0] + d[0] * length, end[1] + d[1] * length, tray_low),
        ],
        width + 4.0 * k,
        wall_height=radius + 2.0 * k,
        thickness=wall,
        closed_end=True,
        end_wall_height=end[2] + 2 * radius - tray_low,
    )
    return Design(parts=[Part("chute", shape, material=MATERIAL), Part("tray", tray, material=MATERIAL)])


def _room(at: tuple[float, ...], d: tuple[float, float], half: float, lo: Vec3, hi: Vec3) -> float:
    """How far a strip ``half`` wide either side can run from ``at`` along ``d`` inside [lo, hi] in plan."""
    n = (-d[1], d[0])
    room = math.inf
    for i in range(2):
        for side in (-1.0, 1.0):  # the strip's two edges
            p = at[i] + side * half * n[i]
            if d[i] > 1e-9:
                room = min(room, (hi[i] - p) / d[i])
            elif d[i] < -1e-9:
                room = min(room, (lo[i] - p) / d[i])
    return room
'''
