"""Family ``bowl_landing``: a ball rolls off a sloped shelf; land it in a round-bottomed bowl."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}
    k = f.k

    # Launch shelf: a slab tilted down towards the goal, sunk into its pedestal.
    height = params["shelf_height"] = rng.uniform(*SHELF_HEIGHT)
    tilt = params["shelf_tilt_deg"] = rng.uniform(*SHELF_TILT)
    px = params["pedestal_x"] = rng.uniform(-WIDTH / 2 + 10.0 + SHELF_LENGTH / 2, -200.0)
    deck_c = (px, 0.0, height - 2.0)
    shelf = f.slab(deck_c, SHELF_LENGTH, 90.0, 8.0, tilt) + f.box(px - 30, px + 30, -30, 30, 0, height)
    a = math.radians(tilt)
    lip_x = px + SHELF_LENGTH / 2 * math.cos(a) + 4.0 * math.sin(a)

    # The ball waits near the high end, CLEARANCE (+1 mm for the x-jitter) above the slab.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    along = -SHELF_LENGTH / 2 + radius + 12.0
    lift = 4.0 + radius + CLEARANCE + 1.0
    start = (
        deck_c[0] + along * math.cos(a) + lift * math.sin(a),
        rng.uniform(-15.0, 15.0),
        deck_c[2] - along * math.sin(a) + lift * math.cos(a),
    )

    # The bowl: a spherical shell cut at its equator (the rim) and flattened where it
    # stands on the floor, far enough past the lip that the ball lands short of it.
    bowl_r = params["bowl_radius"] = rng.uniform(*BOWL_RADIUS)
    bx = params["bowl_x"] = rng.uniform(lip_x + 180.0 + bowl_r, WIDTH / 2 - 10.0 - bowl_r)
    by = params["bowl_y"] = rng.uniform(-DEPTH / 2 + 10.0 + bowl_r, DEPTH / 2 - 10.0 - bowl_r)
    centre_z = bowl_r - FOOT
    shell = Sphere(bowl_r * k) - Sphere((bowl_r - BOWL_WALL) * k)
    lower = Pos(0, 0, -bowl_r * k) * Box(3 * bowl_r * k, 3 * bowl_r * k, 2 * bowl_r * k)
    bowl = Pos(*f.point(bx, by, centre_z)) * (shell & lower) & f.box(
        bx - 2 * bowl_r, bx + 2 * bowl_r, by - 2 * bowl_r, by + 2 * bowl_r, 0.0, 2 * bowl_r
    )

    inner = 0.5 * (bowl_r - BOWL_WALL)
    floor_z = centre_z - (bowl_r - BOWL_WALL)
    extra_parts, forbid = fill_lane(f, rng, lip_x + 15.0, bx - bowl_r - 15.0, params)
    return Scenario(
        name="bowl_landing",
        description=(
            "A ball rolls off the sloped launch shelf. Land it in the round-bottomed bowl, where it "
            "must come to rest, keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("shelf", shelf, material=SHELF_MATERIAL),
            Part("bowl", bowl, material=BOWL_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * k, 5 * k, 0.0),
        ),
        goal_zone=f.zone(bx - inner, bx + inner, by - inner, by + inner, floor_z, centre_z, "bowl_interior"),
        build_zone=f.zone(-WIDTH / 2 + 10, bx + bowl_r + 5, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''
