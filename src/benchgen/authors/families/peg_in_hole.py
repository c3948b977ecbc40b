"""Family ``peg_in_hole``: drop a peg, upright, into a blind hole in a socket block."""

from __future__ import annotations

from benchgen.authors.families.base import Const, Family, Rng, common, pick, span, u

FAMILY = Family(
    name="peg_in_hole",
    tier="spatial",
    keywords=("peg", "hole", "socket", "insertion", "fit", "clearance", "assembly"),
    summary="Seat a dropped peg upright in a blind hole of a socket block with little radial play.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 300.0),
        Const("PEG_RADIUS", span(rng, 7.0, 13.0, 1.5), "mm"),
        Const("PEG_LENGTH", span(rng, 40.0, 60.0, 5.0)),
        Const("HOLE_CLEARANCE", u(rng, 1.5, 5.0), "radial play (mm)"),
        Const("HOLE_DEPTH_FRACTION", round(float(rng.uniform(0.6, 0.8)), 2), "of the socket height"),
        Const("SOCKET_SIZE", span(rng, 80.0, 130.0, 15.0)),
        Const("SOCKET_HEIGHT", span(rng, 50.0, 80.0, 8.0)),
        Const("SOCKET_MATERIAL", pick(rng, ("steel", "aluminum_6061", "wood", "abs"))),
        Const("PAYLOAD_MATERIAL", pick(rng, ("steel", "aluminum_6061", "pla"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    peg_r = params["peg_radius"] = rng.uniform(*PEG_RADIUS)
    peg_len = params["peg_length"] = rng.uniform(*PEG_LENGTH)

    # Socket block with a blind hole; HOLE_CLEARANCE is the radial play the solver gets.
    size = params["socket_size"] = rng.uniform(*SOCKET_SIZE)
    height = params["socket_height"] = rng.uniform(*SOCKET_HEIGHT)
    sx = params["socket_x"] = rng.uniform(60.0 + size / 2, WIDTH / 2 - 10.0 - size / 2)
    sy = params["socket_y"] = rng.uniform(-DEPTH / 2 + 10.0 + size / 2, DEPTH / 2 - 10.0 - size / 2)
    hole_r = peg_r + HOLE_CLEARANCE
    depth = height * HOLE_DEPTH_FRACTION
    hole = Pos(*f.point(sx, sy, height - depth / 2 + 0.5)) * Cylinder(hole_r * f.k, (depth + 1.0) * f.k)
    socket = f.box(sx - size / 2, sx + size / 2, sy - size / 2, sy + size / 2, 0, height) - hole

    # The peg is released upright in mid-air well before the socket, its bottom high enough
    # (at least 185 mm) above the floor that something standing under it can carry it over
    # the tallest obstacle the lane may hold (140 mm).
    start = (rng.uniform(-280.0, -200.0), rng.uniform(-80.0, 80.0), rng.uniform(220.0, 250.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    # Goal: the hole, up to where a fully seated peg's centre sits (a peg lying across
    # the mouth of the hole has its centre higher than that, so it does not count).
    bottom = height - depth
    goal = f.zone(
        sx - hole_r, sx + hole_r, sy - hole_r, sy + hole_r, bottom, bottom + peg_len / 2 + 3.0, "hole"
    )

    extra_parts, forbid = fill_lane(f, rng, -170.0, sx - size / 2 - 15.0, params)
    return Scenario(
        name="peg_in_hole",
        description=(
            f"Seat the falling peg upright in the blind hole of the socket block "
            f"({HOLE_CLEARANCE:.1f} mm radial play), keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[Part("socket", socket, material=SOCKET_MATERIAL), *extra_parts],
        payload=Payload(
            "peg",
            Cylinder(peg_r * f.k, peg_len * f.k),
            material=PAYLOAD_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=goal,
        build_zone=f.zone(-WIDTH / 2 + 10, sx + size / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''

SOLUTION = None  # no reference yet: generate does not deal this family
