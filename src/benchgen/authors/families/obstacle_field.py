"""Family ``obstacle_field``: thread a dropped payload through a field of posts into a kerbed pen."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, common, pick, span, u

FAMILY = Family(
    name="obstacle_field",
    tier="spatial",
    keywords=("obstacle", "obstacles", "field", "posts", "clutter", "avoid", "pen", "maze"),
    summary="Thread a dropped payload past posts and blocks into a kerbed pen on the floor.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0, min_obstacles=2, tall_obstacles=True),
        # A ball: a sliding block cannot be carried this far this low (it needs slopes past ~30°).
        Const("PAYLOAD_KIND", "ball"),
        Const("PAYLOAD_SIZE", span(rng, 22.0, 36.0, 3.0), "ball diameter or cube side (mm)"),
        Const("PAYLOAD_MATERIAL", pick(rng, ("steel", "abs", "pla", "rubber", "wood"))),
        Const("PEN_SIZE", span(rng, 100.0, 160.0, 15.0), "outer side of the square pen (mm)"),
        Const("KERB_HEIGHT", u(rng, 25.0, 45.0)),
        Const("PEN_MATERIAL", pick(rng, ("abs", "wood", "steel"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # A square pen: four kerbs around a patch of floor.
    size = params["pen_size"] = rng.uniform(*PEN_SIZE)
    x0 = params["pen_x"] = rng.uniform(100.0, WIDTH / 2 - 10.0 - size)
    py = params["pen_y"] = rng.uniform(-DEPTH / 2 + 10.0 + size / 2, DEPTH / 2 - 10.0 - size / 2)
    x1, y0, y1, t = x0 + size, py - size / 2, py + size / 2, 8.0
    pen = f.box(x0, x1, y0, y1, 0, KERB_HEIGHT) - f.box(x0 + t, x1 - t, y0 + t, y1 - t, -1, KERB_HEIGHT + 1)

    # The payload is released in mid-air at the far end of the field.
    s = params["payload_size"] = rng.uniform(*PAYLOAD_SIZE)
    shape = Sphere(s / 2 * f.k) if PAYLOAD_KIND == "ball" else Box(s * f.k, s * f.k, s * f.k)
    start = (rng.uniform(-280.0, -200.0), rng.uniform(-80.0, 80.0), rng.uniform(150.0, 230.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    # The lane stops short of the pen, so a chute can come at the pen square to its kerb.
    extra_parts, forbid = fill_lane(f, rng, -170.0, x0 - 60.0, params)
    return Scenario(
        name="obstacle_field",
        description=(
            f"Get the falling {PAYLOAD_KIND} past the obstacles and into the kerbed pen, "
            "keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[Part("pen", pen, material=PEN_MATERIAL), *extra_parts],
        payload=Payload(
            PAYLOAD_KIND,
            shape,
            material=PAYLOAD_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(x0 + t + 1, x1 - t - 1, y0 + t + 1, y1 - t - 1, 0, KERB_HEIGHT + 20, "pen"),
        build_zone=f.zone(-WIDTH / 2 + 10, x1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''


SOLUTION = '''"""Reference solution for ``obstacle_field``: a wooden channel threading the field into a tray in the pen.

The ball is dropped in mid-air. A channel catches it right under its release point
(closed back), then runs gently downhill, winding around the posts and blocks that stand
higher than it, and comes at the pen square to its near kerb, ending just past it. The
ball drops into a short tray on the pen's floor that slopes down to a tall end wall:
it rolls against the wall and rests there, inside the pen, instead of wandering about.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part, Vec3
from benchgen.solution import Design, SceneView
from benchgen.toolkit import (
    KeepOut,
    channel,
    corners,
    path_clear,
    plan_direction,
    route,
    sloped_path,
    wall_thickness,
)

MATERIAL = "wood"
GRADE = 0.08  # about 4.5°: the ball keeps rolling, and reaches the pen at a modest speed
TRAY_GRADE = 0.1


