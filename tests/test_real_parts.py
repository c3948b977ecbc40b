"""Real CAD parts keep their holes, channels and cups in collision geometry (issue 10).

Every part of the corpus (``tests/cad_parts.py``) goes through the checker's own
``collision_pieces`` -- exact faces as hints, the gap bound, the CPU budget -- once per
module. Then, statically, the payload swept along each through-feature's path and a
ball's fall into each cup must miss every piece, and the reported gap must be what an
independent measurement finds; and in MuJoCo (e2e) a fitting payload dropped into each
through-feature comes out below it, and a ball dropped into each cup stays in it.
Timing is not asserted here: ``benchmarks/bench_decomposition.py`` measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import igl
import manifold3d as m3
import mujoco
import numpy as np
import pytest

from benchgen.decomposition import DecompositionCache, DecompositionSettings
from benchgen.geometry import BodyGeometry, FaceSummary, GeometrySettings, SolidGeometry, TriMesh
from benchgen.physics import COLLISION_GAP_FACTOR, CollisionInfo, collision_pieces
from cad_parts import PARTS, CadPart, CupFeature, ThroughFeature, surfaces_of

MM = 0.001


def _vec(v: object) -> np.ndarray:
    return np.array([v.X, v.Y, v.Z], dtype=float)  # type: ignore[attr-defined]


def body_geometry(part: CadPart) -> BodyGeometry:
    """The part as the checker's loader describes it: trusted mesh, exact properties, faces."""
    solid = part.build()
    settings = GeometrySettings()
    raw_vertices, raw_faces = solid.tessellate(settings.tessellation_tolerance, settings.angular_tolerance)
    mesh = m3.Mesh64(
        vert_properties=np.array([[v.X, v.Y, v.Z] for v in raw_vertices], dtype=np.float64),
        tri_verts=np.asarray(raw_faces, dtype=np.uint64),
    )
    mesh.merge()
    welded = m3.Manifold(mesh).to_mesh64()
    trimesh = TriMesh(
        np.asarray(welded.vert_properties, dtype=np.float64)[:, :3],
        np.asarray(welded.tri_verts, dtype=np.int64).reshape(-1, 3),
    )
    box = solid.bounding_box()
    faces = tuple(FaceSummary(h.kind, h.origin, h.axis, h.radius) for h in surfaces_of(solid))
    geometry = SolidGeometry(
        mesh=trimesh,
        volume_mm3=float(solid.volume),
        bbox_min=_vec(box.min),
        bbox_max=_vec(box.max),
        faces=faces,
        area_mm2=float(solid.area),
        centroid=_vec(solid.center()),
    )
    return BodyGeometry(
        label=part.name.replace(" ", "_"),
        solids=[geometry],
        volume_mm3=float(solid.volume),
        bbox_min=_vec(box.min),
        bbox_max=_vec(box.max),
        centroid=_vec(solid.center()),
        brep_sha256="",
    )


@dataclass(frozen=True)
class Collision:
    part: CadPart
    body: BodyGeometry
    pieces: list[np.ndarray]  # vertices of each convex piece, mm, in the part's frame
    info: CollisionInfo


@pytest.fixture(scope="module")
def collisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Collision]:
    cache = DecompositionCache(tmp_path_factory.mktemp("decomposition"))
    out = {}
    for part in PARTS:
        body = body_geometry(part)
        pieces, info = collision_pieces(body, DecompositionSettings(), cache)
        out[part.name] = Collision(part, body, [np.asarray(p.vertices) for p in pieces], info)  # type: ignore[union-attr]
    return out


NAMES = [p.name for p in PARTS]


def _swept(radius: float, path: tuple[tuple[float, float, float], ...]) -> m3.Manifold:
    balls = [m3.Manifold.sphere(radius, 32).translate(p) for p in path]
    return m3.Manifold.batch_boolean(
        [m3.Manifold.batch_hull([a, b]) for a, b in zip(balls, balls[1:], strict=False)], m3.OpType.Add
    )


@pytest.mark.e2e  # the module fixture decomposes every CAD part (~30 s)
@pytest.mark.parametrize("name", NAMES)
def test_features_stay_open_and_gap_is_bounded(collisions: dict[str, Collision], name: str) -> None:
    collision = collisions[name]
    info, mesh = collision.info, collision.body.solids[0].mesh
    assert info.methods and all(m in ("feature_split", "feature_split+coacd", "convex") for m in info.methods)
    assert 1 <= info.pieces <= DecompositionSettings().max_pieces
    diagonal = float(np.linalg.norm(collision.body.bbox_max - collision.body.bbox_min))
    tolerance = DecompositionSettings().gap_fraction * diagonal
    assert info.gap_mm <= COLLISION_GAP_FACTOR * tolerance
    assert info.uncovered <= 1e-3
    # The reported gap is what an independent, denser measurement finds.
    rng = np.random.default_rng(7)
    samples = np.concatenate([rng.dirichlet(np.ones(len(p)) * 0.3, size=300) @ p for p in collision.pieces])
    distance, *_ = igl.signed_distance(samples, mesh.vertices, mesh.faces)
    assert float(distance.max()) <= info.gap_mm + 0.25 * tolerance
    # What fits the real part fits the collision geometry (0.2 mm spared for round-off).
    hulls = m3.Manifold.batch_boolean(
        [m3.Manifold.hull_points(np.ascontiguousarray(p)) for p in collision.pieces], m3.OpType.Add
    )
    for feature in collision.part.through:
        region = _swept(feature.payload_radius - 0.2, feature.path)
        assert (region ^ hulls).volume() <= 1e-3, f"{feature.name} is blocked"
    for cup in collision.part.cups:
        region = _swept(cup.ball_radius - 0.2, (cup.drop, cup.rest))
        assert (region ^ hulls).volume() <= 1e-3, f"{cup.name} is filled"


