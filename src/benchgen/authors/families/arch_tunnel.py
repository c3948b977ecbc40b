"""Family ``arch_tunnel``: route a dropped block through an arch in a wall into a pocket behind it."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, common, pick, span, u

FAMILY = Family(
    name="arch_tunnel",
    tier="spatial",
    keywords=("arch", "tunnel", "wall", "opening", "doorway", "block", "pocket"),
    summary="Route a dropped block through an arched opening in a wall into a kerbed pocket behind it.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        Const("WALL_THICKNESS", u(rng, 12.0, 24.0)),
        Const("WALL_HEIGHT", span(rng, 170.0, 240.0, 20.0)),
        Const("WALL_MATERIAL", pick(rng, ("wood", "steel", "aluminum_6061", "pla"))),
        # Wide and tall enough for a chute carrying the block to pass through.
        Const("OPENING_WIDTH", span(rng, 95.0, 130.0, 15.0), "mm"),
        Const("OPENING_HEIGHT", span(rng, 75.0, 100.0, 10.0)),
        Const("ARCH_TOP", bool(rng.random() < 0.6), "round the opening's top into an arch"),
        Const("BLOCK_SIZE", span(rng, 22.0, 34.0, 3.0), "payload cube side (mm)"),
        Const("PAYLOAD_MATERIAL", pick(rng, ("abs", "pla", "wood", "aluminum_6061"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Wall across the workspace with an opening at floor level, optionally arch-topped.
    wall_x = params["wall_x"] = rng.uniform(40.0, 120.0)
    wall_h = params["wall_height"] = rng.uniform(*WALL_HEIGHT)
    open_w = params["opening_width"] = rng.uniform(*OPENING_WIDTH)
    open_h = params["opening_height"] = rng.uniform(*OPENING_HEIGHT)
    open_y = params["opening_y"] = rng.uniform(-70.0, 70.0)
    wx0, wx1 = wall_x - WALL_THICKNESS / 2, wall_x + WALL_THICKNESS / 2
    opening = f.box(wx0 - 1, wx1 + 1, open_y - open_w / 2, open_y + open_w / 2, -1, open_h)
    if ARCH_TOP:
        # A cylinder along x rounds the top of the opening into an arch.
        arch = Cylinder(open_w / 2 * f.k, (WALL_THICKNESS + 2) * f.k, rotation=(0, 90, 0))
        opening = opening + Pos(*f.point(wall_x, open_y, open_h)) * arch
    wall = f.box(wx0, wx1, -DEPTH / 2 + 10, DEPTH / 2 - 10, 0, wall_h) - opening

    # A low U-shaped curb behind the opening, open towards it, catches the block.
    pocket_len = params["pocket_length"] = rng.uniform(90.0, 140.0)
    px0, px1 = wx1 + CLEARANCE, wx1 + CLEARANCE + pocket_len
    py0, py1 = open_y - open_w / 2 - 14.0, open_y + open_w / 2 + 14.0
    curb = f.box(px0, px1, py0, py1, 0, 25) - f.box(px0 - 1, px1 - 8, py0 + 8, py1 - 8, -1, 26)

    # The block is released high up before the wall; left alone it just lands there. A
    # block only slides down slopes steeper than its friction angle, so the release is
    # high enough, and near enough, for a chute to carry it through the opening.
    side = params["block_size"] = rng.uniform(*BLOCK_SIZE)
    start = (wx0 - rng.uniform(160.0, 220.0), open_y + rng.uniform(-60.0, 60.0), rng.uniform(240.0, 270.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    # The lane runs under the chute's high part and stops well short of the wall, where the
    # chute must come down to the opening.
    extra_parts, forbid = fill_lane(f, rng, start[0] - 60.0, wx0 - 90.0, params)
    return Scenario(
        name="arch_tunnel",
        description=(
            "Guide the falling block through the opening in the wall and into the curbed pocket "
            "behind it, keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("wall", wall, material=WALL_MATERIAL),
            Part("pocket_curb", curb, material="abs"),
            *extra_parts,
        ],
        payload=Payload(
            "block",
            Box(side * f.k, side * f.k, side * f.k),
            material=PAYLOAD_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(wx1 + 4, px1 - 9, py0 + 9, py1 - 9, 0, 40, "pocket"),
        build_zone=f.zone(-WIDTH / 2 + 10, px1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''


SOLUTION = '''"""Reference solution for ``arch_tunnel``: a steep PLA chute that carries the block through the arch.

