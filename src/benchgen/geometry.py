"""Trusted geometry: load the BREP files a sandboxed build emitted and check them.

Everything here works on data (BREP files and ``scene.json``), never on the script.
Shapes are re-imported with OCP through build123d, validated with OCCT's shape checker,
tessellated once, and then compared as meshes with manifold3d (fast, robust booleans).
All lengths are millimetres.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import manifold3d
import numpy as np
import trimesh
from pydantic import BaseModel, ValidationError

from benchgen.scenario import Zone
from benchgen.scene import MAX_SCENE_JSON_BYTES, SCENE_FILE, BodyRecord, SceneRecord
from benchgen.verdict import CheckFailure, RejectCode


class GeometrySettings(BaseModel):
    """Tolerances of the geometric checks (millimetres unless stated)."""

    tessellation_tolerance: float = 0.05
    """Maximum chordal deviation of a tessellated surface from the exact one."""
    angular_tolerance: float = 0.2
    """Maximum angle (radians) between adjacent facet normals on curved surfaces."""
    min_overlap_mm3: float = 1.0
    """Overlap volumes below this count as touching, not intersecting."""
    bounds_tolerance: float = 1e-3
    """Slack when testing containment in ``bounds``, to absorb floating-point noise."""


@dataclass(frozen=True)
class TriMesh:
    """A closed triangle mesh: vertices (n, 3) float64 in mm, faces (m, 3) int64."""

    vertices: np.ndarray
    faces: np.ndarray

    @cached_property
    def manifold(self) -> manifold3d.Manifold:
        """The mesh as a manifold3d solid, for booleans."""
        mesh = manifold3d.Mesh(
            np.ascontiguousarray(self.vertices, dtype=np.float32),
            np.ascontiguousarray(self.faces, dtype=np.uint32),
        )
        return manifold3d.Manifold(mesh)

    @property
    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (min corner, max corner)."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def translated(self, offset: np.ndarray | tuple[float, float, float]) -> TriMesh:
        """A copy moved by ``offset``."""
        return TriMesh(self.vertices + np.asarray(offset, dtype=float), self.faces)


def merge_meshes(meshes: list[TriMesh]) -> TriMesh:
    """Concatenate meshes into one vertex/face array pair (solids stay disjoint)."""
    vertices, faces, base = [], [], 0
    for mesh in meshes:
        vertices.append(mesh.vertices)
        faces.append(mesh.faces + base)
        base += len(mesh.vertices)
    return TriMesh(np.concatenate(vertices), np.concatenate(faces))


@dataclass(frozen=True)
class SolidGeometry:
    """One solid: exact volume and bounding box from the BREP, plus its tessellation."""

    mesh: TriMesh
    volume_mm3: float
    bbox_min: np.ndarray
    bbox_max: np.ndarray


@dataclass(frozen=True)
class BodyGeometry:
    """One body's exact properties (from the BREP) and its tessellation, one entry per solid."""

    label: str
    solids: list[SolidGeometry]
    volume_mm3: float
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    centroid: np.ndarray
    brep_sha256: str

    @cached_property
    def mesh(self) -> TriMesh:
        """All solids as one mesh."""
        return merge_meshes([s.mesh for s in self.solids])

    @cached_property
    def manifold(self) -> manifold3d.Manifold:
        """All solids as one manifold3d solid."""
        return manifold3d.Manifold.batch_boolean(
            [s.mesh.manifold for s in self.solids], manifold3d.OpType.Add
        )

    def fingerprint(self) -> list[object]:
        """Rounded exact properties; equal for two builds of the same shape."""
        return [
            self.label,
            len(self.solids),
            round(self.volume_mm3, 4),
            [round(float(v), 5) for v in (*self.bbox_min, *self.bbox_max, *self.centroid)],
        ]


