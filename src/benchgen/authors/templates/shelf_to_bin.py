"""Family ``shelf_to_bin``: a ball rolls off a sloped launch shelf; deliver it into an open bin."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Launch shelf: a slab tilted down towards the goal, sunk 6 mm into its pedestal so
    # the two fuse into one solid at any tilt.
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

    # Open bin on the floor, far enough past the lip that the ball lands short of it.
    bin_w = params["bin_width"] = rng.uniform(*BIN_SIZE)
    bin_d = params["bin_depth"] = rng.uniform(*BIN_SIZE)
    bin_h = params["bin_height"] = rng.uniform(*BIN_HEIGHT)
    bx0 = params["bin_x"] = rng.uniform(lip_x + 180.0, WIDTH / 2 - 10.0 - bin_w)
    by = params["bin_y"] = rng.uniform(-DEPTH / 2 + 10.0 + bin_d / 2, DEPTH / 2 - 10.0 - bin_d / 2)
    bx1, by0, by1, w = bx0 + bin_w, by - bin_d / 2, by + bin_d / 2, BIN_WALL
    bin_part = f.box(bx0, bx1, by0, by1, 0, bin_h) - f.box(bx0 + w, bx1 - w, by0 + w, by1 - w, w, bin_h + 1)

    extra_parts, forbid = fill_lane(f, rng, lip_x + 15.0, bx0 - 15.0, params)
    return Scenario(
        name="shelf_to_bin",
        description=(
            "A ball rolls off the sloped launch shelf. Catch it and deliver it into the open bin, "
            "keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("shelf", shelf, material=SHELF_MATERIAL),
            Part("bin", bin_part, material=BIN_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * f.k, 5 * f.k, 0.0),
        ),
        goal_zone=f.zone(bx0 + w + 1, bx1 - w - 1, by0 + w + 1, by1 - w - 1, w, bin_h, "bin_interior"),
        build_zone=f.zone(-WIDTH / 2 + 10, bx1 + 5, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''
