"""Family ``lever_seesaw``: a hinged plank on a post tips a ball into a bin, or back at you."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # Fulcrum post with the plank's hinge 12 mm above it, so the plank never touches it.
    px = params["pivot_x"] = rng.uniform(-30.0, 20.0)
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

    # Bin under the low end, its near wall tucked 25 mm under the plank, rim well below it.
    bin_w = params["bin_width"] = rng.uniform(110.0, 140.0)
    bin_d = params["bin_depth"] = rng.uniform(110.0, 150.0)
    bin_h = params["bin_height"] = rng.uniform(40.0, min(70.0, low_z - 25.0))
    bx0, bx1, by0, by1, w = low_x - 25.0, low_x - 25.0 + bin_w, py - bin_d / 2, py + bin_d / 2, 8.0
    bin_part = f.box(bx0, bx1, by0, by1, 0, bin_h) - f.box(bx0 + w, bx1 - w, by0 + w, by1 - w, w, bin_h + 1)

    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    start = (rng.uniform(-290.0, -230.0), rng.uniform(-80.0, 80.0), rng.uniform(200.0, 250.0))
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
