"""Family ``flap_gate``: push a ball through a one-way hinged flap into the pocket behind a wall."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    wall_x = params["wall_x"] = rng.uniform(60.0, 110.0)
    wall_h = params["wall_height"] = rng.uniform(150.0, 200.0)
    door_w = params["door_width"] = rng.uniform(*DOOR_WIDTH)
    door_h = params["door_height"] = rng.uniform(*DOOR_HEIGHT)
    door_y = params["door_y"] = rng.uniform(-60.0, 60.0)
    wx0, wx1 = wall_x - 6.0, wall_x + 6.0
    doorway = f.box(wx0 - 1, wx1 + 1, door_y - door_w / 2, door_y + door_w / 2, -1, door_h)
    wall = f.box(wx0, wx1, -DEPTH / 2 + 10, DEPTH / 2 - 10, 0, wall_h) - doorway

    # The flap hangs from an axis 6 mm under the lintel, 6 mm clear of each jamb, built
    # leaning FLAP_LEAN degrees towards the pocket. Its range starts at that pose, so
    # gravity holds it on the lower limit and only a push from the start side opens it.
    flap_len = door_h - 14.0
    anchor = (wall_x, door_y, door_h - 6.0)
    plate = Pos(0, 0, -flap_len / 2 * f.k) * Box(5 * f.k, (door_w - 12.0) * f.k, flap_len * f.k)
    flap = Pos(*f.point(*anchor)) * Rot(0, -f.sx * FLAP_LEAN, 0) * plate
    hinge = f.hinge_y(anchor, -1.0, (0.0, OPEN_LIMIT))

    # U-shaped kerb behind the door, open towards it, beyond the flap's reach.
    pocket_len = params["pocket_length"] = flap_len + rng.uniform(40.0, 70.0)
    px0, px1 = wx1 + CLEARANCE, wx1 + CLEARANCE + pocket_len
    py0, py1 = door_y - door_w / 2 - 14.0, door_y + door_w / 2 + 14.0
    kerb = f.box(px0, px1, py0, py1, 0, 30) - f.box(px0 - 1, px1 - 8, py0 + 8, py1 - 8, -1, 31)
    # Inside it the floor rises 3 degrees away from the door: a ball that bounces off the back
    # always rolls back to rest against the closed flap instead of rolling to and fro.
    rise = (px1 - 8 - px0) * math.tan(math.radians(3.0))
    middle = ((px0 + px1 - 8) / 2, door_y, rise / 2 - 10.0 / math.cos(math.radians(3.0)))
    ramp = f.slab(middle, px1 - 8 - px0, py1 - py0 - 16, 20.0, -3.0)
    kerb = kerb + (ramp & f.box(px0, px1 - 8, py0 + 8, py1 - 8, 0, rise + 1))

    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    start = (rng.uniform(-290.0, -230.0), rng.uniform(-80.0, 80.0), rng.uniform(180.0, 240.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    # The lane stops well short of the wall: the ball needs room to come down to the floor
    # and run in square to the door.
    extra_parts, forbid = fill_lane(f, rng, -200.0, wx0 - 170.0, params)
    return Scenario(
        name="flap_gate",
        description=(
            "Get the falling ball through the one-way flap in the wall and into the pocket behind "
            "it. The flap only opens away from you and drops shut by itself."
        ),
        tier="kinematic",
        parts=[
            Part("wall", wall, material=WALL_MATERIAL),
            Part("flap", flap, material=FLAP_MATERIAL, joint=hinge),
            Part("pocket_kerb", kerb, material="abs"),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(wx1 + 14, px1 - 9, py0 + 9, py1 - 9, 0, 45, "pocket"),
        build_zone=f.zone(-WIDTH / 2 + 10, wx0 - 1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''

SOLUTION = '''"""Reference solution for flap_gate: roll the ball up to the door, then have a motorised ram push it through.

Why not let the ball swing the flap by itself: the flap's hinge has a fixed bearing
damping, whose impulse on the ball (damping × the angle the flap must turn ÷ the lever)
does not shrink with the scene while the ball's momentum goes as the cube of its size;
at half scale a rolling ball would need more speed than its fall can give it. So a
chute catches the falling ball, turns in plan to line up with the middle of the
doorway, stays high only while something (an obstacle, a forbidden pit) is under it,
then curves down and runs out just in front of the wall, over a low ram. The ball drops
off the chute's end and rolls into the doorway (through it, where it is fast enough).
Once it has, a motor drives the ram on a slide along the floor through the doorway: it
pushes the ball, and the flap, ahead of it and stops with the ball inside the pocket.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part, Slide
from benchgen.solution import Design, Motor, SceneView
from benchgen.toolkit import box_between, chute_legs, chute_route, clip_to_zone, ray_hits

START_S = 2.5  # s: the ball has come to the door (or through it) well before, at every scale
RAM_G = 60.0
STEEL_G_MM3 = 7.85e-3


