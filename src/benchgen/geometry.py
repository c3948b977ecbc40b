"""Trusted geometry: load the BREP files a sandboxed build emitted and check them.

Everything here works on data (BREP files and ``scene.json``), never on the script, and
believes nothing in those files but their exact geometry:

- A BREP may carry its own triangulations, polygons and tolerances. Stored triangulations
  and polygons are discarded before anything is measured, a tolerance above
  ``max_tolerance_mm`` is ``invalid_geometry``, every solid is re-meshed from its exact
  surfaces, and each mesh is cross-checked against the exact solid (bounding box and
  volume, within what the meshing deflection allows). Every mesh-based check (overlaps,
  the payload envelope, collision pieces, MJCF meshes) therefore sees only these meshes.
- Exact properties (volume, area, bounding box, centroid, face types) come from OCCT's
  integration of the exact surfaces, never from a triangulation.
- OCCT's BREP reader is not robust against hostile files (a truncated file can make it
  loop forever), so BREPs are read, validated and meshed in a separate loader process
  (:class:`GeometryLoader`) with a memory limit and a per-body time limit; a crash or
  timeout there is a verdict, not a hang of the checker.
- Meshes are compared with manifold3d in float64, and every coordinate must lie within
  the contract's working range (±100 m).
- The number of bodies, faces and triangles per scene is capped (``resource_limit``).

All lengths are millimetres.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import manifold3d
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchgen.scenario import WORKING_RANGE_MM, Zone
from benchgen.scene import MAX_SCENE_JSON_BYTES, SCENE_FILE, BodyRecord, SceneRecord
from benchgen.verdict import CheckFailure, Deadline, RejectCode


class GeometrySettings(BaseModel):
    """Tolerances and limits of the geometric checks (millimetres unless stated)."""

    tessellation_tolerance: float = 0.05
    """Linear deflection of the tessellation, relative to the size of each edge and face
    (OCCT's relative mode); the angular tolerance bounds it on large curved faces."""
    angular_tolerance: float = 0.2
    """Maximum angle (radians) between adjacent facet normals on curved surfaces."""
    min_overlap_mm3: float = 1.0
    """Overlap volumes below this count as touching, not intersecting."""
    bounds_tolerance: float = 1e-3
    """Slack when testing containment in ``bounds``, to absorb floating-point noise."""
    ground_tolerance_mm: float = 0.01
    """How far below the ground (z=0) a part or the payload's start envelope may reach."""
    max_tolerance_mm: float = 0.01
    """Largest vertex, edge or face tolerance a BREP may carry. OCCT models at 1e-7 mm; a
    large tolerance lets a "valid" solid have gaps or overlaps of that size."""
    max_bodies: int = Field(default=256, ge=1)
    """Parts plus payload per scene."""
    max_faces: int = Field(default=50_000, ge=1)
    """Exact faces over all bodies of one scene, checked before meshing."""
    max_triangles: int = Field(default=2_000_000, ge=1)
    """Triangles over all bodies of one scene after meshing."""
    max_brep_bytes: int = Field(default=64 << 20, ge=1)
    """Size of one body's BREP file."""
    body_timeout_s: float = Field(default=120.0, gt=0)
    """Wall time the loader process may spend reading, validating and meshing one body."""
    loader_memory_mb: int = Field(default=4096, ge=256)
    """Address-space limit of the loader process."""


# --- meshes and loaded geometry ------------------------------------------------------------


@dataclass(frozen=True)
class TriMesh:
    """A closed triangle mesh: vertices (n, 3) float64 in mm, faces (m, 3) int64."""

    vertices: np.ndarray
    faces: np.ndarray

    @cached_property
    def manifold(self) -> manifold3d.Manifold:
        """The mesh as a manifold3d solid, for booleans; float64 end to end (no float32 rounding)."""
        mesh = manifold3d.Mesh64(
            np.ascontiguousarray(self.vertices, dtype=np.float64),
            np.ascontiguousarray(self.faces, dtype=np.uint64),
        )
        return manifold3d.Manifold(mesh)

    @property
    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (min corner, max corner)."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def translated(self, offset: np.ndarray | tuple[float, float, float]) -> TriMesh:
        """A copy moved by ``offset``."""
        return TriMesh(self.vertices + np.asarray(offset, dtype=float), self.faces)

    @property
    def signed_volume(self) -> float:
        """Enclosed volume (positive for outward-facing triangles), in float64."""
        a, b, c = (self.vertices[self.faces[:, k]] for k in range(3))
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def merge_meshes(meshes: list[TriMesh]) -> TriMesh:
    """Concatenate meshes into one vertex/face array pair (solids stay disjoint)."""
    vertices, faces, base = [], [], 0
    for mesh in meshes:
        vertices.append(mesh.vertices)
        faces.append(mesh.faces + base)
        base += len(mesh.vertices)
    return TriMesh(np.concatenate(vertices), np.concatenate(faces))


@dataclass(frozen=True)
class FaceSummary:
    """One exact face: its surface type and the parameters of analytic surfaces (mm).

    ``kind`` is OCCT's surface type in lower case (``plane``, ``sphere``, ``cylinder``,
    ``cone``, ``torus``, ``bsplinesurface``, ...). For a plane ``origin`` is a point on it
    and ``axis`` its normal; for a sphere the centre and ``radius``; for cylinders, cones
    and tori a point on the axis, the axis and the (major) radius; zeros otherwise.
    """

    kind: str
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = 0.0


@dataclass(frozen=True)
class SolidGeometry:
    """One solid: exact volume and bounding box from the BREP, plus its trusted tessellation.

    ``faces``, ``area_mm2`` and ``centroid`` are exact too (zero/empty when unknown).
    """

    mesh: TriMesh
    volume_mm3: float
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    faces: tuple[FaceSummary, ...] = ()
    area_mm2: float = 0.0
    centroid: np.ndarray | None = None


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

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """The exact bounding box as (min corner, max corner)."""
        return self.bbox_min, self.bbox_max

    @property
    def triangles(self) -> int:
        """Triangles over all solids."""
        return sum(len(s.mesh.faces) for s in self.solids)

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

    @cached_property
    def envelope(self) -> TriMesh:
        """The payload's start envelope (see :func:`payload_envelope`), computed once."""
        return payload_envelope(self)


def read_scene_record(directory: Path) -> SceneRecord:
    """Parse ``scene.json`` from a build directory, as untrusted input (``contract_error`` if bad)."""
    path = directory / SCENE_FILE
    try:
        data = _read_plain_file(path, MAX_SCENE_JSON_BYTES)
    except FileNotFoundError:
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"build produced no {SCENE_FILE}") from None
    except (OSError, ValueError) as exc:
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"{SCENE_FILE} refused: {exc}") from None
    try:
        return SceneRecord.model_validate_json(data)
    except ValidationError as exc:
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"invalid scenario: {exc}") from None
    except (ValueError, RecursionError) as exc:  # belt and braces: pydantic reports bad JSON itself
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"invalid {SCENE_FILE}: {exc}") from None


