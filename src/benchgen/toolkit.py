"""Building blocks for solutions: chutes, plates and pushers placed between world points.

Solutions (and scenario scripts) may use these; each returns a build123d solid in world
millimetres. They are plain geometry: nothing here knows about a particular benchmark.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Literal

from build123d import Axis, Box, Compound, Face, Keep, Location, Plane, Shape, Solid, Vector, Wire

from benchgen.scenario import Zone

Point = Sequence[float]


def _frame(start: Point, end: Point) -> tuple[Plane, float]:
    """A plane at ``start`` whose x axis runs to ``end`` and whose z axis leans up; and the length."""
    a, b = Vector(*start), Vector(*end)
    along = b - a
    length = along.length
    if length < 1e-6:
        raise ValueError("start and end must differ")
    x_dir = along.normalized()
    up = Vector(0, 0, 1)
    normal = up - x_dir * up.dot(x_dir)
    if normal.length < 1e-6:  # a vertical run: any horizontal normal will do
        normal = Vector(1, 0, 0)
    return Plane(origin=a, x_dir=x_dir, z_dir=normal.normalized()), length


def chute(
    start: Point,
    end: Point,
    width: float,
    wall_height: float,
    thickness: float = 3.0,
    end_wall: bool = False,
) -> Solid:
    """A U-channel whose floor's top surface runs along the segment ``start`` → ``end``.

    ``width`` is the clear width between the walls, ``wall_height`` how far the walls rise
    above the floor, ``thickness`` the floor and wall thickness; ``end_wall`` closes the
    lower end (a stop).
    """
    plane, length = _frame(start, end)
    t = thickness
    floor = Location((length / 2, 0, -t / 2)) * Box(length, width + 2 * t, t)
    wall = Box(length, t, wall_height + t)
    left = Location((length / 2, (width + t) / 2, (wall_height - t) / 2)) * wall
    right = Location((length / 2, -(width + t) / 2, (wall_height - t) / 2)) * wall
    shape = floor + left + right
    if end_wall:
        shape += Location((length - t / 2, 0, (wall_height - t) / 2)) * Box(t, width + 2 * t, wall_height + t)
    return plane.location * shape  # type: ignore[no-any-return]


def plate(start: Point, end: Point, width: float, thickness: float = 3.0) -> Solid:
    """A flat plate whose top surface runs along ``start`` → ``end`` (a ramp or a shelf)."""
    plane, length = _frame(start, end)
    return plane.location * (Location((length / 2, 0, -thickness / 2)) * Box(length, width, thickness))  # type: ignore[no-any-return]


def box_between(lo: Point, hi: Point) -> Solid:
    """An axis-aligned box between two opposite corners."""
    sx, sy, sz = (abs(b - a) for a, b in zip(lo, hi, strict=True))
    center = tuple((a + b) / 2 for a, b in zip(lo, hi, strict=True))
    return Location(center) * Box(sx, sy, sz)  # type: ignore[no-any-return]


def slope_deg(start: Point, end: Point) -> float:
    """The angle of ``start`` → ``end`` below the horizontal, in degrees (positive = downhill)."""
    dx, dy, dz = (end[i] - start[i] for i in range(3))
    return math.degrees(math.atan2(-dz, math.hypot(dx, dy)))


def ray_hits(shape: Shape, origin: Point, direction: Point) -> list[float]:
    """Distances along the ray ``origin + t·direction`` (t ≥ 0) at which it crosses ``shape``'s surface.

    Sorted nearest first; ``direction`` need not be unit length (distances are in mm along
    it normalised). Handy for measuring a scene part exactly: the underside of a plank
    above a point, the top of a lip, the inner face of a wall.
    """
    norm = math.sqrt(sum(c * c for c in direction))
    if norm < 1e-9:
        raise ValueError("direction must not be zero")
    unit = Vector(direction[0] / norm, direction[1] / norm, direction[2] / norm)
    start = Vector(origin[0], origin[1], origin[2])
    hits = [(point - start).dot(unit) for point, _ in shape.find_intersection_points(Axis(start, unit))]
    return sorted(t for t in hits if t >= -1e-9)


def chute_legs(
    points: Sequence[Point], width: float, wall_height: float, thickness: float = 3.0
) -> list[Solid]:
    """U-channel legs (see :func:`chute`) whose floors' top surface follows the polyline ``points``.

    One solid per leg, each cut on the plane that bisects the bend to its neighbour, so
    neighbouring legs meet face to face (no overlap, no gap) and floor and walls close up
    at every bend, in plan or in slope. Make each leg its own part: a single channel
    collides exactly, where the union of several may not decompose cleanly.
    """
    if len(points) < 2:
        raise ValueError("a chute needs at least two points")
    corners = [Vector(p[0], p[1], p[2]) for p in points]
    dirs = [(b - a).normalized() for a, b in zip(corners, corners[1:], strict=False)]
    # How far a leg must overrun a bend before it is cut, so that its corner is filled.
    reach = width + 2 * wall_height + 4 * thickness
    legs: list[Solid] = []
    for i, u in enumerate(dirs):
        a, b = corners[i], corners[i + 1]
        first = a - u * reach if i > 0 else a
        last = b + u * reach if i < len(dirs) - 1 else b
        leg = chute(tuple(first), tuple(last), width, wall_height, thickness)
        if i > 0:
            leg = _cut(leg, Plane(origin=a, z_dir=(dirs[i - 1] + u).normalized()), Keep.TOP)
        if i < len(dirs) - 1:
            leg = _cut(leg, Plane(origin=b, z_dir=(u + dirs[i + 1]).normalized()), Keep.BOTTOM)
        legs.append(leg)
    return legs


def _cut(solid: Solid, plane: Plane, keep: Literal[Keep.TOP, Keep.BOTTOM]) -> Solid:
    """The part of ``solid`` on one side of ``plane`` (one solid, or a ``ValueError``)."""
    part = solid.split(plane, keep=keep)
    if not isinstance(part, Solid):
        raise ValueError(f"cutting the leg left {part!r}, not one solid")
    return part


# --- channels along routed paths -----------------------------------------------------------------
#
# A channel is laid along a *path*: a polyline of floor-top points. Plan helpers pick the
# polyline in x/y (:func:`route`), profile helpers give it heights (:func:`graded_path`,
# :func:`high_path`), :func:`path_clear` tests it against keep-out boxes, and
# :func:`channel` builds it. Unlike :func:`chute_legs`, a channel is one part made of
# convex plates (exact collision, no decomposition), and its floor steps *down* at each
# bend, so a sliding block never meets a lip.

PlanPoint = tuple[float, float]
PathPoint = tuple[float, float, float]
KeepOut = tuple[Point, Point]
"""An axis-aligned box (lower corner, upper corner) a channel must stay above or go around."""


def _plan_unit(dx: float, dy: float) -> PlanPoint:
    norm = math.hypot(dx, dy)
    return (dx / norm, dy / norm)


def plan_direction(a: Sequence[float], b: Sequence[float]) -> PlanPoint:
    """The unit vector from ``a`` to ``b`` in plan (x, y; any z is ignored)."""
    return _plan_unit(b[0] - a[0], b[1] - a[1])


def wall_thickness(scale: float) -> float:
    """A printed chute's wall (mm): 3 mm, thinner below scale 1 (by √scale) and never thicker
    above it, since the weight limit does not grow with the scene."""
    return 3.0 * min(1.0, math.sqrt(scale))


def block_catch(
    side: float, jitter: Point, clearance: float, scale: float, heading: PlanPoint
) -> tuple[float, float]:
    """For a chute heading this way (plan unit vector) under a dropped axis-aligned block of
    edge ``side`` whose start is jittered by up to ``jitter``: how far its closed back sits
    behind the block's centre, and its clear width."""
    ax, ay = side / 2 + jitter[0], side / 2 + jitter[1]
    along = ax * abs(heading[0]) + ay * abs(heading[1])
    across = ax * abs(heading[1]) + ay * abs(heading[0])
    return along + clearance, max(2 * across, 1.25 * side + 2 * jitter[1]) + 4.0 * scale


