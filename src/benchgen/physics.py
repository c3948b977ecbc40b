"""Physics: build a MuJoCo model of a scene with ``MjSpec`` and run the stability check.

Frames and units: scripts are in millimetres and degrees; the model is SI (metres,
radians, kilograms), Z up, gravity -9.81 m/s². A ground plane at z=0 is always present.
Fixed parts are static bodies; hinge/slide/free parts get their joint; the payload gets
a free joint and spawns at ``start`` plus a seeded offset within ``±jitter``.

Collision geometry is faithful to the CAD: boxes and spheres become exact primitives,
every other solid becomes the convex pieces of its decomposition (MuJoCo collides a
mesh as its convex hull, so a concave solid as one mesh would fill its holes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from pydantic import BaseModel

from benchgen.decomposition import (
    DecompositionCache,
    DecompositionLimit,
    DecompositionSettings,
    SurfaceHint,
    decompose,
)
from benchgen.geometry import BodyGeometry, LoadedScene, SolidGeometry, TriMesh
from benchgen.materials import get_material
from benchgen.scenario import Zone
from benchgen.scene import BodyRecord, JointRecord, PartRecord, SceneRecord
from benchgen.verdict import CheckFailure, CollisionInfo, Deadline, RejectCode, SimulationMetrics

MM = 0.001
"""Metres per millimetre."""

GOAL_RGBA = (0.1, 0.85, 0.2, 0.35)
FORBID_RGBA = (0.9, 0.1, 0.1, 0.35)
BUILD_RGBA = (0.15, 0.35, 1.0, 0.9)


class PhysicsSettings(BaseModel):
    """Stability-run settings (SI units)."""

    timestep: float = 0.002
    steps: int = 1000
    explosion_speed_floor: float = 10.0
    explosion_factor: float = 3.0
    """A point faster than max(floor, factor × the free-fall speed from the top of ``bounds``) (m/s)
    moves faster than gravity could make it in this scene: the simulation exploded."""
    settle_speed: float = 0.01
    """Movable parts must end slower than this (m/s at their fastest point) to count as settled."""
    ground_friction: float = 0.8
    joint_damping: float = 0.002
    """A little damping (N·m·s/rad or N·s/m) on hinge/slide joints, as real bearings have."""
    bounds_tolerance_mm: float = 1.0
    max_initial_penetration_mm: float = 0.5
    """Deepest contact allowed at t=0 (before any step), between two bodies or a body and the ground.

    Volume overlaps are judged on exact geometry (``min_overlap_mm3``); this catches thin,
    deep penetrations (a needle through the payload) that have almost no volume."""


@dataclass(frozen=True)
class Primitive:
    """An exact collision primitive: ``kind`` box (half sizes) or sphere (radius), centred at ``center`` (mm)."""

    kind: str
    center: np.ndarray
    size: np.ndarray


CollisionPiece = Primitive | TriMesh


PRIMITIVE_TOLERANCE = 1e-6
"""Relative agreement required between a solid's exact faces, box and volume and a primitive's."""


def detect_primitive(solid: SolidGeometry) -> Primitive | None:
    """Recognise a solid whose exact geometry *is* an axis-aligned box or a sphere.

    Exact primitives collide and roll correctly (a tessellated ball does not) and are
    cheaper than meshes. Everything must agree, from the exact BREP: a box has exactly six
    planar faces, one on each side of its bounding box, and fills that box; a sphere has
    exactly one spherical face whose centre and radius give the bounding box and the
    volume 4/3·π·r³. Volume and box alone prove nothing (a hollow cube can have a ball's
    volume), so a solid without a face summary is never a primitive.
    """
    lo, hi = solid.bbox_min, solid.bbox_max
    size = hi - lo
    if not (np.all(np.isfinite(size)) and np.all(size > 0)):
        return None
    tolerance = PRIMITIVE_TOLERANCE * max(float(size.max()), 1.0)
    kinds = [face.kind for face in solid.faces]
    if kinds == ["plane"] * 6:
        return _exact_box(solid, lo, hi, tolerance)
    if kinds == ["sphere"]:
        return _exact_sphere(solid, lo, hi, tolerance)
    return None


def _exact_box(solid: SolidGeometry, lo: np.ndarray, hi: np.ndarray, tolerance: float) -> Primitive | None:
    sides: set[tuple[int, int]] = set()
    for face in solid.faces:
        normal = np.abs(np.asarray(face.axis, dtype=float))
        axis = int(np.argmax(normal))
        if normal[axis] < 1 - 1e-9:
            return None  # not axis-aligned
        position = face.origin[axis]
        if abs(position - lo[axis]) <= tolerance:
            sides.add((axis, 0))
        elif abs(position - hi[axis]) <= tolerance:
            sides.add((axis, 1))
        else:
            return None  # a plane inside the box: not one of its sides
    box_volume = float(np.prod(hi - lo))
    if len(sides) != 6 or abs(solid.volume_mm3 - box_volume) > PRIMITIVE_TOLERANCE * box_volume:
        return None
    return Primitive("box", (lo + hi) / 2, (hi - lo) / 2)


def _exact_sphere(solid: SolidGeometry, lo: np.ndarray, hi: np.ndarray, tolerance: float) -> Primitive | None:
    face = solid.faces[0]
    radius, center = face.radius, np.asarray(face.origin, dtype=float)
    if not radius > 0:
        return None
    if np.any(np.abs(lo - (center - radius)) > tolerance) or np.any(
        np.abs(hi - (center + radius)) > tolerance
    ):
        return None
    sphere_volume = 4 / 3 * math.pi * radius**3
    if abs(solid.volume_mm3 - sphere_volume) > PRIMITIVE_TOLERANCE * sphere_volume:
        return None
    return Primitive("sphere", center, np.array([radius]))


def payload_offset(record: SceneRecord) -> np.ndarray:
    """The seeded spawn offset within ±jitter (mm); the same seed always gives the same offset."""
    rng = np.random.default_rng([record.seed, 0x6A_69_74])
    jitter = np.asarray(record.payload.jitter, dtype=float)
    return rng.uniform(-1.0, 1.0, size=3) * jitter


def body_frame_origin(body: BodyRecord, joint: JointRecord | None, geom: BodyGeometry) -> np.ndarray:
    """Where a body's frame sits in world mm: the hinge anchor, else the centroid.

    Placing movable bodies' frames at a meaningful point keeps joint velocities and
    positions readable in the MJCF; fixed parts stay at the world origin.
    """
    if joint is None:
        return np.zeros(3)
    if joint.kind == "hinge":
        assert joint.anchor is not None
        return np.asarray(joint.anchor, dtype=float)
    if joint.kind == "fixed":
        return np.zeros(3)
    return np.asarray(geom.centroid, dtype=float)


def _add_piece(
    spec: mujoco.MjSpec,
    body: mujoco.MjsBody,
    name: str,
    piece: CollisionPiece,
    origin: np.ndarray,
    material: str,
) -> None:
    mat = get_material(material)
    friction = [mat.friction, 0.005, 0.0001]
    if isinstance(piece, Primitive):
        kind = mujoco.mjtGeom.mjGEOM_BOX if piece.kind == "box" else mujoco.mjtGeom.mjGEOM_SPHERE
        size = list(piece.size * MM) + [0.0] * (3 - len(piece.size))
        body.add_geom(
            name=name,
            type=kind,
            size=size,
            pos=list((piece.center - origin) * MM),
            density=mat.density_kg_m3,
            friction=friction,
            rgba=list(mat.rgba),
        )
        return
    mesh = spec.add_mesh(name=name)
    mesh.uservert = ((piece.vertices - origin) * MM).ravel().tolist()
    mesh.userface = np.asarray(piece.faces, dtype=np.int64).ravel().tolist()
    body.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_MESH,
        meshname=name,
        density=mat.density_kg_m3,
        friction=friction,
        rgba=list(mat.rgba),
    )


def _add_zone_site(parent: mujoco.MjsBody, name: str, zone: Zone, rgba: tuple[float, ...]) -> None:
    parent.add_site(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[s / 2 * MM for s in zone.size],
        pos=[c * MM for c in zone.center],
        rgba=list(rgba),
    )


def _add_zone_outline(parent: mujoco.MjsBody, name: str, zone: Zone, rgba: tuple[float, ...]) -> None:
    """Draw a zone as its 12 edges (thin capsule sites), so it frames rather than hides the scene."""
    lo, hi = np.asarray(zone.min) * MM, np.asarray(zone.max) * MM
    radius = max(float(np.max(hi - lo)) * 0.004, 0.0005)
    corners = [np.array([x, y, z]) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    index = 0
    for a in range(8):
        for b in range(a + 1, 8):
            if np.count_nonzero(corners[a] != corners[b]) == 1:  # an edge differs on one axis
                parent.add_site(
                    name=f"{name}_edge{index}",
                    type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                    fromto=[*corners[a], *corners[b]],
                    size=[radius, 0, 0],
                    rgba=list(rgba),
                )
                index += 1


def add_part(
    spec: mujoco.MjSpec,
    part: PartRecord,
    geom: BodyGeometry,
    pieces: list[CollisionPiece],
    settings: PhysicsSettings,
) -> mujoco.MjsBody:
    """A part as a body of the world named after its label: its joint (unless fixed) and its
    collision pieces, framed at :func:`body_frame_origin`. Scene parts and design parts alike."""
    movable = part.joint.kind != "fixed"
    origin = body_frame_origin(part, part.joint if movable else None, geom)
    body = spec.worldbody.add_body(name=part.label, pos=list(origin * MM))
    if movable:
        _add_joint(body, part.label, part.joint, settings)
    for index, piece in enumerate(pieces):
        _add_piece(spec, body, f"{part.label}_{index}", piece, origin, part.material)
    return body


def _add_joint(body: mujoco.MjsBody, label: str, joint: JointRecord, settings: PhysicsSettings) -> None:
    if joint.kind == "free":
        body.add_freejoint(name=f"{label}_free")
        return
    assert joint.axis is not None
    axis = np.asarray(joint.axis, dtype=float)
    kind = mujoco.mjtJoint.mjJNT_HINGE if joint.kind == "hinge" else mujoco.mjtJoint.mjJNT_SLIDE
    mj_joint = body.add_joint(
        name=f"{label}_{joint.kind}",
        type=kind,
        axis=list(axis / np.linalg.norm(axis)),
        damping=settings.joint_damping,
    )
    if joint.range is not None:
        # Hinge ranges are degrees in the contract, slide ranges millimetres; the model is SI.
        factor = math.pi / 180 if joint.kind == "hinge" else MM
        mj_joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        mj_joint.range = [joint.range[0] * factor, joint.range[1] * factor]


def bounds_frame(record: SceneRecord) -> tuple[np.ndarray, np.ndarray]:
    """The scene's ``bounds`` in metres: what every render must show."""
    return np.asarray(record.bounds.min) * MM, np.asarray(record.bounds.max) * MM


