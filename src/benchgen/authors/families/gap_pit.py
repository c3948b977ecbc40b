"""Family ``gap_pit``: carry a ball across a forbidden pit from a high ledge to a lower one."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span

FAMILY = Family(
    name="gap_pit",
    tier="spatial",
    keywords=("gap", "pit", "chasm", "bridge", "ledge", "forbidden", "cross"),
    summary="Carry a ball that rolls off a high ledge across a forbidden pit onto a lower ledge.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0, pit=False),
        *ball(rng, (12.0, 20.0), ("steel", "abs", "rubber")),
        Const("START_LEDGE_HEIGHT", span(rng, 140.0, 190.0, 15.0), "mm"),
        Const("DECK_TILT", span(rng, 4.0, 9.0, 1.5), "degrees, down towards the gap"),
        Const("GAP", span(rng, 180.0, 260.0, 20.0), "from the start ledge's lip to the far ledge"),
        Const("FAR_LEDGE_HEIGHT", span(rng, 60.0, 110.0, 15.0)),
        Const("LEDGE_MATERIAL", pick(rng, ("wood", "steel", "aluminum_6061"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Start ledge: a block whose top is cut into a plane sloping down to the lip at
    # ``edge``; one convex solid, so its collision shape is exact.
    h1 = params["start_ledge_height"] = rng.uniform(*START_LEDGE_HEIGHT)
    edge = params["start_ledge_edge"] = rng.uniform(-170.0, -130.0)
    tilt = params["deck_tilt_deg"] = rng.uniform(*DECK_TILT)
    a = math.radians(tilt)
    x_back = -WIDTH / 2 + 10.0
    top_back = h1 + (edge - x_back) * math.tan(a)
    cutter = f.slab((edge + 100.0 * math.sin(a), 0.0, h1 + 100.0 * math.cos(a)), 1000.0, 400.0, 200.0, tilt)
    ledge = f.box(x_back, edge, -90, 90, 0, top_back + 10.0) - cutter
    lip_x = edge

    # The ball waits up-slope, CLEARANCE (+1 mm for the x-jitter) above the top plane.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    along = 0.7 * (edge - x_back)
    lift = radius + CLEARANCE + 1.0
    start = (
        edge - along * math.cos(a) + lift * math.sin(a),
        rng.uniform(-15.0, 15.0),
        h1 + along * math.sin(a) + lift * math.cos(a),
    )

    # Far ledge past the gap, lower than the start, with a U-shaped lip on top that is
    # open towards the gap and fused 1 mm into the ledge.
    gap = params["gap"] = rng.uniform(*GAP)
    x2 = lip_x + gap
    h2 = params["far_ledge_height"] = rng.uniform(*FAR_LEDGE_HEIGHT)
    fw = params["far_ledge_width"] = rng.uniform(140.0, 200.0)
    fy = params["far_ledge_y"] = rng.uniform(-DEPTH / 2 + 10.0 + fw / 2, DEPTH / 2 - 10.0 - fw / 2)
    fy0, fy1, x3 = fy - fw / 2, fy + fw / 2, WIDTH / 2 - 10.0
    lip = f.box(x2 + 10, x3, fy0, fy1, h2 - 1, h2 + 25) - f.box(
        x2 + 9, x3 - 8, fy0 + 8, fy1 - 8, h2 - 2, h2 + 26
    )
    far = f.box(x2, x3, fy0, fy1, 0, h2) + lip

    pit = f.zone(lip_x + 5.0, x2 - 5.0, -DEPTH / 2, DEPTH / 2, 0.0, PIT_HEIGHT, "pit")
    extra_parts, forbid = fill_lane(f, rng, lip_x + 10.0, x2 - 10.0, params)
    return Scenario(
        name="gap_pit",
        description=(
            "A ball rolls off the high ledge and drops into the pit. Bridge the gap so that it "
            "ends on the lower far ledge, inside its lip, without building in the pit."
        ),
        tier="spatial",
        parts=[
            Part("start_ledge", ledge, material=LEDGE_MATERIAL),
            Part("far_ledge", far, material=LEDGE_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * f.k, 5 * f.k, 0.0),
        ),
        goal_zone=f.zone(x2 + 5, x3 - 9, fy0 + 9, fy1 - 9, h2, h2 + 45, "far_ledge_top"),
        build_zone=f.zone(-WIDTH / 2 + 10, x3, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=[pit, *forbid],
        params=params,
    )
'''


SOLUTION = '''"""Reference solution for ``gap_pit``: a wooden channel bridging the pit from the high ledge's lip.

