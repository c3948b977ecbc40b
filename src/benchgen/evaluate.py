"""``benchgen evaluate``: score a design against a benchmark, on the trusted side.

A solution script's ``design(view)`` runs only in the sandbox (:mod:`benchgen.solving`);
what comes back is data: ``design.json`` and one BREP per part. This module never
imports the solution. For each built variant it

1. loads the design's parts exactly as the checker loads a scene's (OCCT validity,
   re-meshing from the exact geometry);
2. judges the design statically, cheapest rule first: labels, build zone, overlaps with
   the scene's parts, the payload's start envelope and each other, forbid zones, cost and
   weight (exact volumes × the material library);
3. simulates the scene with the design in it, motors driving their joints, for up to
   ``duration_s``: the variant is solved once the payload's centre of mass has rested
   inside the goal zone for ``hold_s`` without the payload (or a design part) ever
   touching a forbid zone and without the simulation going unstable.

Costs: ``cost_usd = Σ volume × density × cost_per_kg`` and ``weight_g = Σ volume ×
density`` over the design's parts (see :func:`design_cost`).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import mujoco
import numpy as np
from pydantic import BaseModel, Field, ValidationError

from benchgen.decomposition import DecompositionCache, DecompositionSettings
from benchgen.geometry import (
    BodyGeometry,
    GeometryLoader,
    GeometrySettings,
    LoadedScene,
    boxes_overlap,
    overlap_volume,
    payload_envelope,
    zone_manifold,
)
from benchgen.materials import get_material
from benchgen.physics import (
    MM,
    CollisionPiece,
    PhysicsSettings,
    add_part,
    bounds_frame,
    build_spec,
    collision_pieces,
    explosion_threshold,
    write_mjcf,
)
from benchgen.rendering import RenderSettings, RolloutRecorder, View, render_views
from benchgen.sandbox import BuildRequest, SandboxLimits, run_script
from benchgen.scenario import Zone
from benchgen.scene import PartRecord
from benchgen.solution import (
    DESIGN_FILE,
    MAX_DESIGN_JSON_BYTES,
    VIEW_FILE,
    DesignRecord,
    PartView,
    PayloadView,
    SceneView,
    ViewRecord,
)
from benchgen.verdict import CheckFailure, Deadline, RejectCode


class EvaluateCode(StrEnum):
    """Why a design failed a variant. Closed, like :class:`benchgen.verdict.RejectCode`."""

    SCRIPT_ERROR = "script_error"
    CONTRACT_ERROR = "contract_error"
    TIMEOUT = "timeout"
    RESOURCE_LIMIT = "resource_limit"
    SANDBOX_VIOLATION = "sandbox_violation"
    INVALID_GEOMETRY = "invalid_geometry"
    OUTSIDE_BUILD_ZONE = "outside_build_zone"
    INTERSECTION = "intersection"
    IN_FORBID_ZONE = "in_forbid_zone"
    OVER_BUDGET = "over_budget"
    OVERWEIGHT = "overweight"
    UNSTABLE = "unstable"
    MISSED_GOAL = "missed_goal"


class DesignFailure(Exception):
    """A design fails one variant; carries the code and a precise message."""

    def __init__(self, code: EvaluateCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


_FROM_CHECK: dict[RejectCode, EvaluateCode] = {
    RejectCode.CONTRACT_ERROR: EvaluateCode.CONTRACT_ERROR,
    RejectCode.INVALID_GEOMETRY: EvaluateCode.INVALID_GEOMETRY,
    RejectCode.RESOURCE_LIMIT: EvaluateCode.RESOURCE_LIMIT,
    RejectCode.INTERSECTION: EvaluateCode.INTERSECTION,
    RejectCode.UNSTABLE: EvaluateCode.UNSTABLE,
}


def _as_design_failure(failure: CheckFailure) -> DesignFailure:
    """A check-stage failure raised while handling the design (e.g. invalid geometry) in evaluate's terms."""
    return DesignFailure(_FROM_CHECK.get(failure.code, EvaluateCode.INVALID_GEOMETRY), failure.message)