def _frame_extent(record: SceneRecord) -> tuple[np.ndarray, float]:
    bounds = record.bounds
    center = np.asarray(bounds.center) * MM
    radius = float(np.linalg.norm(bounds.size)) / 2 * MM
    return center, radius


def build_spec(
    scene: LoadedScene,
    pieces: dict[str, list[CollisionPiece]],
    settings: PhysicsSettings,
    render_size: tuple[int, int] = (640, 480),
) -> mujoco.MjSpec:
    """Build the MuJoCo model of one scene.

    ``pieces`` maps each body label to its collision pieces in world mm (parts) or payload
    mm (around the payload origin). Bodies are named after labels; zones are non-colliding
    sites: ``goal_zone``, ``forbid_zone_<i>``, ``build_zone`` (drawn as edges).
    """
    record = scene.record
    spec = mujoco.MjSpec()
    spec.modelname = record.name[:60] or "scene"
    spec.compiler.degree = False
    spec.option.timestep = settings.timestep
    spec.option.gravity = [0.0, 0.0, -9.81]
    spec.visual.global_.offwidth = max(render_size[0], 640)
    spec.visual.global_.offheight = max(render_size[1], 480)
    center, radius = _frame_extent(record)
    spec.stat.center = list(center)
    spec.stat.extent = 2 * radius

    world = spec.worldbody
    ground_half = max(radius * 2, 0.5)
    spec.add_texture(
        name="ground_tex",
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        rgb1=[0.82, 0.84, 0.86],
        rgb2=[0.70, 0.72, 0.75],
        width=256,
        height=256,
    )
    spec.add_texture(
        name="sky",
        type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
        rgb1=[0.55, 0.68, 0.85],
        rgb2=[0.95, 0.96, 0.98],
        width=64,
        height=64,
    )
    ground_material = spec.add_material(name="ground_mat")
    ground_material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "ground_tex"
    ground_material.texrepeat = [8, 8]
    world.add_geom(
        name="ground",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[ground_half, ground_half, 0.01],
        friction=[settings.ground_friction, 0.005, 0.0001],
        material="ground_mat",
    )
    world.add_light(
        name="key",
        pos=[center[0], center[1], center[2] + 4 * radius],
        dir=[0.3, 0.2, -1],
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        castshadow=False,
    )

    for part in record.parts:
        add_part(spec, part, scene.bodies[part.label], pieces[part.label], settings)

    payload = record.payload
    spawn = np.asarray(payload.start, dtype=float) + payload_offset(record)
    body = world.add_body(name=payload.label, pos=list(spawn * MM))
    body.add_freejoint(name=f"{payload.label}_free")
    for index, piece in enumerate(pieces[payload.label]):
        _add_piece(spec, body, f"{payload.label}_{index}", piece, np.zeros(3), payload.material)

    _add_zone_site(world, "goal_zone", record.goal_zone, GOAL_RGBA)
    for index, zone in enumerate(record.forbid_zones):
        _add_zone_site(world, f"forbid_zone_{index}", zone, FORBID_RGBA)
    _add_zone_outline(world, "build_zone", record.build_zone, BUILD_RGBA)
    return spec