def hood(
    at: Point,
    direction: PlanPoint,
    width: float,
    thickness: float,
    length: float,
    height: float,
    end_thickness: float | None = None,
) -> Compound:
    """Side walls and an end wall, without a floor, carrying a :func:`channel` on from its end
    ``at`` along the plan ``direction`` for ``length``: the payload drops through the open
    floor. The walls stand from the channel floor's underside up to ``height`` over its top,
    so a payload cannot jump them on its way down; the end wall is ``end_thickness`` thick
    (default ``thickness``), thicker where a fast payload must not sink into it."""
    end_t = thickness if end_thickness is None else end_thickness
    angle = math.degrees(math.atan2(direction[1], direction[0]))
    place = Location((at[0], at[1], at[2]), (0, 0, angle))
    z = (height - thickness) / 2
    sides = [
        Location((length / 2, s * (width + thickness) / 2, z)) * Box(length, thickness, height + thickness)
        for s in (-1, 1)
    ]
    end = Location((length + end_t / 2, 0, z)) * Box(end_t, width + 2 * thickness, height + thickness)
    return Compound([place * s for s in (*sides, end)])


def _plan_runs(points: Sequence[Point]) -> list[tuple[Point, Point]]:
    """Consecutive point pairs that advance in plan; a pair at the same x, y is a step down."""
    runs = []
    for a, b in zip(points, points[1:], strict=False):
        if math.hypot(b[0] - a[0], b[1] - a[1]) > 1e-6:
            runs.append((a, b))
        elif b[2] > a[2] + 1e-9:
            raise ValueError(f"a vertical step must go down: {tuple(a)} -> {tuple(b)}")
    if not runs:
        raise ValueError("a channel's path must advance horizontally")
    return runs