class EvaluateSettings(BaseModel):
    """How a design is judged in simulation (SI units)."""

    duration_s: float = Field(default=10.0, gt=0, le=120)
    """Longest simulated time; a variant is solved as soon as the hold rule is met."""
    hold_s: float = Field(default=1.0, gt=0)
    """How long the payload must rest inside the goal zone, without interruption."""
    rest_speed: float = Field(default=0.02, gt=0)
    """The payload rests when its centre of mass moves slower than this (m/s); a ball may still turn."""
    check_every: int = Field(default=5, ge=1)
    """Rules are evaluated every this many physics steps (10 ms at the default 2 ms step)."""
    motor_speed_tolerance: float = Field(default=0.02, gt=0)
    """Speed error (rad/s or m/s) at which a motor applies its full effort: sets its gain."""
    motor_ramp_s: float = Field(default=0.05, gt=0)
    """Time a motor takes to reach its speed at full effort: sets the reflected inertia of its drive."""


@dataclass(frozen=True)
class LoadedDesign:
    """A design record with the geometry of every part, loaded by trusted code."""

    record: DesignRecord
    directory: Path
    bodies: dict[str, BodyGeometry] = field(default_factory=dict)

    @property
    def parts(self) -> list[tuple[PartRecord, BodyGeometry]]:
        """Parts with their geometry, in design order."""
        return [(p, self.bodies[p.label]) for p in self.record.parts]


def load_design(directory: Path, loader: GeometryLoader, deadline: Deadline | None = None) -> LoadedDesign:
    """Parse ``design.json`` and load every part's BREP as untrusted input (raises :class:`DesignFailure`).

    The BREPs are read in ``loader``'s process, exactly like a scene's: cleaned of stored
    meshes, tolerance-checked, validated and re-meshed from the exact geometry.
    """
    path = directory / DESIGN_FILE
    if not path.is_file() or path.is_symlink():
        raise DesignFailure(EvaluateCode.CONTRACT_ERROR, f"the design produced no {DESIGN_FILE}")
    if path.stat().st_size > MAX_DESIGN_JSON_BYTES:
        raise DesignFailure(
            EvaluateCode.CONTRACT_ERROR, f"{DESIGN_FILE} is over {MAX_DESIGN_JSON_BYTES} bytes"
        )
    try:
        record = DesignRecord.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise DesignFailure(EvaluateCode.CONTRACT_ERROR, f"invalid design: {exc}") from None
    bodies: dict[str, BodyGeometry] = {}
    for part in record.parts:
        try:
            bodies[part.label] = loader.load_body(directory, part, deadline=deadline)
        except CheckFailure as failure:
            raise _as_design_failure(failure) from None
    return LoadedDesign(record=record, directory=directory, bodies=bodies)


def scene_view(scene: LoadedScene) -> SceneView:
    """The read-only view a solver gets of one variant, derived from the trusted geometry (shapes omitted)."""
    record = scene.record
    payload = scene.payload
    density = get_material(record.payload.material).density_kg_m3
    return SceneView(
        name=record.name,
        description=record.description,
        tier=record.tier,
        seed=record.seed,
        scale=record.scale,
        bounds=record.bounds,
        build_zone=record.build_zone,
        goal_zone=record.goal_zone,
        forbid_zones=list(record.forbid_zones),
        constraints=record.constraints,
        params=dict(record.params),
        payload=PayloadView(
            label=record.payload.label,
            material=record.payload.material,
            start=record.payload.start,
            jitter=record.payload.jitter,
            bbox_min=_vec3(payload.bbox_min),
            bbox_max=_vec3(payload.bbox_max),
            mass_g=round(payload.volume_mm3 * 1e-9 * density * 1000, 6),
        ),
        parts=[
            PartView(
                label=part.label,
                material=part.material,
                joint=part.joint,
                bbox_min=_vec3(scene.bodies[part.label].bbox_min),
                bbox_max=_vec3(scene.bodies[part.label].bbox_max),
            )
            for part in record.parts
        ],
    )