def compile_spec(spec: mujoco.MjSpec) -> mujoco.MjModel:
    """Compile a spec; a compile error (degenerate mesh, bad inertia) is a geometry problem."""
    try:
        return spec.compile()
    except ValueError as exc:
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"MuJoCo cannot compile the scene: {exc}") from None


def write_mjcf(spec: mujoco.MjSpec, out_dir: Path) -> Path:
    """Write ``model.xml`` plus ``meshes/<name>.stl`` into ``out_dir``; returns the XML path.

    The in-memory model carries vertices inline; on disk each mesh becomes a binary STL so
    the MJCF stays readable and other tools can open the meshes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    export = spec.copy()
    mesh_dir = out_dir / "meshes"
    if export.meshes:
        mesh_dir.mkdir(exist_ok=True)
        export.meshdir = "meshes"
    for mesh in export.meshes:
        vertices = np.asarray(mesh.uservert, dtype=float).reshape(-1, 3)
        faces = np.asarray(mesh.userface, dtype=np.int64).reshape(-1, 3)
        filename = f"{mesh.name}.stl"
        (mesh_dir / filename).write_bytes(binary_stl(vertices, faces))
        mesh.uservert = []
        mesh.userface = []
        mesh.file = filename
    export.modelfiledir = str(out_dir)
    xml_path = out_dir / "model.xml"
    xml_path.write_text(export.to_xml())
    return xml_path


_STL_HEADER = np.dtype([("header", "V80"), ("face_count", "<u4")])
_STL_TRIANGLE = np.dtype([("normals", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")])
_UNIT_NORMAL_MIN = np.finfo(np.float64).resolution * 100


def binary_stl(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """A binary STL file, byte for byte what trimesh writes (zero normals on degenerate faces).

    Written here so that writing artifacts does not import trimesh (and networkx) into
    the checker just for a 50-byte record per triangle.
    """
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    edges = triangles[:, 1:, :] - triangles[:, :2, :]
    crosses = np.cross(edges[:, 0], edges[:, 1])
    norm = np.sqrt(np.dot(crosses * crosses, [1.0, 1.0, 1.0]))
    valid = norm > _UNIT_NORMAL_MIN
    norm[valid] **= -1
    normals = np.zeros((len(triangles), 3))
    normals[valid] = (crosses * norm.reshape((-1, 1)))[valid]
    header = np.zeros(1, dtype=_STL_HEADER)
    header["face_count"] = len(triangles)
    packed = np.zeros(len(triangles), dtype=_STL_TRIANGLE)
    packed["normals"] = normals
    packed["vertices"] = triangles
    return header.tobytes() + packed.tobytes()


@dataclass(frozen=True)
class _Tracked:
    label: str
    body_id: int
    radius: float
    """Largest distance (m) from the body frame to any of its points: bounds point speed via ω·r."""
    is_payload: bool


def _tracked_bodies(model: mujoco.MjModel, record: SceneRecord) -> list[_Tracked]:
    tracked = []
    for label, is_payload in [(p.label, False) for p in record.parts if p.joint.movable] + [
        (record.payload.label, True)
    ]:
        body_id = model.body(label).id
        geoms = np.flatnonzero(model.geom_bodyid == body_id).tolist()
        radius = max(
            (float(np.linalg.norm(model.geom_pos[g])) + float(model.geom_rbound[g]) for g in geoms),
            default=0.0,
        )
        tracked.append(_Tracked(label, body_id, radius, is_payload))
    return tracked


def _inside(point_m: np.ndarray, zone: Zone, tol_mm: float = 0.0) -> bool:
    point = point_m / MM
    return all(zone.min[i] - tol_mm <= point[i] <= zone.max[i] + tol_mm for i in range(3))


def explosion_threshold(record: SceneRecord, settings: PhysicsSettings) -> float:
    """The speed (m/s) beyond which a body must have been flung by the solver, not by gravity."""
    drop = max(record.bounds.max[2] - min(record.bounds.min[2], 0.0), 0.0) * MM
    return max(settings.explosion_speed_floor, settings.explosion_factor * math.sqrt(2 * 9.81 * drop))


def _check_initial_contacts(model: mujoco.MjModel, data: mujoco.MjData, where: str, limit_mm: float) -> float:
    """The deepest contact at t=0 (mm); raises when it is deeper than ``limit_mm``.

    A body starting inside the ground is ``out_of_bounds``, inside another body ``intersection``.
    """
    deepest, pair = 0.0, (0, 0)
    for i in range(data.ncon):
        depth = -float(data.contact[i].dist) / MM
        if depth > deepest:
            deepest, pair = depth, (int(data.contact[i].geom1), int(data.contact[i].geom2))
    if deepest > limit_mm:
        names = [
            "the ground" if model.geom(g).name == "ground" else model.body(int(model.geom_bodyid[g])).name
            for g in pair
        ]
        code = RejectCode.OUT_OF_BOUNDS if "the ground" in names else RejectCode.INTERSECTION
        raise CheckFailure(
            code,
            f"{names[0]!r} and {names[1]!r} start {deepest:.2f} mm inside each other ({where}); "
            f"at most {limit_mm:g} mm is tolerated",
        )
    return deepest


SENSOR_PREFIX = "benchgen_stability"
"""Names of the sensors :func:`add_stability_sensors` adds (never part of an exported model)."""
CHUNK_STEPS = 100
"""Steps per native rollout call; the deadline is checked between chunks."""


def _movable_geoms(spec: mujoco.MjSpec, label: str) -> list[str]:
    return [geom.name for geom in spec.body(label).geoms]


def add_stability_sensors(spec: mujoco.MjSpec, record: SceneRecord) -> None:
    """Sensors for what :func:`simulate` watches at every step, so MuJoCo records it natively.

    For the payload and every movable part: the linear velocity at its centre of mass and
    its angular velocity (as ``mj_objectVelocity`` gives them); for every geom of a movable
    part, its world position. Sensors do not change the dynamics.
    """
    tracked = [p.label for p in record.parts if p.joint.movable] + [record.payload.label]
    for label in tracked:
        for kind, sensor in (
            ("v", mujoco.mjtSensor.mjSENS_FRAMELINVEL),
            ("w", mujoco.mjtSensor.mjSENS_FRAMEANGVEL),
        ):
            spec.add_sensor(
                name=f"{SENSOR_PREFIX}_{kind}_{label}",
                type=sensor,
                objtype=mujoco.mjtObj.mjOBJ_BODY,
                objname=label,
            )
    for part in record.parts:
        if part.joint.movable:
            for geom in _movable_geoms(spec, part.label):
                spec.add_sensor(
                    name=f"{SENSOR_PREFIX}_p_{geom}",
                    type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
                    objtype=mujoco.mjtObj.mjOBJ_GEOM,
                    objname=geom,
                )


def stability_model(
    scene: LoadedScene,
    pieces: dict[str, list[CollisionPiece]],
    settings: PhysicsSettings,
    render_size: tuple[int, int] = (640, 480),
) -> mujoco.MjModel:
    """The scene's model with the stability sensors, compiled: what :func:`simulate` runs."""
    spec = build_spec(scene, pieces, settings, render_size)
    add_stability_sensors(spec, scene.record)
    return compile_spec(spec)