@dataclass(frozen=True)
class LoadedScene:
    """A scene record with the geometry of every body, loaded by trusted code."""

    record: SceneRecord
    directory: Path
    bodies: dict[str, BodyGeometry] = field(default_factory=dict)

    @property
    def parts(self) -> list[tuple[BodyRecord, BodyGeometry]]:
        """Parts with their geometry, in script order."""
        return [(p, self.bodies[p.label]) for p in self.record.parts]

    @property
    def payload(self) -> BodyGeometry:
        """The payload geometry, around the payload's own origin."""
        return self.bodies[self.record.payload.label]

    @property
    def where(self) -> str:
        """``seed=…, scale=…`` for messages."""
        return f"seed={self.record.seed}, scale={self.record.scale:g}"


def read_scene_record(directory: Path) -> SceneRecord:
    """Parse ``scene.json`` from a build directory, as untrusted input."""
    path = directory / SCENE_FILE
    if not path.is_file():
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"build produced no {SCENE_FILE}")
    if path.stat().st_size > MAX_SCENE_JSON_BYTES:
        raise CheckFailure(
            RejectCode.CONTRACT_ERROR, f"{SCENE_FILE} is larger than {MAX_SCENE_JSON_BYTES} bytes"
        )
    try:
        return SceneRecord.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"invalid scenario: {exc}") from None


def tessellate_solid(solid: object, settings: GeometrySettings) -> TriMesh:
    """Tessellate one build123d solid into a vertex-merged closed mesh."""
    raw_vertices, raw_faces = solid.tessellate(  # type: ignore[attr-defined]
        settings.tessellation_tolerance, settings.angular_tolerance
    )
    vertices = np.array([(v.X, v.Y, v.Z) for v in raw_vertices], dtype=float)
    faces = np.asarray(raw_faces, dtype=np.int64).reshape(-1, 3)
    # OCCT emits one vertex set per face; manifold booleans need shared vertices.
    merged = trimesh.Trimesh(vertices, faces, process=True)
    return TriMesh(np.asarray(merged.vertices), np.asarray(merged.faces, dtype=np.int64))


def _vec(vector: object) -> np.ndarray:
    """A build123d Vector as a float array."""
    return np.array([vector.X, vector.Y, vector.Z], dtype=float)  # type: ignore[attr-defined]


def load_body(directory: Path, body: BodyRecord, settings: GeometrySettings) -> BodyGeometry:
    """Import, validate and tessellate one body's BREP file.

    Raises ``contract_error`` for an empty shape and ``invalid_geometry`` for anything that
    is not a valid closed solid with volume.
    """
    from build123d import import_brep

    path = directory / body.brep
    if not path.is_file():
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"{body.label!r}: shape file missing")
    data = path.read_bytes()
    try:
        shape = import_brep(str(path))
    except Exception as exc:  # a malformed BREP is bad geometry, not our crash
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{body.label!r}: unreadable shape ({exc})") from None
    solids = list(shape.solids())
    if not solids:
        if not list(shape.faces()):
            raise CheckFailure(RejectCode.CONTRACT_ERROR, f"{body.label!r}: empty shape")
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY, f"{body.label!r}: shape has faces but no solid (not a closed solid)"
        )
    geometries = []
    for index, solid in enumerate(solids):
        if not solid.is_valid:
            raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{body.label!r}: solid {index} is not valid")
        if not solid.volume > 1e-9:
            raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{body.label!r}: solid {index} has no volume")
        mesh = tessellate_solid(solid, settings)
        if mesh.manifold.status() != manifold3d.Error.NoError:
            raise CheckFailure(
                RejectCode.INVALID_GEOMETRY,
                f"{body.label!r}: solid {index} does not tessellate to a closed surface",
            )
        solid_box = solid.bounding_box()
        geometries.append(
            SolidGeometry(
                mesh=mesh,
                volume_mm3=float(solid.volume),
                bbox_min=_vec(solid_box.min),
                bbox_max=_vec(solid_box.max),
            )
        )
    box = shape.bounding_box()
    return BodyGeometry(
        label=body.label,
        solids=geometries,
        volume_mm3=float(sum(s.volume for s in solids)),
        bbox_min=_vec(box.min),
        bbox_max=_vec(box.max),
        centroid=_vec(shape.center()),
        brep_sha256=hashlib.sha256(data).hexdigest(),
    )