def _vec3(values: np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


def write_view(scene: LoadedScene, directory: Path) -> None:
    """Write a variant's :class:`SceneView` as data (``view.json`` + ``part_<i>.brep``) for the solution's sandbox."""
    directory.mkdir(parents=True, exist_ok=True)
    view = scene_view(scene)
    breps = []
    for index, (part, _) in enumerate(scene.parts):
        name = f"part_{index}.brep"
        shutil.copyfile(scene.directory / part.brep, directory / name)
        breps.append(name)
    data = view.model_dump(mode="json")
    for part in data["parts"]:
        part.pop("shape", None)
    (directory / VIEW_FILE).write_text(ViewRecord(view=data, part_breps=breps).model_dump_json())


# --- static rules -----------------------------------------------------------------------------


class DesignCost(BaseModel):
    """What a design costs per unit and weighs, from exact volumes and the material library."""

    cost_usd: float
    weight_g: float
    per_part: dict[str, dict[str, float]]


def design_cost(design: LoadedDesign) -> DesignCost:
    """``cost = Σ volume × density × cost_per_kg``, ``weight = Σ volume × density`` over the parts."""
    per_part: dict[str, dict[str, float]] = {}
    for part, geom in design.parts:
        material = get_material(part.material)
        mass_kg = geom.volume_mm3 * 1e-9 * material.density_kg_m3
        per_part[part.label] = {
            "volume_mm3": round(geom.volume_mm3, 3),
            "mass_g": round(mass_kg * 1000, 4),
            "cost_usd": round(mass_kg * material.cost_per_kg_usd, 6),
        }
    return DesignCost(
        cost_usd=round(sum(p["cost_usd"] for p in per_part.values()), 6),
        weight_g=round(sum(p["mass_g"] for p in per_part.values()), 4),
        per_part=per_part,
    )


def _inside(geom: BodyGeometry, zone: Zone, tol: float) -> bool:
    return all(
        geom.bbox_min[i] >= zone.min[i] - tol and geom.bbox_max[i] <= zone.max[i] + tol for i in range(3)
    )


def judge_design(scene: LoadedScene, design: LoadedDesign, settings: GeometrySettings) -> DesignCost:
    """The static rules, cheapest first; raises :class:`DesignFailure`, returns the cost when all pass."""
    record = scene.record
    where = f"seed={record.seed}, scale={record.scale:g}"
    taken = {body.label for body in record.bodies}
    for part in design.record.parts:
        if part.label in taken:
            raise DesignFailure(
                EvaluateCode.CONTRACT_ERROR, f"design part {part.label!r} reuses a label of the scene"
            )
    for part, geom in design.parts:
        if not _inside(geom, record.build_zone, settings.bounds_tolerance):
            raise DesignFailure(
                EvaluateCode.OUTSIDE_BUILD_ZONE,
                f"design part {part.label!r} (box {_box(geom)}) is not inside the build zone at {where}",
            )
    tol = settings.min_overlap_mm3
    envelope = payload_envelope(scene)
    for part, geom in design.parts:
        for scene_part, scene_geom in scene.parts:
            overlap = overlap_volume(geom.manifold, geom.box, scene_geom.manifold, scene_geom.box)
            if overlap > tol:
                raise DesignFailure(
                    EvaluateCode.INTERSECTION,
                    f"design part {part.label!r} overlaps scene part {scene_part.label!r} "
                    f"by {overlap:.1f} mm³ at {where}",
                )
        overlap = overlap_volume(geom.manifold, geom.box, envelope.manifold, envelope.aabb)
        if overlap > tol:
            raise DesignFailure(
                EvaluateCode.INTERSECTION,
                f"design part {part.label!r} overlaps the payload's start envelope by {overlap:.1f} mm³ "
                f"at {where}",
            )
    parts = design.parts
    for i, (part_a, geom_a) in enumerate(parts):
        for part_b, geom_b in parts[i + 1 :]:
            overlap = overlap_volume(geom_a.manifold, geom_a.box, geom_b.manifold, geom_b.box)
            if overlap > tol:
                raise DesignFailure(
                    EvaluateCode.INTERSECTION,
                    f"design parts {part_a.label!r} and {part_b.label!r} overlap by {overlap:.1f} mm³ "
                    f"at {where}",
                )
    for part, geom in design.parts:
        for index, zone in enumerate(record.forbid_zones):
            if boxes_overlap(geom.box, (np.asarray(zone.min), np.asarray(zone.max))):
                overlap = (geom.manifold ^ zone_manifold(zone)).volume()
                if overlap > tol:
                    raise DesignFailure(
                        EvaluateCode.IN_FORBID_ZONE,
                        f"design part {part.label!r} enters forbid zone {zone.name or index!r} "
                        f"by {overlap:.1f} mm³ at {where}",
                    )
    cost = design_cost(design)
    constraints = record.constraints
    if cost.cost_usd > constraints.max_unit_cost:
        raise DesignFailure(
            EvaluateCode.OVER_BUDGET,
            f"the design costs ${cost.cost_usd:.2f} a unit, over the budget of ${constraints.max_unit_cost:.2f}",
        )
    if constraints.max_weight_g is not None and cost.weight_g > constraints.max_weight_g:
        raise DesignFailure(
            EvaluateCode.OVERWEIGHT,
            f"the design weighs {cost.weight_g:.0f} g, over the limit of {constraints.max_weight_g:.0f} g",
        )
    return cost


def _box(geom: BodyGeometry) -> str:
    lo = ", ".join(f"{v:.0f}" for v in geom.bbox_min)
    hi = ", ".join(f"{v:.0f}" for v in geom.bbox_max)
    return f"({lo})–({hi}) mm"


# --- simulation -------------------------------------------------------------------------------


def design_pieces(
    design: LoadedDesign, settings: DecompositionSettings, cache: DecompositionCache | None
) -> dict[str, list[CollisionPiece]]:
    """Collision pieces of every design part, made exactly as a scene's are."""
    pieces: dict[str, list[CollisionPiece]] = {}
    for label, geom in design.bodies.items():
        try:
            pieces[label], _ = collision_pieces(geom, settings, cache)
        except CheckFailure as failure:
            raise _as_design_failure(failure) from None
    return pieces


def add_design(
    spec: mujoco.MjSpec,
    design: LoadedDesign,
    pieces: dict[str, list[CollisionPiece]],
    physics: PhysicsSettings,
    settings: EvaluateSettings,
) -> None:
    """Add the design's parts (bodies named after their labels) and motors (``<label>_motor``) to a scene's spec."""
    for part, geom in design.parts:
        add_part(spec, part, geom, pieces[part.label], physics)
    kinds = {p.label: p.joint for p in design.record.parts}
    for motor in design.record.motors:
        joint = kinds[motor.part]
        target = f"{motor.part}_{joint.kind}"
        speed = abs(motor.speed) * (math.pi / 180 if joint.kind == "hinge" else MM)
        # A geared motor's reflected inertia: full effort takes it to speed in ramp_s, so a
        # light part driven hard accelerates like a real drive instead of bang-bang chattering.
        spec.joint(target).armature = (
            motor.max_effort * settings.motor_ramp_s / max(speed, settings.motor_speed_tolerance)
        )
        actuator = spec.add_actuator(
            name=f"{motor.part}_motor", target=target, trntype=mujoco.mjtTrn.mjTRN_JOINT
        )
        actuator.set_to_velocity(kv=motor.max_effort / settings.motor_speed_tolerance)
        actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        actuator.forcerange = [-motor.max_effort, motor.max_effort]
    # Velocity servos are stiff in velocity; the implicit-in-velocity integrator keeps them stable.
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST


def _add_forbid_probes(spec: mujoco.MjSpec, zones: list[Zone]) -> None:
    """Invisible, non-colliding boxes over the forbid zones, for exact distance queries."""
    for index, zone in enumerate(zones):
        spec.worldbody.add_geom(
            name=f"forbid_probe_{index}",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[s / 2 * MM for s in zone.size],
            pos=[c * MM for c in zone.center],
            contype=0,
            conaffinity=0,
            group=5,
            rgba=[0, 0, 0, 0],
        )


def motor_control(design: DesignRecord, joint_kinds: Mapping[str, str], time_s: float) -> list[float]:
    """Each motor's target speed (SI) at ``time_s``: zero (holding) before its start, its speed after."""
    controls = []
    for motor in design.motors:
        factor = math.pi / 180 if joint_kinds[motor.part] == "hinge" else MM
        controls.append(motor.speed * factor if time_s >= motor.start_s else 0.0)
    return controls


class SeedOutcome(BaseModel):
    """What one variant of a benchmark gave a design."""

    seed: int
    scale: float
    success: bool
    code: EvaluateCode | None = None
    message: str = ""
    payload_end_mm: tuple[float, float, float] | None = None
    time_in_goal_s: float = 0.0
    forbid_contact: bool = False
    cost_usd: float | None = None
    weight_g: float | None = None
    simulated_s: float = 0.0


Recorder = Callable[[mujoco.MjModel, mujoco.MjData], None]
"""Called after every rule check during a rollout (e.g. to grab animation frames)."""


@dataclass
class _Bodies:
    payload_id: int
    payload_geoms: list[int]
    design_geoms: dict[str, list[int]]
    tracked: list[tuple[str, int, float]]
    probes: list[int]


def _geoms_of(model: mujoco.MjModel, body_id: int) -> list[int]:
    return [g for g in range(model.ngeom) if model.geom_bodyid[g] == body_id]


def _bodies(model: mujoco.MjModel, scene: LoadedScene, design: LoadedDesign) -> _Bodies:
    record = scene.record
    payload_id = model.body(record.payload.label).id
    movable = [p.label for p in record.parts if p.joint.movable]
    movable += [p.label for p in design.record.parts if p.joint.movable]
    tracked = []
    for label in [record.payload.label, *movable]:
        body_id = model.body(label).id
        radius = max(
            (
                float(np.linalg.norm(model.geom_pos[g])) + float(model.geom_rbound[g])
                for g in _geoms_of(model, body_id)
            ),
            default=0.0,
        )
        tracked.append((label, body_id, radius))
    return _Bodies(
        payload_id=payload_id,
        payload_geoms=_geoms_of(model, payload_id),
        design_geoms={p.label: _geoms_of(model, model.body(p.label).id) for p in design.record.parts},
        tracked=tracked,
        probes=[model.geom(f"forbid_probe_{i}").id for i in range(len(record.forbid_zones))],
    )


def _point_speed(
    model: mujoco.MjModel, data: mujoco.MjData, body_id: int, radius: float, buf: np.ndarray
) -> float:
    mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, body_id, buf, 0)
    return float(np.linalg.norm(buf[3:]) + np.linalg.norm(buf[:3]) * radius)