The ball rolls down the start ledge's sloping top towards the pit. A U-channel starts
just past the lip, barely below it, and falls gently across the gap, high above the
pit's keep-out and around any obstacle in the way, into the rimmed area on top of the
far ledge. The channel's closed end stands over that area, so the ball rolls down,
stops against the end wall and rests in the goal, whatever its jitter.
"""

from __future__ import annotations

from benchgen.scenario import Part, Vec3
from benchgen.solution import Design, SceneView
from benchgen.toolkit import KeepOut, channel, graded_path, path_clear, route, wall_thickness

MATERIAL = "wood"


def design(view: SceneView) -> Design:
    k = view.scale
    ledge, far = view.part("start_ledge"), view.part("far_ledge")
    goal, ball = view.goal_zone, view.payload
    radius = max(ball.size) / 2
    toward = 1.0 if goal.center[0] > (ledge.bbox_min[0] + ledge.bbox_max[0]) / 2 else -1.0

    # The lip is the start ledge's edge facing the pit; its top is the highest point along it.
    edge_x = ledge.bbox_max[0] if toward > 0 else ledge.bbox_min[0]
    lip_top = max(v.Z for v in ledge.shape.vertices() if abs(v.X - edge_x) < 1.0 * k)

    wall = wall_thickness(k)
    width = 2 * radius + 2 * ball.jitter[1] + 8.0 * k
    half = width / 2 + wall
    clearance = 3.0 * k
    start = (edge_x + toward * (clearance + wall), ball.start[1], lip_top - 2.0 * k)

    # The channel ends (closed) over the middle of the far ledge's top, between its rim walls.
    reach = half + clearance
    near_x = goal.min[0] if toward > 0 else goal.max[0]
    end_x = near_x + toward * max(goal.size[0] / 2, 2 * reach)
    y_lo, y_hi = goal.min[1] + reach + 0.5 * k, goal.max[1] - reach - 0.5 * k
    z_end = goal.min[2] + wall + 1.5 * clearance
    ys = [ball.start[1], goal.center[1], *(y_lo + (y_hi - y_lo) * i / 4 for i in range(5))]
    ends = [(end_x, min(max(y, y_lo), y_hi)) for y in ys]

    # Keep-outs: obstacles and forbidden zones as boxes; the far ledge as its top (the
    # goal's floor) plus a rim on every side of the goal but the one facing the gap.
    boxes: list[KeepOut] = [
        (p.bbox_min, p.bbox_max) for p in view.parts if p.label not in ("start_ledge", "far_ledge")
    ]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    boxes += _rimmed_top(far.bbox_min, far.bbox_max, goal.min, goal.max, toward)
    zone = view.build_zone
    region = ((zone.min[0], zone.min[1]), (zone.max[0], zone.max[1]))
    cut = (0.0, 1.0)

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        path = graded_path(plan, start[2], z_end, half)
        return (
            path if path_clear(path, boxes, reach, wall + clearance, region, cut, caps=(0.0, wall)) else None
        )

    path = route((start[0], start[1]), ends, region, build, heading=(toward, 0.0), min_run=2 * reach)
    if path is None:
        raise RuntimeError("no clear route from the ledge's lip to the far ledge")
    shape = channel(
        path, width, wall_height=radius + 2.0 * k, thickness=wall, start_cut=(0.0, 1.0), closed_end=True
    )
    return Design(parts=[Part("bridge", shape, material=MATERIAL)])


def _rimmed_top(lo: Vec3, hi: Vec3, goal_lo: Vec3, goal_hi: Vec3, toward: float) -> list[KeepOut]:
    """Boxes for a block whose top (the goal's floor) carries a rim around the goal, open towards -toward."""
    floor, top = goal_lo[2], hi[2]
    boxes: list[KeepOut] = [((lo[0], lo[1], lo[2]), (hi[0], hi[1], floor))]
    goal_near, goal_far = (goal_lo[0], goal_hi[0]) if toward > 0 else (goal_hi[0], goal_lo[0])
    far_x = hi[0] if toward > 0 else lo[0]
    xa, xb = sorted((goal_near, far_x))
    boxes.append(((xa, lo[1], floor), (xb, goal_lo[1], top)))
    boxes.append(((xa, goal_hi[1], floor), (xb, hi[1], top)))
    xa, xb = sorted((goal_far, far_x))
    boxes.append(((xa, lo[1], floor), (xb, hi[1], top)))
    return boxes
'''
