"""Family ``funnel_to_cup``: a funnel on three legs empties into a cup; get a dropped ball into the cup."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span, u

FAMILY = Family(
    name="funnel_to_cup",
    tier="spatial",
    keywords=("funnel", "cup", "cone", "outlet", "drop", "pour", "hopper", "round", "curved"),
    summary="A ball is released in mid-air; get it into a funnel on legs that empties into a cup.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        *ball(rng, (10.0, 14.0), ("steel", "abs", "rubber", "pla")),
        Const("FUNNEL_TOP", u(rng, 54.0, 66.0), "inner radius of the funnel's mouth (mm)"),
        Const("FUNNEL_HEIGHT", span(rng, 45.0, 70.0, 8.0), "height of the conical part"),
        Const("OUTLET_PLAY", u(rng, 5.0, 9.0), "radial play of the ball in the outlet"),
        Const("SPOUT", 20.0, "length of the outlet's straight spout"),
        Const("FUNNEL_WALL", 3.0),
        Const("LEG_RADIUS", 5.0),
        Const("FUNNEL_MATERIAL", pick(rng, ("abs", "pla", "aluminum_6061", "steel"))),
        Const("CUP_RADIUS", span(rng, 32.0, 44.0, 4.0), "outer radius of the cup (mm)"),
        Const("CUP_HEIGHT", span(rng, 40.0, 60.0, 8.0)),
        Const("CUP_WALL", 4.0),
        Const("CUP_MATERIAL", pick(rng, ("pla", "abs", "wood", "aluminum_6061"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}
    k = f.k

    # The cup is a sleeve standing on the floor, which is its bottom: MuJoCo's soft contacts
    # let a ball that drops through the funnel sink several millimetres into what it lands
    # on (most at scale 0.5, where the ball is small), and a floored cup's floor would let
    # it through, or push it on under the cup once it was half through. The ground cannot.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    cup_r = params["cup_radius"] = rng.uniform(*CUP_RADIUS)
    cup_h = params["cup_height"] = rng.uniform(*CUP_HEIGHT)
    cx = params["cup_x"] = rng.uniform(FUNNEL_TOP + 40.0, WIDTH / 2 - 15.0 - FUNNEL_TOP)
    cy = params["cup_y"] = rng.uniform(-DEPTH / 2 + 15.0 + FUNNEL_TOP, DEPTH / 2 - 15.0 - FUNNEL_TOP)
    w = CUP_WALL
    cup = Pos(*f.point(cx, cy, cup_h / 2)) * (
        Cylinder(cup_r * k, cup_h * k) - Cylinder((cup_r - w) * k, (cup_h + 2.0) * k)
    )

    # Funnel: a conical shell from FUNNEL_TOP down to an outlet that passes the ball with
    # OUTLET_PLAY of radial play, a short spout, and three legs fused to its rim.
    outlet = radius + OUTLET_PLAY
    cone_h = params["funnel_height"] = rng.uniform(*FUNNEL_HEIGHT)
    spout_z = cup_h + 12.0
    cone_z = spout_z + SPOUT
    t = FUNNEL_WALL
    outer = Cone((outlet + t) * k, (FUNNEL_TOP + t) * k, cone_h * k)
    shell = outer - Cone(outlet * k, FUNNEL_TOP * k, (cone_h + 0.01) * k)
    spout = Cylinder((outlet + t) * k, SPOUT * k) - Cylinder(outlet * k, (SPOUT + 1.0) * k)
    funnel = (
        Pos(*f.point(cx, cy, cone_z + cone_h / 2)) * shell
        + Pos(*f.point(cx, cy, spout_z + SPOUT / 2)) * spout
    )
    rim_z = cone_z + cone_h
    for angle in (30.0, 150.0, 270.0):
        a = math.radians(angle)
        leg_x, leg_y = cx + (FUNNEL_TOP + t / 2) * math.cos(a), cy + (FUNNEL_TOP + t / 2) * math.sin(a)
        funnel = funnel + f.post(leg_x, leg_y, LEG_RADIUS, rim_z - 2.0)

    # The ball is released in mid-air well before the funnel and falls to the floor
    # unless something carries it over to the funnel's mouth.
    start = (rng.uniform(-280.0, -220.0), rng.uniform(-60.0, 60.0), rng.uniform(rim_z + 30.0, HEIGHT - 40.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    inner = cup_r - w - 1.0
    extra_parts, forbid = fill_lane(f, rng, start[0] + 40.0, cx - FUNNEL_TOP - 20.0, params)
    return Scenario(
        name="funnel_to_cup",
        description=(
            "A ball is released in mid-air. Get it into the funnel, whose outlet empties into the cup "
            "below it, so that it ends in the cup; keep out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("funnel", funnel, material=FUNNEL_MATERIAL),
            Part("cup", cup, material=CUP_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * k, 3 * k, 0.0),
        ),
        goal_zone=f.zone(cx - inner, cx + inner, cy - inner, cy + inner, 0.0, cup_h, "cup_interior"),
        build_zone=f.zone(-WIDTH / 2 + 10, cx + FUNNEL_TOP, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''


SOLUTION = '''"""Reference solution for ``funnel_to_cup``: a wooden channel from under the ball to a drop hole over the funnel.