A block only slides down a slope steeper than its friction angle, so the chute is steep:
it catches the block under its release point (closed back), runs down around anything in
the way, then lines up with the opening and passes through it at a gentler slope the
block still crosses on its momentum, ending closed inside the curbed pocket, where the
block comes to rest against the end wall.
"""

from __future__ import annotations

import math

from benchgen.materials import get_material
from benchgen.scenario import Part, Vec3
from benchgen.solution import Design, SceneView
from benchgen.toolkit import (
    KeepOut,
    block_catch,
    channel,
    corners,
    high_path,
    path_clear,
    plan_direction,
    route,
    run_volume,
    wall_thickness,
)

MATERIAL = "wood"  # light and cheap, and nearly as slippery as PLA
MAX_GRADE = 2.0  # about 63°
THROUGH_GRADE = 0.4  # slope of the last run, through the opening (the block coasts)


def design(view: SceneView) -> Design:
    k = view.scale
    wall_part = view.part("wall")
    goal, block = view.goal_zone, view.payload
    side = max(block.size)
    jz = block.jitter[2]
    toward = 1.0 if goal.center[0] > block.start[0] else -1.0
    friction = max(get_material(block.material).friction, get_material(MATERIAL).friction)
    min_grade = friction + 0.12  # steeper than the friction angle, with a margin
    near_face = wall_part.bbox_min[0] if toward > 0 else wall_part.bbox_max[0]
    far_face = wall_part.bbox_max[0] if toward > 0 else wall_part.bbox_min[0]

    wall = wall_thickness(k)
    clearance = 3.0 * k
    z_catch = block.start[2] - side / 2 - jz - clearance
    here = (block.start[0], block.start[1])

    def catch_for(heading: tuple[float, float]) -> tuple[float, float]:
        return block_catch(side, block.jitter, clearance, k, heading)

    # End closed inside the pocket, far enough in that the resting block's centre is inside
    # the goal; the last run passes through the opening, gently, the block coasting.
    _, widest = catch_for((math.sqrt(0.5), math.sqrt(0.5)))
    reach_max = widest / 2 + wall + clearance
    end_x = far_face + toward * (side / 2 + 4.0 * k + 2 * clearance + wall)
    room = max(goal.size[1] / 2 - reach_max - 5.0 * k, 0.0)
    ends = [(end_x, goal.center[1] + f * room) for f in (0.0, -0.5, 0.5, -1.0, 1.0)]
    z_end = wall + 1.5 * clearance
    through_x = abs(end_x - near_face) + reach_max  # from just before the wall to the end, along x

    boxes: list[KeepOut] = [
        (p.bbox_min, p.bbox_max) for p in view.parts if p.label not in ("wall", "pocket_curb")
    ]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    curb = view.part("pocket_curb")
    boxes += _rimmed(curb.bbox_min, curb.bbox_max, goal.min, goal.max, toward)
    zone = view.build_zone
    region = ((zone.min[0], zone.min[1]), (zone.max[0], zone.max[1]))
    stop = near_face - toward * reach_max  # waypoints stay in front of the wall
    before_wall = (
        ((zone.min[0], zone.min[1]), (stop, zone.max[1]))
        if toward > 0
        else ((stop, zone.min[1]), (zone.max[0], zone.max[1]))
    )

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        heading = plan_direction(here, plan[1])
        back, width = catch_for(heading)
        if len(plan) > 2 and math.dist(here, plan[1]) < back:
            return None  # the block must land before the first bend
        floor = width / 2 + wall
        reach = floor + clearance
        catch = (here[0] - heading[0] * back, here[1] - heading[1] * back)
        *head, end = plan
        length = math.dist(head[-1], end)
        ux, uy = (end[0] - head[-1][0]) / length, (end[1] - head[-1][1]) / length
        if ux * toward < math.cos(math.radians(50.0)):
            return None  # the last run must come at the opening from in front
        through_run = through_x / abs(ux)
        if length < through_run + back:
            return None
        line_up = (end[0] - ux * through_run, end[1] - uy * through_run)
        full = [catch, *head[1:], line_up, end]
        # Stay high over obstacles, fall late; pass the opening as gently as the ground allows.
        # The steep fall is never taken just before a bend: the step down there would be deep
        # and the block fast, and it would leap the wall.
        falls = [i for i in range(len(full) - 3, -1, -1) if _straight_on(full[i], full[i + 1], full[i + 2])]
        tries = [(t, f) for t in (THROUGH_GRADE, 0.7, 1.0) for f in falls]
        for through, fall_run in tries:
            path = high_path(full, z_catch, z_end, floor, min_grade, MAX_GRADE, through, fall_run)
            if path is None or not path_clear(
                path, boxes, reach, wall + clearance, region, caps=(wall, wall)
            ):
                continue
            # The wall is not a box: check the last run, with the block riding in it, exactly.
            a, b = path[-2], path[-1]
            passage = run_volume(a, b, reach, wall, 1.45 * side)
            if wall_part.shape.distance_to(passage) > clearance / 2:
                return path
        return None

    path = route(
        here,
        ends,
        before_wall,
        build,
        max_turn_deg=40.0,
        min_run=reach_max,
        grid=12,
        waypoints=corners(boxes, 1.1 * reach_max),
    )
    if path is None:
        raise RuntimeError("no steep enough clear chute from the release point through the opening")
    _, width = catch_for(plan_direction(path[0][:2], path[1][:2]))
    # Walls as tall as the block, so it cannot leap them where the chute turns; a lower end
    # wall, so that the block rests against it lying flat, well inside the goal's height.
    shape = channel(
        path,
        width,
        wall_height=side,
        thickness=wall,
        closed_start=True,
        closed_end=True,
        end_wall_height=0.6 * side,
    )
    return Design(parts=[Part("chute", shape, material=MATERIAL)])


def _straight_on(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    """Whether the path a → b → c turns by less than 20° at b."""
    (ux, uy), (vx, vy) = plan_direction(a, b), plan_direction(b, c)
    return ux * vx + uy * vy > math.cos(math.radians(20.0))


def _rimmed(lo: Vec3, hi: Vec3, goal_lo: Vec3, goal_hi: Vec3, toward: float) -> list[KeepOut]:
    """Boxes for a part that rims the goal on every side but the one facing -toward (a curb)."""
    floor, top = goal_lo[2], hi[2]
    goal_far = goal_hi[0] if toward > 0 else goal_lo[0]
    far_x, near_x = (hi[0], lo[0]) if toward > 0 else (lo[0], hi[0])
    xa, xb = sorted((near_x, far_x))
    boxes: list[KeepOut] = [
        ((xa, lo[1], floor), (xb, goal_lo[1], top)),
        ((xa, goal_hi[1], floor), (xb, hi[1], top)),
    ]
    xa, xb = sorted((goal_far, far_x))
    boxes.append(((xa, lo[1], floor), (xb, hi[1], top)))
    return boxes
'''