def _touches(
    model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int], probe: int, ft: np.ndarray
) -> bool:
    return any(mujoco.mj_geomDistance(model, data, g, probe, 0.01, ft) < 0.0 for g in geoms)


def _in_zone(point_m: np.ndarray, zone: Zone) -> bool:
    point = point_m / MM
    return all(zone.min[i] <= point[i] <= zone.max[i] for i in range(3))


def rollout(
    model: mujoco.MjModel,
    scene: LoadedScene,
    design: LoadedDesign,
    physics: PhysicsSettings,
    settings: EvaluateSettings,
    recorder: Recorder | None = None,
) -> SeedOutcome:
    """Simulate the scene with the design until the hold rule is met or ``duration_s`` runs out."""
    record = scene.record
    where = f"seed={record.seed}, scale={record.scale:g}"
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    bodies = _bodies(model, scene, design)
    kinds = {p.label: p.joint.kind for p in design.record.parts}
    explosion = explosion_threshold(record, physics)
    buf, ft = np.zeros(6), np.zeros(6)
    chunk = settings.check_every
    steps = int(round(settings.duration_s / physics.timestep))
    hold_steps = int(math.ceil(settings.hold_s / physics.timestep))
    streak = in_goal = 0

    def outcome(
        success: bool, code: EvaluateCode | None = None, message: str = "", forbid: bool = False
    ) -> SeedOutcome:
        end = data.xipos[bodies.payload_id] / MM
        return SeedOutcome(
            seed=record.seed,
            scale=record.scale,
            success=success,
            code=code,
            message=message,
            payload_end_mm=(float(end[0]), float(end[1]), float(end[2])),
            time_in_goal_s=round(in_goal * physics.timestep, 4),
            forbid_contact=forbid,
            simulated_s=round(float(data.time), 4),
        )

    done = 0
    while done < steps:
        if model.nu:
            data.ctrl[:] = motor_control(design.record, kinds, float(data.time))
        n = min(chunk, steps - done)
        mujoco.mj_step(model, data, nstep=n)
        done += n
        if not (np.isfinite(data.qpos).all() and np.isfinite(data.qvel).all()):
            return outcome(
                False,
                EvaluateCode.UNSTABLE,
                f"the simulation produced NaN/Inf at t={data.time:.2f} s ({where})",
            )
        for label, body_id, radius in bodies.tracked:
            speed = _point_speed(model, data, body_id, radius, buf)
            if speed > explosion:
                return outcome(
                    False,
                    EvaluateCode.UNSTABLE,
                    f"{label!r} reached {speed:.1f} m/s at t={data.time:.2f} s ({where}): the simulation exploded",
                )
        for index, probe in enumerate(bodies.probes):
            zone = record.forbid_zones[index]
            name = zone.name or str(index)
            if _touches(model, data, bodies.payload_geoms, probe, ft):
                return outcome(
                    False,
                    EvaluateCode.IN_FORBID_ZONE,
                    f"the payload entered forbid zone {name!r} at t={data.time:.2f} s ({where})",
                    forbid=True,
                )
            for label, geoms in bodies.design_geoms.items():
                if kinds[label] != "fixed" and _touches(model, data, geoms, probe, ft):
                    return outcome(
                        False,
                        EvaluateCode.IN_FORBID_ZONE,
                        f"design part {label!r} entered forbid zone {name!r} at t={data.time:.2f} s ({where})",
                        forbid=True,
                    )
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, bodies.payload_id, buf, 0)
        payload_speed = float(np.linalg.norm(buf[3:]))
        if _in_zone(data.xipos[bodies.payload_id], record.goal_zone):
            in_goal += n
            streak = streak + n if payload_speed < settings.rest_speed else 0
        else:
            streak = 0
        if recorder is not None:
            recorder(model, data)
        if streak >= hold_steps:
            return outcome(
                True,
                message=f"the payload rested in the goal zone from t={data.time - streak * physics.timestep:.2f} s",
            )
    warnings = {
        mujoco.mjtWarning(i).name: int(data.warning[i].number)
        for i in range(len(data.warning))
        if data.warning[i].number > 0
    }
    if warnings:
        return outcome(False, EvaluateCode.UNSTABLE, f"MuJoCo warnings {warnings} ({where})")
    end = data.xipos[bodies.payload_id] / MM
    return outcome(
        False,
        EvaluateCode.MISSED_GOAL,
        f"after {settings.duration_s:g} s the payload is at ({end[0]:.0f}, {end[1]:.0f}, {end[2]:.0f}) mm, "
        f"not resting inside goal zone {record.goal_zone.name!r} ({where})",
    )


