"""Family ``obstacle_field``: thread a dropped payload through a field of posts into a kerbed pen."""

BODY = '''

def build(seed: int, scale: float = 1.0) -> Scenario:
    """Build the scene for ``seed`` at ``scale`` (every length multiplied by ``scale``)."""
    rng = random.Random(seed)
    f = Frame(mirror=seed % 2 == 1, scale=scale)
    params: dict[str, float] = {"mirrored": float(seed % 2)}

    # A square pen: four kerbs around a patch of floor.
    size = params["pen_size"] = rng.uniform(*PEN_SIZE)
    x0 = params["pen_x"] = rng.uniform(100.0, WIDTH / 2 - 10.0 - size)
    py = params["pen_y"] = rng.uniform(-DEPTH / 2 + 10.0 + size / 2, DEPTH / 2 - 10.0 - size / 2)
    x1, y0, y1, t = x0 + size, py - size / 2, py + size / 2, 8.0
    pen = f.box(x0, x1, y0, y1, 0, KERB_HEIGHT) - f.box(x0 + t, x1 - t, y0 + t, y1 - t, -1, KERB_HEIGHT + 1)

    # The payload is released in mid-air at the far end of the field.
    s = params["payload_size"] = rng.uniform(*PAYLOAD_SIZE)
    shape = Sphere(s / 2 * f.k) if PAYLOAD_KIND == "ball" else Box(s * f.k, s * f.k, s * f.k)
    start = (rng.uniform(-280.0, -200.0), rng.uniform(-80.0, 80.0), rng.uniform(150.0, 230.0))
    params.update(start_x=start[0], start_y=start[1], start_z=start[2])

    extra_parts, forbid = fill_lane(f, rng, -170.0, x0 - 15.0, params)
    return Scenario(
        name="obstacle_field",
        description=(
            f"Get the falling {PAYLOAD_KIND} past the obstacles and into the kerbed pen, "
            "keeping out of any forbidden zone."
        ),
        tier="spatial",
        parts=[Part("pen", pen, material=PEN_MATERIAL), *extra_parts],
        payload=Payload(
            PAYLOAD_KIND,
            shape,
            material=PAYLOAD_MATERIAL,
            start=f.point(*start),
            jitter=(6 * f.k, 6 * f.k, 2 * f.k),
        ),
        goal_zone=f.zone(x0 + t + 1, x1 - t - 1, y0 + t + 1, y1 - t - 1, 0, KERB_HEIGHT + 20, "pen"),
        build_zone=f.zone(-WIDTH / 2 + 10, x1, -DEPTH / 2, DEPTH / 2, 0, HEIGHT - 10, "build"),
        bounds=f.zone(-WIDTH / 2, WIDTH / 2, -DEPTH / 2, DEPTH / 2, 0, HEIGHT, "bounds"),
        constraints=Constraints(
            target_quantity=TARGET_QUANTITY, max_unit_cost=MAX_UNIT_COST, max_weight_g=MAX_WEIGHT_G
        ),
        forbid_zones=forbid,
        params=params,
    )
'''
