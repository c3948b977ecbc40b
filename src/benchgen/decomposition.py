"""Convex decomposition of CAD parts for MuJoCo collision, faithful to the part and fast.

MuJoCo collides a mesh geom as its convex hull, so a concave part (a flange with a
bore, a cup, a funnel) must be handed over as convex pieces or its holes fill in.
:func:`decompose` takes a closed triangle mesh (millimetres, as tessellated from a
build123d solid) and, optionally, the exact surfaces of the part (:class:`SurfaceHint`:
planes, and the axes and radii of cylinders, cones, spheres and tori, as the trusted
loader reads them from the BREP), and cuts the part into pieces whose hulls are used:

1. *Measure.* A piece's fault is its hull's *gap*: how far a point of the hull lies
   outside the part (signed distance to the mesh, sampled on and inside the hull). A
   piece whose gap is within the tolerance is done. The tolerance is
   ``gap_fraction`` of the part's size, and next to a bore ``radius_fraction`` of its
   radius (so a payload with that much radial play still fits).
2. *Cut along the part's features.* For the piece with the largest gap, the walls that
   cause it are those touching the empty ball at its worst point. A flat wall offers
   its own plane; a concave curved wall (a bore, a fillet, a bowl) offers the planes
   through its axis of curvature that cut it into chords of bounded sagitta -- the exact
   axis when the hints know one -- and the plane across its curvature. Cuts along flat
   walls and exact axes are taken as soon as they do no harm; otherwise the candidate
   leaving the least integrated gap wins. Cutting is exact (manifold3d), so the pieces
   always cover the part; only their hulls over-fill.
3. *Merge* touching pieces whose union's hull is still within tolerance.
4. *Verify.* The result is measured again, more densely: the largest gap in mm, the
   over-filled and the uncovered volume are reported with it (:class:`Decomposition`).

Results are deterministic (seeded sampling, no dependence on timing), bounded in work
(``max_evaluations``) and CPU time (``cpu_limit``, :class:`DecompositionLimit` when hit),
and can be cached on disk in a pose- and scale-normalised frame
(:class:`DecompositionCache`): a part that differs from a cached one by a rigid motion
or a uniform scale reuses its pieces, moved back and checked against the new mesh.

A mesh that is not a closed manifold goes to CoACD (in a subprocess with a time limit),
as do pieces the feature split cannot bring within tolerance. Use the pieces for
collision only: take mass and inertia from the real part.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import igl
import manifold3d as m3
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from scipy.spatial import cKDTree

from benchgen.errors import InfrastructureError

CODE_VERSION = "benchgen.decomposition/5"
"""Part of every cache key: bump it whenever the algorithm's output may change."""

Method = Literal["convex", "feature_split", "feature_split+coacd", "coacd"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]
Piece = tuple[FloatArray, IntArray]

# Geometric noise floors, relative to the part's bounding-box diagonal (lengths) or
# its volume (volumes). Tessellation and boolean round-off live far below them.
_REL_EPS_LENGTH = 1e-6
_REL_EPS_VOLUME = 1e-9


class DecompositionSettings(BaseModel):
    """Tolerances and budgets of :func:`decompose`; frozen, and part of the cache key.

    Tolerances are relative to the part's size, so a uniformly scaled part gets the
    same pieces, scaled (and can reuse a cached decomposition).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gap_fraction: float = Field(
        0.01,
        gt=0,
        le=0.1,
        description="Largest over-fill gap aimed for, relative to the part's bounding-box diagonal",
    )
    radius_fraction: float = Field(
        0.08,
        gt=0,
        lt=1,
        description="Chords across a bore (a concave wall wrapping half way round or more) of radius "
        "r lie at most this times r inside it, so a payload with that much radial play still fits",
    )
    max_pieces: int = Field(128, ge=1, le=4096, description="Most convex pieces the feature split makes")
    max_evaluations: int = Field(
        4000, ge=1, description="Most candidate pieces measured by the feature split (bounds the search)"
    )
    cpu_limit: float = Field(
        60.0,
        gt=0,
        description="CPU seconds one decomposition may take before it is abandoned with "
        "DecompositionLimit (CPU time, so a loaded machine does not change the outcome)",
    )
    coacd_threshold: float = Field(0.05, gt=0, le=1, description="CoACD concavity threshold (fallback)")
    coacd_resolution: int = Field(1000, ge=20, description="CoACD sampling resolution (fallback)")
    coacd_mcts_iterations: int = Field(60, ge=1)
    coacd_mcts_nodes: int = Field(12, ge=1)
    coacd_mcts_max_depth: int = Field(3, ge=1)
    coacd_seed: int = Field(0, ge=0)
    coacd_timeout: float = Field(60.0, gt=0, description="Seconds before a CoACD fallback is abandoned")
    allow_coacd: bool = Field(True, description="Fall back to CoACD where the feature split fails")


class Decomposition(BaseModel):
    """Convex pieces covering a mesh, how they were obtained, and how faithful they are.

    ``pieces`` are closed convex meshes (vertices ``(k, 3)`` float64 mm, faces ``(j, 3)``
    int32, outward-facing) whose union covers the mesh. The arrays are read-only. The
    fidelity figures are measured on the returned pieces against the mesh.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pieces: list[tuple[np.ndarray, np.ndarray]]
    method: Method
    error: float = Field(description="(sum of piece volumes - mesh volume) / mesh volume")
    gap_mm: float = Field(
        description="Largest over-fill gap: farthest sampled point of a piece outside the mesh, mm"
    )
    overfill: float = Field(description="Volume of the pieces' union outside the mesh / mesh volume")
    uncovered: float = Field(description="Volume of the mesh outside every piece / mesh volume")
    tolerance_mm: float = Field(description="The gap the decomposition aimed for, mm")
    seconds: float = Field(description="Wall time of the call that returned this result")
    cached: bool


class DecompositionLimit(InfrastructureError, RuntimeError):
    """A decomposition ran past its CPU budget (``cpu_limit``); the part is too costly."""


# --------------------------------------------------------------------------- geometry
def _mesh_arrays(solid: m3.Manifold) -> tuple[FloatArray, NDArray[np.int64]]:
    mesh = solid.to_mesh64()
    points = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    tris = np.asarray(mesh.tri_verts, dtype=np.int64).reshape(-1, 3)
    return np.ascontiguousarray(points), tris


def _signed_volume(points: FloatArray, tris: NDArray[np.int64]) -> float:
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    return float(np.einsum("ij,ij->i", a, _cross(b, c)).sum() / 6.0)