def design(view: SceneView) -> Design:
    k = view.scale
    pen, goal, ball = view.part("pen"), view.goal_zone, view.payload
    if ball.label != "ball":
        raise RuntimeError("this reference rolls a ball; a block would need a much steeper layout")
    radius = max(ball.size) / 2
    jx, jy, jz = ball.jitter
    toward = 1.0 if goal.center[0] > ball.start[0] else -1.0

    wall = wall_thickness(k)
    clearance = 2.0 * k
    width = 2 * radius + 2 * max(jx, jy) + 6.0 * k
    wall_height = radius + 2.0 * k
    floor = width / 2 + wall
    reach = floor + clearance
    here = (ball.start[0], ball.start[1])
    z_catch = ball.start[2] - radius - jz - clearance

    # The channel comes at the pen square to one of its kerbs (the near one, or a side one
    # when something stands in front of the pen), ends just inside it and drops the ball into
    # a tray that runs across the pen from that kerb, sloping down to a tall end wall.
    tray_low = wall + clearance
    tray_top = tray_low + TRAY_GRADE * max(goal.size[0], goal.size[1]) + wall_height
    approaches: dict[tuple[float, float], tuple[tuple[float, float], tuple[float, float]]] = {}
    for axis, sign in ((0, toward), (1, 1.0), (1, -1.0)):
        across = 1 - axis
        lo, hi = goal.min[across] + reach + 0.5 * k, goal.max[across] - reach - 0.5 * k
        entry = goal.min[axis] if sign > 0 else goal.max[axis]
        offsets = [lo + (hi - lo) * i / 4 for i in range(5)] + [ball.start[across], goal.center[across]]
        for offset in offsets:
            end = [0.0, 0.0]
            end[axis], end[across] = entry + sign * (radius + clearance), min(max(offset, lo), hi)
            line = list(end)
            line[axis] -= sign * 3 * reach
            heading = (sign, 0.0) if axis == 0 else (0.0, sign)
            approaches[(line[0], line[1])] = ((end[0], end[1]), heading)

    boxes: list[KeepOut] = [(p.bbox_min, p.bbox_max) for p in view.parts if p.label != "pen"]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    boxes += _ring(pen.bbox_min, pen.bbox_max, goal.min, goal.max)
    boxes.append(((goal.min[0], goal.min[1], 0.0), (goal.max[0], goal.max[1], tray_top)))
    zone = view.build_zone
    region = ((zone.min[0], zone.min[1]), (zone.max[0], zone.max[1]))

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        # The channel starts under the ball, heading wherever its first run goes.
        if len(plan) > 2 and math.dist(here, plan[1]) < radius + jx + jy + clearance:
            return None  # the ball must land before the first bend
        heading = plan_direction(here, plan[1])
        # The closed back's inner face sits just behind the ball's jittered start.
        back = radius + jx * abs(heading[0]) + jy * abs(heading[1]) + clearance
        catch = (here[0] - heading[0] * back, here[1] - heading[1] * back)
        end, into = approaches[plan[-1]]
        points = [catch, *plan[1:], end]
        a, b = points[-3:-1]
        if (b[0] - a[0]) * into[0] + (b[1] - a[1]) * into[1] < 0.5 * math.dist(a, b):
            return None  # more than a 60° turn into the straight run at the pen
        path = sloped_path(points, z_catch, [GRADE] * (len(points) - 1), floor)
        cut = (-into[1], into[0])
        clear = path_clear(path, boxes, reach, wall + clearance, region, end_cut=cut, caps=(wall, 0.0))
        return path if clear else None

    path = route(
        here, list(approaches), region, build, min_run=reach, grid=12, waypoints=corners(boxes, 1.1 * reach)
    )
    if path is None:
        raise RuntimeError("no clear route from the release point to the pen")
    end = path[-1]
    into = next(d for e, d in approaches.values() if e == (end[0], end[1]))
    axis = 0 if into[0] != 0 else 1
    sign = into[axis]
    shape = channel(
        path, width, wall_height=wall_height, thickness=wall, closed_start=True, end_cut=(-into[1], into[0])
    )
    # The tray crosses the pen under the channel's end; its end wall stands as high as a
    # ball leaving the channel can fly.
    entry = goal.min[axis] if sign > 0 else goal.max[axis]
    exit_ = goal.max[axis] if sign > 0 else goal.min[axis]
    first, last = [end[0], end[1], 0.0], [end[0], end[1], 0.0]
    first[axis], first[2] = entry + sign * clearance, tray_low + TRAY_GRADE * abs(exit_ - entry)
    last[axis], last[2] = exit_ - sign * (clearance + wall), tray_low
    tray = channel(
        [tuple(first), tuple(last)],
        width + 4.0 * k,
        wall_height=wall_height,
        thickness=wall,
        closed_end=True,
        end_wall_height=end[2] + 2 * radius - tray_low,
    )
    return Design(parts=[Part("chute", shape, material=MATERIAL), Part("tray", tray, material=MATERIAL)])


def _ring(lo: Vec3, hi: Vec3, inner_lo: Vec3, inner_hi: Vec3) -> list[KeepOut]:
    """Four boxes for a ring-shaped part (a pen's kerbs) around the inner rectangle."""
    top = hi[2]
    return [
        ((lo[0], lo[1], lo[2]), (hi[0], inner_lo[1], top)),
        ((lo[0], inner_hi[1], lo[2]), (hi[0], hi[1], top)),
        ((lo[0], lo[1], lo[2]), (inner_lo[0], hi[1], top)),
        ((inner_hi[0], lo[1], lo[2]), (hi[0], hi[1], top)),
    ]
'''