def design(view: SceneView) -> Design:
    wall = view.part("wall")
    kerb = view.part("pocket_kerb")
    ball = view.payload
    goal = view.goal_zone
    k = view.scale
    radius = max(ball.size) / 2
    hinge = view.part("flap").joint.anchor
    assert hinge is not None
    toward = 1.0 if goal.center[0] > hinge[0] else -1.0

    # The doorway, measured on the wall itself: its jambs, just above the floor.
    middle_x = (wall.bbox_min[0] + wall.bbox_max[0]) / 2
    low = 2.0 * k
    to_left = ray_hits(wall.shape, (middle_x, hinge[1], low), (0.0, -1.0, 0.0))[0]
    to_right = ray_hits(wall.shape, (middle_x, hinge[1], low), (0.0, 1.0, 0.0))[0]
    door_y = hinge[1] + (to_right - to_left) / 2
    near_face = wall.bbox_min[0] if toward > 0 else wall.bbox_max[0]

    wall_t = 3.0  # mm at every scale: the weight limit does not grow with the scene
    gap = 2.0 * k
    width = 2 * radius + 2 * ball.jitter[1] + 8.0 * k
    end = (near_face - toward * (1.0 + gap), door_y)

    # The ram: a steel block nearly as wide as the chute, its face as tall as the ball's centre,
    # under the chute's last run, its face flush with the chute's end. It is driven until a ball
    # lying against its face is inside the goal, clear of the goal's edge. About RAM_G grams at
    # every scale (as far as the run above it allows): heavy enough that the end of the slide's
    # range stops it (the simulator holds a light part on its drive's inertia past its limit),
    # light enough for the weight limit at double scale.
    ram_face = end[0]
    ram_half = width / 2 - 2.0 * k
    ram_len = min(max(RAM_G / STEEL_G_MM3 / (2 * ram_half * radius), 3.0), 30.0 * k)
    ram_back = ram_face - toward * ram_len
    goal_near = goal.min[0] if toward > 0 else goal.max[0]
    travel = abs(goal_near + toward * 3.0 * k - ram_face)
    # It runs over the pocket's floor, which rises away from the door: keep clear of its top.
    floor = 0.0
    for i in range(9):
        x = ram_back + toward * (travel + ram_len * i / 8)
        for y in (door_y - ram_half, door_y, door_y + ram_half):
            top = view.bounds.max[2]
            hits = ray_hits(kerb.shape, (x, y, top), (0.0, 0.0, -1.0))
            if hits:
                floor = max(floor, top - hits[0])
    ram_bottom = floor + 1.0 * k
    ram_top = ram_bottom + radius
    xs = sorted((ram_back, ram_face))
    ram = box_between((xs[0], door_y - ram_half, ram_bottom), (xs[1], door_y + ram_half, ram_top))

    # Plan: first across (in y) from under the ball to the door's centre line, while the ball
    # is still slow, so turning costs it little speed; then straight at the door.
    grade = 3.0  # degrees the chute falls until it must come down
    x0, y0 = ball.start[0], ball.start[1]
    across = door_y - y0
    catch = radius + ball.jitter[0] + wall_t + 4.0 * k  # how far the chute reaches behind the ball
    if abs(across) > width / 2:
        side = 1.0 if across > 0 else -1.0
        plan = [(x0, y0 - side * catch), (x0, door_y), end]
    else:  # nearly in line already: one straight run, widened to take the ball wherever it falls
        plan = [(x0 - toward * catch, door_y), end]
        width += 2 * abs(across)
    fall = math.tan(math.radians(grade))
    under_ball = ball.start[2] - ball.jitter[2] - radius - gap - fall * ball.jitter[0]

    # Everything in the way except the wall, its flap and the pocket: obstacles and forbidden zones.
    boxes = [(p.bbox_min, p.bbox_max) for p in view.parts if p.label not in ("wall", "flap", "pocket_kerb")]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    route = chute_route(
        plan,
        z_start=under_ball + fall * catch,
        z_end=ram_top + 1.0 * k + wall_t,  # the floor's underside just clears the ram
        boxes=boxes,
        half_width=width / 2 + wall_t + gap,
        clearance=wall_t + gap,
        first_grade_deg=grade,
        run_in=max(40.0 * k, ram_len + 10.0 * k),
        run_in_grade_deg=2.0,
        radius=50.0 * k,
        min_leg=width / 2 + wall_t,
        min_brow=catch + ball.jitter[1] + radius,
    )
    legs = chute_legs(route, width, wall_height=1.4 * radius, thickness=wall_t)
    # The ball may start right at the edge of the build zone: trim what reaches past it.
    legs = [clip_to_zone(leg, view.build_zone) for leg in legs]
    parts = [Part(f"chute_{i}", leg, material="wood") for i, leg in enumerate(legs)]
    parts.append(
        Part("ram", ram, material="steel", joint=Slide(axis=(toward, 0.0, 0.0), range=(0.0, travel)))
    )
    # A walking pace: slow enough that the flap's damping hardly resists the push. A few
    # newtons lift even the heaviest flap at double scale; more would only let the ram push
    # on past the end of its range.
    push = Motor("ram", speed=60.0 * k, max_effort=5.0 * k, start_s=START_S)
    return Design(parts=parts, motors=[push])
'''