def _sensor_columns(model: mujoco.MjModel, name: str) -> slice:
    sensor = model.sensor(name)
    start = int(sensor.adr[0])
    return slice(start, start + int(sensor.dim[0]))


@dataclass(frozen=True)
class _Watch:
    """Where each watched quantity sits in a recorded rollout."""

    speeds: list[tuple[_Tracked, slice, slice]]
    """Tracked body, its linear and angular velocity columns in the sensor data."""
    geoms: list[tuple[str, slice]]
    """Movable part label and one of its geoms' position columns."""
    physics: slice
    """qpos and qvel in the state vector."""


def _watch(model: mujoco.MjModel, record: SceneRecord) -> _Watch:
    tracked = _tracked_bodies(model, record)
    speeds = [
        (
            body,
            _sensor_columns(model, f"{SENSOR_PREFIX}_v_{body.label}"),
            _sensor_columns(model, f"{SENSOR_PREFIX}_w_{body.label}"),
        )
        for body in tracked
    ]
    geoms = []
    for body in tracked:
        if body.is_payload:
            continue
        for g in np.flatnonzero(model.geom_bodyid == body.body_id).tolist():
            geoms.append((body.label, _sensor_columns(model, f"{SENSOR_PREFIX}_p_{model.geom(g).name}")))
    # The full physics state starts with the time, then qpos and qvel.
    return _Watch(speeds, geoms, slice(1, 1 + model.nq + model.nv))


