"""Reference solution for flap_gate and the bundled example hinged_gate: roll the ball up to
the door, then have a motorised ram push it through.

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
    kerb = view.part("pocket_curb")
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
    boxes = [(p.bbox_min, p.bbox_max) for p in view.parts if p.label not in ("wall", "flap", "pocket_curb")]
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