def _end_vector(normal: PlanPoint, cut: PlanPoint | None) -> PlanPoint:
    """The vector k such that a run's end edge is {end + u·k}: square to the run, or along ``cut``."""
    if cut is None:
        return normal
    c = _plan_unit(*cut)
    dot = c[0] * normal[0] + c[1] * normal[1]
    if abs(dot) < 0.3:
        raise ValueError("an end cut must not run nearly along the channel")
    return (c[0] / dot, c[1] / dot)


def _mitres(
    runs: list[tuple[Point, Point]],
    max_turn_deg: float,
    start_cut: PlanPoint | None,
    end_cut: PlanPoint | None,
) -> list[PlanPoint]:
    """Per run end, the vector k such that the line at lateral offset u meets the joint at u·k."""
    normals = [_plan_unit(-(b[1] - a[1]), b[0] - a[0]) for a, b in runs]
    mitres = [_end_vector(normals[0], start_cut)]
    limit = math.cos(math.radians(max_turn_deg))
    for n0, n1 in zip(normals, normals[1:], strict=False):
        dot = n0[0] * n1[0] + n0[1] * n1[1]
        if dot < limit - 1e-9:
            turn = math.degrees(math.acos(max(-1.0, dot)))
            raise ValueError(f"a bend turns by {turn:.0f}°, more than {max_turn_deg:g}°")
        mitres.append(((n0[0] + n1[0]) / (1 + dot), (n0[1] + n1[1]) / (1 + dot)))
    mitres.append(_end_vector(normals[-1], end_cut))
    return mitres


def _run_prism(
    run: tuple[Point, Point], k0: PlanPoint, k1: PlanPoint, lateral: PlanPoint, heights: PlanPoint
) -> Solid:
    """The solid over a run's plan quad between lateral offsets ``lateral`` and its end edges
    (``end + u·k``), from ``heights[0]`` to ``heights[1]`` above the run's floor plane."""
    a, b = run
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    d = ((b[0] - a[0]) / length, (b[1] - a[1]) / length)
    slope = (b[2] - a[2]) / length

    def corner(base: Point, k: PlanPoint, u: float) -> Vector:
        x, y = base[0] + u * k[0], base[1] + u * k[1]
        along = (x - a[0]) * d[0] + (y - a[1]) * d[1]
        return Vector(x, y, a[2] + slope * along + heights[0])

    u0, u1 = lateral
    quad = [corner(a, k0, u0), corner(b, k1, u0), corner(b, k1, u1), corner(a, k0, u1)]
    return Solid.extrude(Face(Wire.make_polygon(quad, close=True)), Vector(0, 0, heights[1] - heights[0]))


def _end_cap(run: tuple[Point, Point], at_end: bool, half: float, thickness: float, height: float) -> Solid:
    """A wall just outside one end of a run, square to it, from the floor's underside up."""
    a, b = run
    d = _plan_unit(b[0] - a[0], b[1] - a[1])
    n = (-d[1], d[0])
    base = b if at_end else a
    s0, s1 = (0.0, thickness) if at_end else (-thickness, 0.0)
    quad = [
        Vector(base[0] + s * d[0] + u * n[0], base[1] + s * d[1] + u * n[1], base[2] - thickness)
        for s, u in ((s0, -half), (s1, -half), (s1, half), (s0, half))
    ]
    return Solid.extrude(Face(Wire.make_polygon(quad, close=True)), Vector(0, 0, height + thickness))


