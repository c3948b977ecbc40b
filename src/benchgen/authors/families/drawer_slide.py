"""Family ``drawer_slide``: land a ball in a half-open drawer that slides freely on its runners."""

from __future__ import annotations

from importlib.resources import files

from benchgen.authors.families.base import Const, Family, Rng, ball, common, pick, span, u

FAMILY = Family(
    name="drawer_slide",
    tier="kinematic",
    keywords=("drawer", "slide", "slider", "rail", "runner", "prismatic", "cabinet"),
    summary="Land a ball in a half-open drawer that slides freely on its runners in a cabinet.",
)


def choose(rng: Rng) -> list[Const]:
    """Draw the structural choices (the script's constants); the order of draws is fixed."""
    return [
        *common(rng, 280.0),
        *ball(rng, (10.0, 18.0), ("steel", "abs", "rubber", "pla")),
        Const("DRAWER_LENGTH", span(rng, 160.0, 200.0, 10.0), "mm"),
        Const("DRAWER_WIDTH", span(rng, 120.0, 170.0, 15.0)),
        Const("DRAWER_HEIGHT", span(rng, 45.0, 75.0, 8.0)),
        Const("PULL_OUT", span(rng, 90.0, 130.0, 10.0), "how far the drawer stands open"),
        Const("EXTRA_PULL", u(rng, 10.0, 40.0), "further travel outwards before the stop"),
        Const("CARCASS_MATERIAL", pick(rng, ("wood", "steel", "aluminum_6061"))),
        Const("DRAWER_MATERIAL", pick(rng, ("wood", "pla", "abs"))),
    ]


BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    drawer_l = params["drawer_length"] = rng.uniform(*DRAWER_LENGTH)
    drawer_w = params["drawer_width"] = rng.uniform(*DRAWER_WIDTH)
    drawer_h = params["drawer_height"] = rng.uniform(*DRAWER_HEIGHT)
    cab_len = params["cabinet_length"] = drawer_l + 25.0
    cab_x0 = params["cabinet_x"] = rng.uniform(40.0, WIDTH / 2 - 10.0 - cab_len)
    cab_y = params["cabinet_y"] = rng.uniform(-40.0, 40.0)
    pull = params["pull_out"] = rng.uniform(*PULL_OUT)

    # Carcass: a rectangular tube open at both ends; the drawer runs inside it with a
    # 3 mm gap all round, carried by the slide rather than by contact.
    half_in = drawer_w / 2 + 3.0
    floor_z = 12.0 + 3.0
    top_z = floor_z + drawer_h + 3.0 + 12.0
    outer = f.box(cab_x0, cab_x0 + cab_len, cab_y - half_in - 12, cab_y + half_in + 12, 0, top_z)
    carcass = outer - f.box(
        cab_x0 - 1, cab_x0 + cab_len + 1, cab_y - half_in, cab_y + half_in, 12, top_z - 12
    )

    # Drawer: an open tray pulled out towards the start. No force acts along a level
    # slide, so it stays put until something shoves it.
    dx0, dx1 = cab_x0 - pull, cab_x0 - pull + drawer_l
    dy0, dy1, w = cab_y - drawer_w / 2, cab_y + drawer_w / 2, 5.0
    tray = f.box(dx0, dx1, dy0, dy1, floor_z, floor_z + drawer_h)
    drawer = tray - f.box(dx0 + w, dx1 - w, dy0 + w, dy1 - w, floor_z + w, floor_z + drawer_h + 1)
    slide = f.slide_x((-EXTRA_PULL, pull - 5.0))

    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    start = (rng.uniform(-290.0, -230.0), rng.uniform(-80.0, 80.0), rng.uniform(170.0, 230.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    countertop = f.zone(
        cab_x0, cab_x0 + cab_len, cab_y - half_in - 12, cab_y + half_in + 12, top_z, top_z + 60, "countertop"
    )
    extra_parts, forbid = fill_lane(f, rng, -200.0, dx0 - EXTRA_PULL - 15.0, params)
    return Scenario(
        name="drawer_slide",
        description=(
            "Land the falling ball in the exposed part of the half-open drawer. The drawer slides "
            "freely on its runners; nothing may be placed on the countertop."
        ),
        tier="kinematic",
        parts=[
            Part("carcass", carcass, material=CARCASS_MATERIAL),
            Part("drawer", drawer, material=DRAWER_MATERIAL, joint=slide),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(
            dx0 + w + 1, cab_x0 - 2, dy0 + w + 1, dy1 - w - 1, floor_z + w, floor_z + drawer_h, "drawer"
        ),
        build_zone=f.zone(-WIDTH / 2 + 10, cab_x0 - 1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=[countertop, *forbid],
        params=params,
    )
'''

# The family grew from the bundled example ``drawer_slide`` and keeps its part labels and
# layout, so one reference solves both; it lives with the example, where users read it.
SOLUTION = (files("benchgen.examples") / "drawer_slide_solution.py").read_text()