def load_scene(directory: Path, settings: GeometrySettings) -> LoadedScene:
    """Load and validate a whole build: record, then every body's geometry."""
    record = read_scene_record(directory)
    bodies = {body.label: load_body(directory, body, settings) for body in record.bodies}
    return LoadedScene(record=record, directory=directory, bodies=bodies)


def jitter_corners(jitter: tuple[float, float, float]) -> np.ndarray:
    """The 8 corners of the ±jitter box (duplicates collapse when an axis has no jitter)."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
    return np.unique(signs * np.asarray(jitter, dtype=float), axis=0)


def payload_envelope(scene: LoadedScene) -> TriMesh:
    """Every place the payload can occupy at spawn: its convex hull swept over start ± jitter.

    The hull of a translated convex set over a box's corners is exactly its Minkowski sum
    with the box, so this is a tight, conservative envelope for convex payloads.
    """
    payload = scene.record.payload
    points = scene.payload.mesh.vertices
    offsets = jitter_corners(payload.jitter) + np.asarray(payload.start, dtype=float)
    swept = (points[None, :, :] + offsets[:, None, :]).reshape(-1, 3)
    hull = trimesh.Trimesh(swept).convex_hull
    return TriMesh(np.asarray(hull.vertices), np.asarray(hull.faces, dtype=np.int64))


def zone_manifold(zone: Zone) -> manifold3d.Manifold:
    """A zone as a manifold3d box."""
    return manifold3d.Manifold.cube(zone.size).translate(zone.min)


def _outside(lo: np.ndarray, hi: np.ndarray, bounds: Zone, tol: float) -> str | None:
    """Which axis/side of ``bounds`` an AABB crosses, or None when it is inside."""
    for axis, name in enumerate("xyz"):
        if lo[axis] < bounds.min[axis] - tol:
            return f"{name}={lo[axis]:.1f} < bounds min {bounds.min[axis]:.1f}"
        if hi[axis] > bounds.max[axis] + tol:
            return f"{name}={hi[axis]:.1f} > bounds max {bounds.max[axis]:.1f}"
    return None


def check_bounds(scene: LoadedScene, settings: GeometrySettings) -> None:
    """Every part and the payload's spawn envelope must lie inside ``bounds`` (``out_of_bounds``)."""
    bounds = scene.record.bounds
    for part, geom in scene.parts:
        crossing = _outside(geom.bbox_min, geom.bbox_max, bounds, settings.bounds_tolerance)
        if crossing:
            raise CheckFailure(
                RejectCode.OUT_OF_BOUNDS,
                f"part {part.label!r} lies outside bounds at {scene.where}: {crossing}",
            )
    lo, hi = payload_envelope(scene).aabb
    crossing = _outside(lo, hi, bounds, settings.bounds_tolerance)
    if crossing:
        raise CheckFailure(
            RejectCode.OUT_OF_BOUNDS,
            f"payload {scene.record.payload.label!r} start envelope lies outside bounds at {scene.where}: {crossing}",
        )


def _zone_inside(zone: Zone, bounds: Zone, tol: float) -> bool:
    return all(zone.min[i] >= bounds.min[i] - tol and zone.max[i] <= bounds.max[i] + tol for i in range(3))


def _zones_overlap(a: Zone, b: Zone) -> bool:
    return all(a.min[i] < b.max[i] and b.min[i] < a.max[i] for i in range(3))