def channel(
    points: Sequence[Point],
    width: float,
    wall_height: float,
    thickness: float = 3.0,
    closed_start: bool = False,
    closed_end: bool = False,
    start_cut: PlanPoint | None = None,
    end_cut: PlanPoint | None = None,
    end_wall_height: float | None = None,
    max_turn_deg: float = 75.0,
) -> Compound:
    """A U-channel whose floor's top surface runs along the polyline ``points`` (mm, world).

    ``width`` is the clear width between the walls, ``wall_height`` how far they rise above
    the floor, ``thickness`` that of floor and walls. The result is one compound of convex
    plates (a floor and two walls per run, mitred at bends), so it collides exactly. Two
    consecutive points at the same x, y make a vertical step down (see :func:`sloped_path`
    for why bends need one). ``closed_start``/``closed_end`` put a wall across that end
    (``end_wall_height`` tall at the end, e.g. a backboard against a fast payload); the
    ends are square to the channel unless ``start_cut``/``end_cut`` give the plan direction
    of the end edge (e.g. parallel to a lip or a wall the channel starts or stops at).
    """
    runs = _plan_runs(points)
    mitres = _mitres(runs, max_turn_deg, start_cut, end_cut)
    half, t, h = width / 2, thickness, wall_height
    plates: list[Shape] = []
    for i, run in enumerate(runs):
        k0, k1 = mitres[i], mitres[i + 1]
        plates.append(_run_prism(run, k0, k1, (-half - t, half + t), (-t, 0.0)))
        plates.append(_run_prism(run, k0, k1, (half, half + t), (0.0, h)))
        plates.append(_run_prism(run, k0, k1, (-half - t, -half), (0.0, h)))
    if closed_start:
        plates.append(_end_cap(runs[0], False, half + t, t, h))
    if closed_end:
        end_height = h if end_wall_height is None else end_wall_height
        plates.append(_end_cap(runs[-1], True, half + t, t, end_height))
    return Compound(plates)


def run_volume(start: Point, end: Point, half_width: float, below: float, above: float) -> Solid:
    """The space over the run ``start`` → ``end`` (floor-top points) between ``below`` under
    and ``above`` over its floor, ``half_width`` to either side: e.g. a channel run plus the
    payload riding in it, to test against a scene part's exact shape."""
    d = _plan_unit(end[0] - start[0], end[1] - start[1])
    n = (-d[1], d[0])
    return _run_prism((start, end), n, n, (-half_width, half_width), (-below, above))


def sloped_path(
    plan: Sequence[PlanPoint], z_start: float, grades: Sequence[float], half_width: float
) -> list[PathPoint]:
    """Floor-top points along the plan polyline, each run falling at its grade (drop per run length).

    Across a bend's mitre two floors sloping at g0 and g1 differ by (g0 + g1)·u·tan(turn/2)
    at lateral offset u: the outside of the next floor would stand proud of the last one,
    a lip a sliding block catches on. So each bend gets a vertical step down just big
    enough for a floor ``half_width`` either side of the centre line. The path ends
    wherever the grades take it.
    """
    lengths = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(plan, plan[1:], strict=False)]
    if len(grades) != len(lengths) or not lengths:
        raise ValueError(f"{len(lengths)} runs but {len(grades)} grades")
    points = [(plan[0][0], plan[0][1], z_start)]
    for i, length in enumerate(lengths):
        z = points[-1][2] - grades[i] * length
        points.append((plan[i + 1][0], plan[i + 1][1], z))
        if i + 1 < len(lengths):
            a, b, c = plan[i], plan[i + 1], plan[i + 2]
            d0, d1 = _plan_unit(b[0] - a[0], b[1] - a[1]), _plan_unit(c[0] - b[0], c[1] - b[1])
            turn = math.acos(max(-1.0, min(1.0, d0[0] * d1[0] + d0[1] * d1[1])))
            step = (grades[i] + grades[i + 1]) * half_width * math.tan(turn / 2)
            if step > 1e-6:
                points.append((b[0], b[1], z - step))
    return points


def graded_path(
    plan: Sequence[PlanPoint],
    z_start: float,
    z_end: float,
    half_width: float,
    grades: Sequence[float] | None = None,
) -> list[PathPoint]:
    """Floor-top points along the plan polyline, falling from ``z_start`` to ``z_end``.

    ``grades`` are the runs' relative steepness (equal by default: an even fall); the
    steps at bends (see :func:`sloped_path`) come out of the total fall.
    """
    weights = list(grades) if grades is not None else [1.0] * (len(plan) - 1)
    fall = z_start - sloped_path(plan, z_start, weights, half_width)[-1][2]  # linear in the grades
    return sloped_path(plan, z_start, [w * (z_start - z_end) / fall for w in weights], half_width)


