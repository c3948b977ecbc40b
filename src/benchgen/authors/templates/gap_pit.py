"""Family ``gap_pit``: carry a ball across a forbidden pit from a high ledge to a lower one."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Start ledge: a block whose top is cut into a plane sloping down to the lip at
    # ``edge``; one convex solid, so its collision shape is exact.
    h1 = params["start_ledge_height"] = rng.uniform(*START_LEDGE_HEIGHT)
    edge = params["start_ledge_edge"] = rng.uniform(-170.0, -130.0)
    tilt = params["deck_tilt_deg"] = rng.uniform(*DECK_TILT)
    a = math.radians(tilt)
    x_back = -WIDTH / 2 + 10.0
    top_back = h1 + (edge - x_back) * math.tan(a)
    cutter = f.slab((edge + 100.0 * math.sin(a), 0.0, h1 + 100.0 * math.cos(a)), 1000.0, 400.0, 200.0, tilt)
    ledge = f.box(x_back, edge, -90, 90, 0, top_back + 10.0) - cutter
    lip_x = edge

    # The ball waits up-slope, CLEARANCE (+1 mm for the x-jitter) above the top plane.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    along = 0.7 * (edge - x_back)
    lift = radius + CLEARANCE + 1.0
    start = (
        edge - along * math.cos(a) + lift * math.sin(a),
        rng.uniform(-15.0, 15.0),
        h1 + along * math.sin(a) + lift * math.cos(a),
    )

    # Far ledge past the gap, lower than the start, with a U-shaped lip on top that is
    # open towards the gap and fused 1 mm into the ledge.
    gap = params["gap"] = rng.uniform(*GAP)
    x2 = lip_x + gap
    h2 = params["far_ledge_height"] = rng.uniform(*FAR_LEDGE_HEIGHT)
    fw = params["far_ledge_width"] = rng.uniform(140.0, 200.0)
    fy = params["far_ledge_y"] = rng.uniform(-DEPTH / 2 + 10.0 + fw / 2, DEPTH / 2 - 10.0 - fw / 2)
    fy0, fy1, x3 = fy - fw / 2, fy + fw / 2, WIDTH / 2 - 10.0
    lip = f.box(x2 + 10, x3, fy0, fy1, h2 - 1, h2 + 25) - f.box(
        x2 + 9, x3 - 8, fy0 + 8, fy1 - 8, h2 - 2, h2 + 26
    )
    far = f.box(x2, x3, fy0, fy1, 0, h2) + lip

    pit = f.zone(lip_x + 5.0, x2 - 5.0, -DEPTH / 2, DEPTH / 2, 0.0, PIT_HEIGHT, "pit")
    extra_parts, forbid = fill_lane(f, rng, lip_x + 10.0, x2 - 10.0, params)
    return Scenario(
        name="gap_pit",
        description=(
            "A ball rolls off the high ledge and drops into the pit. Bridge the gap so that it "
            "ends on the lower far ledge, inside its lip, without building in the pit."
        ),
        tier="spatial",
        parts=[
            Part("start_ledge", ledge, material=LEDGE_MATERIAL),
            Part("far_ledge", far, material=LEDGE_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * f.k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * f.k, 5 * f.k, 0.0),
        ),
        goal_zone=f.zone(x2 + 5, x3 - 9, fy0 + 9, fy1 - 9, h2, h2 + 45, "far_ledge_top"),
        build_zone=f.zone(-WIDTH / 2 + 10, x3, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=[pit, *forbid],
        params=params,
    )
'''
