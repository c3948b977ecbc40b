"""Reference solution for drawer_slide (the bundled example and the offline family): two fixed walls
inside the drawer, fed by a chute.

The drawer slides freely, so a ball landing in it with any speed shoves it into the
cabinet or rolls on under the countertop. Two fixed walls stand across the exposed part
of the drawer without touching it: a *stop* just behind the drawer's front panel, so the
drawer cannot slide in by more than the gap, and a tall *backboard* at the carcass that
stops the ball however fast it comes and keeps it out from under the countertop. A chute
catches the falling ball, turns in plan to line up with the drawer, stays high only while
something is under it, and ends just past the stop; the ball drops in between the walls
and comes to rest on the drawer's floor.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part
from benchgen.solution import Design, SceneView
from benchgen.toolkit import box_between, chute_legs, chute_route, clip_to_zone, ray_hits


def design(view: SceneView) -> Design:
    drawer = view.part("drawer")
    carcass = view.part("carcass")
    ball = view.payload
    k = view.scale
    radius = max(ball.size) / 2
    toward = 1.0 if carcass.bbox_min[0] + carcass.bbox_max[0] > 2 * ball.start[0] else -1.0

    # The exposed part of the drawer, measured on its exact shape: inner faces of the front
    # panel and the sides, and the floor's top, between the front panel and the carcass.
    front_out = drawer.bbox_min[0] if toward > 0 else drawer.bbox_max[0]
    carcass_face = carcass.bbox_min[0] if toward > 0 else carcass.bbox_max[0]
    mid_x = (front_out + carcass_face) / 2
    mid_y = (drawer.bbox_min[1] + drawer.bbox_max[1]) / 2
    above = drawer.bbox_max[2] + 10.0 * k
    floor = above - ray_hits(drawer.shape, (mid_x, mid_y, above), (0.0, 0.0, -1.0))[0]
    rim = drawer.bbox_max[2]
    inside_z = (floor + rim) / 2
    front_in = mid_x - toward * ray_hits(drawer.shape, (mid_x, mid_y, inside_z), (-toward, 0.0, 0.0))[0]
    side_lo = mid_y - ray_hits(drawer.shape, (mid_x, mid_y, inside_z), (0.0, -1.0, 0.0))[0]
    side_hi = mid_y + ray_hits(drawer.shape, (mid_x, mid_y, inside_z), (0.0, 1.0, 0.0))[0]

    # Stop and backboard: two walls across the drawer, 1.5 mm clear of its floor and sides.
    # The stop stands just behind the front panel; the backboard at the edge of the build
    # zone, by the carcass, tall enough to stop the ball however fast it comes.
    t = 3.0  # mm at every scale: the weight limit does not grow with the scene
    gap = 1.5 * k
    x_front = front_in + toward * gap
    x_back = view.build_zone.max[0] - gap if toward > 0 else view.build_zone.min[0] + gap
    y0, y1 = side_lo + gap, side_hi - gap
    z0 = floor + gap
    stop = box_between((x_front, y0, z0), (x_front + toward * t, y1, rim))
    backboard = box_between((x_back - toward * t, y0, z0), (x_back, y1, rim + 3 * radius))

    # Chute: across (in y) from under the ball to the drawer's centre line, then straight
    # on, ending over the drawer just past the stop.
    width = 2 * radius + 2 * ball.jitter[1] + 8.0 * k
    grade = 3.0
    fall = math.tan(math.radians(grade))
    x0, y_ball = ball.start[0], ball.start[1]
    line_y = (y0 + y1) / 2
    end = (x_front + toward * (t + radius), line_y)  # just past the stop
    catch = radius + ball.jitter[0] + t + 4.0 * k
    if abs(line_y - y_ball) > width / 2:
        side = 1.0 if line_y > y_ball else -1.0
        plan = [(x0, y_ball - side * catch), (x0, line_y), end]
    else:
        plan = [(x0 - toward * catch, line_y), end]
        width += 2 * abs(line_y - y_ball)
    under_ball = ball.start[2] - ball.jitter[2] - radius - gap - fall * ball.jitter[0]
    # Keep clear of everything but the drawer and carcass, and of the drawer's front panel
    # and the stop, which the chute's end passes over on its way down into the drawer.
    boxes = [(p.bbox_min, p.bbox_max) for p in view.parts if p.label not in ("drawer", "carcass")]
    boxes += [(z.min, z.max) for z in view.forbid_zones]
    lo_x, hi_x = sorted((front_out, x_front + toward * t))
    boxes.append(((lo_x, drawer.bbox_min[1], 0.0), (hi_x, drawer.bbox_max[1], rim)))
    route = chute_route(
        plan,
        z_start=under_ball + fall * catch,
        z_end=rim + t + 2 * gap,
        boxes=boxes,
        half_width=width / 2 + t + gap,
        clearance=t + gap,
        first_grade_deg=grade,
        radius=50.0 * k,
        min_leg=width / 2 + t,
        min_brow=catch + ball.jitter[1] + radius,
    )
    legs = chute_legs(route, width, wall_height=1.4 * radius, thickness=t)
    legs = [clip_to_zone(leg, view.build_zone) for leg in legs]
    return Design(
        parts=[
            Part("stop", stop, material="wood"),
            Part("backboard", backboard, material="wood"),
            *(Part(f"chute_{i}", leg, material="wood") for i, leg in enumerate(legs)),
        ]
    )