def high_path(
    plan: Sequence[PlanPoint],
    z_start: float,
    z_end: float,
    half_width: float,
    min_grade: float,
    max_grade: float,
    tail_grade: float | None = None,
    fall_run: int = -1,
) -> list[PathPoint] | None:
    """Floor-top points that fall at ``min_grade`` everywhere but on one run, which takes the fall.

    Staying high keeps a channel clear of what stands below it; falling on the last run
    (the default, ``fall_run=-1``) keeps it high longest, an earlier ``fall_run`` drops it
    before an obstacle it could not climb down behind. The falling run takes up the rest of
    the fall, up to ``max_grade``; beyond that the other runs steepen evenly. When
    ``tail_grade`` is given the last run falls at exactly that grade (and ``fall_run`` must
    be another run). ``None`` when no grades between ``min_grade`` and ``max_grade`` reach
    ``z_end``. Bends step down as in :func:`sloped_path`.
    """
    n = len(plan) - 1
    fixed_last = tail_grade is not None
    if n < (2 if fixed_last else 1):
        return None
    fall = (n - 2 if fixed_last else n - 1) if fall_run == -1 else fall_run % n
    if fixed_last and fall == n - 1:
        return None

    def grades(other: float, falling: float) -> list[float]:
        out = [other] * n
        out[fall] = falling
        if tail_grade is not None:
            out[-1] = tail_grade
        return out

    def end_height(other: float, falling: float) -> float:
        return sloped_path(plan, z_start, grades(other, falling), half_width)[-1][2]

    def solve(height: Callable[[float], float]) -> float:
        """The grade at which ``height`` (affine in it) reaches ``z_end``."""
        h0, h1 = height(0.0), height(1.0)
        return (z_end - h0) / (h1 - h0) if abs(h1 - h0) > 1e-12 else math.inf

    others = n - 1 - (1 if fixed_last else 0)  # runs other than the falling one and the tail
    other = min_grade
    falling = solve(lambda g: end_height(min_grade, g))
    if falling > max_grade and others > 0:
        falling = max_grade
        other = solve(lambda g: end_height(g, max_grade))
    if not (min_grade <= falling <= max_grade and min_grade <= other <= max_grade):
        return None
    return sloped_path(plan, z_start, grades(other, falling), half_width)


def _run_quads(
    points: Sequence[Point],
    reach: float,
    start_cut: PlanPoint | None,
    end_cut: PlanPoint | None,
    caps: tuple[float, float],
) -> list[tuple[list[PlanPoint], Point, PlanPoint, float, PlanPoint]]:
    """Per run: its plan footprint at ±reach (mitred as :func:`channel` does, the path's ends
    pushed out by ``caps``), start, direction, slope, and the span of its floor's plane."""
    runs = _plan_runs(points)
    mitres = _mitres(runs, 90.0, start_cut, end_cut)
    quads = []
    for i, ((a, b), k0, k1) in enumerate(zip(runs, mitres, mitres[1:], strict=False)):
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        d = ((b[0] - a[0]) / length, (b[1] - a[1]) / length)
        s0 = -caps[0] if i == 0 else 0.0
        s1 = caps[1] if i == len(runs) - 1 else 0.0
        quad = [
            (a[0] + s0 * d[0] - reach * k0[0], a[1] + s0 * d[1] - reach * k0[1]),
            (b[0] + s1 * d[0] - reach * k1[0], b[1] + s1 * d[1] - reach * k1[1]),
            (b[0] + s1 * d[0] + reach * k1[0], b[1] + s1 * d[1] + reach * k1[1]),
            (a[0] + s0 * d[0] + reach * k0[0], a[1] + s0 * d[1] + reach * k0[1]),
        ]
        # Along the run, the floor's plane holds from its start to its end, and past them at
        # mitres; the end walls beyond the path's two ends sit level with those ends.
        span = (0.0 if i == 0 else -math.inf, length if i == len(runs) - 1 else math.inf)
        quads.append((quad, a, d, (b[2] - a[2]) / length, span))
    return quads


def _clip(poly: list[PlanPoint], lo: Point, hi: Point) -> list[PlanPoint]:
    """The part of a convex polygon inside the rectangle [lo, hi] (Sutherland–Hodgman)."""
    for axis, bound, keep_below in ((0, lo[0], False), (0, hi[0], True), (1, lo[1], False), (1, hi[1], True)):
        out: list[PlanPoint] = []
        for i, p in enumerate(poly):
            q = poly[i - 1]
            p_in = p[axis] <= bound if keep_below else p[axis] >= bound
            q_in = q[axis] <= bound if keep_below else q[axis] >= bound
            if p_in != q_in:
                t = (bound - q[axis]) / (p[axis] - q[axis])
                out.append((q[0] + t * (p[0] - q[0]), q[1] + t * (p[1] - q[1])))
            if p_in:
                out.append(p)
        poly = out
        if not poly:
            break
    return poly


def _area(poly: Sequence[PlanPoint]) -> float:
    """The area of a simple polygon (shoelace formula)."""
    return abs(sum(p[0] * q[1] - q[0] * p[1] for p, q in zip(poly, [*poly[1:], *poly[:1]], strict=False))) / 2


