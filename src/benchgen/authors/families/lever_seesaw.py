"""Family ``lever_seesaw``: a hinged plank on a post tips a ball into a bin, or back at you."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span, u

FAMILY = Family(
    name="lever_seesaw",
    tier="kinematic",
    keywords=("lever", "seesaw", "see-saw", "plank", "pivot", "hinge", "hinged", "tipping", "balance"),
    summary="A hinged plank on a post, resting on its stop, tips a ball into a bin or back at you.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        *ball(rng, (12.0, 20.0), ("steel", "abs", "rubber")),
        Const("POST_HEIGHT", span(rng, 110.0, 150.0, 10.0), "mm"),
        Const("POST_MATERIAL", pick(rng, ("steel", "wood", "aluminum_6061"))),
        Const("PLANK_LENGTH", span(rng, 200.0, 240.0, 10.0)),
        Const("PLANK_TILT", span(rng, 8.0, 14.0, 2.0), "degrees, resting on the stop, goal end down"),
        Const("PIVOT_OFFSET", u(rng, 20.0, 40.0), "pivot's distance from mid-plank, towards the start"),
        Const("PLANK_MATERIAL", pick(rng, ("wood", "pla", "aluminum_6061"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Fulcrum post with the plank's hinge 12 mm above it, so the plank never touches it.
    px = params["pivot_x"] = rng.uniform(-50.0, 0.0)
    py = params["pivot_y"] = rng.uniform(-60.0, 60.0)
    post_h = params["post_height"] = rng.uniform(*POST_HEIGHT)
    post = f.box(px - 15, px + 15, py - 20, py + 20, 0, post_h)
    anchor = (px, py, post_h + 12.0)

    # The plank is pivoted PIVOT_OFFSET from its middle, so its weight tips the goal end
    # down onto the joint's upper limit (the built pose). A load far enough out on the
    # short arm tips it back, by at most the tilt plus 8 degrees.
    length = params["plank_length"] = rng.uniform(*PLANK_LENGTH)
    tilt = params["plank_tilt_deg"] = rng.uniform(*PLANK_TILT)
    plank = (
        Pos(*f.point(*anchor))
        * Rot(0, f.sx * tilt, 0)
        * Pos(f.sx * PIVOT_OFFSET * f.k, 0, 0)
        * Box(length * f.k, 60 * f.k, 8 * f.k)
    )
    hinge = f.hinge_y(anchor, 1.0, (-(tilt + 8.0), 0.0))
    a = math.radians(tilt)
    long_arm, short_arm = length / 2 + PIVOT_OFFSET, length / 2 - PIVOT_OFFSET
    low_x, low_z = px + long_arm * math.cos(a), anchor[2] - long_arm * math.sin(a)
    high_x = px - short_arm * math.cos(a) - 4.0

    # Bin under the low end, its near wall tucked 25 mm under the plank, its rim 25-45 mm
    # below the plank's end and its far wall far enough out that a ball rolling off the
    # plank hits the wall below the rim rather than flying over it.
    bin_w = params["bin_width"] = rng.uniform(150.0, 180.0)
    bin_d = params["bin_depth"] = rng.uniform(110.0, 150.0)
    bin_h = params["bin_height"] = rng.uniform(max(40.0, low_z - 45.0), low_z - 25.0)
    bx0, bx1, by0, by1, w = low_x - 25.0, low_x - 25.0 + bin_w, py - bin_d / 2, py + bin_d / 2, 8.0
    bin_part = f.box(bx0, bx1, by0, by1, 0, bin_h) - f.box(bx0 + w, bx1 - w, by0 + w, by1 - w, w, bin_h + 1)
    # Its floor falls 3 degrees towards the far wall: a ball that drops in rolls into the far
    # corner and stays there instead of rolling to and fro on a level floor.
    sump = (bx1 - bx0 - 2 * w) * math.tan(math.radians(3.0))
    middle = ((bx0 + bx1) / 2, py, w + sump / 2 - 10.0 / math.cos(math.radians(3.0)))
    ramp = f.slab(middle, bx1 - bx0, bin_d, 20.0, 3.0)
    bin_part = bin_part + (ramp & f.box(bx0 + w, bx1 - w, by0 + w, by1 - w, w - 1, w + sump + 1))

    # The ball starts well above the plank's high end, so a chute can roll it onto the plank.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    start = (rng.uniform(-290.0, -230.0), rng.uniform(-80.0, 80.0), anchor[2] + rng.uniform(80.0, 105.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    extra_parts, forbid = fill_lane(f, rng, -200.0, high_x - 15.0, params)
    return Scenario(
        name="lever_seesaw",
        description=(
            "Land the falling ball in the bin beyond the see-saw plank. The plank rests tipped "
            "towards the bin; too much weight on its short arm tips it back."
        ),
        tier="kinematic",
        parts=[
            Part("fulcrum", post, material=POST_MATERIAL),
            Part("plank", plank, material=PLANK_MATERIAL, joint=hinge),
            Part("bin", bin_part, material="pla"),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(bx0 + w + 1, bx1 - w - 1, by0 + w + 1, by1 - w - 1, w, bin_h, "bin_interior"),
        build_zone=f.zone(-WIDTH / 2 + 10, px, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''

SOLUTION = '''"""Reference solution for lever_seesaw: prop the plank's short arm, then roll the ball onto the plank.