def _read_plain_file(path: Path, max_bytes: int) -> bytes:
    """Read a regular file the sandbox wrote, refusing links, devices and oversize files."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name} is not a plain file")
        if info.st_size > max_bytes:
            raise ValueError(f"{path.name} is {info.st_size} bytes, over the {max_bytes}-byte limit")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path.name} is over the {max_bytes}-byte limit")
    return data


# --- exact geometry of one body (OCP; runs in the loader process) ------------------------------

_BREP_SECTIONS = (
    b"Locations",
    b"Curve2ds",
    b"Curves",
    b"Polygon3D",
    b"PolygonOnTriangulations",
    b"Surfaces",
    b"Triangulations",
    b"TShapes",
)
# The last line of a complete BREP names the root shape: orientation, index, location.
_BREP_ROOT = re.compile(rb"[+\-ie][0-9]+ [0-9]+")


def _check_brep_text(data: bytes, label: str) -> None:
    """Refuse files that are visibly not a complete ASCII BREP before OCCT's reader sees them.

    OCCT's reader loops forever on some truncated files; a complete file has every section
    header in order and ends with the root shape's reference.
    """
    position = 0
    for section in _BREP_SECTIONS:
        found = re.compile(rb"^" + section + rb" [0-9]+\s*$", re.MULTILINE).search(data, position)
        if found is None:
            raise CheckFailure(
                RejectCode.INVALID_GEOMETRY,
                f"{label!r}: the shape file is not a complete BREP (no {section.decode()} section)",
            )
        position = found.end()
    lines = data.rstrip().rsplit(b"\n", 1)
    if _BREP_ROOT.fullmatch(lines[-1].strip()) is None:
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY, f"{label!r}: the shape file is truncated (no root shape at its end)"
        )


def _read_shape(data: bytes, label: str) -> Any:
    from OCP.BRep import BRep_Builder
    from OCP.BRepTools import BRepTools
    from OCP.TopoDS import TopoDS_Shape

    _check_brep_text(data, label)
    shape = TopoDS_Shape()
    try:
        BRepTools.Read_s(shape, io.BytesIO(data), BRep_Builder())
    except Exception as exc:  # a malformed BREP is bad geometry, not our crash
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: unreadable shape ({exc})") from None
    if shape.IsNull():
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: unreadable shape (no shape in the file)")
    return shape


def _unique(shape: Any, kind: Any) -> list[Any]:
    """Sub-shapes of one kind (solids or faces), each once (same TShape and location), in exploration order."""
    from OCP.collections import IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher as ShapeMap
    from OCP.TopAbs import TopAbs_SOLID
    from OCP.TopExp import TopExp
    from OCP.TopoDS import TopoDS

    found = ShapeMap()
    TopExp.MapShapes_s(shape, kind, found)
    cast = TopoDS.Solid if kind == TopAbs_SOLID else TopoDS.Face
    return [cast(found.FindKey(i)) for i in range(1, found.Extent() + 1)]


def _check_tolerances(shape: Any, label: str, settings: GeometrySettings) -> None:
    from OCP.BRep import BRep_Tool
    from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_VERTEX

    for kind, name in ((TopAbs_VERTEX, "a vertex"), (TopAbs_EDGE, "an edge"), (TopAbs_FACE, "a face")):
        tolerance = BRep_Tool.MaxTolerance_s(shape, kind)
        if not tolerance <= settings.max_tolerance_mm:  # NaN fails too
            raise CheckFailure(
                RejectCode.INVALID_GEOMETRY,
                f"{label!r}: {name} tolerance of {tolerance:.3g} mm exceeds {settings.max_tolerance_mm:g} mm "
                "(the exact surfaces do not meet; simplify the operation that made it, e.g. shell before filleting)",
            )


def _vec(point: Any) -> tuple[float, float, float]:
    return (float(point.X()), float(point.Y()), float(point.Z()))


def _face_summary(face: Any, label: str) -> FaceSummary:
    from OCP.BRep import BRep_Tool
    from OCP.BRepAdaptor import BRepAdaptor_Surface
    from OCP.GeomAbs import GeomAbs_SurfaceType as Kind

    if BRep_Tool.Surface_s(face) is None:
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: a face has no exact surface")
    surface = BRepAdaptor_Surface(face, True)
    kind = surface.GetType()
    name = kind.name.removeprefix("GeomAbs_").lower()
    if kind == Kind.GeomAbs_Plane:
        axis = surface.Plane().Axis()
        return FaceSummary(name, _vec(axis.Location()), _vec(axis.Direction()))
    if kind == Kind.GeomAbs_Sphere:
        sphere = surface.Sphere()
        return FaceSummary(
            name, _vec(sphere.Location()), _vec(sphere.Position().Direction()), sphere.Radius()
        )
    if kind == Kind.GeomAbs_Cylinder:
        cylinder = surface.Cylinder()
        return FaceSummary(name, *_axis(cylinder.Axis()), cylinder.Radius())
    if kind == Kind.GeomAbs_Cone:
        cone = surface.Cone()
        return FaceSummary(name, *_axis(cone.Axis()), cone.RefRadius())
    if kind == Kind.GeomAbs_Torus:
        torus = surface.Torus()
        return FaceSummary(name, *_axis(torus.Axis()), torus.MajorRadius())
    return FaceSummary(name)


def _axis(axis: Any) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    return _vec(axis.Location()), _vec(axis.Direction())


@dataclass(frozen=True)
class _Exact:
    volume: float
    area: float
    centroid: np.ndarray
    bbox_min: np.ndarray
    bbox_max: np.ndarray


def _exact_properties(solid: Any) -> _Exact:
    """Volume, area, centroid and tight bounding box from the exact surfaces (no triangulation)."""
    from OCP.Bnd import Bnd_Box
    from OCP.BRepBndLib import BRepBndLib
    from OCP.BRepGProp import BRepGProp
    from OCP.GProp import GProp_GProps

    volume = GProp_GProps()
    BRepGProp.VolumeProperties_s(solid, volume, False, False, False)
    area = GProp_GProps()
    BRepGProp.SurfaceProperties_s(solid, area, False, False)
    box = Bnd_Box()
    BRepBndLib.AddOptimal_s(solid, box, False, False)
    if box.IsVoid():
        lo = hi = np.full(3, np.nan)
    else:
        lo, hi = np.array(_vec(box.CornerMin())), np.array(_vec(box.CornerMax()))
    return _Exact(float(volume.Mass()), float(area.Mass()), np.array(_vec(volume.CentreOfMass())), lo, hi)


def _mesh_solid(solid: Any, settings: GeometrySettings, label: str) -> tuple[TriMesh, float, int]:
    """Mesh one solid from its exact surfaces; returns the merged mesh, its largest deflection and raw triangles.

    The caller has removed any stored triangulation, so OCCT meshes from scratch.
    """
    from OCP.BRep import BRep_Tool
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.TopAbs import TopAbs_FACE, TopAbs_Orientation
    from OCP.TopLoc import TopLoc_Location

    BRepMesh_IncrementalMesh(solid, settings.tessellation_tolerance, True, settings.angular_tolerance, True)
    vertices: list[np.ndarray] = []
    triangles: list[np.ndarray] = []
    offset, deflection = 0, 0.0
    for face in _unique(solid, TopAbs_FACE):
        location = TopLoc_Location()
        poly = BRep_Tool.Triangulation_s(face, location)
        if poly is None or poly.NbNodes() == 0 or poly.NbTriangles() == 0:
            raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: a face could not be meshed")
        nodes = np.array([_vec(poly.Node(i)) for i in range(1, poly.NbNodes() + 1)], dtype=np.float64)
        if not location.IsIdentity():
            trsf = location.Transformation()
            matrix = np.array([[trsf.Value(r, c) for c in range(1, 5)] for r in range(1, 4)])
            nodes = nodes @ matrix[:, :3].T + matrix[:, 3]
        tris = (
            np.array([poly.Triangle(i).Get() for i in range(1, poly.NbTriangles() + 1)], dtype=np.int64) - 1
        )
        if face.Orientation() == TopAbs_Orientation.TopAbs_REVERSED:
            tris = tris[:, [0, 2, 1]]
        vertices.append(nodes)
        triangles.append(tris + offset)
        offset += len(nodes)
        deflection = max(deflection, float(poly.Deflection()))
    raw_vertices, raw_faces = np.concatenate(vertices), np.concatenate(triangles)
    # OCCT emits one vertex set per face; manifold booleans need shared vertices.
    import trimesh  # here, not at the top: the checker itself never needs it

    merged = trimesh.Trimesh(raw_vertices, raw_faces, process=True)
    mesh = TriMesh(np.asarray(merged.vertices, dtype=np.float64), np.asarray(merged.faces, dtype=np.int64))
    return mesh, deflection, len(raw_faces)


def _cross_check(mesh: TriMesh, exact: _Exact, deflection: float, label: str, index: int) -> None:
    """The mesh must match the exact solid: bounding box and volume, within what the deflection allows."""
    lo, hi = mesh.aabb
    size = float(np.linalg.norm(exact.bbox_max - exact.bbox_min))
    eps = 1e-6 * max(size, 1.0)
    # Mesh nodes lie on the exact surfaces: the mesh box is inside the exact box, and
    # short of it by at most the deflection (a chord's sag).
    inside = bool(np.all(lo >= exact.bbox_min - eps) and np.all(hi <= exact.bbox_max + eps))
    close = bool(
        np.all(lo <= exact.bbox_min + deflection + eps) and np.all(hi >= exact.bbox_max - deflection - eps)
    )
    if not (inside and close):
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY,
            f"{label!r}: solid {index}'s mesh box {np.round(lo, 3).tolist()}..{np.round(hi, 3).tolist()} does not "
            f"match its exact box {np.round(exact.bbox_min, 3).tolist()}..{np.round(exact.bbox_max, 3).tolist()}",
        )
    # Every surface point moves by at most the deflection, so the volume by at most area × deflection.
    volume = mesh.signed_volume
    allowed = exact.area * deflection + 1e-6 * exact.volume + 1e-9
    if not abs(volume - exact.volume) <= allowed:
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY,
            f"{label!r}: solid {index}'s mesh encloses {volume:.3f} mm³ but the exact solid {exact.volume:.3f} mm³",
        )


def _in_working_range(lo: np.ndarray, hi: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) and bool(
        max(np.abs(lo).max(), np.abs(hi).max()) <= WORKING_RANGE_MM
    )


def load_solid(
    solid: Any, label: str, index: int, settings: GeometrySettings, max_triangles: int | None = None
) -> SolidGeometry:
    """Validate, measure and mesh one exact solid (an OCP ``TopoDS_Solid`` without stored meshes)."""
    from OCP.BRepCheck import BRepCheck_Analyzer
    from OCP.TopAbs import TopAbs_FACE

    analyzer = BRepCheck_Analyzer(solid, True, True)
    if not analyzer.IsValid():
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: solid {index} is not valid")
    faces = tuple(_face_summary(face, label) for face in _unique(solid, TopAbs_FACE))
    exact = _exact_properties(solid)
    if not _in_working_range(exact.bbox_min, exact.bbox_max):
        raise CheckFailure(
            RejectCode.OUT_OF_BOUNDS,
            f"{label!r}: solid {index} reaches beyond the ±{WORKING_RANGE_MM / 1000:g} m working range "
            f"(box {exact.bbox_min.tolist()}..{exact.bbox_max.tolist()})",
        )
    if not exact.volume > 1e-9 or not math.isfinite(exact.area):
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: solid {index} has no volume")
    mesh, deflection, triangles = _mesh_solid(solid, settings, label)
    if max_triangles is not None and triangles > max_triangles:
        raise CheckFailure(
            RejectCode.RESOURCE_LIMIT,
            f"{label!r}: meshing solid {index} gives {triangles} triangles, over the scene's remaining "
            f"{max_triangles} (limit {settings.max_triangles} per scene)",
        )
    if mesh.manifold.status() != manifold3d.Error.NoError:
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY, f"{label!r}: solid {index} does not tessellate to a closed surface"
        )
    _cross_check(mesh, exact, deflection, label, index)
    return SolidGeometry(
        mesh=mesh,
        volume_mm3=exact.volume,
        bbox_min=exact.bbox_min,
        bbox_max=exact.bbox_max,
        faces=faces,
        area_mm2=exact.area,
        centroid=exact.centroid,
    )


def tessellate_solid(solid: object, settings: GeometrySettings) -> TriMesh:
    """Tessellate one solid (build123d or OCP) from its exact surfaces into a vertex-merged closed mesh."""
    from OCP.BRepTools import BRepTools

    wrapped = getattr(solid, "wrapped", solid)
    BRepTools.Clean_s(wrapped, True)
    return _mesh_solid(wrapped, settings, "solid")[0]


def load_brep_bytes(
    data: bytes,
    label: str,
    settings: GeometrySettings,
    max_faces: int | None = None,
    max_triangles: int | None = None,
) -> list[SolidGeometry]:
    """Every solid of an untrusted BREP, validated, measured and meshed from exact geometry.

    Stored triangulations and polygons are removed first; abnormal tolerances are refused.
    Raises ``contract_error`` for an empty shape, ``invalid_geometry`` for anything that is
    not a valid closed solid with volume, ``out_of_bounds`` beyond the working range and
    ``resource_limit`` over ``max_faces``/``max_triangles``. This runs OCCT on hostile
    input in the calling process; the checker calls it in a :class:`GeometryLoader`.
    """
    from OCP.BRepTools import BRepTools
    from OCP.TopAbs import TopAbs_FACE, TopAbs_SOLID

    shape = _read_shape(data, label)
    # Force: remove polygonal data even from faces that have nothing else (they then fail below).
    BRepTools.Clean_s(shape, True)
    _check_tolerances(shape, label, settings)
    solids = _unique(shape, TopAbs_SOLID)
    face_count = len(_unique(shape, TopAbs_FACE))
    if not solids:
        if not face_count:
            raise CheckFailure(RejectCode.CONTRACT_ERROR, f"{label!r}: empty shape")
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY, f"{label!r}: shape has faces but no solid (not a closed solid)"
        )
    if max_faces is not None and face_count > max_faces:
        raise CheckFailure(
            RejectCode.RESOURCE_LIMIT,
            f"{label!r} has {face_count} faces, over the scene's remaining {max_faces} "
            f"(limit {settings.max_faces} per scene)",
        )
    geometries = []
    for index, solid in enumerate(solids):
        geometry = load_solid(solid, label, index, settings, max_triangles)
        if max_triangles is not None:
            max_triangles -= len(geometry.mesh.faces)
        geometries.append(geometry)
    return geometries


def body_geometry(label: str, solids: list[SolidGeometry], brep_sha256: str) -> BodyGeometry:
    """Combine a body's solids: total volume, union box, volume-weighted centroid."""
    volume = float(sum(s.volume_mm3 for s in solids))
    centroids = [s.centroid if s.centroid is not None else (s.bbox_min + s.bbox_max) / 2 for s in solids]
    centroid = sum(c * s.volume_mm3 for c, s in zip(centroids, solids, strict=True)) / volume
    return BodyGeometry(
        label=label,
        solids=solids,
        volume_mm3=volume,
        bbox_min=np.min([s.bbox_min for s in solids], axis=0),
        bbox_max=np.max([s.bbox_max for s in solids], axis=0),
        centroid=np.asarray(centroid, dtype=float),
        brep_sha256=brep_sha256,
    )