def path_clear(
    points: Sequence[Point],
    boxes: Sequence[KeepOut],
    reach: float,
    depth: float,
    region: tuple[PlanPoint, PlanPoint] | None = None,
    start_cut: PlanPoint | None = None,
    end_cut: PlanPoint | None = None,
    caps: tuple[float, float] = (0.0, 0.0),
) -> bool:
    """Whether a channel along ``points`` stays clear of the keep-out ``boxes``.

    ``reach`` is how far the channel (plus any clearance wanted) extends sideways from its
    centre line and ``depth`` how far below the floor's top (its thickness plus clearance).
    A box is in the way where its plan rectangle overlaps a run's footprint and its top
    stands above the run's underside anywhere over that overlap. The footprint must lie
    inside the plan ``region`` ((x_min, y_min), (x_max, y_max)) when one is given. ``caps``
    extend the footprint beyond the start and the end (e.g. by the end walls' thickness).
    """
    for quad, a, d, slope, span in _run_quads(points, reach, start_cut, end_cut, caps):
        if region is not None:
            (x0, y0), (x1, y1) = region
            if any(not (x0 <= x <= x1 and y0 <= y <= y1) for x, y in quad):
                return False
        for lo, hi in boxes:
            overlap = _clip(quad, lo, hi)
            if _area(overlap) < 1e-6:  # touching is not overlapping
                continue
            # The floor is lowest at the overlap's downhill end.
            along = [(x - a[0]) * d[0] + (y - a[1]) * d[1] for x, y in overlap]
            lowest = min(max(max(along) if slope < 0 else min(along), span[0]), span[1])
            if a[2] + slope * lowest - depth < hi[2] - 1e-6:
                return False
    return True


def corners(boxes: Sequence[KeepOut], offset: float) -> list[PlanPoint]:
    """The plan corners of ``boxes``, each pushed diagonally out by ``offset``: waypoints around them."""
    return [
        (x + sx * offset, y + sy * offset)
        for lo, hi in boxes
        for x, sx in ((lo[0], -1.0), (hi[0], 1.0))
        for y, sy in ((lo[1], -1.0), (hi[1], 1.0))
    ]


def route(
    start: PlanPoint,
    ends: Sequence[PlanPoint],
    region: tuple[PlanPoint, PlanPoint],
    build: Callable[[list[PlanPoint]], list[PathPoint] | None],
    heading: PlanPoint | None = None,
    max_turn_deg: float = 60.0,
    min_run: float = 0.0,
    grid: int = 10,
    max_waypoints: int = 2,
    waypoints: Sequence[PlanPoint] = (),
) -> list[PathPoint] | None:
    """The shortest plan route from ``start`` to one of ``ends`` whose path ``build`` accepts.

    Candidates are the straight run to each end, then routes through one and then two
    waypoints, shortest first. Waypoints are a ``grid`` × ``grid`` lattice over the box
    around start and ends (grown by half its size, within the plan ``region``) plus the
    given ``waypoints`` (e.g. :func:`corners` of the obstacles). Bends, and the first run
    against ``heading`` when given, turn by at most ``max_turn_deg``; runs are at least
    ``min_run`` long. ``build`` turns a plan polyline into the path (e.g. with
    :func:`high_path`) and returns ``None`` when that path will not do (e.g. when
    :func:`path_clear` says it hits something). ``None`` when no candidate is accepted.
    """
    (x0, y0), (x1, y1) = region
    xs, ys = [start[0], *(e[0] for e in ends)], [start[1], *(e[1] for e in ends)]
    grow = max(max(xs) - min(xs), max(ys) - min(ys)) / 2
    lx0, lx1 = max(x0, min(xs) - grow), min(x1, max(xs) + grow)
    ly0, ly1 = max(y0, min(ys) - grow), min(y1, max(ys) + grow)
    lattice = [
        (lx0 + (lx1 - lx0) * (i + 0.5) / grid, ly0 + (ly1 - ly0) * (j + 0.5) / grid)
        for i in range(grid)
        for j in range(grid)
    ]
    lattice += [p for p in waypoints if x0 <= p[0] <= x1 and y0 <= p[1] <= y1]
    limit = math.cos(math.radians(max_turn_deg)) - 1e-9

    def length_if_valid(plan: Sequence[PlanPoint]) -> float | None:
        dirs = []
        for a, b in zip(plan, plan[1:], strict=False):
            run = math.hypot(b[0] - a[0], b[1] - a[1])
            if run < max(min_run, 1e-6):
                return None
            dirs.append(((b[0] - a[0]) / run, (b[1] - a[1]) / run))
        pairs = list(zip(dirs, dirs[1:], strict=False))
        if heading is not None:
            pairs.append((_plan_unit(*heading), dirs[0]))
        if any(a[0] * b[0] + a[1] * b[1] < limit for a, b in pairs):
            return None
        return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(plan, plan[1:], strict=False))

    for n_way in range(max_waypoints + 1):
        candidates = []
        for end in ends:
            for way in itertools.product(lattice, repeat=n_way):
                plan = [start, *way, end]
                length = length_if_valid(plan)
                if length is not None:
                    candidates.append((length, plan))
        candidates.sort(key=lambda c: c[0])
        for _, plan in candidates:
            path = build(plan)
            if path is not None:
                return path
    return None