The plank rests tipped towards the bin, but a ball on its short arm would tip it back. A
post standing just under the short arm (not touching it) takes that load, so the plank
keeps its slope whatever lands on it. A gently falling chute catches the ball, turns to
run along the plank and lets the ball roll off just past the plank's high end; the ball
rolls down the plank, over the pivot and off the low end into the bin.
"""

from __future__ import annotations

import math

from benchgen.scenario import Part
from benchgen.solution import Design, SceneView
from benchgen.toolkit import box_between, chute_legs, clip_to_zone, ray_hits


def design(view: SceneView) -> Design:
    plank = view.part("plank")
    fulcrum = view.part("fulcrum")
    ball = view.payload
    k = view.scale
    radius = max(ball.size) / 2
    pivot = plank.joint.anchor
    assert pivot is not None
    toward = 1.0 if view.goal_zone.center[0] > pivot[0] else -1.0
    y = pivot[1]

    # The plank's high end: the tip of its short arm and the highest point of its top face.
    tip_x = plank.bbox_min[0] if toward > 0 else plank.bbox_max[0]
    tip_top = plank.bbox_max[2]

    # Prop: a square post halfway between the fulcrum and the tip, 1.5 mm under the plank.
    fulcrum_face = fulcrum.bbox_min[0] if toward > 0 else fulcrum.bbox_max[0]
    prop_x = (fulcrum_face + tip_x) / 2
    half = 6.0 * k
    underside = min(
        ray_hits(plank.shape, (prop_x + dx, y + dy, 0.0), (0.0, 0.0, 1.0))[0]
        for dx in (-half, half)
        for dy in (-half, half)
    )
    prop = box_between((prop_x - half, y - half, 0.0), (prop_x + half, y + half, underside - 1.5 * k))

    # Chute: from under the ball to a bend in line with the plank, then along the plank to
    # just past its tip, the floor's underside clear of the tip. Both legs fall about 3
    # degrees, so the ball reaches the plank slowly and cannot roll over the bin.
    wall = 3.0  # mm at every scale: the weight limit does not grow with the scene
    gap = 1.5 * k
    fall = math.tan(math.radians(3.0))
    width = 2 * radius + 2 * ball.jitter[1] + 8.0 * k
    end = (tip_x + toward * (wall + 2.0 * k), y, tip_top + wall + 2.0 * gap)
    bend_x = tip_x - toward * 70.0 * k
    bend = (bend_x, y, end[2] + fall * abs(end[0] - bend_x))
    x0, y0 = ball.start[0], ball.start[1]
    run = math.hypot(bend_x - x0, y - y0)
    under_ball = (x0, y0, bend[2] + fall * run)
    highest = ball.start[2] - ball.jitter[2] - radius - gap - fall * ball.jitter[0]
    if under_ball[2] > highest:
        raise ValueError(
            f"the ball starts too low to roll onto the plank ({under_ball[2]:.0f} > {highest:.0f} mm)"
        )
    # Reach back behind the ball so it lands well inside the chute (trimmed to the build zone).
    back = radius + ball.jitter[0] + wall + 4.0 * k
    ux, uy = (bend_x - x0) / run, (y - y0) / run
    behind = (x0 - ux * back, y0 - uy * back, under_ball[2] + fall * back)
    legs = chute_legs([behind, bend, end], width, wall_height=1.6 * radius, thickness=wall)
    return Design(
        parts=[
            Part("prop", prop, material="wood"),
            *(
                Part(f"chute_{i}", clip_to_zone(leg, view.build_zone), material="wood")
                for i, leg in enumerate(legs)
            ),
        ]
    )
'''