def check_zones(scene: LoadedScene, settings: GeometrySettings) -> None:
    """Zones inside bounds, goal clear of forbid zones, payload spawn clear of forbid zones."""
    record = scene.record
    for role, zone in record.zones():
        if not _zone_inside(zone, record.bounds, settings.bounds_tolerance):
            raise CheckFailure(
                RejectCode.ZONE_CONFLICT, f"{role} zone {zone.name!r} is not inside bounds at {scene.where}"
            )
    envelope = payload_envelope(scene).manifold
    for zone in record.forbid_zones:
        if _zones_overlap(record.goal_zone, zone):
            raise CheckFailure(
                RejectCode.ZONE_CONFLICT,
                f"goal zone {record.goal_zone.name!r} overlaps forbid zone {zone.name!r} at {scene.where}",
            )
        overlap = (envelope ^ zone_manifold(zone)).volume()
        if overlap > settings.min_overlap_mm3:
            raise CheckFailure(
                RejectCode.ZONE_CONFLICT,
                f"payload start envelope enters forbid zone {zone.name!r} at {scene.where} "
                f"({overlap:.1f} mm³)",
            )


def _aabbs_overlap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return bool(np.all(a[0] < b[1]) and np.all(b[0] < a[1]))


def check_intersections(scene: LoadedScene, settings: GeometrySettings) -> None:
    """No two parts overlap, and no part overlaps the payload's spawn envelope (``intersection``)."""
    parts = scene.parts
    boxes = [(g.bbox_min, g.bbox_max) for _, g in parts]
    for i, (part_a, geom_a) in enumerate(parts):
        for j in range(i + 1, len(parts)):
            part_b, geom_b = parts[j]
            if not _aabbs_overlap(boxes[i], boxes[j]):
                continue
            overlap = (geom_a.manifold ^ geom_b.manifold).volume()
            if overlap > settings.min_overlap_mm3:
                raise CheckFailure(
                    RejectCode.INTERSECTION,
                    f"parts {part_a.label!r} and {part_b.label!r} overlap by {overlap:.1f} mm³ at {scene.where}",
                )
    envelope = payload_envelope(scene)
    label = scene.record.payload.label
    for (part, geom), box in zip(parts, boxes, strict=True):
        if not _aabbs_overlap(envelope.aabb, box):
            continue
        overlap = (envelope.manifold ^ geom.manifold).volume()
        if overlap > settings.min_overlap_mm3:
            raise CheckFailure(
                RejectCode.INTERSECTION,
                f"part {part.label!r} overlaps payload {label!r} at its start (jitter included) "
                f"by {overlap:.1f} mm³ at {scene.where}",
            )


def scene_fingerprint(scene: LoadedScene) -> str:
    """A hash of everything a build decides: the record and every body's exact properties."""
    payload = {
        "record": scene.record.model_dump(mode="json"),
        "bodies": [scene.bodies[b.label].fingerprint() for b in scene.record.bodies],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def scene_extent(scene: LoadedScene) -> tuple[np.ndarray, np.ndarray]:
    """AABB of all parts plus the payload at its nominal start."""
    lows = [g.bbox_min for _, g in scene.parts]
    highs = [g.bbox_max for _, g in scene.parts]
    start = np.asarray(scene.record.payload.start, dtype=float)
    lows.append(scene.payload.bbox_min + start)
    highs.append(scene.payload.bbox_max + start)
    return np.min(lows, axis=0), np.max(highs, axis=0)


STEP_TIMESTAMP = re.compile(r"(FILE_NAME\('[^']*',)'[^']*'")


def export_step_files(scene: LoadedScene, out_dir: Path) -> list[Path]:
    """Write ``<label>.step`` for every body (payload at its own origin) from the validated BREPs."""
    from build123d import export_step, import_brep

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for body in scene.record.bodies:
        path = out_dir / f"{body.label}.step"
        export_step(import_brep(str(scene.directory / body.brep)), str(path))
        # STEP headers carry the export time; pin it so identical scenes give identical files.
        text = STEP_TIMESTAMP.sub(r"\g<1>'1970-01-01T00:00:00'", path.read_text())
        path.write_text(text)
        paths.append(path)
    return paths
