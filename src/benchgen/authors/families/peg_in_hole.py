"""Family ``peg_in_hole``: drop a peg, upright, into a blind hole in a socket block.

The peg is released upright in mid-air far from the socket, past a lane of obstacles and
maybe a forbidden pit. Falling or sliding there it would topple, so the reference carries
it: a motorised V pushes it, standing, along a track to a guide over the hole.
"""

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

SOLUTION = '''"""Reference solution for ``peg_in_hole``: a motorised V pushes the peg along a track to a bore over the hole.

The peg falls upright from mid-air, far from the socket. A flat track plate runs under
its release point straight to the hole, above the socket, any forbidden pit and whatever
stands in the way (the scene releases the peg high enough for that). The peg drops
onto the track without touching anything and lands standing. After it has settled a
motor slides a tall 90° V along the line to the hole: the V's faces take the peg
wherever it landed, centre it across the line and push it, upright (a full-height face
pushing a standing peg cannot tip it), until the end of the slide's range leaves the
peg right over a square bore in the track above the hole. A stop at the bore's far
edge catches a peg tipping forward over its near edge, and a square guide tube (play a
little under the hole's) leads it down into the hole. The motor runs as slowly as the
time allows, in proportion to the peg's size (tipping scales as the square root of
size). Every part is a plain box or the V, so it collides exactly; all wood, so that
the weight limit (which does not scale) holds at double scale. Everything is derived
from the view.
"""

from __future__ import annotations

import math

from build123d import Box, Kind, Location, Polygon, Rot, Solid, extrude, offset

from benchgen.scenario import Part, Slide
from benchgen.solution import Design, Motor, PartView, SceneView
from benchgen.toolkit import clip_to_zone

START_S = 1.0  # s: the peg has landed on the track and settled by then, at every scale
TRIP_S = 6.5  # s: the longest trip, so that the peg has come to rest in the hole well within 10 s


def _box(u0: float, u1: float, v0: float, v1: float, z0: float, z1: float) -> Solid:
    """A box between two corners of the local frame."""
    return Location(((u0 + u1) / 2, (v0 + v1) / 2, (z0 + z1) / 2)) * Box(u1 - u0, v1 - v0, z1 - z0)  # type: ignore[no-any-return]


def _meets(
    part: PartView,
    origin: tuple[float, float],
    d: tuple[float, float],
    span: tuple[float, float],
    reach: float,
) -> bool:
    """Whether the part's plan box meets the corridor ``span`` along ``d`` from ``origin``, ``reach`` either side."""
    corners = [
        (x - origin[0], y - origin[1])
        for x in (part.bbox_min[0], part.bbox_max[0])
        for y in (part.bbox_min[1], part.bbox_max[1])
    ]
    along = [x * d[0] + y * d[1] for x, y in corners]
    across = [-x * d[1] + y * d[0] for x, y in corners]
    if max(along) <= span[0] or min(along) >= span[1] or max(across) <= -reach or min(across) >= reach:
        return False
    ends = [
        (origin[0] + s * d[0] + v * -d[1], origin[1] + s * d[1] + v * d[0])
        for s in span
        for v in (-reach, reach)
    ]
    return not (
        max(x for x, _ in ends) <= part.bbox_min[0]
        or min(x for x, _ in ends) >= part.bbox_max[0]
        or max(y for _, y in ends) <= part.bbox_min[1]
        or min(y for _, y in ends) >= part.bbox_max[1]
    )


def design(view: SceneView) -> Design:
    """Track, bore, stop, guide tube and the motorised V for one variant."""
    socket, goal, peg = view.part("socket"), view.goal_zone, view.payload
    k = view.scale
    radius = peg.size[0] / 2
    length = peg.size[2]
    jitter = max(peg.jitter[0], peg.jitter[1])
    ax, ay = peg.start[0], peg.start[1]
    hx, hy = goal.center[0], goal.center[1]
    run = math.hypot(hx - ax, hy - ay)
    d = ((hx - ax) / run, (hy - ay) / run)
    frame = Location((ax, ay, 0.0)) * Rot(0, 0, math.degrees(math.atan2(d[1], d[0])))

    wall = 2.0 * k
    thick = 3.0 * k
    gap = 1.0 * k
    margin = 1.5 * k  # between the falling peg and the pusher's walls
    clearance = goal.size[0] / 2 - radius  # the hole's radial play
    bore = radius + 0.6 * clearance  # half-width of the square bore and guide tube over the hole
    peg_bottom = peg.start[2] + peg.bbox_min[2] - peg.jitter[2]

    # The pusher (local frame: u along the run, v across, the release point at u = v = 0): a
    # 90° V behind a square catch wide enough that the dropped peg touches nothing; its faces
    # centre the peg across the run as they push it. In the V the peg's centre sits at u_v.
    half = radius + jitter + margin
    apex = -2 * jitter - math.sqrt(2) * (radius + margin)
    u_v = apex + math.sqrt(2) * radius
    front = jitter + radius + margin
    inner = [(apex, 0.0), (apex + half, -half), (front, -half), (front, half), (apex + half, half)]
    reach = half + wall + 2.0 * k  # the pusher's swept corridor, either side of the line
    travel = run - u_v  # the V brings the peg's centre over the hole
    # As slow as the time allows, and no faster, relative to the peg's size, at any scale.
    speed = max(100.0 * math.sqrt(k), travel / TRIP_S)

    # The track top: above the socket, any pit and any part in the pusher's way, and high enough
    # that a peg seated in the hole stands clear of the V (which would otherwise run into a peg
    # that went ahead of it).
    floor = max(socket.bbox_max[2], goal.min[2] + length)
    for zone in view.forbid_zones:
        floor = max(floor, zone.max[2])
    for part in view.parts:
        span = (apex - 2 * wall, travel + front + 2 * wall)
        if part.label != "socket" and _meets(part, (ax, ay), d, span, reach):
            floor = max(floor, part.bbox_max[2])
    top = floor + gap + thick
    z0 = top + gap
    height = min(peg_bottom - 1.0 * k - z0, 0.6 * length)
    outline = Polygon(*inner, align=None)
    pusher = extrude(offset(outline, wall, kind=Kind.INTERSECTION), height) - extrude(outline, height)
    # Only the V of that outline is kept: the peg falls straight and lands standing, and side
    # walls would only get in the way of the stop at the bore.
    pusher &= Location(((apex - 2 * wall + apex + half) / 2, 0.0, height / 2)) * Box(
        half + 2 * wall, 2 * (half + 2 * wall), height + 2.0
    )
    pusher = Location((0.0, 0.0, z0)) * pusher

    # The track (local frame, every piece a plain box so that it collides exactly): a plate
    # under the pusher's whole course up to a square bore over the hole, strips beside the
    # bore, a stop at its far edge (a peg tipping forward over the bore's near edge leans on
    # it) and a square guide tube from the bore down to just above the socket.
    pieces = {
        "track": _box(apex - 2 * wall, run - bore, -reach, reach, top - thick, top),
        "track_left": _box(run - bore, run + bore + thick, bore, reach, top - thick, top),
        "track_right": _box(run - bore, run + bore + thick, -reach, -bore, top - thick, top),
        "stop": _box(run + bore, run + bore + thick, -bore - wall, bore + wall, top, top + 0.8 * length),
    }
    low = socket.bbox_max[2] + gap
    if top - thick - low > 0.5 * k:
        pieces["guide_near"] = _box(
            run - bore - wall, run - bore, -bore - wall, bore + wall, low, top - thick
        )
        pieces["guide_far"] = _box(run + bore, run + bore + wall, -bore - wall, bore + wall, low, top - thick)
        pieces["guide_left"] = _box(run - bore, run + bore, bore, bore + wall, low, top - thick)
        pieces["guide_right"] = _box(run - bore, run + bore, -bore - wall, -bore, low, top - thick)
    parts = [
        Part(label, clip_to_zone(frame * piece, view.build_zone), material="wood")
        for label, piece in pieces.items()
    ]
    return Design(
        parts=[
            *parts,
            Part(
                "pusher",
                clip_to_zone(frame * pusher, view.build_zone),
                material="wood",
                joint=Slide(axis=(d[0], d[1], 0.0), range=(0.0, travel)),
            ),
        ],
        motors=[Motor("pusher", speed=speed, max_effort=20.0, start_s=START_S)],
    )
'''