# ----------------------------------------------------------------------------- MuJoCo


def _rotation_to(direction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation matrix turning unit ``direction`` onto unit ``target``."""
    a, b = direction / np.linalg.norm(direction), target / np.linalg.norm(target)
    v, c = np.cross(a, b), float(a @ b)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def _pose_for(feature: ThroughFeature | CupFeature) -> np.ndarray:
    """Part rotation for a drop test: the passage pointing down (an elbow tilted so both legs fall)."""
    if isinstance(feature, CupFeature):
        return np.eye(3)
    path = np.asarray(feature.path, dtype=float)
    if len(path) > 2:  # the elbow: inlet down, outlet sideways; tilt 30 degrees so it slopes down too
        angle = math.radians(30)
        return np.array(
            [[math.cos(angle), 0, math.sin(angle)], [0, 1, 0], [-math.sin(angle), 0, math.cos(angle)]]
        )
    return _rotation_to(path[-1] - path[0], np.array([0.0, 0.0, -1.0]))


def _simulate(
    collision: Collision, feature: ThroughFeature | CupFeature
) -> tuple[np.ndarray, np.ndarray, float]:
    """Drop the feature's payload onto the (rotated, raised) part; return its end and start (mm) and the part's bottom."""
    rotation = _pose_for(feature)
    pieces = [p @ rotation.T for p in collision.pieces]
    lift = 60.0 - min(float(p[:, 2].min()) for p in pieces)
    if isinstance(feature, CupFeature):
        lift = -min(float(p[:, 2].min()) for p in pieces)  # a cup stands on the ground
    spec = mujoco.MjSpec()
    spec.option.timestep = 0.001
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2, 2, 0.01])
    part = spec.worldbody.add_body(name="part", pos=[0, 0, lift * MM])
    for index, vertices in enumerate(pieces):
        mesh = spec.add_mesh(name=f"piece{index}")
        mesh.uservert = (vertices * MM).ravel().tolist()
        part.add_geom(
            type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"piece{index}", friction=[0.3, 0.005, 0.0001]
        )
    if isinstance(feature, CupFeature):
        start = rotation @ np.asarray(feature.drop) + [0, 0, lift]
        radius, kind, half = feature.ball_radius, "ball", 0.0
    else:
        start = rotation @ np.asarray(feature.path[0]) + [0, 0, lift]
        radius, kind, half = feature.payload_radius, feature.kind, feature.pin_length / 2
    payload = spec.worldbody.add_body(name="payload", pos=list(start * MM))
    payload.add_freejoint()
    if kind == "pin":
        payload.add_geom(type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[radius * MM, half * MM, 0], density=2700)
    else:
        payload.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[radius * MM, 0, 0], density=2700)
    model = spec.compile()
    data = mujoco.MjData(model)
    for _ in range(1500):
        mujoco.mj_step(model, data)
    assert np.isfinite(data.qpos).all()
    end = np.asarray(data.xpos[model.body("payload").id]) / MM
    bottom = lift + min(float(p[:, 2].min()) for p in pieces)
    return end, start, bottom


@pytest.mark.e2e
@pytest.mark.parametrize("name", NAMES)
def test_payloads_pass_through_and_cups_hold(collisions: dict[str, Collision], name: str) -> None:
    collision = collisions[name]
    for feature in collision.part.through:
        end, start, bottom = _simulate(collision, feature)
        if len(feature.path) > 2:
            # The elbow: the ball leaves through the outlet, past its end and below the inlet.
            outlet = _pose_for(feature) @ np.asarray(feature.path[-2])
            assert end[0] > outlet[0] and end[2] < start[2] - 50, (
                f"{feature.name}: ball stuck at {end.round(1)}"
            )
        else:
            assert end[2] < bottom, (
                f"{feature.name}: payload stopped at {end.round(1)} above the part's bottom {bottom:.1f}"
            )
    for cup in collision.part.cups:
        end, _, _ = _simulate(collision, cup)
        horizontal = float(np.linalg.norm(end[:2] - np.asarray(cup.rest[:2])))
        assert horizontal < cup.radius and end[2] < cup.rim_z, f"{cup.name}: ball ended at {end.round(1)}"
        assert end[2] > cup.rest[2] - 3.0, f"{cup.name}: ball fell through the floor to {end.round(1)}"


def test_corpus_covers_the_kinds_of_part() -> None:
    kinds = {p.name for p in PARTS}
    assert kinds == {
        "flange",
        "bowl",
        "funnel",
        "pipe elbow",
        "spur gear",
        "filleted cup",
        "ring",
        "hat bracket",
    }
    assert sum(len(p.through) for p in PARTS) >= 8 and sum(len(p.cups) for p in PARTS) >= 2