def _to_manifold(vertices: FloatArray, faces: NDArray[np.int64]) -> m3.Manifold | None:
    """Weld the per-face vertices of a tessellation and build a manifold, or None."""
    if _signed_volume(vertices, faces) < 0:
        faces = faces[:, ::-1]
    mesh = m3.Mesh64(
        vert_properties=np.ascontiguousarray(vertices, dtype=np.float64),
        tri_verts=np.ascontiguousarray(faces, dtype=np.uint64),
    )
    mesh.merge()
    solid = m3.Manifold(mesh)
    if solid.status() != m3.Error.NoError or solid.is_empty() or solid.volume() <= 0:
        return None
    return solid


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise cross product of (n, 3) arrays (numpy's is slow on small inputs)."""
    return np.stack(
        [
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ],
        axis=-1,
    )


def _triangles(points: FloatArray, tris: NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Corners ``(T, 3, 3)``, unit normals and areas of a mesh's triangles."""
    corners = points[tris]
    cross = _cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    return corners, cross / np.maximum(double_area, 1e-300)[:, None], double_area / 2


def _solid_hull(solid: m3.Manifold) -> m3.Manifold:
    """Convex hull of a boolean result, ignoring zero-thickness sheets left on it.

    Cutting or subtracting exactly along a face whose vertices carry round-off leaves
    sheets 1e-14 mm thick hanging off the result; their far vertices would blow the
    hull up. A sheet's vertices see only faces in one plane (facing both ways), and so
    does any vertex inside a flat region, which never shapes a hull: both are skipped.
    """
    points, tris = _mesh_arrays(solid)
    _, unit, area = _triangles(points, tris)
    solid_tris = area > 1e-12 * max(float(area.max(initial=0.0)), 1e-300)
    corners = tris[solid_tris].reshape(-1)
    corner_normals = np.repeat(unit[solid_tris], 3, axis=0)
    corner_area = np.repeat(area[solid_tris], 3)
    # Reference normal per vertex: that of its largest incident face.
    order = np.lexsort((-corner_area, corners))
    first = np.ones(len(order), dtype=bool)
    first[1:] = corners[order][1:] != corners[order][:-1]
    reference = np.zeros((len(points), 3))
    reference[corners[order][first]] = corner_normals[order][first]
    deviation = 1 - np.abs(np.einsum("ij,ij->i", corner_normals, reference[corners]))
    worst = np.zeros(len(points))
    np.maximum.at(worst, corners, deviation)
    used = np.zeros(len(points), dtype=bool)
    used[corners] = True
    keep = used & (worst > 1e-9)
    if keep.sum() < 4:
        return solid.hull()
    return m3.Manifold.hull_points(np.ascontiguousarray(points[keep]))


# ----------------------------------------------------------------------------- CoACD


def _save_npz(path: Path | str, arrays: dict[str, np.ndarray]) -> None:
    # numpy's stub cannot tell array keywords from its own ``allow_pickle`` flag.
    savez: Any = np.savez
    savez(path, **arrays)


def _coacd_worker() -> None:
    """Subprocess entry point: ``python -c '...; _coacd_worker()' INPUT.npz OUTPUT.npz``.

    CoACD runs out of process because it can crash (segfault) on awkward input and has
    no time limit of its own; the caller enforces ``coacd_timeout``.
    """
    import coacd  # only the worker process pays for loading it

    source, target = sys.argv[1], sys.argv[2]
    with np.load(source, allow_pickle=False) as data:
        params = json.loads(str(data["params"]))
        meshes = [(data[f"v{i}"], data[f"f{i}"]) for i in range(int(data["count"]))]
    coacd.set_log_level("error")
    out: dict[str, np.ndarray] = {}
    total = 0
    for vertices, faces in meshes:
        for points, _ in coacd.run_coacd(coacd.Mesh(vertices, faces), **params):
            out[f"p{total}"] = np.asarray(points, dtype=np.float64)
            total += 1
    out["count"] = np.array(total)
    _save_npz(target, out)


def _run_coacd(
    meshes: list[tuple[FloatArray, NDArray[np.int64]]],
    settings: DecompositionSettings,
    preprocess: str = "off",
) -> list[Piece] | None:
    """Convex pieces from CoACD with the settings' fast parameters, or None if it fails."""
    params = {
        "threshold": settings.coacd_threshold,
        "max_convex_hull": settings.max_pieces,
        "preprocess_mode": preprocess,
        "resolution": settings.coacd_resolution,
        "mcts_nodes": settings.coacd_mcts_nodes,
        "mcts_iterations": settings.coacd_mcts_iterations,
        "mcts_max_depth": settings.coacd_mcts_max_depth,
        "seed": settings.coacd_seed,
    }
    arrays: dict[str, np.ndarray] = {"params": np.array(json.dumps(params)), "count": np.array(len(meshes))}
    for i, (vertices, faces) in enumerate(meshes):
        arrays[f"v{i}"] = np.ascontiguousarray(vertices, dtype=np.float64)
        arrays[f"f{i}"] = np.ascontiguousarray(faces, dtype=np.int32)
    with tempfile.TemporaryDirectory(prefix="benchgen-coacd-") as scratch:
        source, target = Path(scratch) / "in.npz", Path(scratch) / "out.npz"
        _save_npz(source, arrays)
        command = [sys.executable, "-c", "from benchgen.decomposition import _coacd_worker; _coacd_worker()"]
        try:
            done = subprocess.run(
                [*command, str(source), str(target)],
                capture_output=True,
                timeout=settings.coacd_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0 or not target.exists():
            return None
        with np.load(target, allow_pickle=False) as data:
            hulls = [_as_piece(data[f"p{i}"]) for i in range(int(data["count"]))]
    return [h for h in hulls if h is not None]


# ---------------------------------------------------------------------------- pieces


@dataclass(frozen=True)
class _Outcome:
    pieces: list[Piece]
    method: Method


def _as_piece(points: FloatArray) -> Piece | None:
    """The closed convex hull mesh of a point set, or None if it is flat."""
    hull = m3.Manifold.hull_points(np.ascontiguousarray(points, dtype=np.float64))
    if hull.is_empty():
        return None
    vertices, tris = _mesh_arrays(hull)
    return vertices, tris.astype(np.int32)


def _piece_volume(piece: Piece) -> float:
    vertices, faces = piece
    return _signed_volume(vertices, faces.astype(np.int64))


# ------------------------------------------------------------------- distance oracle


class _Oracle:
    """Signed distance from points to a closed mesh (positive outside), with the closest point.

    An AABB tree (libigl) finds the closest point; the sign comes from the angle-weighted
    pseudo-normal of the closest feature (face, edge or vertex), which is exact for a
    closed, consistently oriented mesh.
    """

    def __init__(self, vertices: FloatArray, faces: NDArray[np.int64]) -> None:
        self.vertices = np.ascontiguousarray(vertices, dtype=np.float64)
        self.faces = np.ascontiguousarray(faces, dtype=np.int64)
        self.tree = igl.AABB()
        self.tree.init(self.vertices, self.faces)
        corners, unit, _ = _triangles(self.vertices, self.faces)
        self.face_normals = unit
        # Vertex pseudo-normals: face normals weighted by the corner angle.
        vertex_normals = np.zeros_like(self.vertices)
        for k in range(3):
            a = corners[:, (k + 1) % 3] - corners[:, k]
            b = corners[:, (k + 2) % 3] - corners[:, k]
            cos = np.einsum("ij,ij->i", a, b) / np.maximum(
                np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-300
            )
            np.add.at(vertex_normals, self.faces[:, k], unit * np.arccos(np.clip(cos, -1, 1))[:, None])
        self.vertex_normals = vertex_normals
        # Edge pseudo-normals: the sum of both neighbours' normals, per (triangle, edge k->k+1).
        directed = np.stack([self.faces, np.roll(self.faces, -1, axis=1)], axis=2).reshape(-1, 2)
        _, group = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True)
        group = group.reshape(-1)
        sums = np.zeros((int(group.max()) + 1, 3))
        np.add.at(sums, group, np.repeat(unit, 3, axis=0))
        self.edge_normals = sums[group].reshape(-1, 3, 3)

    def query(self, points: FloatArray) -> tuple[FloatArray, NDArray[np.int64], FloatArray]:
        """Signed distances, closest triangles and closest points of ``points`` (n, 3)."""
        points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
        squared, tri, closest = self.tree.squared_distance(self.vertices, self.faces, points)
        tri = np.asarray(tri, dtype=np.int64)
        corners = self.vertices[self.faces[tri]]
        # Barycentric coordinates of the closest point tell which feature it lies on.
        e0, e1 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
        rel = closest - corners[:, 0]
        d00, d01, d11 = (np.einsum("ij,ij->i", x, y) for x, y in ((e0, e0), (e0, e1), (e1, e1)))
        d20, d21 = np.einsum("ij,ij->i", rel, e0), np.einsum("ij,ij->i", rel, e1)
        denominator = np.maximum(d00 * d11 - d01 * d01, 1e-300)
        v = (d11 * d20 - d01 * d21) / denominator
        w = (d00 * d21 - d01 * d20) / denominator
        bary = np.column_stack([1 - v - w, v, w])
        zero = bary <= 1e-7
        normal = self.face_normals[tri].copy()
        on_edge = zero.sum(axis=1) == 1
        if on_edge.any():
            # Edge k->k+1 is the one opposite the vertex whose coordinate vanished.
            edge = (np.argmax(zero[on_edge], axis=1) + 1) % 3
            normal[on_edge] = self.edge_normals[tri[on_edge], edge]
        on_vertex = zero.sum(axis=1) >= 2
        if on_vertex.any():
            corner = np.argmax(~zero[on_vertex], axis=1)
            normal[on_vertex] = self.vertex_normals[self.faces[tri[on_vertex], corner]]
        sign = np.where(np.einsum("ij,ij->i", points - closest, normal) >= 0, 1.0, -1.0)
        return sign * np.sqrt(np.maximum(squared, 0.0)), tri, np.asarray(closest)


# -------------------------------------------------------------------------- surface


@dataclass(frozen=True)
class _Local:
    """The part's surface near one point: outward normal and principal curvatures.

    Curvatures are positive where the surface is concave (its centre of curvature lies
    outside the material, as in a bore). ``planar`` when the neighbourhood is flat.
    """

    point: FloatArray
    normal: FloatArray
    planar: bool
    curvatures: tuple[float, float] = (0.0, 0.0)
    directions: tuple[FloatArray, FloatArray] = (np.zeros(3), np.zeros(3))


class SurfaceHint(BaseModel):
    """An exact face of the part, as the trusted loader knows it from the BREP.

    ``kind`` is OCCT's surface type in lower case (``plane``, ``cylinder``, ``cone``,
    ``sphere``, ``torus``, ...). For a plane ``origin`` is a point on it and ``axis`` its
    normal; for a sphere the centre and ``radius``; for cylinders, cones and tori a
    point on the axis, the axis and the (major) radius. Hints only steer where the
    part is cut: every result is measured against the mesh.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = 0.0


_AXIAL_KINDS = frozenset({"cylinder", "cone", "sphere", "torus", "surfaceofrevolution", "revolution"})


class _Surface:
    """Local differential geometry of a tessellated surface, from its triangles' normals.

    A triangle's normal is the exact surface normal near its centroid (to the
    tessellation's deflection), so fitting how the normals turn across the triangles
    around a point recovers the principal curvatures there, on analytic and freeform
    faces alike. Triangles lying on an exact plane or cylinder of the hints are labelled
    with it, so planes and bores are known exactly.
    """

    def __init__(self, oracle: _Oracle, hints: list[SurfaceHint], eps: float) -> None:
        corners, unit, area = _triangles(oracle.vertices, oracle.faces)
        self.centroids = corners.mean(axis=1)
        self.boxes = (corners.min(axis=1), corners.max(axis=1))
        self.normals = unit
        self.area = area
        self.tree = cKDTree(self.centroids)
        self.hints = hints
        self.labels = np.full(len(unit), -1, dtype=np.int64)
        for index, hint in enumerate(hints):
            origin, axis = np.asarray(hint.origin, dtype=float), np.asarray(hint.axis, dtype=float)
            if hint.kind in ("plane", "cylinder"):
                if np.linalg.norm(axis) == 0:
                    continue
                axis = axis / np.linalg.norm(axis)
            if hint.kind == "plane":
                on = np.abs((corners - origin) @ axis).max(axis=1) <= eps
                on &= np.abs(unit @ axis) > 1 - 1e-6
            elif hint.kind == "cylinder":
                offset = corners - origin
                radial = offset - (offset @ axis)[..., None] * axis
                on = np.abs(np.linalg.norm(radial, axis=2) - hint.radius).max(axis=1) <= eps
                on &= np.abs(unit @ axis) < 1e-3
            elif hint.kind == "sphere":
                on = np.abs(np.linalg.norm(corners - origin, axis=2) - hint.radius).max(axis=1) <= eps
            else:
                continue
            self.labels[on & (self.labels < 0)] = index

    def local(self, point: FloatArray, tri: int) -> _Local:
        """The surface at ``point``, which lies on triangle ``tri``."""
        normal = self.normals[tri]
        label = int(self.labels[tri])
        hint = self.hints[label] if label >= 0 else None
        if hint is not None and hint.kind == "plane":
            return _Local(point, normal, planar=True)
        if hint is not None and hint.kind == "cylinder":
            axis = np.asarray(hint.axis, dtype=float)
            axis = axis / np.linalg.norm(axis)
            radial = point - np.asarray(hint.origin) - ((point - np.asarray(hint.origin)) @ axis) * axis
            # Concave (a bore) when the outward normal points back at the axis.
            sign = -1.0 if float(normal @ radial) > 0 else 1.0
            around = _cross(axis, normal)
            return _Local(
                point, normal, planar=False, curvatures=(sign / hint.radius, 0.0), directions=(around, axis)
            )
        count = min(16, len(self.centroids))
        _, near = self.tree.query(point, k=count)
        near = np.atleast_1d(near)
        # Only the smooth sheet through the point: a sharp edge or a labelled face starts another.
        keep = self.normals[near] @ normal > np.cos(np.radians(35))
        keep &= self.labels[near] == label
        near = near[keep]
        turned = np.abs(self.normals[near] @ normal)
        if len(near) < 3 or turned.min() > 1 - 1e-7:
            return _Local(point, normal, planar=True)
        # Tangent frame, and the shape operator S fitted by dn = S dp (least squares).
        e1 = _perpendicular(normal)
        e2 = _cross(normal, e1)
        basis = np.stack([e1, e2])
        dp = (self.centroids[near] - point) @ basis.T
        dn = (self.normals[near] - normal) @ basis.T
        weights = np.sqrt(self.area[near])[:, None]
        shape, *_ = np.linalg.lstsq(dp * weights, dn * weights, rcond=None)
        shape = (shape + shape.T) / 2
        values, vectors = np.linalg.eigh(shape)
        # dn/ds = -kappa t on a concave wall (the normal turns towards the tangent's back).
        curvatures = (-float(values[0]), -float(values[1]))
        directions = (vectors[:, 0] @ basis, vectors[:, 1] @ basis)
        return _Local(point, normal, planar=False, curvatures=curvatures, directions=directions)


def _perpendicular(direction: FloatArray) -> FloatArray:
    """A unit vector perpendicular to ``direction``, chosen deterministically."""
    trial = np.eye(3)[int(np.argmin(np.abs(direction)))]
    out = np.cross(direction, trial)
    return np.asarray(out / np.linalg.norm(out))


# ---------------------------------------------------------------------- feature split

SplitPlane = tuple[FloatArray, float]  # unit normal n and offset d: the plane n . x = d


@dataclass
class _Piece:
    """A part of the solid cut out so far, with how far its hull strays from the solid."""

    solid: m3.Manifold
    points: FloatArray  # the piece's mesh vertices
    hull_volume: float
    gap: float  # largest sampled distance of a point of the hull outside the solid, mm
    worst: FloatArray  # where that is
    excess: float  # integral of that distance over the hull, mm^4 (how much the hull over-fills)


@dataclass(frozen=True)
class _SplitContext:
    oracle: _Oracle
    surface: _Surface
    axes: list[tuple[FloatArray, FloatArray]]  # exact axes of the part's faces of revolution
    tolerance: float  # largest gap accepted anywhere, mm
    radius_fraction: float  # chords on a concave wall of radius r stay within this times r
    eps: float  # geometric noise floor, mm
    min_volume: float  # pieces smaller than this are dropped (round-off chips), mm^3


# Samples per piece, on its hull's facets and as many inside.
_SAMPLES = 160
# A candidate cut that leaves at most this share of a piece's integrated gap is taken
# without trying the others.
_GOOD_ENOUGH = 0.5
# Curved walls without an exact axis whose cuts are offered per piece (nearest first).
_CURVED_PROBES = 4
# Unions measured while merging, per piece.
_MERGES_PER_PIECE = 3
# Pieces the split cannot improve are kept if within this many tolerances.
_STUCK_SLACK = 1.5
# Exact flat faces inside a piece offered as cuts (nearest the worst point first).
_FLAT_FACES = 4
# Gap, in noise floors, below which a piece counts as exact.
_EXACT = 100
# A structural cut is taken unless it leaves this much more integrated gap (sampling noise).
_STRUCTURAL_SLACK = 1.5


def _hull_samples(hull: m3.Manifold, count: int) -> tuple[FloatArray, FloatArray, float]:
    """Deterministic samples of a convex hull: on its facets, uniformly inside, and its volume.

    The facet samples find a chord's sagitta (deepest on the facet); the volume samples
    measure how much the hull over-fills, and find a filled-in void (deepest inside).
    """
    points, tris = _mesh_arrays(hull)
    centre = points.mean(axis=0)
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    volumes = np.abs(np.einsum("ij,ij->i", a - centre, _cross(b - centre, c - centre))) / 6
    total = float(volumes.sum())
    if total <= 0:
        return points, points, 0.0
    rng = np.random.default_rng(0)
    area = np.linalg.norm(_cross(b - a, c - a), axis=1)
    pick = rng.choice(len(tris), size=count, p=area / area.sum())
    weights = rng.dirichlet(np.ones(3), size=count)
    facets = weights[:, :1] * a[pick] + weights[:, 1:2] * b[pick] + weights[:, 2:] * c[pick]
    pick = rng.choice(len(tris), size=count, p=volumes / total)
    weights = rng.dirichlet(np.ones(4), size=count)
    inside = (
        weights[:, :1] * centre
        + weights[:, 1:2] * a[pick]
        + weights[:, 2:3] * b[pick]
        + weights[:, 3:] * c[pick]
    )
    # Every facet's centroid and edge midpoints too: a chord facet across a bore may be a
    # small share of a thin piece's area, yet its middle is where the gap is deepest.
    structure = [(a + b + c) / 3, (a + b) / 2, (b + c) / 2, (c + a) / 2]
    return np.concatenate([facets, *structure, centre[None]]), inside, total


def _evaluate(solid: m3.Manifold, context: _SplitContext, count: int = _SAMPLES) -> _Piece | None:
    """Measure a piece: its hull's largest and integrated gap to the solid (sampled)."""
    if solid.is_empty() or solid.volume() <= context.min_volume:
        return None
    # Cutting exactly along a flat face can leave zero-thickness sheets on the piece;
    # its hull ignores them (they hold no material).
    hull = _solid_hull(solid)
    points, _ = _mesh_arrays(hull)
    facets, inside, hull_volume = _hull_samples(hull, count)
    samples = np.concatenate([facets, inside])
    distance, _, _ = context.oracle.query(samples)
    gap = np.maximum(distance, 0.0)
    worst = int(np.argmax(gap))
    return _Piece(
        solid=solid,
        points=points,
        hull_volume=hull_volume,
        gap=float(gap[worst]),
        worst=samples[worst],
        excess=float(gap[len(facets) :].mean() * hull_volume),
    )


def _accepts(piece: _Piece, context: _SplitContext) -> bool:
    """Whether a piece's hull is within tolerance of the solid everywhere (sampled).

    Next to a bore (a concave exact cylinder) the tolerance is also held to
    ``radius_fraction`` of its radius, so a small hole is not half filled.
    """
    if piece.gap > context.tolerance:
        return False
    _, tri, closest = context.oracle.query(piece.worst[None])
    local = context.surface.local(closest[0], int(tri[0]))
    label = int(context.surface.labels[tri[0]])
    if label >= 0 and context.surface.hints[label].kind == "cylinder" and local.curvatures[0] > 0:
        return piece.gap <= context.radius_fraction / local.curvatures[0]
    return True


def _box_corners(solid: m3.Manifold) -> FloatArray:
    """The 8 corners of a solid's bounding box."""
    lo, hi = np.asarray(solid.bounding_box()).reshape(2, 3)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _cut(pieces: list[m3.Manifold], plane: SplitPlane, eps: float) -> list[m3.Manifold]:
    """Cut every solid that the plane crosses; keep the others whole."""
    normal, offset = plane
    out: list[m3.Manifold] = []
    for solid in pieces:
        corners = _box_corners(solid)
        heights = corners @ normal - offset
        if heights.max() <= eps or heights.min() >= -eps:
            out.append(solid)
            continue
        for half in solid.split_by_plane(normal, offset):
            out.extend(p for p in half.decompose() if not p.is_empty())
    return out


def _angles_about(
    points: FloatArray, origin: FloatArray, axis: FloatArray, reference: FloatArray
) -> FloatArray:
    """Angles of points (any shape (..., 3)) about an axis, from ``reference``."""
    relative = points - origin
    second = _cross(axis, reference)
    return np.asarray(np.arctan2(relative @ second, relative @ reference))


def _spans(angles: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Start angle and width of each triangle's angular span (rows of three angles)."""
    if len(angles) == 0:
        return np.zeros(0), np.zeros(0)
    rel = (angles - angles[:, :1] + np.pi) % (2 * np.pi) - np.pi  # relative to the first corner
    low, high = rel.min(axis=1), rel.max(axis=1)
    keep = high - low < np.pi / 2  # a triangle spanning the axis tells nothing
    return angles[keep, 0] + low[keep], (high - low)[keep]


def _sector_planes(
    origin: FloatArray,
    axis: FloatArray,
    reference: FloatArray,
    radius: float,
    extent: FloatArray,
    context: _SplitContext,
) -> list[SplitPlane]:
    """Planes through an axis that cut a concave wall of ``radius`` into chords.

    The sector angle keeps each chord's sagitta within the tolerance (and, for a wall
    wrapping half way round or more, within ``radius_fraction`` of the radius);
    ``extent`` (angles of the wall's triangles about the axis) limits the planes to
    where the wall is.
    """
    second = _cross(axis, reference)
    # The wall's angular extent: the span of each of its triangles (the short way round).
    bins = np.zeros(720, dtype=bool)
    starts, spans = _spans(extent)
    if len(starts):
        first = np.floor((starts + np.pi) / (2 * np.pi) * 720).astype(np.int64)
        width = np.ceil(spans / (2 * np.pi) * 720).astype(np.int64) + 1
        steps = np.arange(int(width.max()))
        covered = (first[:, None] + steps[None, :])[steps[None, :] < width[:, None]]
        bins[covered % 720] = True
    # A wall wrapping half way round or more is a passage (a bore, a pipe): its chords
    # are held to a fraction of the radius so what fits the real one fits through them.
    # A partial arc (a fillet in a corner) only needs the part's tolerance.
    allowed = context.tolerance
    if bins.mean() >= 0.5:
        allowed = min(allowed, context.radius_fraction * radius)
    if allowed >= radius:
        return []
    half_angle = float(np.arccos(1 - allowed / radius))
    count = max(2, int(np.ceil(np.pi / (2 * half_angle))))
    planes = []
    for j in range(count):
        theta = np.pi * j / count
        # The plane contains the axis and the rays at theta and theta + pi; it is kept
        # where one of them runs strictly inside the wall's extent.
        inside = False
        for ray in (theta, theta + np.pi):
            index = int(((ray + np.pi) % (2 * np.pi)) / (2 * np.pi) * 720)
            if bins[(index - 2) % 720] and bins[(index + 2) % 720]:
                inside = True
        if not inside:
            continue
        normal = -np.sin(theta) * reference + np.cos(theta) * second
        planes.append((normal, float(normal @ origin)))
    return planes


def _snap_axis(
    point: FloatArray, radius: float, context: _SplitContext
) -> tuple[FloatArray, FloatArray] | None:
    """The part's exact axis through a local centre of curvature, if one passes there.

    On a surface of revolution the normal through a point meets the axis, and the
    centre of circumferential curvature lies on it; the tangent there need not be
    parallel to the axis (a cone), so only the point is compared.
    """
    for exact in context.axes:
        a_point, a_dir = exact
        offset = point - a_point
        distance = float(np.linalg.norm(offset - (offset @ a_dir) * a_dir))
        if distance <= max(0.05 * radius, context.tolerance):
            return exact
    return None


def _wall_extent(
    origin: FloatArray,
    axis: FloatArray,
    reference: FloatArray,
    radius: float,
    piece: _Piece,
    context: _SplitContext,
) -> FloatArray:
    """Angles about an axis of the wall of ``radius`` around it, within the piece: (n, 3) per triangle."""
    lo, hi = piece.points.min(axis=0) - context.eps, piece.points.max(axis=0) + context.eps
    # Triangles whose bounding box meets the piece's (a bore's triangles can be long).
    boxes_lo, boxes_hi = context.surface.boxes
    index = np.flatnonzero(np.all((boxes_hi >= lo) & (boxes_lo <= hi), axis=1))
    offset = context.surface.centroids[index] - origin
    radial = offset - np.outer(offset @ axis, axis)
    distance = np.linalg.norm(radial, axis=1)
    band = max(0.1 * radius, 2 * context.tolerance)
    facing = np.abs(np.einsum("ij,ij->i", context.surface.normals[index], radial)) > 0.7 * np.maximum(
        distance, 1e-300
    )
    index = index[(np.abs(distance - radius) <= band) & facing]
    corners = context.oracle.vertices[context.oracle.faces[index]]
    return _angles_about(corners, origin, axis, reference)


@dataclass(frozen=True)
class _Family:
    """Planes to cut a piece along together; ``structural`` when they follow exact features
    (a flat wall's plane, sectors about an exact axis), which never need undoing."""

    planes: list[SplitPlane]
    structural: bool

    def same_as(self, other: _Family, eps: float) -> bool:
        if len(self.planes) != len(other.planes):
            return False
        if abs(abs(self.planes[0][1]) - abs(other.planes[0][1])) > eps:
            return False  # cheap first test: the offsets differ
        return all(
            abs(a[0] @ b[0]) > 1 - 1e-9 and abs(a[1] - (a[0] @ b[0]) * b[1]) <= eps
            for a, b in zip(self.planes, other.planes, strict=True)
        )


def _flat_faces_within(piece: _Piece, context: _SplitContext) -> list[SplitPlane]:
    """Planes of the exact flat faces (hints) that reach into a piece and cut it, nearest first."""
    lo, hi = piece.points.min(axis=0), piece.points.max(axis=0)
    boxes_lo, boxes_hi = context.surface.boxes
    inside = np.all((boxes_hi >= lo - context.eps) & (boxes_lo <= hi + context.eps), axis=1)
    found: list[tuple[float, SplitPlane]] = []
    for label in np.unique(context.surface.labels[inside]).tolist():
        hint = context.surface.hints[label] if label >= 0 else None
        if hint is None or hint.kind != "plane":
            continue
        normal = np.asarray(hint.axis, dtype=float) / np.linalg.norm(hint.axis)
        offset = float(normal @ np.asarray(hint.origin, dtype=float))
        heights = piece.points @ normal - offset
        if heights.max() > context.eps and heights.min() < -context.eps:
            found.append((abs(float(normal @ piece.worst) - offset), (normal, offset)))
    found.sort(key=lambda item: item[0])
    return [plane for _, plane in found]


def _families(piece: _Piece, context: _SplitContext) -> list[_Family]:
    """Candidate cuts for a piece: sets of planes from the surface near its worst gap.

    The empty ball at the worst point touches the walls that cause the gap. For each:
    a flat wall offers its own plane; a concave curved wall offers the planes through
    its axis of curvature that chord it (a bore's sectors, a fillet's facets) and the
    plane across its curvature at the touching point. Planes through the worst point
    come last.
    """
    gap, worst = piece.gap, piece.worst
    # Probes around the worst point reach the walls on every side of the empty ball.
    axial = np.concatenate([np.eye(3), -np.eye(3)])
    diagonal = (np.array(list(np.ndindex(2, 2, 2)), dtype=float) * 2 - 1) / np.sqrt(3)
    near = np.concatenate([axial, diagonal])
    probes = np.concatenate([worst[None], worst + 0.4 * gap * near, worst + 0.9 * gap * axial])
    distance, tri, closest = context.oracle.query(probes)
    families: list[_Family] = []

    def add(family: _Family) -> None:
        if not any(family.same_as(f, context.eps) for f in families):
            families.append(family)

    curved = 0  # curved walls worked out without an exact axis
    axes_done: list[int] = []  # exact axes already offered
    for k in np.argsort(np.abs(distance), kind="stable").tolist():
        local = context.surface.local(closest[k], int(tri[k]))
        if local.planar:
            add(_Family([(local.normal, float(local.normal @ local.point))], structural=True))
            continue
        for curvature, direction, other in (
            (local.curvatures[0], local.directions[0], local.directions[1]),
            (local.curvatures[1], local.directions[1], local.directions[0]),
        ):
            if curvature * context.tolerance <= 1e-4:
                continue  # flat or convex this way
            radius = 1.0 / curvature
            origin, axis, reference = local.point + local.normal * radius, other, -local.normal
            snapped = _snap_axis(origin, radius, context)
            if snapped is None:
                if curved >= _CURVED_PROBES:
                    continue
                curved += 1
            else:
                which = next(i for i, a in enumerate(context.axes) if a is snapped)
                if which in axes_done:
                    continue  # its sectors are offered already
                axes_done.append(which)
                origin, axis = snapped
                radial = local.point - origin - ((local.point - origin) @ axis) * axis
                radius = float(np.linalg.norm(radial))
                reference = _perpendicular(axis)
            axis = axis / np.linalg.norm(axis)
            reference = reference - (reference @ axis) * axis
            if np.linalg.norm(reference) < 1e-9 or radius <= context.eps:
                continue
            reference = reference / np.linalg.norm(reference)
            extent = _wall_extent(origin, axis, reference, radius, piece, context)
            planes = _sector_planes(origin, axis, reference, radius, extent, context)
            if planes:
                add(_Family(planes, structural=snapped is not None))
            add(_Family([(direction, float(direction @ local.point))], structural=False))
    # The part's exact flat faces inside the piece, nearest the worst point first: a
    # wide, shallow cavity's walls lie beyond the empty ball.
    for plane in _flat_faces_within(piece, context)[:_FLAT_FACES]:
        add(_Family([plane], structural=True))
    # Generic cuts through the worst point, in case the walls offer nothing useful.
    centred = piece.points - piece.points.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    for i in range(3):
        add(_Family([(axes[i], float(axes[i] @ worst))], structural=False))
    return families


@dataclass(frozen=True)
class _Choice:
    children: list[_Piece]
    excess: float  # summed over the children
    gap: float  # largest of the children's
    evaluations: int = 0


def _apply(piece: _Piece, family: _Family, context: _SplitContext) -> list[_Piece] | None:
    """The measured pieces a family of planes cuts a piece into, or None if it does not cut it."""
    parts = [piece.solid]
    for plane in family.planes:
        parts = _cut(parts, plane, context.eps)
    if len(parts) < 2:
        return None
    children = [c for c in (_evaluate(p, context) for p in parts) if c is not None]
    return children if len(children) >= 2 else None


def _choose_cut(piece: _Piece, context: _SplitContext) -> _Choice | None:
    """How to cut a piece whose gap is too large; None if no candidate helps.

    Structural cuts come first (flat walls, sectors about exact axes): the best of them
    is taken even when it pays off only after later cuts (a cup's floor plane, which
    leaves the wall's hull as full as before), as long as it does not make things
    clearly worse; there are finitely many, so this ends. Otherwise the candidate that
    leaves the least integrated gap wins if it leaves less than before, else the one
    leaving the smallest largest gap if that is smaller than before (a thin sliver of
    hull over a hole holds little volume but blocks all the same).
    """
    families = _families(piece, context)
    evaluations = 0
    least: _Choice | None = None  # least integrated gap
    lowest: _Choice | None = None  # smallest largest gap
    for structural in (True, False):
        for family in (f for f in families if f.structural == structural):
            children = _apply(piece, family, context)
            if children is None:
                continue
            evaluations += len(children)
            choice = _Choice(children, sum(c.excess for c in children), max(c.gap for c in children))
            if least is None or choice.excess < least.excess:
                least = choice
            if lowest is None or choice.gap < lowest.gap:
                lowest = choice
            if choice.excess <= _GOOD_ENOUGH * piece.excess and choice.gap < piece.gap:
                break  # good enough: the nearest walls' cuts come first
        if least is not None and structural and least.excess <= _STRUCTURAL_SLACK * piece.excess:
            return replace(least, evaluations=evaluations)
    if least is not None and least.excess < 0.999 * piece.excess:
        return replace(least, evaluations=evaluations)
    if lowest is not None and lowest.gap < piece.gap - context.eps:
        return replace(lowest, evaluations=evaluations)
    return None


def _exact_cut(piece: _Piece, context: _SplitContext) -> list[_Piece] | None:
    """A cut along one flat wall that leaves every side exact, if there is one.

    A plane-faced part should come out exact even where its error is within tolerance;
    a piece whose worst point faces a curved wall is left as it is (its chords are the point).
    """
    _, tri, closest = context.oracle.query(piece.worst[None])
    if not context.surface.local(closest[0], int(tri[0])).planar:
        return None
    for family in _families(piece, context):
        if not family.structural or len(family.planes) != 1:
            continue
        children = _apply(piece, family, context)
        if children is not None and all(c.gap <= _EXACT * context.eps for c in children):
            return children
    return None


def _feature_split(
    solid: m3.Manifold, context: _SplitContext, settings: DecompositionSettings, deadline: float
) -> tuple[list[_Piece], list[_Piece]]:
    """Cut a solid along its features until every piece's hull is within tolerance.

    Greedy: the piece with the largest gap is cut by whichever candidate family of
    planes (:func:`_choose_cut`) serves best. Returns the pieces within tolerance and
    those no cut improved or the budget left over. Raises :class:`DecompositionLimit`
    past the CPU ``deadline`` (a ``time.process_time()`` value).
    """
    first = _evaluate(solid, context)
    if first is None:
        raise ValueError("the mesh is empty")
    todo = [first]
    done: list[_Piece] = []
    stuck: list[_Piece] = []
    evaluations = 0
    while todo:
        todo.sort(key=lambda p: (-p.gap, -p.hull_volume))
        piece = todo.pop(0)
        if _accepts(piece, context):
            exact = _exact_cut(piece, context) if piece.gap > _EXACT * context.eps else None
            if exact is None:
                done.append(piece)
            else:
                todo.extend(exact)
            continue
        if (
            evaluations > settings.max_evaluations
            or len(done) + len(todo) + len(stuck) >= settings.max_pieces
        ):
            stuck.append(piece)
            continue
        if time.process_time() > deadline:
            raise DecompositionLimit(
                f"collision geometry needs more than {settings.cpu_limit:g} CPU seconds "
                f"({len(done) + len(todo) + len(stuck) + 1} pieces so far)"
            )
        choice = _choose_cut(piece, context)
        if choice is None:
            stuck.append(piece)
            continue
        evaluations += choice.evaluations
        todo.extend(choice.children)
    return done, stuck


def _mergeable(a: _Piece, b: _Piece, context: _SplitContext) -> _Piece | None:
    """The union of two touching pieces if its hull is still within tolerance, else None."""
    lo = np.maximum(a.points.min(axis=0), b.points.min(axis=0))
    hi = np.minimum(a.points.max(axis=0), b.points.max(axis=0))
    if np.any(lo > hi + context.eps):
        return None
    union_hull = m3.Manifold.hull_points(np.concatenate([a.points, b.points]))
    volume = float(union_hull.volume())
    # A gap within tolerance over the hull's area bounds the extra volume: cheap test first.
    extra = volume - float(a.solid.volume()) - float(b.solid.volume())
    if extra > context.tolerance * float(union_hull.surface_area()) / 2:
        return None
    # Measured more densely than a cut's pieces: a merge must not hide a gap.
    merged = _evaluate(a.solid + b.solid, context, _VERIFY_SAMPLES)
    if merged is None or not _accepts(merged, context) or merged.gap > 1.1 * max(a.gap, b.gap) + context.eps:
        return None
    return merged


def _merge(pieces: list[_Piece], context: _SplitContext, budget: int) -> list[_Piece]:
    """Merge touching pieces whose union's hull stays within tolerance (greedy passes, bounded).

    ``budget`` bounds the unions measured; pairs whose boxes do not touch cost nothing.
    """
    alive = list(pieces)
    merged = True
    while merged and budget > 0:
        merged = False
        alive.sort(key=lambda p: p.hull_volume)
        i = 0
        while i < len(alive) and budget > 0:
            j = i + 1
            while j < len(alive) and budget > 0:
                a, b = alive[i], alive[j]
                lo = np.maximum(a.points.min(axis=0), b.points.min(axis=0))
                hi = np.minimum(a.points.max(axis=0), b.points.max(axis=0))
                if np.all(lo <= hi + context.eps):
                    budget -= 1
                    union = _mergeable(a, b, context)
                    if union is not None:
                        alive[i] = union
                        del alive[j]
                        merged = True
                        continue
                j += 1
            i += 1
    return alive


def _context(
    solid: m3.Manifold, oracle: _Oracle, hints: list[SurfaceHint], settings: DecompositionSettings
) -> _SplitContext:
    """Everything the feature split needs about one solid."""
    points = oracle.vertices
    diagonal = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    eps = _REL_EPS_LENGTH * diagonal
    axes = [
        (np.asarray(h.origin, dtype=float), np.asarray(h.axis, dtype=float) / np.linalg.norm(h.axis))
        for h in hints
        if h.kind in _AXIAL_KINDS and np.linalg.norm(h.axis) > 0
    ]
    return _SplitContext(
        oracle=oracle,
        surface=_Surface(oracle, hints, 100 * eps),
        axes=axes,
        tolerance=settings.gap_fraction * diagonal,
        radius_fraction=settings.radius_fraction,
        eps=eps,
        min_volume=_REL_EPS_VOLUME * float(solid.volume()),
    )


def _compute(
    solid: m3.Manifold, context: _SplitContext, settings: DecompositionSettings, start_cpu: float
) -> _Outcome:
    """Feature split, merge, and CoACD for any piece the split could not bring within tolerance."""
    done, stuck = _feature_split(solid, context, settings, start_cpu + settings.cpu_limit)
    if not stuck and len(done) == 1:
        hull = _as_piece(done[0].points)
        return _Outcome([hull] if hull is not None else [], "convex")
    # A piece no cut improves but within twice the tolerance stays as it is (the gap
    # is reported); only worse ones are worth CoACD's time.
    kept = done + [p for p in stuck if p.gap <= _STUCK_SLACK * context.tolerance]
    pieces = _merge(
        kept,
        context,
        _MERGES_PER_PIECE * len(kept),
    )
    stuck = [p for p in stuck if p.gap > _STUCK_SLACK * context.tolerance]
    hulls = [_as_piece(p.points) for p in pieces]
    method: Method = "feature_split"
    if stuck and settings.allow_coacd:
        from_coacd = _run_coacd([_mesh_arrays(p.solid) for p in stuck], settings)
        if from_coacd:
            hulls.extend(from_coacd)
            method = "feature_split+coacd"
            stuck = []
    # CoACD may fail (it crashes on some thin slivers that oblique cuts leave); halving what
    # is still stuck always converges, since a piece's gap is at most its size.
    stuck = [half for p in stuck for half in _bisect(p, context, _BISECT_DEPTH)]
    hulls.extend(_as_piece(p.points) for p in stuck)
    return _Outcome([h for h in hulls if h is not None], method)


_BISECT_DEPTH = 10
"""How many times a stuck piece may be halved (up to 2**depth pieces, only where still over)."""


def _bisect(piece: _Piece, context: _SplitContext, depth: int) -> list[_Piece]:
    """Halve ``piece`` across its longest extent until each part is within tolerance."""
    if depth <= 0 or piece.gap <= _STUCK_SLACK * context.tolerance:
        return [piece]
    lo, hi = piece.points.min(axis=0), piece.points.max(axis=0)
    axis = int(np.argmax(hi - lo))
    plane: SplitPlane = (np.eye(3)[axis], float(lo[axis] + hi[axis]) / 2)
    halves = [_evaluate(part, context) for part in _cut([piece.solid], plane, context.eps)]
    # One side may hold no material (the hull spans a zero-thickness sheet): keep the other.
    kept = [h for h in halves if h is not None]
    if not kept or (len(kept) == 1 and kept[0].gap >= piece.gap):
        return [piece]
    return [part for half in kept for part in _bisect(half, context, depth - 1)]


# ----------------------------------------------------------------------- verification

_VERIFY_SAMPLES = 400  # per piece, on its facets and as many inside


@dataclass(frozen=True)
class _Fidelity:
    gap: float  # mm
    overfill: float  # relative to the mesh volume
    uncovered: float  # relative to the mesh volume


def _verify(pieces: list[Piece], solid: m3.Manifold, oracle: _Oracle) -> _Fidelity:
    """Measure pieces against the mesh: largest gap (sampled), over-filled and uncovered volume (exact)."""
    hulls = [m3.Manifold.hull_points(np.ascontiguousarray(v, dtype=np.float64)) for v, _ in pieces]
    hulls = [h for h in hulls if not h.is_empty()]
    volume = float(solid.volume())
    if not hulls:
        return _Fidelity(gap=np.inf, overfill=0.0, uncovered=1.0)
    samples = []
    for hull in hulls:
        facets, inside, _ = _hull_samples(hull, _VERIFY_SAMPLES)
        samples.extend([facets, inside])
    distance, _, _ = oracle.query(np.concatenate(samples))
    union = m3.Manifold.batch_boolean(hulls, m3.OpType.Add)
    return _Fidelity(
        gap=float(max(distance.max(), 0.0)),
        overfill=float((union - solid).volume()) / volume,
        uncovered=float((solid - union).volume()) / volume,
    )


# ------------------------------------------------------------------------ pose frame


# Third moment (canonical units) above which a part counts as chiral: below it, tessellation
# noise could flip the sign between a part and its moved copy.
_HANDED = 5e-3
# Highest harmonic tried to orient a part within a plane of equal moments (a gear's teeth).
_HARMONICS = 64


@dataclass(frozen=True)
class _Pose:
    """A part's canonical frame: centroid, principal axes (rows of ``rotation``) and size.

    ``canonical = (world - centre) @ rotation.T / scale``. Axes are ordered by moment of
    inertia; their signs, and the orientation within a plane of equal moments (a
    flange's bolt circle), are fixed by higher moments of the surface, so a moved or
    uniformly scaled copy of a part gets the same canonical shape. Where the part is
    symmetric the choice is arbitrary -- and then harmless, as the part looks the same.
    """

    centre: FloatArray
    rotation: FloatArray
    scale: float
    invariants: tuple[float, ...]

    def to_world(self, points: FloatArray) -> FloatArray:
        return np.asarray(points @ self.rotation * self.scale + self.centre)


def _pose(points: FloatArray, tris: NDArray[np.int64]) -> _Pose:
    """The canonical frame of a closed mesh, from its volume moments (see :class:`_Pose`)."""
    shift = points.mean(axis=0)  # work near the part, not near the world origin
    corners, _, area = _triangles(points - shift, tris)
    # Volume integrals over the tetrahedra fanned from the (shifted) origin.
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    tet = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    volume = float(tet.sum())
    total = a + b + c
    centre = (tet[:, None] * total).sum(axis=0) / 4 / volume
    moments = sum(np.einsum("i,ij,ik->jk", tet, p, p) for p in (a, b, c, total)) / 20 / volume
    covariance = moments - np.outer(centre, centre)
    values, vectors = np.linalg.eigh(covariance)
    scale = abs(volume) ** (1 / 3)
    axes = vectors.T.copy()
    # Surface samples (triangle centroids weighted by area) for the tie-breaks.
    sample = corners.mean(axis=1) - centre
    weight = area / area.sum()
    spread = values / scale**2
    for i, j in ((0, 1), (1, 2)):
        # A plane of (nearly) equal moments: orient within it by the first strong
        # harmonic of the surface about the remaining axis (k-fold symmetric parts
        # have none below k, and any of the k choices then looks the same).
        if abs(spread[j] - spread[i]) <= 1e-3 * spread.max():
            normal = axes[3 - i - j]
            u = axes[i]
            v = np.cross(normal, u)
            x, y = sample @ u, sample @ v
            angle = np.arctan2(y, x)
            radius = np.hypot(x, y)
            for k in range(1, _HARMONICS + 1):
                moment = complex((weight * radius * np.exp(1j * k * angle)).sum())
                if abs(moment) > 0.02 * float((weight * radius).sum()):
                    phase = np.angle(moment) / k
                    axes[i] = np.cos(phase) * u + np.sin(phase) * v
                    axes[j] = np.cross(normal, axes[i])
                    break
    for i in range(2):
        skew = float((weight * (sample @ axes[i]) ** 3).sum())
        if skew < -1e-6 * scale**3:
            axes[i] = -axes[i]
    axes[2] = np.cross(axes[0], axes[1])
    # A mirrored copy has the same moments; this third moment tells it apart.
    canonical = sample @ axes.T / scale
    handed = float((weight * canonical[:, 0] * canonical[:, 1] * canonical[:, 2]).sum())
    invariants = (
        *(float(f"{v:.3g}") for v in spread),
        float(f"{area.sum() / scale**2:.3g}"),
        float(np.sign(handed)) if abs(handed) > _HANDED else 0.0,
    )
    return _Pose(centre=shift + centre, rotation=axes, scale=scale, invariants=invariants)


# ------------------------------------------------------------------------------ cache


def _cache_key(pose: _Pose, hints: list[SurfaceHint], settings: DecompositionSettings) -> str:
    """Key of a part's decomposition: invariants of its shape (not of its pose or size)."""
    kinds = sorted(h.kind for h in hints)
    digest = hashlib.sha256()
    for part in (
        CODE_VERSION.encode(),
        settings.model_dump_json().encode(),
        json.dumps([list(pose.invariants), kinds]).encode(),
    ):
        # Length prefixes keep the concatenation unambiguous.
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def _exact_key(
    vertices: FloatArray, faces: NDArray[np.int64], hints: list[SurfaceHint], settings: DecompositionSettings
) -> str:
    """Key of one exact mesh's decomposition (the disk cache's): every byte that shapes it."""
    digest = hashlib.sha256()
    for part in (
        CODE_VERSION.encode(),
        settings.model_dump_json().encode(),
        json.dumps([h.model_dump(mode="json") for h in hints]).encode(),
        np.ascontiguousarray(vertices, dtype=np.float64).tobytes(),
        np.ascontiguousarray(faces, dtype=np.int64).tobytes(),
    ):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Entry:
    """A decomposition: on disk in world millimetres, in memory in the part's canonical frame."""

    pieces: list[Piece]
    method: Method
    error: float
    gap: float  # canonical units
    overfill: float
    uncovered: float


class DecompositionCache:
    """Two caches of decompositions, arranged so that a result never depends on history.

    * On disk, keyed by the exact mesh (and hints and settings): each entry is one
      ``.npz`` file (no pickles) holding what a fresh computation returned for that mesh,
      byte for byte, written to a temporary file and moved into place atomically, so
      concurrent processes may share a directory. A hit is exactly what recomputing
      would give.
    * In memory, for the lifetime of this object, keyed by the part's shape up to pose
      and scale: the pieces of every part decomposed so far, in its canonical frame. A
      moved, rotated or rescaled copy reuses them after they are measured against its
      own mesh (a key collision or an unlucky frame costs a recomputation, never a
      wrong answer). Use one object per check: the same script then gets the same
      pieces whatever was checked before, while its seeds and scales share the work.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._shapes: dict[str, _Entry] = {}

    def recall(self, key: str) -> _Entry | None:
        """The canonical-frame entry this object remembers under a pose-free ``key``."""
        return self._shapes.get(key)

    def remember(self, key: str, entry: _Entry) -> None:
        """Remember a canonical-frame entry for moved or rescaled copies; the first one stays."""
        self._shapes.setdefault(key, entry)

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key}.npz"

    def load(self, key: str) -> _Entry | None:
        """The entry stored on disk under ``key``, or None if absent, unreadable or there is no disk."""
        if self.directory is None:
            return None
        try:
            with np.load(self._path(key), allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                vertices = data["vertices"]
                faces = data["faces"]
                vertex_counts = data["vertex_counts"]
                face_counts = data["face_counts"]
        except (OSError, KeyError, ValueError, TypeError):
            return None
        pieces: list[Piece] = []
        v_start = f_start = 0
        for nv, nf in zip(vertex_counts.tolist(), face_counts.tolist(), strict=True):
            pieces.append(
                (
                    np.ascontiguousarray(vertices[v_start : v_start + nv], dtype=np.float64),
                    np.ascontiguousarray(faces[f_start : f_start + nf], dtype=np.int32),
                )
            )
            v_start += nv
            f_start += nf
        return _Entry(
            pieces,
            meta["method"],
            float(meta["error"]),
            float(meta["gap"]),
            float(meta["overfill"]),
            float(meta["uncovered"]),
        )

    def store(self, key: str, entry: _Entry) -> None:
        """Write an entry atomically (temporary file in the same directory, then rename)."""
        if self.directory is None:
            return
        buffer = io.BytesIO()
        pieces = entry.pieces
        np.savez(
            buffer,
            meta=np.array(
                json.dumps(
                    {
                        "method": entry.method,
                        "error": entry.error,
                        "gap": entry.gap,
                        "overfill": entry.overfill,
                        "uncovered": entry.uncovered,
                    }
                )
            ),
            vertices=np.concatenate([v for v, _ in pieces]) if pieces else np.zeros((0, 3)),
            faces=np.concatenate([f for _, f in pieces]) if pieces else np.zeros((0, 3), np.int32),
            vertex_counts=np.array([len(v) for v, _ in pieces], dtype=np.int64),
            face_counts=np.array([len(f) for _, f in pieces], dtype=np.int64),
        )
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(buffer.getvalue())
            os.replace(temp, self._path(key))
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


# -------------------------------------------------------------------------- public API


def _validated(vertices: object, faces: object) -> tuple[FloatArray, NDArray[np.int64]]:
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 4:
        raise ValueError(f"vertices must be (N>=4, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) < 4 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must be integer (M>=4, 3), got {f.shape} {f.dtype}")
    if not np.isfinite(v).all():
        raise ValueError("vertices must be finite")
    f = f.astype(np.int64)
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError("faces index out of range")
    # Own, writable copies: the caller's arrays may be read-only views (native code refuses those).
    return np.array(v, dtype=np.float64, order="C"), np.array(f, dtype=np.int64, order="C")


def _frozen(pieces: list[Piece]) -> list[tuple[np.ndarray, np.ndarray]]:
    for vertices, faces in pieces:
        vertices.setflags(write=False)
        faces.setflags(write=False)
    return [(v, f) for v, f in pieces]


# A cache hit is measured with fewer samples than a fresh result (it was verified then).
_HIT_SAMPLES = 48


def _non_manifold(
    vertices: FloatArray, faces: NDArray[np.int64], settings: DecompositionSettings
) -> _Outcome:
    if not settings.allow_coacd:
        raise ValueError("the mesh is not a closed manifold and CoACD fallback is disabled")
    # CoACD's own preprocessing repairs non-manifold input.
    pieces = _run_coacd([(vertices, faces)], settings, preprocess="on")
    if not pieces:
        raise ValueError("the mesh is not a closed manifold and CoACD failed on it")
    return _Outcome(pieces, "coacd")


def _outside_depth(points: FloatArray, pieces: list[Piece]) -> float:
    """How far the farthest point lies outside every piece (a lower bound, exact on facets), mm."""
    normals, offsets, owner = [], [], []
    for index, (vertices, faces) in enumerate(pieces):
        _, unit, area = _triangles(vertices, faces.astype(np.int64))
        unit = unit[area > 0]
        normals.append(unit)
        offsets.append((vertices @ unit.T).max(axis=0))
        owner.append(np.full(len(unit), index))
    normal, offset, piece = np.concatenate(normals), np.concatenate(offsets), np.concatenate(owner)
    starts = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
    depth = 0.0
    for chunk in range(0, len(points), 512):
        violation = points[chunk : chunk + 512] @ normal.T - offset
        per_piece = np.maximum.reduceat(violation, starts, axis=1)
        depth = max(depth, float(per_piece.min(axis=1).max()))
    return max(depth, 0.0)


def _from_cache(
    entry: _Entry, pose: _Pose, oracle: _Oracle, tolerance: float
) -> tuple[list[Piece], _Fidelity] | None:
    """A cached entry moved into this part's frame, if it fits this part's mesh.

    It must cover the mesh to within a quarter of the tolerance (the new tessellation's
    vertices need not lie on the old one's facets) and over-fill no more than before.
    """
    pieces = [(pose.to_world(v), f) for v, f in entry.pieces]
    if _outside_depth(oracle.vertices, pieces) > 0.25 * tolerance:
        return None
    hulls = [m3.Manifold.hull_points(np.ascontiguousarray(v)) for v, _ in pieces]
    hulls = [h for h in hulls if not h.is_empty()]
    samples = [np.concatenate(_hull_samples(h, _HIT_SAMPLES)[:2]) for h in hulls]
    gap = float(max(oracle.query(np.concatenate(samples))[0].max(), 0.0))
    if gap > 1.25 * max(entry.gap * pose.scale, tolerance):
        return None
    # Volumes relative to the part's do not change with pose or scale.
    return pieces, _Fidelity(gap=gap, overfill=entry.overfill, uncovered=entry.uncovered)


def decompose(
    vertices: object,
    faces: object,
    settings: DecompositionSettings | None = None,
    cache: DecompositionCache | None = None,
    surfaces: list[SurfaceHint] | None = None,
) -> Decomposition:
    """Split a closed triangle mesh (mm) into convex pieces for MuJoCo collision.

    ``vertices`` is ``(N, 3)`` float, ``faces`` ``(M, 3)`` int; duplicated vertices (as
    from ``shape.tessellate``) are welded. ``surfaces`` are the part's exact faces, if
    known (they make planes and bores exact). The pieces cover the mesh; the result
    reports how far they over-fill it. With a ``cache``, a part seen before -- moved,
    rotated or uniformly scaled -- reuses its pieces after they are checked against
    this mesh. Raises ``ValueError`` for a mesh it cannot use and
    :class:`DecompositionLimit` when ``cpu_limit`` runs out.
    """
    start = time.perf_counter()
    start_cpu = time.process_time()
    settings = settings or DecompositionSettings()
    hints = list(surfaces or [])
    v, f = _validated(vertices, faces)
    solid = _to_manifold(v, f)
    if solid is None:
        outcome = _non_manifold(v, f, settings)
        volume = abs(_signed_volume(v, f))
        error = (sum(_piece_volume(p) for p in outcome.pieces) - volume) / volume
        return Decomposition(
            pieces=_frozen(outcome.pieces),
            method=outcome.method,
            error=error,
            gap_mm=float("nan"),
            overfill=float("nan"),
            uncovered=float("nan"),
            tolerance_mm=float("nan"),
            seconds=time.perf_counter() - start,
            cached=False,
        )
    points, tris = _mesh_arrays(solid)
    oracle = _Oracle(points, tris)
    pose = _pose(points, tris)
    volume = float(solid.volume())
    tolerance = settings.gap_fraction * float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    # Order matters for determinism: a copy of a part seen earlier in this cache's life is
    # derived from it (in every run alike); only then is the disk consulted, and it holds
    # only fresh computations, so a disk hit is what computing would give.
    shape_key = _cache_key(pose, hints, settings) if cache is not None else ""
    remembered = cache.recall(shape_key) if cache is not None else None
    hit = _from_cache(remembered, pose, oracle, tolerance) if remembered is not None else None
    method: Method
    stored: _Entry | None = None
    if hit is not None:
        assert remembered is not None
        pieces, fidelity = hit
        method, error = remembered.method, remembered.error
    else:
        exact_key = _exact_key(v, f, hints, settings) if cache is not None else ""
        stored = cache.load(exact_key) if cache is not None else None
        if stored is not None:
            pieces, method, error = stored.pieces, stored.method, stored.error
            fidelity = _Fidelity(gap=stored.gap, overfill=stored.overfill, uncovered=stored.uncovered)
        else:
            outcome = _compute(solid, _context(solid, oracle, hints, settings), settings, start_cpu)
            pieces, method = outcome.pieces, outcome.method
            fidelity = _verify(pieces, solid, oracle)
            error = (sum(_piece_volume(p) for p in pieces) - volume) / volume
            if cache is not None:
                world = _Entry(pieces, method, error, fidelity.gap, fidelity.overfill, fidelity.uncovered)
                cache.store(exact_key, world)
        if cache is not None:
            canonical = [((p - pose.centre) @ pose.rotation.T / pose.scale, q) for p, q in pieces]
            cache.remember(
                shape_key,
                _Entry(
                    canonical, method, error, fidelity.gap / pose.scale, fidelity.overfill, fidelity.uncovered
                ),
            )
    return Decomposition(
        pieces=_frozen(pieces),
        method=method,
        error=error,
        gap_mm=fidelity.gap,
        overfill=fidelity.overfill,
        uncovered=fidelity.uncovered,
        tolerance_mm=tolerance,
        seconds=time.perf_counter() - start,
        cached=hit is not None or stored is not None,
    )


def covers_point(decomposition: Decomposition, point: object, tolerance: float = 1e-6) -> bool:
    """Whether a point (mm) lies inside or on any piece, within ``tolerance`` mm."""
    p = np.asarray(point, dtype=np.float64).reshape(3)
    for vertices, faces in decomposition.pieces:
        _, normals, area = _triangles(vertices, faces.astype(np.int64))
        normals = normals[area > 0]
        offsets = (vertices @ normals.T).max(axis=0)
        if (normals @ p - offsets).max() <= tolerance:
            return True
    return False