# --- ball chutes over obstacles --------------------------------------------------------------
#
# For a rolling ball a chute should stay high only while something stands under it, then
# come down along rounded bends so the ball keeps its speed: :func:`chute_route` gives the
# floor points (for :func:`chute_legs`), from keep-out boxes met by the chute's corridor
# (:func:`corridor_obstacles`) and a profile rounded by :func:`fillet_profile`.


def corridor_obstacles(
    start: Point, end: Point, half_width: float, boxes: Sequence[tuple[Point, Point]]
) -> list[tuple[float, float, float]]:
    """The boxes whose plan rectangle meets the straight corridor ``start`` → ``end``.

    The corridor is the plan rectangle ``half_width`` either side of the segment (x, y of
    ``start`` and ``end``); ``boxes`` are axis-aligned ``(lower corner, upper corner)``.
    Returns ``(s0, s1, top)`` per box met: its extent along the corridor as distances from
    ``start`` (clipped to the corridor) and its top z.
    """
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    if length < 1e-9:
        raise ValueError("start and end must differ in plan")
    d = ((end[0] - start[0]) / length, (end[1] - start[1]) / length)
    n = (-d[1], d[0])
    corridor = [
        (start[0] + s * d[0] + u * n[0], start[1] + s * d[1] + u * n[1])
        for s in (0.0, length)
        for u in (-half_width, half_width)
    ]
    met = []
    for lo, hi in boxes:
        # Separating axes: the box's x and y, then the corridor's own directions.
        if max(x for x, _ in corridor) <= lo[0] or min(x for x, _ in corridor) >= hi[0]:
            continue
        if max(y for _, y in corridor) <= lo[1] or min(y for _, y in corridor) >= hi[1]:
            continue
        box = [(x - start[0], y - start[1]) for x in (lo[0], hi[0]) for y in (lo[1], hi[1])]
        along = [x * d[0] + y * d[1] for x, y in box]
        across = [x * n[0] + y * n[1] for x, y in box]
        if max(along) <= 0 or min(along) >= length or max(across) <= -half_width or min(across) >= half_width:
            continue
        met.append((max(min(along), 0.0), min(max(along), length), float(hi[2])))
    return met


def fillet_profile(
    points: Sequence[tuple[float, float]], radius: float, max_step_deg: float = 15.0
) -> list[tuple[float, float]]:
    """Round each bend of a profile polyline ``(s, z)`` with a circular arc of ``radius``, as chords.

    The arc is tangent to both legs and split into chords turning at most ``max_step_deg``
    each; where a leg is too short for the full radius (an arc may use at most half of
    each leg) the arc shrinks to fit. The end points stay put.
    """
    out = [points[0]]
    for i in range(1, len(points) - 1):
        (s0, z0), (s1, z1), (s2, z2) = points[i - 1], points[i], points[i + 1]
        a, b = math.atan2(z1 - z0, s1 - s0), math.atan2(z2 - z1, s2 - s1)
        turn = b - a
        if abs(turn) < 1e-6:
            out.append(points[i])
            continue
        half_turn = abs(math.tan(turn / 2))
        tangent = min(radius * half_turn, math.hypot(s1 - s0, z1 - z0) / 2, math.hypot(s2 - s1, z2 - z1) / 2)
        r = tangent / half_turn
        side = 1.0 if turn > 0 else -1.0
        first = (s1 - tangent * math.cos(a), z1 - tangent * math.sin(a))
        centre = (first[0] - side * r * math.sin(a), first[1] + side * r * math.cos(a))
        steps = max(1, math.ceil(abs(math.degrees(turn)) / max_step_deg))
        out.append(first)
        for j in range(1, steps):
            ang = a + turn * j / steps
            out.append((centre[0] + side * r * math.sin(ang), centre[1] - side * r * math.cos(ang)))
        out.append((s1 + tangent * math.cos(b), z1 + tangent * math.sin(b)))
    out.append(points[-1])
    return out


