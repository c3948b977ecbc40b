"""Family ``flap_gate``: push a ball through a one-way hinged flap into the pocket behind a wall."""

from __future__ import annotations

from importlib.resources import files

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span, u

FAMILY = Family(
    name="flap_gate",
    tier="kinematic",
    keywords=("gate", "flap", "door", "hinge", "hinged", "one-way", "trapdoor", "wall"),
    summary="Push a ball through a one-way hinged flap in a wall into the pocket behind it.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        # Only a steel ball carries the momentum to swing a flap open; a rubber one stalls under it.
        *ball(rng, (12.0, 18.0), ("steel",)),
        Const("DOOR_WIDTH", span(rng, 85.0, 125.0, 10.0), "mm"),
        Const("DOOR_HEIGHT", span(rng, 70.0, 100.0, 8.0)),
        Const("FLAP_LEAN", u(rng, 8.0, 15.0), "degrees past vertical, onto the stop"),
        Const("OPEN_LIMIT", u(rng, 60.0, 80.0), "degrees the flap can swing open"),
        Const("FLAP_MATERIAL", pick(rng, ("wood", "pla"))),
        Const("WALL_MATERIAL", pick(rng, ("wood", "steel", "aluminum_6061"))),
    ]


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
            Part("pocket_curb", kerb, material="abs"),
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

# The family grew from the bundled example ``hinged_gate`` and keeps its part labels and
# layout, so one reference solves both; it lives with the example, where users read it.
SOLUTION = (files("benchgen.examples") / "hinged_gate_solution.py").read_text()