def design_model(
    scene: LoadedScene,
    scene_pieces: dict[str, list[CollisionPiece]],
    design: LoadedDesign,
    design_pieces_: dict[str, list[CollisionPiece]],
    physics: PhysicsSettings,
    settings: EvaluateSettings,
    render_size: tuple[int, int] = (640, 480),
) -> mujoco.MjSpec:
    """The scene's spec with the design and the forbid-zone probes added."""
    spec = build_spec(scene, scene_pieces, physics, render_size)
    # Rolling and torsional friction (condim 6) let a ball come to rest instead of rolling forever.
    for geom in spec.body(scene.record.payload.label).geoms:
        geom.condim = 6
    add_design(spec, design, design_pieces_, physics, settings)
    _add_forbid_probes(spec, scene.record.forbid_zones)
    return spec


def evaluate_variant(
    scene: LoadedScene,
    scene_pieces: dict[str, list[CollisionPiece]],
    design_dir: Path,
    loader: GeometryLoader,
    physics: PhysicsSettings,
    decomposition: DecompositionSettings,
    settings: EvaluateSettings,
    cache: DecompositionCache | None,
    recorder: Recorder | None = None,
    deadline: Deadline | None = None,
) -> tuple[SeedOutcome, mujoco.MjSpec | None]:
    """Judge one design on one variant: static rules, then the rollout. Never raises for the design's faults."""
    record = scene.record
    cost: DesignCost | None = None
    try:
        design = load_design(design_dir, loader, deadline)
        cost = design_cost(design)  # reported even when a static rule fails
        judge_design(scene, design, loader.settings)
        pieces = design_pieces(design, decomposition, cache)
        spec = design_model(scene, scene_pieces, design, pieces, physics, settings)
        try:
            model = spec.compile()
        except ValueError as exc:
            raise DesignFailure(
                EvaluateCode.INVALID_GEOMETRY, f"MuJoCo cannot compile the design: {exc}"
            ) from None
    except DesignFailure as failure:
        return (
            SeedOutcome(
                seed=record.seed,
                scale=record.scale,
                success=False,
                code=failure.code,
                message=failure.message,
                cost_usd=cost.cost_usd if cost else None,
                weight_g=cost.weight_g if cost else None,
            ),
            None,
        )
    outcome = rollout(model, scene, design, physics, settings, recorder)
    return outcome.model_copy(update={"cost_usd": cost.cost_usd, "weight_g": cost.weight_g}), spec