def _read_brep_file(directory: Path, body: BodyRecord, settings: GeometrySettings) -> bytes:
    try:
        return _read_plain_file(directory / body.brep, settings.max_brep_bytes)
    except FileNotFoundError:
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"{body.label!r}: shape file missing") from None
    except (OSError, ValueError) as exc:
        raise CheckFailure(RejectCode.CONTRACT_ERROR, f"{body.label!r}: shape file refused ({exc})") from None


def load_body(directory: Path, body: BodyRecord, settings: GeometrySettings) -> BodyGeometry:
    """Import, validate and tessellate one body's BREP file in this process.

    See :func:`load_brep_bytes` for what is checked. OCCT's reader can hang or crash on a
    hostile file, so code that judges untrusted builds should load them through a
    :class:`GeometryLoader` instead.
    """
    data = _read_brep_file(directory, body, settings)
    try:
        solids = load_brep_bytes(data, body.label, settings)
    except CheckFailure:
        raise
    except MemoryError:
        raise CheckFailure(
            RejectCode.RESOURCE_LIMIT, f"{body.label!r}: out of memory loading the shape"
        ) from None
    except Exception as exc:  # OCCT raises its own exception types on bad geometry
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY, f"{body.label!r}: the shape could not be processed ({exc!r})"
        ) from None
    return body_geometry(body.label, solids, hashlib.sha256(data).hexdigest())