def _first(rows: np.ndarray) -> int | None:
    hits = np.flatnonzero(rows)
    return int(hits[0]) if hits.size else None


def simulate(
    model: mujoco.MjModel,
    record: SceneRecord,
    settings: PhysicsSettings,
    *,
    deadline: Deadline | None = None,
) -> SimulationMetrics:
    """Run the stability check and return its metrics, or raise ``unstable``/``out_of_bounds``.

    ``model`` comes from :func:`stability_model`. Contacts before the first step must be
    shallower than ``max_initial_penetration_mm`` (``intersection``, or ``out_of_bounds``
    with the ground). Every step is checked for NaN/Inf and explosive speeds; every
    movable non-payload body's geoms must stay inside ``bounds`` (every 10th step).
    MuJoCo integrates in native chunks (:data:`CHUNK_STEPS`, bit-identical to stepping one
    by one) and records the state and the sensors of :func:`add_stability_sensors`; the
    rules are evaluated on those records, in the order a step-by-step loop would meet
    them. Settling and triviality are judged by the caller from the returned metrics
    (:func:`judge`). ``deadline`` is checked between chunks.
    """
    from mujoco import rollout

    data = mujoco.MjData(model)
    model.opt.enableflags |= mujoco.mjtEnableBit.mjENBL_ENERGY
    mujoco.mj_forward(model, data)
    where = f"seed={record.seed}, scale={record.scale:g}"
    penetration = _check_initial_contacts(model, data, where, settings.max_initial_penetration_mm) * MM
    watch = _watch(model, record)
    explosion_speed = explosion_threshold(record, settings)
    full = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.empty(mujoco.mj_stateSize(model, full))
    mujoco.mj_getState(model, data, state, full)
    warnings = np.zeros(len(data.warning), dtype=np.int64)
    max_speed = 0.0
    last_speeds: dict[str, float] = {}
    for first_step in range(0, settings.steps, CHUNK_STEPS):
        if deadline is not None:
            deadline.check(f"simulating {where}")
        steps = min(CHUNK_STEPS, settings.steps - first_step)
        states, sensors = rollout.rollout(
            model, data, state, nstep=steps, initial_warmstart=data.qacc_warmstart.copy()
        )
        states, sensors = states[0], sensors[0]
        warnings += [data.warning[i].number for i in range(len(data.warning))]
        speeds = {
            body.label: np.linalg.norm(sensors[:, v], axis=1)
            + np.linalg.norm(sensors[:, w], axis=1) * body.radius
            for body, v, w in watch.speeds
        }
        _check_chunk(states, speeds, sensors, watch, record, settings, explosion_speed, first_step, where)
        for label, values in speeds.items():
            max_speed = max(max_speed, float(values.max(initial=0.0)))
            last_speeds[label] = float(values[-1])
        state = states[-1]
    found = {mujoco.mjtWarning(i).name: int(n) for i, n in enumerate(warnings) if n > 0}
    if found:
        raise CheckFailure(RejectCode.UNSTABLE, f"MuJoCo warnings {found} ({where})")
    part_speeds = {b.label: last_speeds.get(b.label, 0.0) for b, _, _ in watch.speeds if not b.is_payload}
    slowest = max(part_speeds, key=lambda k: part_speeds[k]) if part_speeds else None
    # The payload's centre of mass, so where its origin was modelled does not matter.
    payload_end = np.asarray(data.xipos[model.body(record.payload.label).id])
    return SimulationMetrics(
        seed=record.seed,
        scale=record.scale,
        steps=settings.steps,
        max_speed=max_speed,
        initial_penetration_mm=penetration / MM,
        final_kinetic_energy=float(data.energy[1]),
        final_part_speed=part_speeds[slowest] if slowest else 0.0,
        slowest_settling_part=slowest,
        payload_end_mm=tuple(float(v) for v in payload_end / MM),  # type: ignore[arg-type]
        payload_in_goal=_inside(payload_end, record.goal_zone),
        warnings=found,
    )