__all__ = [
    "DesignCost",
    "DesignFailure",
    "EvaluateCode",
    "EvaluateSettings",
    "LoadedDesign",
    "SeedOutcome",
    "add_design",
    "design_cost",
    "design_model",
    "evaluate_variant",
    "judge_design",
    "load_design",
    "rollout",
]


# --- the report ----------------------------------------------------------------------------


class EvaluationReport(BaseModel):
    """The verdict on one design for one benchmark: exactly what ``benchgen evaluate --json`` prints."""

    passed: bool
    code: EvaluateCode | None
    """The first failing variant's code (``None`` when every variant was solved)."""
    message: str
    success_rate: float
    per_seed: list[SeedOutcome]
    cost_usd: float | None
    """The most expensive variant's design cost (designs adapt to each variant)."""
    weight_g: float | None
    metrics: dict[str, object] = Field(default_factory=dict)
    artifacts: dict[str, object] = Field(default_factory=dict)


def summarize(outcomes: list[SeedOutcome], metrics: dict[str, object] | None = None) -> EvaluationReport:
    """Aggregate per-variant outcomes: passed only when every variant was solved."""
    solved = [o for o in outcomes if o.success]
    failed = [o for o in outcomes if not o.success]
    costs = [o.cost_usd for o in outcomes if o.cost_usd is not None]
    weights = [o.weight_g for o in outcomes if o.weight_g is not None]
    if not outcomes:
        message = "no variant was evaluated"
    elif failed:
        first = failed[0]
        message = f"{len(solved)}/{len(outcomes)} variants solved; seed={first.seed}, scale={first.scale:g}: {first.message}"
    else:
        message = f"all {len(outcomes)} variants solved"
    return EvaluationReport(
        passed=bool(outcomes) and not failed,
        code=failed[0].code if failed else (None if outcomes else EvaluateCode.CONTRACT_ERROR),
        message=message,
        success_rate=round(len(solved) / len(outcomes), 4) if outcomes else 0.0,
        per_seed=outcomes,
        cost_usd=max(costs) if costs else None,
        weight_g=max(weights) if weights else None,
        metrics=dict(metrics or {}),
    )