def _check_body_count(record: SceneRecord, settings: GeometrySettings) -> None:
    if len(record.bodies) > settings.max_bodies:
        raise CheckFailure(
            RejectCode.RESOURCE_LIMIT,
            f"the scene has {len(record.bodies)} bodies (seed={record.seed}, scale={record.scale:g}); "
            f"at most {settings.max_bodies} are checked",
        )


# --- the loader process ------------------------------------------------------------------------
#
# The loader reads hostile BREPs with OCCT, so it is a separate process with a memory limit
# and a per-body time limit, fresh for every GeometryLoader (one per check). Where the
# sandbox runs warm, it is a child of the sandbox's template (see benchgen.sandbox_runner):
# OCCT is already loaded, and it runs in its own namespaces under a seccomp filter that
# kills it on any forbidden call. Otherwise it is a new interpreter. Either way only
# bytes cross: a JSON header line, then ``size`` bytes (the BREP in, the meshes out).

_READY = "ready"
_WORKER_FLAG = "--geometry-loader"
_STARTUP_ALLOWANCE_S = 120.0
_MAX_REPLY_BYTES = 1 << 20
_MAX_PAYLOAD_BYTES = 1 << 30


class _LoaderJob(BaseModel):
    """One body for the loader: ``load`` (validate, measure, mesh) or ``step`` (export it as STEP).

    ``size`` bytes of BREP follow the line.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["load", "step"] = "load"
    label: str
    size: int = Field(ge=0)
    max_faces: int = 0
    max_triangles: int = 0


class _SolidMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    volume: float
    area: float
    centroid: tuple[float, float, float]
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    faces: list[tuple[str, tuple[float, float, float], tuple[float, float, float], float]]


class _LoaderReply(BaseModel):
    """The loader's answer for one body: its solids (meshes in the ``size`` bytes that follow, an npz) or a failure."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    status: Literal["ok", "fail"]
    code: RejectCode | None = None
    message: str = ""
    solids: list[_SolidMeta] = Field(default_factory=list)
    faces: int = 0
    """Exact faces over the body's solids (what the scene's face cap counts)."""
    triangles: int = 0
    """Triangles over the body's meshes (what the scene's triangle cap counts)."""
    size: int = Field(default=0, ge=0)


def _fail(code: RejectCode, message: str) -> _LoaderReply:
    return _LoaderReply(status="fail", code=code, message=message[:2000])