The ball is released in mid-air. A U-channel starts just under it, closed behind it,
and falls as steeply as the height allows (but gently enough that the ball arrives at a
modest speed), around obstacles that stand higher than it and forbidden zones, to end
above the funnel's mouth. Its last stretch has no floor: the ball drops through that
hole, right over the funnel's outlet, after at most a knock against the end wall, and
the funnel takes it down into the cup.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part
from benchgen.solution import Design, SceneView
from benchgen.toolkit import (
    KeepOut,
    channel,
    hood,
    path_clear,
    plan_direction,
    route,
    sloped_path,
    wall_thickness,
)

MATERIAL = "wood"
MAX_GRADE = 0.1  # steeper, and the ball knocks the hood's thin end wall hard enough to sink through it
MIN_GRADE = 0.012  # flatter, and rolling resistance can stall a small ball on the way


def design(view: SceneView) -> Design:
    k = view.scale
    funnel, goal, ball = view.part("funnel"), view.goal_zone, view.payload
    radius = max(ball.size) / 2
    # The funnel stands over the cup, so its axis is the goal's centre line.
    axis = (goal.center[0], goal.center[1])
    rim_top = funnel.bbox_max[2]

    wall = wall_thickness(k)
    jitter = math.hypot(ball.jitter[0], ball.jitter[1])
    width = 2 * radius + 2 * jitter + 6.0 * k
    half = width / 2 + wall
    clearance = 2.0 * k
    reach = half + clearance
    gap = 1.0 * k  # between the ball's start envelope and the floor
    back = radius + jitter + gap  # how far the channel reaches behind the ball's start
    hole = 2 * radius + 0.8 * radius  # floorless stretch centred on the funnel's axis
    z_low = rim_top + wall + clearance  # the floor's lowest top, just over the rim

    boxes: list[KeepOut] = [(p.bbox_min, p.bbox_max) for p in view.parts]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    zone = view.build_zone
    region = ((zone.min[0], zone.min[1]), (zone.max[0], zone.max[1]))
    start = (ball.start[0], ball.start[1])

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        d0, d1 = plan_direction(plan[0], plan[1]), plan_direction(plan[-2], plan[-1])
        # The floor under the ball (for the steepest grade), its envelope allowed to sit at
        # the uphill end of the jitter.
        z_ball = ball.start[2] - (radius + gap) * math.hypot(1.0, MAX_GRADE) - jitter * MAX_GRADE
        first = (plan[0][0] - d0[0] * back, plan[0][1] - d0[1] * back)
        last = (plan[-1][0] - d1[0] * hole / 2, plan[-1][1] - d1[1] * hole / 2)
        points = [first, *plan[1:-1], last]
        # The end height is affine in the grade (bends step down in proportion): fall as
        # steeply as the height allows, up to MAX_GRADE.
        per_grade = -sloped_path(points, 0.0, [1.0] * (len(points) - 1), half)[-1][2] - back
        grade = min(MAX_GRADE, (z_ball - z_low) / per_grade)
        if grade < MIN_GRADE:
            return None
        z_first = ball.start[2] - (radius + gap) * math.hypot(1.0, grade) - jitter * grade + grade * back
        path = sloped_path(points, z_first, [grade] * (len(points) - 1), half)
        return path if path_clear(path, boxes, reach, wall + clearance, region, caps=(wall, wall)) else None

    path = route(start, [axis], region, build, min_run=max(2 * reach, hole))
    if path is None:
        raise RuntimeError("no clear route from the ball's start to the funnel")
    chute = channel(path, width, wall_height=radius + 2.0 * k, thickness=wall, closed_start=True)
    end = path[-1]
    last = next(p for p in reversed(path) if math.hypot(p[0] - end[0], p[1] - end[1]) > 1e-6)
    cover = hood(end, plan_direction(last, end), width, wall, hole, 2.5 * radius)
    return Design(parts=[Part("chute", chute, material=MATERIAL), Part("hood", cover, material=MATERIAL)])
'''
