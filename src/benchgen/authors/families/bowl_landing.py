"""Family ``bowl_landing``: a ball rolls off a sloped shelf; land it in a round-bottomed bowl."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span, u

FAMILY = Family(
    name="bowl_landing",
    tier="spatial",
    keywords=("bowl", "dish", "basin", "round", "curved", "land", "landing", "shelf", "roll", "ball"),
    summary="A ball rolls off a sloped shelf; land it in a round-bottomed bowl on the floor.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        *ball(rng, (12.0, 18.0), ("steel", "abs", "rubber", "pla")),
        Const("SHELF_HEIGHT", span(rng, 130.0, 200.0, 20.0), "mm"),
        Const("SHELF_TILT", span(rng, 4.0, 9.0, 1.5), "degrees, down towards the bowl"),
        Const("SHELF_LENGTH", u(rng, 140.0, 180.0)),
        Const("SHELF_MATERIAL", pick(rng, ("aluminum_6061", "wood", "steel"))),
        Const("BOWL_RADIUS", span(rng, 55.0, 75.0, 8.0), "outer radius of the spherical bowl (mm)"),
        Const("BOWL_WALL", 5.0),
        Const("FOOT", 2.0, "how far the sphere is flattened where it stands on the floor"),
        Const("BOWL_MATERIAL", pick(rng, ("pla", "abs", "wood", "aluminum_6061"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}
    k = f.k

    # Launch shelf: a slab tilted down towards the goal, sunk into its pedestal.
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

    # The bowl: a spherical shell cut at its equator (the rim) and flattened where it
    # stands on the floor, far enough past the lip that the ball lands short of it.
    bowl_r = params["bowl_radius"] = rng.uniform(*BOWL_RADIUS)
    bx = params["bowl_x"] = rng.uniform(lip_x + 180.0 + bowl_r, WIDTH / 2 - 10.0 - bowl_r)
    by = params["bowl_y"] = rng.uniform(-DEPTH / 2 + 10.0 + bowl_r, DEPTH / 2 - 10.0 - bowl_r)
    centre_z = bowl_r - FOOT
    shell = Sphere(bowl_r * k) - Sphere((bowl_r - BOWL_WALL) * k)
    lower = Pos(0, 0, -bowl_r * k) * Box(3 * bowl_r * k, 3 * bowl_r * k, 2 * bowl_r * k)
    bowl = Pos(*f.point(bx, by, centre_z)) * (shell & lower) & f.box(
        bx - 2 * bowl_r, bx + 2 * bowl_r, by - 2 * bowl_r, by + 2 * bowl_r, 0.0, 2 * bowl_r
    )

    inner = 0.5 * (bowl_r - BOWL_WALL)
    floor_z = centre_z - (bowl_r - BOWL_WALL)
    extra_parts, forbid = fill_lane(f, rng, lip_x + 15.0, bx - bowl_r - 15.0, params)
    return Scenario(
        name="bowl_landing",
        description=(
            "A ball rolls off the sloped launch shelf. Land it in the round-bottomed bowl, where it "
            "must come to rest, keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("shelf", shelf, material=SHELF_MATERIAL),
            Part("bowl", bowl, material=BOWL_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * k, 5 * k, 0.0),
        ),
        goal_zone=f.zone(bx - inner, bx + inner, by - inner, by + inner, floor_z, centre_z, "bowl_interior"),
        build_zone=f.zone(-WIDTH / 2 + 10, bx + bowl_r + 5, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''


SOLUTION = '''"""Reference solution for ``bowl_landing``: a wooden channel from the shelf's lip to a drop hole over the bowl.

The ball rolls off the tilted shelf. A U-channel starts just past the lip and barely
below it and falls, around obstacles that stand higher than it and forbidden zones, to
end just above the bowl's rim. Its last stretch, centred over the bowl, has no floor and
a thick end wall: the ball knocks against the wall, loses its speed along the channel
and drops through the hole nearly straight down onto the bowl's round bottom, where it
settles at once instead of rolling to and fro across the bowl.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part
from benchgen.solution import Design, SceneView
from benchgen.toolkit import (
    KeepOut,
    channel,
    graded_path,
    hood,
    path_clear,
    plan_direction,
    route,
    wall_thickness,
)

MATERIAL = "wood"


def design(view: SceneView) -> Design:
    k = view.scale
    shelf, bowl = view.part("shelf"), view.part("bowl")
    goal, ball = view.goal_zone, view.payload
    radius = max(ball.size) / 2
    toward = 1.0 if goal.center[0] > (shelf.bbox_min[0] + shelf.bbox_max[0]) / 2 else -1.0

    # The bowl is round: its lowest point is under the middle of its box, its rim the top.
    centre = ((bowl.bbox_min[0] + bowl.bbox_max[0]) / 2, (bowl.bbox_min[1] + bowl.bbox_max[1]) / 2)
    rim = bowl.bbox_max[2]

    # The lip is the shelf's edge facing the bowl; its top is the highest point along that edge.
    edge_x = shelf.bbox_max[0] if toward > 0 else shelf.bbox_min[0]
    lip_top = max(v.Z for v in shelf.shape.vertices() if abs(v.X - edge_x) < 1.0 * k)

    wall = wall_thickness(k)
    # The end wall takes the ball at full speed: MuJoCo's soft contacts let it sink in several
    # millimetres (the most, for its size, at scale 0.5), so it must be thick not to let it through.
    stop = 10.0
    jitter = math.hypot(ball.jitter[0], ball.jitter[1])
    width = 2 * radius + 2 * jitter + 6.0 * k
    half = width / 2 + wall
    clearance = 2.0 * k
    reach = half + clearance
    hole = 2.8 * radius  # floorless stretch centred over the bowl's centre
    start = (edge_x + toward * (clearance + wall), ball.start[1], lip_top - 2.0 * k)
    z_end = rim + wall + clearance

    boxes: list[KeepOut] = [(p.bbox_min, p.bbox_max) for p in view.parts if p.label != "shelf"]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    zone = view.build_zone
    region = ((zone.min[0], zone.min[1]), (zone.max[0], zone.max[1]))
    cut = (0.0, 1.0)

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        d = plan_direction(plan[-2], plan[-1])
        last = (plan[-1][0] - d[0] * hole / 2, plan[-1][1] - d[1] * hole / 2)
        path = graded_path([*plan[:-1], last], start[2], z_end, half)
        return path if path_clear(path, boxes, reach, wall + clearance, region, cut) else None

    path = route(
        (start[0], start[1]), [centre], region, build, heading=(toward, 0.0), min_run=max(2 * reach, hole)
    )
    if path is None:
        raise RuntimeError("no clear route from the shelf's lip to the bowl")
    chute = channel(path, width, wall_height=radius + 2.0 * k, thickness=wall, start_cut=cut)
    end = path[-1]
    prev = next(p for p in reversed(path) if math.hypot(p[0] - end[0], p[1] - end[1]) > 1e-6)
    cover = hood(end, plan_direction(prev, end), width, wall, hole, 2.5 * radius, end_thickness=stop)

    return Design(parts=[Part("chute", chute, material=MATERIAL), Part("hood", cover, material=MATERIAL)])
'''