def _loader_answer(job: _LoaderJob, data: bytes, settings: GeometrySettings) -> tuple[_LoaderReply, bytes]:
    """The reply to one job and its payload (meshes as an npz, or STEP text)."""
    try:
        if job.kind == "step":
            payload = _step_bytes(data)
            return _LoaderReply(status="ok", size=len(payload)), payload
        solids = load_brep_bytes(data, job.label, settings, job.max_faces, job.max_triangles)
    except CheckFailure as failure:
        return _fail(failure.code, failure.message), b""
    except MemoryError:
        message = f"{job.label!r}: loading the shape ran out of memory ({settings.loader_memory_mb} MB)"
        return _fail(RejectCode.RESOURCE_LIMIT, message), b""
    except Exception as exc:  # OCCT raises its own exception types on bad geometry
        message = f"{job.label!r}: the shape could not be processed ({type(exc).__name__}: {exc})"
        return _fail(RejectCode.INVALID_GEOMETRY, message), b""
    arrays: dict[str, np.ndarray] = {}
    for index, solid in enumerate(solids):
        arrays[f"v{index}"], arrays[f"f{index}"] = solid.mesh.vertices, solid.mesh.faces
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    metas = [
        _SolidMeta(
            volume=s.volume_mm3,
            area=s.area_mm2,
            centroid=tuple(s.centroid.tolist()) if s.centroid is not None else (0.0, 0.0, 0.0),  # type: ignore[arg-type]
            bbox_min=tuple(s.bbox_min.tolist()),  # type: ignore[arg-type]
            bbox_max=tuple(s.bbox_max.tolist()),  # type: ignore[arg-type]
            faces=[(f.kind, f.origin, f.axis, f.radius) for f in s.faces],
        )
        for s in solids
    ]
    payload = buffer.getvalue()
    reply = _LoaderReply(
        status="ok",
        solids=metas,
        faces=sum(len(s.faces) for s in solids),
        triangles=sum(len(s.mesh.faces) for s in solids),
        size=len(payload),
    )
    return reply, payload


def _step_bytes(data: bytes) -> bytes:
    """A validated BREP as STEP text (build123d's exporter), with the export time pinned."""
    from build123d import export_step, import_brep

    with tempfile.TemporaryDirectory(prefix="benchgen-step-") as tmp:
        brep, step = Path(tmp, "body.brep"), Path(tmp, "body.step")
        brep.write_bytes(data)
        export_step(import_brep(str(brep)), str(step))
        text = step.read_text()
    # STEP headers carry the export time; pin it so identical scenes give identical files.
    return STEP_TIMESTAMP.sub(r"\g<1>'1970-01-01T00:00:00'", text).encode()


