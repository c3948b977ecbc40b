"""Family ``table_push`` (mechanism tier): push a ball resting on a table into a bin beyond it.

The ball lies still on a flat table top; nothing in the scene moves it. A bin stands on
the floor beyond the table's far end, across a gap that may hold a forbidden pit. Only a
driven mechanism can deliver it: the reference pushes the ball off the table with a
motorised slide and catches it in a chute that drops it into the bin.
"""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span, u

FAMILY = Family(
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
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        *ball(rng, (12.0, 20.0), ("steel", "abs", "rubber", "pla")),
        Const("TABLE_HEIGHT", span(rng, 100.0, 170.0, 15.0), "mm"),
        Const("TABLE_LENGTH", span(rng, 140.0, 200.0, 15.0)),
        Const("TABLE_WIDTH", span(rng, 110.0, 180.0, 15.0)),
        Const("TABLE_MATERIAL", pick(rng, ("wood", "steel", "aluminum_6061"))),
        Const("GAP", span(rng, 30.0, 140.0, 20.0), "floor between the table and the bin"),
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

    # The table: a plain block on the start side, its top flat so the ball stays put.
    top = params["table_height"] = rng.uniform(*TABLE_HEIGHT)
    length = params["table_length"] = rng.uniform(*TABLE_LENGTH)
    t_width = params["table_width"] = rng.uniform(*TABLE_WIDTH)
    tx0 = params["table_x"] = rng.uniform(-WIDTH / 2 + 20.0, -WIDTH / 2 + 90.0)
    tx1 = tx0 + length
    ty = params["table_y"] = rng.uniform(-DEPTH / 2 + 10.0 + t_width / 2, DEPTH / 2 - 10.0 - t_width / 2)
    table = f.box(tx0, tx1, ty - t_width / 2, ty + t_width / 2, 0, top)

    # The ball rests on the table, a pusher's width from its near end and clear of its far end.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    bx = params["ball_x"] = rng.uniform(tx0 + 40.0 + radius, tx1 - 40.0 - radius)
    by = params["ball_y"] = rng.uniform(ty - t_width / 2 + radius + 15.0, ty + t_width / 2 - radius - 15.0)
    start = (bx, by, top + radius + CLEARANCE)

    # The open bin across the gap, lower than the table top.
    gap = params["gap"] = rng.uniform(*GAP)
    bin_w = params["bin_width"] = rng.uniform(*BIN_SIZE)
    bin_d = params["bin_depth"] = rng.uniform(*BIN_SIZE)
    bin_h = params["bin_height"] = min(rng.uniform(*BIN_HEIGHT), top - 40.0)
    bx0 = tx1 + gap
    # The bin lies across the ball's line, so that what leaves the table end-on can reach it.
    reach = bin_d / 2 - BIN_WALL - radius - 10.0
    bin_y = by + rng.uniform(-reach, reach)
    bin_y = params["bin_y"] = min(max(bin_y, -DEPTH / 2 + 10.0 + bin_d / 2), DEPTH / 2 - 10.0 - bin_d / 2)
    bx1, by0, by1, w = bx0 + bin_w, bin_y - bin_d / 2, bin_y + bin_d / 2, BIN_WALL
    bin_part = f.box(bx0, bx1, by0, by1, 0, bin_h) - f.box(bx0 + w, bx1 - w, by0 + w, by1 - w, w, bin_h + 1)

    forbid = []
    if PIT and gap > 40.0:
        pit_top = min(PIT_HEIGHT, bin_h - 10.0)
        forbid.append(f.zone(tx1 + 10.0, bx0 - 10.0, -DEPTH / 2, DEPTH / 2, 0.0, pit_top, "pit"))
    return Scenario(
        name="table_push",
        description=(
            "A ball rests on a flat table. Deliver it into the open bin beyond the table's far end; "
            "nothing in the scene moves it, so the design must. Keep out of any forbidden zone."
        ),
        tier="mechanism",
        parts=[Part("table", table, material=TABLE_MATERIAL), Part("bin", bin_part, material=BIN_MATERIAL)],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * f.k, 3 * f.k, 0.0),
        ),
        goal_zone=f.zone(bx0 + w + 1, bx1 - w - 1, by0 + w + 1, by1 - w - 1, w, bin_h, "bin_interior"),
        build_zone=f.zone(tx0, bx1 + 5, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''

SOLUTION = '''"""Reference solution for ``table_push``: a motorised pusher and a catch chute.

A plate on a slide stands behind the ball on the table top, 1 mm above it. After half a
second its motor drives it towards the table's far end at a walking pace, rolling the
ball off the edge. A chute hung below the edge, clear of the table, catches the ball and
runs down to above the bin (the scene keeps the bin's rim 40 mm below the table top), where the ball drops in. Everything is derived
from the view: the table's and bin's bounding boxes, the ball's start, size and jitter.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part, Slide
from benchgen.solution import Design, Motor, SceneView
from benchgen.toolkit import box_between, chute


def design(view: SceneView) -> Design:
    """Pusher + chute for one variant."""
    table, bin_, goal, ball = view.part("table"), view.part("bin"), view.goal_zone, view.payload
    k = view.scale
    radius = max(ball.size) / 2
    toward = 1.0 if goal.center[0] > table.bbox_max[0] else -1.0
    top = table.bbox_max[2]
    edge = table.bbox_max[0] if toward > 0 else table.bbox_min[0]

    # Pusher: a plate just behind the ball's start (jitter included), as tall as the ball.
    thick = 6.0
    face = ball.start[0] - toward * (radius + ball.jitter[0] + 3.0 * k)
    back = face - toward * thick
    half_w = radius + ball.jitter[1] + 8.0 * k
    y = ball.start[1]
    pusher = box_between(
        (min(face, back), y - half_w, top + 1.0 * k), (max(face, back), y + half_w, top + 1.2 * radius)
    )
    travel = abs(edge - face) + radius  # until the ball is past the edge

    # Chute: from just below the edge (clear of the table) down to the middle of the bin.
    wall = 3.0  # sheet thickness does not grow with the scene: the weight limit does not either
    width = 2 * half_w
    near_goal = goal.min[0] if toward > 0 else goal.max[0]
    end_x = near_goal + toward * 0.35 * goal.size[0]
    # Run as straight as the bin allows; a slanted chute's corner swings back by half its width.
    end_y = min(max(y, goal.min[1] + radius + 5.0 * k), goal.max[1] - radius - 5.0 * k)
    run = abs(end_x - edge)
    swing = (width / 2 + wall) * abs(end_y - y) / math.hypot(run, end_y - y)
    # The floor starts a ball's radius below the table top, so the ball drops in and rolls on.
    start = (edge + toward * (2.0 * k + wall + swing), y, top - radius)
    end = (end_x, end_y, bin_.bbox_max[2] + wall + 2.0 * k)
    catcher = chute(start, end, width, wall_height=2.2 * radius, thickness=wall)

    return Design(
        parts=[
            Part("pusher", pusher, material="pla", joint=Slide(axis=(toward, 0.0, 0.0), range=(0.0, travel))),
            Part("catch_chute", catcher, material="pla"),
        ],
        motors=[Motor("pusher", speed=80.0 * k, max_effort=5.0, start_s=0.5)],
    )
'''