# --- artifacts ------------------------------------------------------------------------------


def write_design_artifacts(
    out_dir: Path,
    spec: mujoco.MjSpec,
    scene: LoadedScene,
    recorder: RolloutRecorder | None,
    render: RenderSettings | None = None,
    views: list[View] | None = None,
) -> dict[str, object]:
    """``model.xml`` + meshes with the design in it, renders of the designed scene (default: the
    24 standard views) and the rollout animation."""
    out_dir.mkdir(parents=True, exist_ok=True)
    xml = write_mjcf(spec, out_dir)
    model = spec.compile()
    renders = render_views(model, bounds_frame(scene.record), out_dir / "renders", render, views)
    artifacts: dict[str, object] = {
        "model": xml.name,
        "renders": [p.relative_to(out_dir).as_posix() for p in renders],
    }
    if recorder is not None and recorder.frames:
        recorder.save(out_dir / "rollout.gif", out_dir / "rollout_poster.png")
        artifacts["animation"] = "rollout.gif"
        artifacts["poster"] = "rollout_poster.png"
    return artifacts


# --- judging a solution over many variants ----------------------------------------------------


_SANDBOX_STATUS: dict[str, EvaluateCode] = {
    "script_error": EvaluateCode.SCRIPT_ERROR,
    "contract_error": EvaluateCode.CONTRACT_ERROR,
    "timeout": EvaluateCode.TIMEOUT,
    "resource_limit": EvaluateCode.RESOURCE_LIMIT,
    "sandbox_violation": EvaluateCode.SANDBOX_VIOLATION,
}


