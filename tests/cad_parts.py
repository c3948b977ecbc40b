"""A corpus of real mechanical parts in build123d, as an engineer would draw them.

Each part comes with the features its collision geometry must keep faithful: the
through-features a payload that fits must pass (a bore, bolt holes, a channel, an
outlet) and the cup-like features that must hold what falls in. All lengths are
millimetres; every part is built in its own natural frame (the axis of revolution, or
of the main bore, along +z), and the tests move it around.

Used by ``tests/test_real_parts.py``, ``tests/test_decomposition.py`` and
``benchmarks/bench_decomposition.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from build123d import (
    Axis,
    BuildLine,
    BuildPart,
    BuildSketch,
    Circle,
    Cylinder,
    GeomType,
    Line,
    Locations,
    Mode,
    Plane,
    Polyline,
    Pos,
    Rot,
    Solid,
    Spline,
    ThreePointArc,
    extrude,
    fillet,
    make_face,
    revolve,
    sweep,
)

from benchgen.decomposition import SurfaceHint

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class ThroughFeature:
    """A passage through the part that a payload of ``payload_radius`` fits.

    ``path`` is the passage's centre line as a polyline (in the part's frame), from a
    point outside the part on the entry side to one beyond the exit; ``kind`` says which
    payload the tests send along it: a ``ball`` or an axial ``pin`` (a cylinder of
    ``pin_length`` along a straight path).
    """

    name: str
    path: tuple[Vec, ...]
    payload_radius: float
    kind: str = "ball"
    pin_length: float = 0.0


@dataclass(frozen=True)
class CupFeature:
    """A cup-like feature: a ball of ``ball_radius`` dropped at ``drop`` must end inside it.

    ``rest`` is where the ball's centre comes to rest on the floor; inside means its
    centre within ``radius`` of ``rest`` horizontally and below ``rim_z``.
    """

    name: str
    drop: Vec
    rest: Vec
    radius: float
    rim_z: float
    ball_radius: float


@dataclass(frozen=True)
class CadPart:
    """A part, how to build it, and its faithful-collision features (in the part's frame)."""

    name: str
    build: Callable[[], Solid]
    through: tuple[ThroughFeature, ...] = ()
    cups: tuple[CupFeature, ...] = ()


def _one_solid(shape: object) -> Solid:
    solids = shape.solids()  # type: ignore[attr-defined]
    assert len(solids) == 1, f"expected one solid, got {len(solids)}"
    return solids[0]


# ---------------------------------------------------------------------------- flange

FLANGE_R, FLANGE_T = 60.0, 12.0
HUB_R, HUB_TOP = 30.0, 42.0
BORE_R = 15.0
BOLT_R, BOLT_CIRCLE, BOLTS = 5.5, 45.0, 6


def bearing_flange() -> Solid:
    """Disc Ø120×12 with a Ø60 hub to z=42 (R5 fillet at its root), a Ø30 bore chamfered
    2 mm at the top, and six Ø11 bolt holes on a Ø90 circle."""
    body = Pos(0, 0, FLANGE_T / 2) * Cylinder(FLANGE_R, FLANGE_T)
    body = _one_solid(body + Pos(0, 0, (FLANGE_T + HUB_TOP) / 2) * Cylinder(HUB_R, HUB_TOP - FLANGE_T))
    body = body.fillet(5.0, _circles(body, HUB_R, FLANGE_T))
    body = _one_solid(body - Cylinder(BORE_R, 200))
    body = body.chamfer(2.0, None, _circles(body, BORE_R, HUB_TOP))
    for k in range(BOLTS):
        angle = 2 * math.pi * k / BOLTS
        body = _one_solid(
            body
            - Pos(BOLT_CIRCLE * math.cos(angle), BOLT_CIRCLE * math.sin(angle), 0) * Cylinder(BOLT_R, 100)
        )
    return body


def _circles(shape: Solid, radius: float, z: float) -> list:
    """The circular edges of ``shape`` of ``radius`` centred on the z axis at height ``z``."""
    return [
        e
        for e in shape.edges().filter_by(GeomType.CIRCLE)
        if abs(e.radius - radius) < 1e-6 and abs(e.arc_center.Z - z) < 1e-6 and abs(e.arc_center.X) < 1e-6
    ]


# ------------------------------------------------------------------------------ bowl


def revolved_bowl() -> Solid:
    """A bowl revolved from an arc profile: Ø130 rim, 45 deep, 4 mm wall, on a foot ring."""
    with BuildPart() as part:
        with BuildSketch(Plane.XZ):
            with BuildLine():
                Polyline((0, 0), (28, 0), (30, 6))
                ThreePointArc((30, 6), (52, 18), (65, 48))
                Polyline((65, 48), (61, 48))
                ThreePointArc((61, 48), (48, 20), (26, 10))
                Polyline((26, 10), (0, 10))
                Line((0, 10), (0, 0))
            make_face()
        revolve(axis=Axis.Z)
    return _one_solid(part.part)


# ---------------------------------------------------------------------------- funnel


def funnel() -> Solid:
    """A funnel: cone from Ø100 (inner) at the top to a Ø20 outlet, 2.5 mm wall, 35 mm spout."""
    wall = 2.5
    with BuildPart() as part:
        with BuildSketch(Plane.XZ):
            points = [
                (10.0, 0.0),
                (10.0 + wall, 0.0),
                (10.0 + wall, 35.0),
                (50.0 + wall, 80.0),
                (50.0, 80.0),
                (10.0, 35.0 + wall * 0.9),
            ]
            with BuildLine():
                Polyline(*points, close=True)
            make_face()
        revolve(axis=Axis.Z)
    return _one_solid(part.part)


# ---------------------------------------------------------------------------- elbow

PIPE_OUTER, PIPE_INNER, BEND_R = 15.0, 12.0, 50.0


def pipe_elbow() -> Solid:
    """A 90° pipe elbow, Ø30/Ø24, swept along 30 mm straight, a R50 bend, 30 mm straight.

    The inlet points up (+z) at the top of the first leg, the outlet along +x.
    """
    with BuildPart() as part:
        with BuildLine() as spine:
            Line((0, 0, 80), (0, 0, 50))
            ThreePointArc(
                (0, 0, 50),
                (BEND_R - BEND_R * math.cos(math.pi / 4), 0, 50 - BEND_R * math.sin(math.pi / 4)),
                (BEND_R, 0, 0),
            )
            Line((BEND_R, 0, 0), (BEND_R + 30, 0, 0))
        with BuildSketch(Plane(origin=(0, 0, 80), z_dir=(0, 0, -1))):
            Circle(PIPE_OUTER)
            Circle(PIPE_INNER, mode=Mode.SUBTRACT)
        sweep(path=spine.wires()[0])
    return _one_solid(part.part)


# ----------------------------------------------------------------------------- gear

GEAR_TEETH, GEAR_MODULE, GEAR_T, GEAR_BORE = 20, 3.0, 12.0, 7.5


def _involute(base: float, radius: float) -> tuple[float, float]:
    """(roll angle, polar angle) of the involute of ``base`` at ``radius``."""
    t = math.sqrt(max((radius / base) ** 2 - 1, 0.0))
    return t, t - math.atan(t)


def spur_gear() -> Solid:
    """A 20-tooth module-3 spur gear (20° pressure angle), 12 thick, with a Ø15 bore.

    Flanks are splines through points of the involute; the tooth tips and roots are arcs.
    """
    z, m = GEAR_TEETH, GEAR_MODULE
    pitch = z * m / 2
    base = pitch * math.cos(math.radians(20))
    tip, root = pitch + m, pitch - 1.25 * m
    # Half the tooth's angular thickness at the base circle, from the pitch circle's.
    half_pitch = math.pi / (2 * z)
    half_base = half_pitch + _involute(base, pitch)[1]
    start = max(base, root)
    radii = [start + (tip - start) * i / 6 for i in range(7)]
    outline: list[tuple[float, float]] = []
    step = 2 * math.pi / z
    with BuildPart() as part:
        with BuildSketch():
            with BuildLine():
                for k in range(z):
                    centre = k * step
                    right = [
                        (
                            r * math.cos(centre - half_base + _involute(base, r)[1]),
                            r * math.sin(centre - half_base + _involute(base, r)[1]),
                        )
                        for r in radii
                    ]
                    left = [
                        (
                            r * math.cos(centre + half_base - _involute(base, r)[1]),
                            r * math.sin(centre + half_base - _involute(base, r)[1]),
                        )
                        for r in reversed(radii)
                    ]
                    # Root arc from the previous tooth's left flank to this right flank.
                    root_start = (root * math.cos(centre - half_base), root * math.sin(centre - half_base))
                    if outline:
                        prev = outline[-1]
                        mid_angle = centre - step / 2
                        ThreePointArc(
                            prev, (root * math.cos(mid_angle), root * math.sin(mid_angle)), root_start
                        )
                    Line(root_start, right[0])
                    Spline(*right)
                    tip_mid = (tip * math.cos(centre), tip * math.sin(centre))
                    ThreePointArc(right[-1], tip_mid, left[0])
                    Spline(*left)
                    root_end = (root * math.cos(centre + half_base), root * math.sin(centre + half_base))
                    Line(left[-1], root_end)
                    outline.append(root_end)
                first = (root * math.cos(-half_base), root * math.sin(-half_base))
                mid_angle = -step / 2
                ThreePointArc(outline[-1], (root * math.cos(mid_angle), root * math.sin(mid_angle)), first)
            make_face()
            Circle(GEAR_BORE, mode=Mode.SUBTRACT)
        extrude(amount=GEAR_T)
    return _one_solid(part.part)


# ------------------------------------------------------------------------------ cup

CUP_R, CUP_H, CUP_WALL = 32.0, 60.0, 3.0


def filleted_cup() -> Solid:
    """A Ø64×60 cup, 3 mm wall, R6 inside and R4 outside at the bottom, R1 on the rim."""
    body = _one_solid(Pos(0, 0, CUP_H / 2) * Cylinder(CUP_R, CUP_H))
    body = body.fillet(4.0, _circles(body, CUP_R, 0.0))
    inner = CUP_R - CUP_WALL
    body = _one_solid(body - Pos(0, 0, CUP_WALL + CUP_H / 2) * Cylinder(inner, CUP_H))
    body = body.fillet(6.0, _circles(body, inner, CUP_WALL))
    body = body.fillet(1.0, _circles(body, inner, CUP_H) + _circles(body, CUP_R, CUP_H))
    return body


# ----------------------------------------------------------------------------- ring

RING_OUTER, RING_INNER, RING_H = 30.0, 20.0, 15.0


def ring() -> Solid:
    """A Ø60/Ø40 ring, 15 high, its four circular edges chamfered 1 mm."""
    body = _one_solid(Pos(0, 0, RING_H / 2) * (Cylinder(RING_OUTER, RING_H) - Cylinder(RING_INNER, RING_H)))
    return body.chamfer(1.0, None, body.edges().filter_by(GeomType.CIRCLE))


# --------------------------------------------------------------------- hat bracket

HAT_T, HAT_W, HAT_H, HAT_FLANGE, HAT_LEN = 2.0, 40.0, 30.0, 20.0, 40.0
HAT_HOLE_R = 4.0


def hat_bracket() -> Solid:
    """A 2 mm sheet-metal hat bracket: 20 mm flanges, 30 high, 40 wide hat, bent with
    R2 inside / R4 outside, 40 long (along z), with a Ø8 hole in each flange."""
    t, w, h, fl = HAT_T, HAT_W, HAT_H, HAT_FLANGE
    half = w / 2
    outer = [
        (-half - fl, 0.0),
        (-half, 0.0),
        (-half, h - t),
        (half, h - t),
        (half, 0.0),
        (half + fl, 0.0),
        (half + fl, t),
        (half + t, t),
        (half + t, h),
        (-half - t, h),
        (-half - t, t),
        (-half - fl, t),
    ]
    with BuildPart() as part:
        with BuildSketch():
            with BuildLine():
                Polyline(*outer, close=True)
            make_face()
        extrude(amount=HAT_LEN)
        # Bends: the six edges along z at the corners of the hat's walls.
        bends = part.edges().filter_by(Axis.Z)
        inner = [
            e for e in bends if _near_any(e, [(-half - t, t), (half + t, t), (-half, h - t), (half, h - t)])
        ]
        outer_bends = [
            e for e in bends if _near_any(e, [(-half, 0.0), (half, 0.0), (-half - t, h), (half + t, h)])
        ]
        fillet(inner, radius=2.0)
        fillet(outer_bends, radius=2.0 + t * 0.99)
        for x in (-half - fl / 2 - t / 2, half + fl / 2 + t / 2):
            with Locations(Pos(x, t / 2, HAT_LEN / 2) * Rot(90, 0, 0)):
                Cylinder(HAT_HOLE_R, 10, mode=Mode.SUBTRACT)
    return _one_solid(part.part)


def _near_any(edge: object, points: list[tuple[float, float]]) -> bool:
    centre = edge.center()  # type: ignore[attr-defined]
    return any(abs(centre.X - x) < 1e-6 and abs(centre.Y - y) < 1e-6 for x, y in points)


# --------------------------------------------------------------------------- corpus


def _elbow_path() -> tuple[Vec, ...]:
    """The elbow's centre line: down the inlet leg, round the bend, out along +x."""
    centre = (BEND_R, 50.0)
    arc = [
        (centre[0] - BEND_R * math.cos(a), 0.0, centre[1] - BEND_R * math.sin(a))
        for a in (math.radians(d) for d in range(0, 91, 10))
    ]
    return ((0.0, 0.0, 110.0), *arc, (BEND_R + 80.0, 0.0, 0.0))


_FLANGE_HOLE_X = -HAT_W / 2 - HAT_FLANGE / 2 - HAT_T / 2

PARTS: tuple[CadPart, ...] = (
    CadPart(
        "flange",
        bearing_flange,
        through=(
            ThroughFeature("bore", ((0, 0, HUB_TOP + 25), (0, 0, -30)), BORE_R - 1.5, "pin", 30.0),
            ThroughFeature(
                "bolt hole",
                ((BOLT_CIRCLE, 0, FLANGE_T + 25), (BOLT_CIRCLE, 0, -30)),
                BOLT_R - 1.0,
                "pin",
                20.0,
            ),
        ),
    ),
    CadPart("bowl", revolved_bowl, cups=(CupFeature("bowl", (8, 5, 90), (0, 0, 20), 40.0, 48.0, 10.0),)),
    CadPart("funnel", funnel, through=(ThroughFeature("outlet", ((0, 0, 110), (0, 0, -40)), 8.5),)),
    CadPart("pipe elbow", pipe_elbow, through=(ThroughFeature("bore", _elbow_path(), PIPE_INNER - 2.0),)),
    CadPart(
        "spur gear",
        spur_gear,
        through=(ThroughFeature("bore", ((0, 0, GEAR_T + 25), (0, 0, -30)), GEAR_BORE - 1.0, "pin", 25.0),),
    ),
    CadPart(
        "filleted cup",
        filleted_cup,
        cups=(CupFeature("cup", (4, 3, 110), (0, 0, CUP_WALL + 12.0), CUP_R - CUP_WALL, CUP_H, 12.0),),
    ),
    CadPart(
        "ring",
        ring,
        through=(ThroughFeature("bore", ((0, 0, RING_H + 30), (0, 0, -30)), RING_INNER - 2.0, "pin", 25.0),),
    ),
    CadPart(
        "hat bracket",
        hat_bracket,
        through=(
            ThroughFeature(
                "channel", ((0, (HAT_H - HAT_T) / 2, HAT_LEN + 40), (0, (HAT_H - HAT_T) / 2, -30)), 11.0
            ),
            ThroughFeature(
                "flange hole",
                ((_FLANGE_HOLE_X, 30, HAT_LEN / 2), (_FLANGE_HOLE_X, -30, HAT_LEN / 2)),
                HAT_HOLE_R - 1.0,
                "pin",
                15.0,
            ),
        ),
    ),
)


def part_by_name(name: str) -> CadPart:
    """The corpus entry called ``name``."""
    return next(p for p in PARTS if p.name == name)


def surfaces_of(solid: Solid) -> list[SurfaceHint]:
    """The exact faces of a solid as the checker's loader describes them (kind, axis, radius)."""
    from OCP.BRepAdaptor import BRepAdaptor_Surface
    from OCP.GeomAbs import GeomAbs_SurfaceType as Kind

    def vec(v: object) -> Vec:
        return (v.X(), v.Y(), v.Z())  # type: ignore[attr-defined]

    hints = []
    for face in solid.faces():
        surface = BRepAdaptor_Surface(face.wrapped, True)
        kind = surface.GetType()
        name = kind.name.removeprefix("GeomAbs_").lower()
        if kind == Kind.GeomAbs_Plane:
            axis = surface.Plane().Axis()
            hints.append(SurfaceHint(kind=name, origin=vec(axis.Location()), axis=vec(axis.Direction())))
        elif kind == Kind.GeomAbs_Sphere:
            sphere = surface.Sphere()
            hints.append(
                SurfaceHint(
                    kind=name,
                    origin=vec(sphere.Location()),
                    axis=vec(sphere.Position().Direction()),
                    radius=sphere.Radius(),
                )
            )
        elif kind in (Kind.GeomAbs_Cylinder, Kind.GeomAbs_Cone, Kind.GeomAbs_Torus):
            element = {
                Kind.GeomAbs_Cylinder: surface.Cylinder,
                Kind.GeomAbs_Cone: surface.Cone,
                Kind.GeomAbs_Torus: surface.Torus,
            }[kind]()
            axis = element.Axis()
            radius = {
                Kind.GeomAbs_Cylinder: lambda e: e.Radius(),
                Kind.GeomAbs_Cone: lambda e: e.RefRadius(),
                Kind.GeomAbs_Torus: lambda e: e.MajorRadius(),
            }[kind](element)
            hints.append(
                SurfaceHint(kind=name, origin=vec(axis.Location()), axis=vec(axis.Direction()), radius=radius)
            )
        else:
            hints.append(SurfaceHint(kind=name))
    return hints