def _check_chunk(
    states: np.ndarray,
    speeds: dict[str, np.ndarray],
    sensors: np.ndarray,
    watch: _Watch,
    record: SceneRecord,
    settings: PhysicsSettings,
    explosion_speed: float,
    first_step: int,
    where: str,
) -> None:
    """Raise for the first step of a recorded chunk that breaks a rule (NaN, then speed, then bounds)."""
    steps = len(states)
    nan = _first(~np.isfinite(states[:, watch.physics]).all(axis=1))
    fast = {label: _first(values > explosion_speed) for label, values in speeds.items()}
    bounds = record.bounds
    lo = np.asarray(bounds.min, dtype=float) - settings.bounds_tolerance_mm
    hi = np.asarray(bounds.max, dtype=float) + settings.bounds_tolerance_mm
    sampled = (np.arange(steps) + first_step) % 10 == 9
    out: dict[str, int] = {}
    for label, columns in watch.geoms:
        points = sensors[:, columns] / MM
        outside = sampled & ~np.all((points >= lo) & (points <= hi), axis=1)
        step = _first(outside)
        if step is not None and (label not in out or step < out[label]):
            out[label] = step
    candidates = [s for s in (nan, *fast.values(), *out.values()) if s is not None]
    if not candidates:
        return
    step = min(candidates)
    if nan == step:
        raise CheckFailure(
            RejectCode.UNSTABLE, f"simulation produced NaN/Inf at step {first_step + step} ({where})"
        )
    for label, hit in fast.items():
        if hit == step:
            raise CheckFailure(
                RejectCode.UNSTABLE,
                f"{label!r} reached {speeds[label][step]:.1f} m/s at step {first_step + step} ({where}): "
                "the simulation exploded",
            )
    for label, hit in out.items():
        if hit == step:
            raise CheckFailure(
                RejectCode.OUT_OF_BOUNDS,
                f"part {label!r} left bounds during simulation at t={states[step, 0]:.2f} s ({where})",
            )


