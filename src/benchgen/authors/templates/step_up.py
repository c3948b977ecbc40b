"""Family ``step_up``: lower a block released up high onto the landing at the top of a staircase."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Staircase rising towards the goal side: nested boxes, each one step taller, fuse
    # into one solid; the top one is the landing, with a kerb along its far edge.
    rise = params["step_rise"] = rng.uniform(*STEP_RISE)
    run = params["step_run"] = rng.uniform(*STEP_RUN)
    landing = params["landing_length"] = rng.uniform(*LANDING_LENGTH)
    width = params["stair_width"] = rng.uniform(*STAIR_WIDTH)
    sy = params["stair_y"] = rng.uniform(-DEPTH / 2 + 10.0 + width / 2, DEPTH / 2 - 10.0 - width / 2)
    y0, y1, x_end = sy - width / 2, sy + width / 2, WIDTH / 2 - 10.0
    x_landing = x_end - landing
    top = N_STEPS * rise
    stairs = f.box(x_end - 12.0, x_end, y0, y1, 0, top + 30.0)
    for i in range(N_STEPS):
        stairs = stairs + f.box(x_landing - (N_STEPS - 1 - i) * run, x_end, y0, y1, 0, (i + 1) * rise)
    x_foot = x_landing - (N_STEPS - 1) * run

    # The block is released high above the floor, well before the stairs.
    side = params["block_size"] = rng.uniform(*BLOCK_SIZE)
    start = (rng.uniform(-280.0, -200.0), rng.uniform(-80.0, 80.0), rng.uniform(top + 70.0, top + 110.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    extra_parts, forbid = fill_lane(f, rng, -170.0, x_foot - 15.0, params)
    return Scenario(
        name="step_up",
        description=(
            f"Bring the falling block to rest on the landing at the top of the {N_STEPS}-step "
            "staircase, keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[Part("stairs", stairs, material=STAIR_MATERIAL), *extra_parts],
        payload=Payload(
            "block",
            Box(side * f.k, side * f.k, side * f.k),
            material=PAYLOAD_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(x_landing + 5, x_end - 13, y0 + 5, y1 - 5, top, top + 50, "landing"),
        build_zone=f.zone(-WIDTH / 2 + 10, x_end, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''