class SolutionRun(BaseModel):
    """How one solution was judged on a set of variants."""

    model_config = {"arbitrary_types_allowed": True}

    report: EvaluationReport
    spec: mujoco.MjSpec | None = None
    """The first variant's model with the design in it (None when that variant failed before simulation)."""


def judge_solution(
    solution: Path,
    scenes: list[LoadedScene],
    scene_pieces: list[dict[str, list[CollisionPiece]]],
    loader: GeometryLoader,
    physics: PhysicsSettings,
    decomposition: DecompositionSettings,
    settings: EvaluateSettings,
    cache: DecompositionCache | None,
    limits: SandboxLimits,
    workdir: Path,
    *,
    unsafe_no_isolation: bool | None = None,
    deadline: Deadline | None = None,
    recorder: Recorder | None = None,
) -> SolutionRun:
    """Run ``design(view)`` of an untrusted solution in the sandbox for every variant, then judge each.

    ``scenes`` are trusted, already-validated builds with their collision pieces. The
    solution sees only the :class:`SceneView` of each (written by :func:`write_view`); what
    it returns is loaded and judged here. ``recorder`` watches the first variant's rollout.
    """
    views = workdir / "views"
    for index, scene in enumerate(scenes):
        write_view(scene, views / str(index))
    requests = [BuildRequest(seed=s.record.seed, scale=s.record.scale) for s in scenes]
    result = run_script(
        solution,
        requests,
        workdir / "solution",
        limits,
        unsafe_no_isolation=unsafe_no_isolation,
        kind="design",
        views=views,
    )
    outcomes: list[SeedOutcome] = []
    first_spec: mujoco.MjSpec | None = None
    for index, scene in enumerate(scenes):
        record = scene.record
        if index < len(result.builds):
            if deadline is not None:
                deadline.check(f"judging the design at {scene.where}")
            outcome, spec = evaluate_variant(
                scene,
                scene_pieces[index],
                result.builds[index].directory,
                loader,
                physics,
                decomposition,
                settings,
                cache,
                recorder if index == 0 else None,
                deadline,
            )
            if index == 0:
                first_spec = spec
        else:
            code = _SANDBOX_STATUS.get(result.status, EvaluateCode.SCRIPT_ERROR)
            at_fault = result.failed is not None and (result.failed.seed, result.failed.scale) == (
                record.seed,
                record.scale,
            )
            message = result.message if at_fault or result.failed is None else f"not run: {result.message}"
            if result.traceback and at_fault:
                message = f"{message}\n{result.traceback}"
            outcome = SeedOutcome(
                seed=record.seed, scale=record.scale, success=False, code=code, message=message
            )
        outcomes.append(outcome)
    metrics: dict[str, object] = {
        "isolation": result.isolation,
        "sandbox": {"import_s": round(result.import_seconds, 3), "wall_s": round(result.wall_seconds, 3)},
    }
    return SolutionRun(report=summarize(outcomes, metrics), spec=first_spec)