def judge(metrics: SimulationMetrics, record: SceneRecord, settings: PhysicsSettings) -> None:
    """Turn metrics into a verdict: ``not_settled`` or ``trivial``; returns when the run is fine."""
    where = f"seed={record.seed}, scale={record.scale:g}"
    if metrics.slowest_settling_part and metrics.final_part_speed > settings.settle_speed:
        raise CheckFailure(
            RejectCode.NOT_SETTLED,
            f"part {metrics.slowest_settling_part!r} still moves at {metrics.final_part_speed * 1000:.1f} mm/s "
            f"after {metrics.steps * settings.timestep:.1f} s ({where})",
        )
    if metrics.payload_in_goal:
        end = ", ".join(f"{v:.0f}" for v in metrics.payload_end_mm)
        raise CheckFailure(
            RejectCode.TRIVIAL,
            f"payload {record.payload.label!r} ends inside goal zone {record.goal_zone.name!r} at ({end}) mm "
            f"with no solver ({where})",
        )


COLLISION_GAP_FACTOR = 2.0
"""A solid's collision pieces may reach at most this many times the decomposition's own
tolerance (``gap_fraction`` of its size) outside it, and never more than ``max_gap_mm``."""


def _surface_hints(solid: SolidGeometry) -> list[SurfaceHint]:
    """The solid's exact faces (from the BREP loader) as hints for the decomposition."""
    return [
        SurfaceHint(kind=f.kind, origin=tuple(f.origin), axis=tuple(f.axis), radius=f.radius)
        for f in solid.faces
    ]


