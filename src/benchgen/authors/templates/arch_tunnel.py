"""Family ``arch_tunnel``: route a dropped block through an arch in a wall into a pocket behind it."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Wall across the workspace with an opening at floor level, optionally arch-topped.
    wall_x = params["wall_x"] = rng.uniform(40.0, 120.0)
    wall_h = params["wall_height"] = rng.uniform(*WALL_HEIGHT)
    open_w = params["opening_width"] = rng.uniform(*OPENING_WIDTH)
    open_h = params["opening_height"] = rng.uniform(*OPENING_HEIGHT)
    open_y = params["opening_y"] = rng.uniform(-70.0, 70.0)
    wx0, wx1 = wall_x - WALL_THICKNESS / 2, wall_x + WALL_THICKNESS / 2
    opening = f.box(wx0 - 1, wx1 + 1, open_y - open_w / 2, open_y + open_w / 2, -1, open_h)
    if ARCH_TOP:
        # A cylinder along x rounds the top of the opening into an arch.
        arch = Cylinder(open_w / 2 * f.k, (WALL_THICKNESS + 2) * f.k, rotation=(0, 90, 0))
        opening = opening + Pos(*f.point(wall_x, open_y, open_h)) * arch
    wall = f.box(wx0, wx1, -DEPTH / 2 + 10, DEPTH / 2 - 10, 0, wall_h) - opening

    # A low U-shaped curb behind the opening, open towards it, catches the block.
    pocket_len = params["pocket_length"] = rng.uniform(90.0, 140.0)
    px0, px1 = wx1 + CLEARANCE, wx1 + CLEARANCE + pocket_len
    py0, py1 = open_y - open_w / 2 - 14.0, open_y + open_w / 2 + 14.0
    curb = f.box(px0, px1, py0, py1, 0, 25) - f.box(px0 - 1, px1 - 8, py0 + 8, py1 - 8, -1, 26)

    # The block is released in mid-air well before the wall; left alone it just lands there.
    side = params["block_size"] = rng.uniform(*BLOCK_SIZE)
    start = (rng.uniform(-280.0, -200.0), rng.uniform(-80.0, 80.0), rng.uniform(150.0, 220.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    extra_parts, forbid = fill_lane(f, rng, -170.0, wx0 - 15.0, params)
    return Scenario(
        name="arch_tunnel",
        description=(
            "Guide the falling block through the opening in the wall and into the curbed pocket "
            "behind it, keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("wall", wall, material=WALL_MATERIAL),
            Part("pocket_curb", curb, material="abs"),
            *extra_parts,
        ],
        payload=Payload(
            "block",
            Box(side * f.k, side * f.k, side * f.k),
            material=PAYLOAD_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(wx1 + 4, px1 - 9, py0 + 9, py1 - 9, 0, 40, "pocket"),
        build_zone=f.zone(-WIDTH / 2 + 10, wx0 - 1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''