def _read_exact(stream: Any, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the checker hung up")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve_loader(reader: Any, writer: Any, settings_json: str) -> None:
    """The loader's loop: one job (header line + BREP bytes) in, one reply (line + payload) out, until EOF."""
    settings = GeometrySettings.model_validate_json(settings_json)
    import OCP.BRepMesh  # noqa: F401  (load OCCT before saying ready)

    writer.write(_READY.encode() + b"\n")
    writer.flush()
    while line := reader.readline():
        job = _LoaderJob.model_validate_json(line)
        reply, payload = _loader_answer(job, _read_exact(reader, job.size), settings)
        writer.write(reply.model_dump_json().encode() + b"\n" + payload)
        writer.flush()


def _die_with(parent: int) -> None:
    """Get SIGKILL when the checker dies, even by SIGKILL: a BREP may keep OCCT busy forever."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _loader_main(settings_json: str, parent: int) -> None:
    """A cold loader process: jobs on stdin, replies on a private copy of stdout."""
    _die_with(parent)
    # OCCT prints to stdout; keep the protocol on a private copy of it and send the rest to stderr.
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve_loader(sys.stdin.buffer, protocol, settings_json)


class _Channel:
    """The checker's end of a loader: bytes out, lines and payloads in, on its own clock."""

    def __init__(self, read_fd: int, write: Any, process: Any, owned: socket.socket | None = None) -> None:
        self.read_fd = read_fd
        self.write = write
        self.process = process
        """``exited()``, ``kill()``, ``wait() -> int`` (a cold Popen wrapper or a zygote child)."""
        self.owned = owned
        """The socket to close with the channel (warm loaders)."""
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.write(data)

    def _fill(self, until: float) -> bool:
        remaining = until - time.monotonic()
        if remaining <= 0 or not select.select([self.read_fd], [], [], remaining)[0]:
            return False
        chunk = os.read(self.read_fd, 1 << 20)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def line(self, until: float) -> bytes | None:
        """One line before ``until`` (monotonic); None on timeout, end of stream or an overlong line."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > _MAX_REPLY_BYTES or not self._fill(until):
                return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def exactly(self, size: int, until: float) -> bytes | None:
        while len(self.buffer) < size:
            if not self._fill(until):
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def close(self) -> int | None:
        """Kill the loader; its return code (None when it cannot be known)."""
        self.process.kill()
        try:
            return int(self.process.wait())
        except Exception:  # the zygote that ran it is gone too
            return None
        finally:
            if self.owned is not None:
                self.owned.close()


class _PopenLoader:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def wait(self) -> int:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return self.proc.wait()


def _cold_loader(settings: GeometrySettings) -> _Channel:
    """A new interpreter as the loader (no warm sandbox here); memory-limited, dies with the checker."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
    for key in ("PYTHONPATH", "HOME", "OMP_NUM_THREADS"):
        if key in os.environ:
            env[key] = os.environ[key]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-s",
            "-m",
            "benchgen.geometry",
            _WORKER_FLAG,
            settings.model_dump_json(),
            str(os.getpid()),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    memory = settings.loader_memory_mb << 20
    with contextlib.suppress(AttributeError, OSError, ValueError):  # prlimit is Linux-only
        import resource

        resource.prlimit(proc.pid, resource.RLIMIT_AS, (memory, memory))
        resource.prlimit(proc.pid, resource.RLIMIT_CORE, (0, 0))
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def write(data: bytes) -> None:
        stdin.write(data)
        stdin.flush()

    return _Channel(proc.stdout.fileno(), write, _PopenLoader(proc))


def _warm_loader(settings: GeometrySettings) -> _Channel | None:
    """A child of the warm sandbox template as the loader, or None where runs are not warm."""
    from benchgen.sandbox import spawn_loader

    spawned = spawn_loader(settings.model_dump_json(), settings.loader_memory_mb)
    if spawned is None:
        return None
    sock, child = spawned

    def write(data: bytes) -> None:
        sock.sendall(data)

    return _Channel(sock.fileno(), write, child, owned=sock)


@dataclass
class _Loaded:
    """A body the loader already loaded, by BREP content, and the caps it was loaded within.

    The same bytes within caps at least as large give the same answer, so it is reused.
    """

    max_faces: int
    max_triangles: int
    solids: list[SolidGeometry]


class GeometryLoader:
    """A separate process that reads, validates and meshes untrusted BREPs, one body at a time.

    Used for every build of a check. Where the sandbox runs warm the process is forked,
    when first needed, from the sandbox's template (OCCT already loaded, isolated like a
    sandboxed run); otherwise it is started at once, so it imports OCCT while the sandbox
    runs. A body that crashes it, or takes longer than ``body_timeout_s``, gets a verdict;
    the process is then replaced for the next body. Bodies whose BREP bytes were already
    loaded (the same part at several seeds, the determinism repeat) are not loaded again.
    Use as a context manager.
    """

    def __init__(self, settings: GeometrySettings, *, warm: bool | None = None) -> None:
        from benchgen.sandbox import warm_enabled

        self.settings = settings
        self._warm = warm_enabled() if warm is None else warm
        self._channel: _Channel | None = None
        self._started = 0.0
        self._ready = False
        self._loaded: dict[str, _Loaded] = {}
        if not self._warm:
            self._start()

    def __enter__(self) -> GeometryLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the process."""
        self._stop()
        self._loaded.clear()

    def _start(self) -> None:
        channel = _warm_loader(self.settings) if self._warm else None
        if channel is None:
            self._warm = False
            channel = _cold_loader(self.settings)
        self._channel = channel
        self._started = time.monotonic()
        self._ready = False

    def _stop(self) -> int | None:
        channel, self._channel = self._channel, None
        if channel is None:
            return None
        return channel.close()

    def _failure(self, label: str, timed_out: bool, limit: float) -> CheckFailure:
        code = self._stop()
        if timed_out:
            return CheckFailure(
                RejectCode.RESOURCE_LIMIT,
                f"{label!r}: reading and meshing its shape took more than {limit:g} s "
                "(the BREP is malformed or too complex)",
            )
        how = (
            f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        )
        return CheckFailure(
            RejectCode.INVALID_GEOMETRY, f"{label!r}: the BREP reader crashed on its shape file ({how})"
        )

    def _channel_ready(self) -> _Channel:
        if self._channel is None:
            self._start()
        assert self._channel is not None
        if not self._ready:
            line = self._channel.line(self._started + _STARTUP_ALLOWANCE_S)
            if line is None or line.strip() != _READY.encode():
                self._stop()
                raise RuntimeError("the geometry loader process did not start")
            self._ready = True
        return self._channel

    def _ask(self, job: _LoaderJob, data: bytes, deadline: Deadline | None) -> tuple[_LoaderReply, bytes]:
        """Send one job; its reply and payload, or a verdict when the loader crashes or takes too long."""
        channel = self._channel_ready()
        limit = self.settings.body_timeout_s
        if deadline is not None and deadline.seconds is not None:
            limit = max(0.1, min(limit, deadline.started + deadline.seconds - time.monotonic()))
        try:
            channel.send(job.model_dump_json().encode() + b"\n" + data)
        except OSError:
            raise self._failure(job.label, False, limit) from None
        started = time.monotonic()
        line = channel.line(started + limit)
        reply: _LoaderReply | None = None
        if line is not None:
            try:
                reply = _LoaderReply.model_validate_json(line)
            except ValidationError:
                self._stop()
                raise CheckFailure(
                    RejectCode.INVALID_GEOMETRY, f"{job.label!r}: the BREP reader answered garbage"
                ) from None
        payload = (
            b""
            if reply is None or reply.size > _MAX_PAYLOAD_BYTES
            else channel.exactly(reply.size, started + limit)
        )
        if reply is None or payload is None:
            timed_out = time.monotonic() - started >= limit
            failure = self._failure(job.label, timed_out, limit)  # stops the process
            if timed_out and deadline is not None:
                deadline.check(f"loading {job.label!r}")
            raise failure
        return reply, payload

    def load_body(
        self,
        directory: Path,
        body: BodyRecord,
        max_faces: int | None = None,
        max_triangles: int | None = None,
        deadline: Deadline | None = None,
    ) -> BodyGeometry:
        """Load one body in the loader process; raises :class:`CheckFailure` on any problem."""
        settings = self.settings
        faces_left = max_faces if max_faces is not None else settings.max_faces
        triangles_left = max_triangles if max_triangles is not None else settings.max_triangles
        data = _read_brep_file(directory, body, settings)
        sha256 = hashlib.sha256(data).hexdigest()
        known = self._loaded.get(sha256)
        if known is not None and faces_left >= known.max_faces and triangles_left >= known.max_triangles:
            return body_geometry(body.label, known.solids, sha256)
        job = _LoaderJob(label=body.label, size=len(data), max_faces=faces_left, max_triangles=triangles_left)
        reply, payload = self._ask(job, data, deadline)
        if reply.status == "fail":
            raise CheckFailure(reply.code or RejectCode.INVALID_GEOMETRY, reply.message)
        solids = _solids_from_reply(body.label, reply, payload)
        self._loaded[sha256] = _Loaded(faces_left, triangles_left, solids)
        return body_geometry(body.label, solids, sha256)

    def step_file(self, directory: Path, body: BodyRecord) -> bytes:
        """The body's BREP as STEP text, written by the loader (the checker never loads OCCT itself)."""
        data = _read_brep_file(directory, body, self.settings)
        reply, payload = self._ask(_LoaderJob(kind="step", label=body.label, size=len(data)), data, None)
        if reply.status == "fail":
            raise CheckFailure(reply.code or RejectCode.INVALID_GEOMETRY, reply.message)
        return payload

    def load_scene(self, directory: Path, deadline: Deadline | None = None) -> LoadedScene:
        """Parse ``scene.json`` and load every body, within the scene's caps."""
        settings = self.settings
        record = read_scene_record(directory)
        _check_body_count(record, settings)
        faces_left, triangles_left = settings.max_faces, settings.max_triangles
        bodies: dict[str, BodyGeometry] = {}
        for body in record.bodies:
            if deadline is not None:
                deadline.check(f"loading {body.label!r}")
            geometry = self.load_body(directory, body, faces_left, triangles_left, deadline)
            faces_left -= sum(len(s.faces) for s in geometry.solids)
            triangles_left -= geometry.triangles
            bodies[body.label] = geometry
        return LoadedScene(record=record, directory=directory, bodies=bodies)


def _solids_from_reply(label: str, reply: _LoaderReply, payload: bytes) -> list[SolidGeometry]:
    solids = []
    try:
        arrays = np.load(io.BytesIO(payload), allow_pickle=False)
        meshes = [
            (np.asarray(arrays[f"v{i}"], dtype=np.float64), np.asarray(arrays[f"f{i}"], dtype=np.int64))
            for i in range(len(reply.solids))
        ]
    except (OSError, ValueError, KeyError, EOFError):
        raise CheckFailure(
            RejectCode.INVALID_GEOMETRY, f"{label!r}: the loader returned a broken mesh"
        ) from None
    for (vertices, faces), meta in zip(meshes, reply.solids, strict=True):
        if (
            vertices.ndim != 2
            or vertices.shape[1] != 3
            or faces.ndim != 2
            or faces.shape[1] != 3
            or not np.all(np.isfinite(vertices))
            or (faces.size and (faces.min() < 0 or faces.max() >= len(vertices)))
        ):
            raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: the loader returned a broken mesh")
        solids.append(
            SolidGeometry(
                mesh=TriMesh(vertices, faces),
                volume_mm3=meta.volume,
                bbox_min=np.array(meta.bbox_min),
                bbox_max=np.array(meta.bbox_max),
                faces=tuple(FaceSummary(k, o, a, r) for k, o, a, r in meta.faces),
                area_mm2=meta.area,
                centroid=np.array(meta.centroid),
            )
        )
    if not solids:
        raise CheckFailure(RejectCode.INVALID_GEOMETRY, f"{label!r}: the loader returned no solid")
    return solids


def load_scene(
    directory: Path,
    settings: GeometrySettings,
    *,
    loader: GeometryLoader | None = None,
    deadline: Deadline | None = None,
) -> LoadedScene:
    """Load and validate a whole build: record, then every body's geometry (in a loader process)."""
    if loader is not None:
        return loader.load_scene(directory, deadline)
    with GeometryLoader(settings) as own:
        return own.load_scene(directory, deadline)


# --- static checks -----------------------------------------------------------------------------


def jitter_corners(jitter: tuple[float, float, float]) -> np.ndarray:
    """The 8 corners of the ±jitter box (duplicates collapse when an axis has no jitter)."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
    return np.unique(signs * np.asarray(jitter, dtype=float), axis=0)


def payload_envelope(scene: LoadedScene) -> TriMesh:
    """Every place the payload can occupy at spawn: its convex hull swept over start ± jitter.

    The hull of a translated convex set over a box's corners is exactly its Minkowski sum
    with the box, so this is a tight, conservative envelope for convex payloads. The
    swept hull is made about the payload's origin and then moved to ``start``, so the
    same payload and jitter at several seeds share one hull (:func:`_swept_hull`).
    """
    payload = scene.record.payload
    vertices = scene.payload.mesh.vertices
    key = hashlib.sha256(np.ascontiguousarray(vertices, dtype=np.float64).tobytes()).hexdigest()
    hull_vertices, hull_faces = _swept_hull(key, tuple(float(v) for v in payload.jitter), vertices)
    return TriMesh(hull_vertices + np.asarray(payload.start, dtype=float), hull_faces)


def convex_hull_mesh(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The convex hull of ``points`` as a closed mesh with outward-facing triangles (Qhull, float64)."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(points, qhull_options="QbB Pp Qt")
    faces = np.asarray(hull.simplices, dtype=np.int64)
    a, b, c = (hull.points[faces[:, k]] for k in range(3))
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), hull.equations[:, :3]) < 0
    faces[inward] = faces[inward][:, [0, 2, 1]]
    used, remapped = np.unique(faces, return_inverse=True)
    return np.asarray(hull.points[used], dtype=np.float64), remapped.reshape(-1, 3).astype(np.int64)


_SWEPT_HULLS: dict[tuple[str, tuple[float, ...]], tuple[np.ndarray, np.ndarray]] = {}
"""Swept hulls by (payload mesh content hash, jitter); bounded by :data:`_MAX_SWEPT_HULLS`."""
_MAX_SWEPT_HULLS = 64


def _swept_hull(key: str, jitter: tuple[float, ...], vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cached = _SWEPT_HULLS.get((key, jitter))
    if cached is not None:
        return cached
    offsets = jitter_corners(jitter)  # type: ignore[arg-type]
    swept = (vertices[None, :, :] + offsets[:, None, :]).reshape(-1, 3)
    result = convex_hull_mesh(swept)
    for array in result:
        array.flags.writeable = False  # shared between scenes
    if len(_SWEPT_HULLS) >= _MAX_SWEPT_HULLS:
        _SWEPT_HULLS.pop(next(iter(_SWEPT_HULLS)))
    _SWEPT_HULLS[(key, jitter)] = result
    return result


def zone_manifold(zone: Zone) -> manifold3d.Manifold:
    """A zone as a manifold3d box."""
    return manifold3d.Manifold.cube(zone.size).translate(zone.min)


def box_outside(lo: np.ndarray, hi: np.ndarray, bounds: Zone, tol: float) -> str | None:
    """Which axis/side of ``bounds`` an AABB crosses, or None when it is inside."""
    for axis, name in enumerate("xyz"):
        if lo[axis] < bounds.min[axis] - tol:
            return f"{name}={lo[axis]:.1f} < bounds min {bounds.min[axis]:.1f}"
        if hi[axis] > bounds.max[axis] + tol:
            return f"{name}={hi[axis]:.1f} > bounds max {bounds.max[axis]:.1f}"
    return None


def check_bounds(scene: LoadedScene, settings: GeometrySettings) -> None:
    """Every part and the payload's spawn envelope inside ``bounds`` and above the ground (``out_of_bounds``).

    The ground (z=0) is solid: nothing may start below it, by more than
    ``ground_tolerance_mm``, whatever ``bounds`` allows.
    """
    bounds = scene.record.bounds
    ground = -settings.ground_tolerance_mm
    for part, geom in scene.parts:
        crossing = box_outside(geom.bbox_min, geom.bbox_max, bounds, settings.bounds_tolerance)
        if crossing:
            raise CheckFailure(
                RejectCode.OUT_OF_BOUNDS,
                f"part {part.label!r} lies outside bounds at {scene.where}: {crossing}",
            )
        if geom.bbox_min[2] < ground:
            raise CheckFailure(
                RejectCode.OUT_OF_BOUNDS,
                f"part {part.label!r} reaches z={geom.bbox_min[2]:.2f} mm, into the ground (z=0) at {scene.where}",
            )
    lo, hi = scene.envelope.aabb
    label = scene.record.payload.label
    crossing = box_outside(lo, hi, bounds, settings.bounds_tolerance)
    if crossing:
        raise CheckFailure(
            RejectCode.OUT_OF_BOUNDS,
            f"payload {label!r} start envelope lies outside bounds at {scene.where}: {crossing}",
        )
    if lo[2] < ground:
        raise CheckFailure(
            RejectCode.OUT_OF_BOUNDS,
            f"payload {label!r} can start at z={lo[2]:.2f} mm (jitter included), into the ground (z=0) "
            f"at {scene.where}",
        )


def zone_inside(zone: Zone, bounds: Zone, tol: float) -> bool:
    """Whether ``zone`` lies inside ``bounds``, within ``tol`` mm."""
    return all(zone.min[i] >= bounds.min[i] - tol and zone.max[i] <= bounds.max[i] + tol for i in range(3))


def zones_overlap(a: Zone, b: Zone) -> bool:
    """Whether two zones share interior (touching faces do not count)."""
    return all(a.min[i] < b.max[i] and b.min[i] < a.max[i] for i in range(3))


def check_zones(scene: LoadedScene, settings: GeometrySettings) -> None:
    """Zones inside bounds, goal clear of forbid zones, payload spawn clear of forbid zones,
    and a goal zone the payload's centre can reach (:func:`check_goal_room`)."""
    record = scene.record
    for role, zone in record.zones():
        if not zone_inside(zone, record.bounds, settings.bounds_tolerance):
            raise CheckFailure(
                RejectCode.ZONE_CONFLICT, f"{role} zone {zone.name!r} is not inside bounds at {scene.where}"
            )
    envelope = scene.envelope.manifold
    for zone in record.forbid_zones:
        if zones_overlap(record.goal_zone, zone):
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
    check_goal_room(scene, settings)


def _winding_number(point: np.ndarray, mesh: TriMesh) -> float:
    """Generalised winding number of a closed mesh around ``point`` (1 inside, 0 outside)."""
    a, b, c = (mesh.vertices[mesh.faces[:, k]] - point for k in range(3))
    la, lb, lc = (np.linalg.norm(v, axis=1) for v in (a, b, c))
    numerator = np.einsum("ij,ij->i", a, np.cross(b, c))
    denominator = (
        la * lb * lc
        + np.einsum("ij,ij->i", a, b) * lc
        + np.einsum("ij,ij->i", a, c) * lb
        + np.einsum("ij,ij->i", b, c) * la
    )
    return float(np.arctan2(numerator, denominator).sum() / (2 * np.pi))


def centre_clearance(body: BodyGeometry) -> float:
    """A lower bound on the distance from the body's centroid to its surface; 0 if the centroid is outside it.

    The nearest triangle is at least as far as the nearest triangle plane.
    """
    mesh = body.mesh
    if _winding_number(body.centroid, mesh) < 0.5:
        return 0.0
    a, b, c = (mesh.vertices[mesh.faces[:, k]] for k in range(3))
    normals = np.cross(b - a, c - a)
    lengths = np.linalg.norm(normals, axis=1)
    keep = lengths > 0
    distances = np.abs(np.einsum("ij,ij->i", normals[keep], body.centroid - a[keep])) / lengths[keep]
    return float(distances.min()) if distances.size else 0.0


def lowest_centre_height(body: BodyGeometry) -> float:
    """How low the body's centroid can get above a floor it rests on, in any orientation.

    Resting on a floor, the body touches it with its convex hull; its centroid is then at
    least the centroid's distance to the nearest hull facet above it.
    """
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(body.mesh.vertices)
    except (QhullError, ValueError):  # a (numerically) flat body: it can lie flat
        return 0.0
    distances = -(hull.equations[:, :3] @ body.centroid + hull.equations[:, 3])
    return float(max(distances.min(), 0.0))


def check_goal_room(scene: LoadedScene, settings: GeometrySettings) -> None:
    """Cheap sanity of the goal zone (``zone_conflict``); full solvability is not decided here.

    1. The payload's centre must be able to get into the goal: the zone's top must not lie
       below the lowest height the payload's centroid can rest at above the ground.
    2. When the payload's centroid lies inside the payload with clearance ρ, a ball of
       radius ρ around a goal point is payload, so it cannot be inside a fixed part: the
       goal zone minus the fixed parts must keep at least the volume that ball shares with
       the zone, Π min(extent/2, ρ/√3).
    """
    record = scene.record
    goal = record.goal_zone
    payload = scene.payload
    lowest = lowest_centre_height(payload)
    if goal.max[2] < lowest - settings.bounds_tolerance:
        raise CheckFailure(
            RejectCode.ZONE_CONFLICT,
            f"goal zone {goal.name!r} tops out at z={goal.max[2]:.1f} mm, but the payload's centre cannot "
            f"get lower than {lowest:.1f} mm above the ground at {scene.where}",
        )
    rho = centre_clearance(payload)
    if rho <= 0:
        return
    need = float(np.prod([min(extent / 2, rho / math.sqrt(3)) for extent in goal.size]))
    box = zone_manifold(goal)
    goal_box = (np.asarray(goal.min, dtype=float), np.asarray(goal.max, dtype=float))
    fixed = [
        scene.bodies[part.label].manifold
        for part in record.parts
        if part.joint.kind == "fixed" and boxes_overlap(scene.bodies[part.label].box, goal_box)
    ]
    free = box - manifold3d.Manifold.batch_boolean(fixed, manifold3d.OpType.Add) if fixed else box
    room = free.volume()
    if room < need * (1 - 1e-6):
        raise CheckFailure(
            RejectCode.ZONE_CONFLICT,
            f"goal zone {goal.name!r} is filled by fixed parts at {scene.where}: {room:.1f} mm³ of it is free, "
            f"the payload's core needs {need:.1f} mm³ of it",
        )


Box = tuple[np.ndarray, np.ndarray]
"""An axis-aligned box as (min corner, max corner), millimetres."""


def boxes_overlap(a: Box, b: Box) -> bool:
    """Whether two axis-aligned boxes share interior (touching faces do not count)."""
    return bool(np.all(a[0] < b[1]) and np.all(b[0] < a[1]))


def overlap_volume(a: manifold3d.Manifold, a_box: Box, b: manifold3d.Manifold, b_box: Box) -> float:
    """The volume (mm³) two solids share, exactly; 0 without a boolean when their boxes are apart."""
    if not boxes_overlap(a_box, b_box):
        return 0.0
    return float((a ^ b).volume())


def check_intersections(
    scene: LoadedScene, settings: GeometrySettings, deadline: Deadline | None = None
) -> None:
    """No two parts overlap, and no part overlaps the payload's spawn envelope (``intersection``)."""
    parts = scene.parts
    boxes = [(g.bbox_min, g.bbox_max) for _, g in parts]
    for i, (part_a, geom_a) in enumerate(parts):
        if deadline is not None:
            deadline.check(f"intersections at {scene.where}")
        for j in range(i + 1, len(parts)):
            part_b, geom_b = parts[j]
            overlap = overlap_volume(geom_a.manifold, boxes[i], geom_b.manifold, boxes[j])
            if overlap > settings.min_overlap_mm3:
                raise CheckFailure(
                    RejectCode.INTERSECTION,
                    f"parts {part_a.label!r} and {part_b.label!r} overlap by {overlap:.1f} mm³ at {scene.where}",
                )
    envelope = scene.envelope
    label = scene.record.payload.label
    for (part, geom), box in zip(parts, boxes, strict=True):
        overlap = overlap_volume(envelope.manifold, envelope.aabb, geom.manifold, box)
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


def export_step_files(scene: LoadedScene, out_dir: Path, loader: GeometryLoader | None = None) -> list[Path]:
    """Write ``<label>.step`` for every body (payload at its own origin) from the validated BREPs.

    Only called for scenes the loader process read successfully, so these bytes parse. With
    ``loader`` the loader writes them (the calling process never imports build123d).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for body in scene.record.bodies:
        path = out_dir / label_file_name(body.label, ".step")
        if loader is not None:
            path.write_bytes(loader.step_file(scene.directory, body))
        else:
            path.write_bytes(_step_bytes(_read_brep_file(scene.directory, body, GeometrySettings())))
        paths.append(path)
    return paths


def label_file_name(label: str, suffix: str) -> str:
    """A file name derived from a label, safe by construction: the label is re-validated here."""
    from benchgen.scenario import check_label

    return check_label(label) + suffix


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == _WORKER_FLAG:
    _loader_main(sys.argv[2], int(sys.argv[3]))