def collision_pieces(
    body: BodyGeometry,
    settings: DecompositionSettings,
    cache: DecompositionCache | None,
    max_gap_mm: float | None = None,
) -> tuple[list[CollisionPiece], CollisionInfo]:
    """Exact primitives where a solid is a box or sphere, convex decomposition otherwise.

    The decomposition is measured against the part: a gap beyond
    ``COLLISION_GAP_FACTOR`` times its tolerance, or beyond ``max_gap_mm`` (the caller's
    bound, e.g. a fraction of the payload's size), is ``invalid_geometry``, as is a
    solid it cannot cut; running out of its CPU budget is ``resource_limit``.
    """
    pieces: list[CollisionPiece] = []
    methods: list[str] = []
    excess = overfill = uncovered = gap = 0.0
    seconds = 0.0
    cached = True
    for solid in body.solids:
        primitive = detect_primitive(solid)
        if primitive is not None:
            pieces.append(primitive)
            methods.append(f"primitive:{primitive.kind}")
            continue
        try:
            result = decompose(solid.mesh.vertices, solid.mesh.faces, settings, cache, _surface_hints(solid))
        except DecompositionLimit as exc:
            raise CheckFailure(RejectCode.RESOURCE_LIMIT, f"{body.label!r}: {exc}") from None
        except ValueError as exc:  # no faithful convex pieces: a hull would fill holes, so refuse
            raise CheckFailure(
                RejectCode.INVALID_GEOMETRY, f"{body.label!r}: no faithful collision geometry ({exc})"
            ) from None
        bound = COLLISION_GAP_FACTOR * result.tolerance_mm
        if max_gap_mm is not None:
            bound = min(bound, max_gap_mm)
        if result.gap_mm > bound:
            raise CheckFailure(
                RejectCode.INVALID_GEOMETRY,
                f"{body.label!r}: its collision pieces reach {result.gap_mm:.2f} mm outside the part "
                f"(bound {bound:.2f} mm); simplify the part or split it into simpler solids",
            )
        pieces.extend(
            TriMesh(np.asarray(v, dtype=float), np.asarray(f, dtype=np.int64)) for v, f in result.pieces
        )
        methods.append(result.method)
        excess += result.error * solid.volume_mm3
        overfill += result.overfill * solid.volume_mm3
        uncovered += result.uncovered * solid.volume_mm3
        gap = max(gap, result.gap_mm)
        seconds += result.seconds
        cached = cached and result.cached
    volume = body.volume_mm3
    return pieces, CollisionInfo(
        pieces=len(pieces),
        methods=methods,
        error=excess / volume,
        seconds=seconds,
        cached=cached,
        gap_mm=gap,
        overfill=overfill / volume,
        uncovered=uncovered / volume,
    )