def chute_route(
    plan: Sequence[tuple[float, float]],
    z_start: float,
    z_end: float,
    boxes: Sequence[tuple[Point, Point]],
    half_width: float,
    clearance: float,
    first_grade_deg: float = 3.0,
    run_in: float = 0.0,
    run_in_grade_deg: float = 3.0,
    radius: float = 0.0,
    min_brow: float = 0.0,
    min_leg: float = 0.0,
    step: float = 2.0,
) -> list[tuple[float, float, float]]:
    """Floor-top points of a ball chute along the plan polyline ``plan``, over ``boxes``.

    The floor starts at ``z_start`` over ``plan[0]`` and ends at ``z_end`` over
    ``plan[-1]``. Its profile falls at ``first_grade_deg`` to a *brow*, drops straight to
    the foot of a final ``run_in`` (falling at ``run_in_grade_deg``) and runs out to the
    end; the brow comes as early as it can (but not before ``min_brow``), so the chute is
    high only while something is under it. Wherever a box meets the corridor
    ``half_width`` either side of the plan line (see :func:`corridor_obstacles`), the
    floor's top stays ``clearance`` (floor thickness plus a gap, measured square to the
    floor) above the box's top, over the box's extent widened by ``clearance``. Bends of
    the profile are rounded with ``radius`` (:func:`fillet_profile`) and kept at least
    ``min_leg`` away from the corners of the plan, so no leg between them is too short to
    build. The points include every plan corner and profile bend, ready for
    :func:`chute_legs`. Raises ``ValueError`` when no such route exists.
    """
    offsets = [0.0]
    for a, b in zip(plan, plan[1:], strict=False):
        offsets.append(offsets[-1] + math.hypot(b[0] - a[0], b[1] - a[1]))
    length = offsets[-1]
    obstacles = [
        (s0 + off, s1 + off, top)
        for a, b, off in zip(plan, plan[1:], offsets, strict=False)
        for s0, s1, top in corridor_obstacles(a, b, half_width, boxes)
    ]
    first = math.tan(math.radians(first_grade_deg))
    foot = (length - run_in, z_end + math.tan(math.radians(run_in_grade_deg)) * run_in)

    def floor_at(profile: Sequence[tuple[float, float]], s: float) -> tuple[float, float]:
        """Height and slope of the profile at ``s``."""
        for (sa, za), (sb, zb) in zip(profile, profile[1:], strict=False):
            if sa <= s <= sb and sb > sa:
                slope = (zb - za) / (sb - sa)
                return za + slope * (s - sa), slope
        return profile[-1][1], 0.0

    def clears(profile: Sequence[tuple[float, float]]) -> bool:
        for s0, s1, top in obstacles:
            lo, hi = max(s0 - clearance, 0.0), min(s1 + clearance, length)
            for s in [lo, hi, *(p for p, _ in profile if lo <= p <= hi)]:
                z, slope = floor_at(profile, s)
                if z - clearance * math.sqrt(1 + slope * slope) < top:
                    return False
        return True

    brow = min_brow
    while True:
        if z_start - first * brow <= foot[1] or brow >= foot[0]:
            raise ValueError("no chute route from this start clears what is under it")
        bends = [(0.0, z_start), *([(brow, z_start - first * brow)] if brow > 0 else [])]
        bends += [*([foot] if run_in > 0 else []), (length, z_end)]
        profile = fillet_profile(bends, radius) if radius > 0 else bends
        near_corner = any(abs(p - o) < min_leg for p, _ in profile for o in offsets[1:-1])
        if not near_corner and clears(profile):
            break
        brow += step
    points = []
    for s in sorted({*offsets, *(p for p, _ in profile)}):
        i = next(j for j in range(len(plan) - 1) if s <= offsets[j + 1] + 1e-9)
        a, b = plan[i], plan[i + 1]
        t = (s - offsets[i]) / (offsets[i + 1] - offsets[i])
        points.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), floor_at(profile, s)[0]))
    return points


def clip_to_zone(solid: Solid, zone: Zone, margin: float = 0.5) -> Solid:
    """The part of ``solid`` inside ``zone`` shrunk by ``margin`` on every side (e.g. the build zone).

    Raises ``ValueError`` unless exactly one solid is left.
    """
    lo = [zone.min[i] + margin for i in range(3)]
    hi = [zone.max[i] - margin for i in range(3)]
    part = solid & box_between(lo, hi)
    solids = part.solids() if part is not None else []
    if len(solids) != 1:
        raise ValueError(f"clipping to zone {zone.name!r} left {len(solids)} solids")
    return solids[0]
