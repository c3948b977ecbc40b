"""Family ``funnel_to_cup``: a funnel on three legs empties into a cup; get a dropped ball into the cup."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}
    k = f.k

    # The cup stands on the floor; the funnel's spout ends just above its rim.
    radius = params["ball_radius"] = rng.uniform(*BALL_RADIUS)
    cup_r = params["cup_radius"] = rng.uniform(*CUP_RADIUS)
    cup_h = params["cup_height"] = rng.uniform(*CUP_HEIGHT)
    cx = params["cup_x"] = rng.uniform(FUNNEL_TOP + 40.0, WIDTH / 2 - 15.0 - FUNNEL_TOP)
    cy = params["cup_y"] = rng.uniform(-DEPTH / 2 + 15.0 + FUNNEL_TOP, DEPTH / 2 - 15.0 - FUNNEL_TOP)
    w = CUP_WALL
    cup = Pos(*f.point(cx, cy, cup_h / 2)) * (
        Cylinder(cup_r * k, cup_h * k) - Pos(0, 0, w * k) * Cylinder((cup_r - w) * k, cup_h * k)
    )

    # Funnel: a conical shell from FUNNEL_TOP down to an outlet that passes the ball with
    # OUTLET_PLAY of radial play, a short spout, and three legs fused to its rim.
    outlet = radius + OUTLET_PLAY
    cone_h = params["funnel_height"] = rng.uniform(*FUNNEL_HEIGHT)
    spout_z = cup_h + 12.0
    cone_z = spout_z + SPOUT
    t = FUNNEL_WALL
    outer = Cone((outlet + t) * k, (FUNNEL_TOP + t) * k, cone_h * k)
    shell = outer - Cone(outlet * k, FUNNEL_TOP * k, (cone_h + 0.01) * k)
    spout = Cylinder((outlet + t) * k, SPOUT * k) - Cylinder(outlet * k, (SPOUT + 1.0) * k)
    funnel = (
        Pos(*f.point(cx, cy, cone_z + cone_h / 2)) * shell
        + Pos(*f.point(cx, cy, spout_z + SPOUT / 2)) * spout
    )
    rim_z = cone_z + cone_h
    for angle in (30.0, 150.0, 270.0):
        a = math.radians(angle)
        leg_x, leg_y = cx + (FUNNEL_TOP + t / 2) * math.cos(a), cy + (FUNNEL_TOP + t / 2) * math.sin(a)
        funnel = funnel + f.post(leg_x, leg_y, LEG_RADIUS, rim_z - 2.0)

    # The ball is released in mid-air well before the funnel and falls to the floor
    # unless something carries it over to the funnel's mouth.
    start = (rng.uniform(-280.0, -220.0), rng.uniform(-60.0, 60.0), rng.uniform(rim_z + 30.0, HEIGHT - 40.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    inner = cup_r - w - 1.0
    extra_parts, forbid = fill_lane(f, rng, start[0] + 40.0, cx - FUNNEL_TOP - 20.0, params)
    return Scenario(
        name="funnel_to_cup",
        description=(
            "A ball is released in mid-air. Get it into the funnel, whose outlet empties into the cup "
            "below it, so that it ends in the cup; keep out of any forbidden zone."
        ),
        tier="spatial",
        parts=[
            Part("funnel", funnel, material=FUNNEL_MATERIAL),
            Part("cup", cup, material=CUP_MATERIAL),
            *extra_parts,
        ],
        payload=Payload(
            "ball",
            Sphere(radius * k),
            material=BALL_MATERIAL,
            start=f.point(*start),
            jitter=(3 * k, 3 * k, 0.0),
        ),
        goal_zone=f.zone(cx - inner, cx + inner, cy - inner, cy + inner, w, cup_h, "cup_interior"),
        build_zone=f.zone(-WIDTH / 2 + 10, cx + FUNNEL_TOP, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''
