"""Family ``step_up``: lower a block released up high onto the landing at the top of a staircase."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, common, pick, span

FAMILY = Family(
    name="step_up",
    tier="spatial",
    keywords=("stairs", "stair", "staircase", "step", "steps", "landing", "climb"),
    summary="Lower a block released up high onto the landing at the top of a staircase.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    steps = int(rng.integers(2, 5))
    run_hi = min(60.0, (300.0 - 140.0) / steps)
    return [
        *common(rng, 360.0),  # room to release the block high above the landing
        Const("N_STEPS", steps, "including the landing"),
        Const("STEP_RISE", span(rng, 25.0, 40.0, 4.0), "mm"),
        Const("STEP_RUN", span(rng, 35.0, run_hi, 3.0)),
        Const("LANDING_LENGTH", span(rng, 100.0, 140.0, 10.0)),
        Const("STAIR_WIDTH", span(rng, 150.0, 240.0, 20.0)),
        Const("STAIR_MATERIAL", pick(rng, ("wood", "steel", "aluminum_6061", "pla"))),
        Const("BLOCK_SIZE", span(rng, 22.0, 34.0, 3.0), "payload cube side (mm)"),
        # Not rubber: a rubber block (friction 1.0) only slides down slopes steeper than 45°.
        Const("PAYLOAD_MATERIAL", pick(rng, ("abs", "pla", "wood", "steel"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Staircase rising towards the goal side: nested boxes, each one step taller, fuse
    # into one solid; the top one is the landing, with a kerb along its far edge.
    rise = params["step_rise"] = rng.uniform(*STEP_RISE)
    run = params["step_run"] = rng.uniform(*STEP_RUN)
    landing = params["landing_length"] = rng.uniform(*LANDING_LENGTH)
    width = params["stair_width"] = rng.uniform(*STAIR_WIDTH)
    sy = params["stair_y"] = rng.uniform(-DEPTH / 2 + 10.0 + width / 2, DEPTH / 2 - 10.0 - width / 2)
    y0, y1, x_end = sy - width / 2, sy + width / 2, WIDTH / 2 - 10.0
    x_landing = x_end - landing
    top = N_STEPS * rise
    stairs = f.box(x_end - 12.0, x_end, y0, y1, 0, top + 30.0)
    for i in range(N_STEPS):
        stairs = stairs + f.box(x_landing - (N_STEPS - 1 - i) * run, x_end, y0, y1, 0, (i + 1) * rise)
    x_foot = x_landing - (N_STEPS - 1) * run

    # The block is released high above the lower steps, short of the landing: a block only
    # slides down slopes steeper than its friction angle, so a chute onto the landing
    # needs the drop to be large against the distance.
    side = params["block_size"] = rng.uniform(*BLOCK_SIZE)
    start = (
        x_landing - rng.uniform(60.0, 90.0),
        sy + rng.uniform(-40.0, 40.0),
        top + rng.uniform(140.0, 170.0),
    )
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    extra_parts, forbid = fill_lane(f, rng, -170.0, x_foot - 15.0, params)
    return Scenario(
        name="step_up",
        description=(
            f"Bring the falling block to rest on the landing at the top of the {N_STEPS}-step "
            "staircase, keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[Part("stairs", stairs, material=STAIR_MATERIAL), *extra_parts],
        payload=Payload(
            "block",
            Box(side * f.k, side * f.k, side * f.k),
            material=PAYLOAD_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(x_landing + 5, x_end - 13, y0 + 5, y1 - 5, top, top + 50, "landing"),
        build_zone=f.zone(-WIDTH / 2 + 10, x_end, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''


SOLUTION = '''"""Reference solution for ``step_up``: a steep chute from the release point onto the landing.

A block only slides down a slope steeper than its friction angle, so the chute is
steep everywhere: it catches the block under its release point (closed back), runs down
over the lower steps, around anything in the way, and ends closed over the landing,
where the block comes to rest against the end wall inside the goal.
"""

from __future__ import annotations

import math

from build123d import Shape

from benchgen.materials import get_material
from benchgen.scenario import Part
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
    wall_thickness,
)

MATERIAL = "wood"  # light and cheap, and nearly as slippery as PLA
MAX_GRADE = 1.3  # about 52°: steeper, a block would leap the walls where the chute turns


def design(view: SceneView) -> Design:
    k = view.scale
    stairs = view.part("stairs")
    goal, block = view.goal_zone, view.payload
    side = max(block.size)
    jz = block.jitter[2]
    toward = 1.0 if goal.center[0] > block.start[0] else -1.0
    friction = max(get_material(block.material).friction, get_material(MATERIAL).friction)
    min_grade = friction + 0.12  # steeper than the friction angle, with a margin

    wall = wall_thickness(k)
    clearance = 3.0 * k
    z_catch = block.start[2] - side / 2 - jz - clearance
    here = (block.start[0], block.start[1])

    def catch_for(heading: tuple[float, float]) -> tuple[float, float]:
        return block_catch(side, block.jitter, clearance, k, heading)

    # End closed over the landing, just far enough in that the resting block's centre is inside.
    _, widest = catch_for((math.sqrt(0.5), math.sqrt(0.5)))
    reach_max = widest / 2 + wall + clearance
    near_x = goal.min[0] if toward > 0 else goal.max[0]
    end_x = near_x + toward * (side / 2 + clearance + wall)
    y_lo, y_hi = goal.min[1] + reach_max + 0.5 * k, goal.max[1] - reach_max - 0.5 * k
    ys = [block.start[1], goal.center[1], *(y_lo + (y_hi - y_lo) * i / 4 for i in range(5))]
    ends = [(end_x, min(max(y, y_lo), y_hi)) for y in ys]
    z_end = goal.min[2] + wall + 1.5 * clearance

    boxes: list[KeepOut] = _top_boxes(stairs.shape) + [
        (p.bbox_min, p.bbox_max) for p in view.parts if p.label != "stairs"
    ]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    zone = view.build_zone
    region = ((zone.min[0], zone.min[1]), (zone.max[0], zone.max[1]))

    def build(plan: list[tuple[float, float]]) -> list[tuple[float, float, float]] | None:
        heading = plan_direction(here, plan[1])
        back, width = catch_for(heading)
        if len(plan) > 2 and math.dist(here, plan[1]) < back:
            return None  # the block must land before the first bend
        floor = width / 2 + wall
        catch = (here[0] - heading[0] * back, here[1] - heading[1] * back)
        # Steep enough everywhere, staying high: the extra fall is taken on one run, the last if
        # it can, or an earlier one when the last would have to climb down an obstacle.
        points = [catch, *plan[1:]]
        for fall_run in range(len(points) - 2, -1, -1):
            path = high_path(points, z_catch, z_end, floor, min_grade, MAX_GRADE, fall_run=fall_run)
            if path is not None and path_clear(
                path, boxes, floor + clearance, wall + clearance, region, caps=(wall, wall)
            ):
                return path
        return None

    path = route(
        here, ends, region, build, min_run=reach_max, grid=12, waypoints=corners(boxes, 1.1 * reach_max)
    )
    if path is None:
        raise RuntimeError("no steep enough clear chute from the release point to the landing")
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


def _top_boxes(shape: Shape) -> list[KeepOut]:
    """One box per upward-facing flat face: from the ground up to that face (exact for a stack of boxes)."""
    boxes: list[KeepOut] = []
    for face in shape.faces():
        normal = face.normal_at()
        if normal.Z > 0.99:
            bb = face.bounding_box()
            boxes.append(((bb.min.X, bb.min.Y, 0.0), (bb.max.X, bb.max.Y, bb.max.Z)))
    return boxes
'''
