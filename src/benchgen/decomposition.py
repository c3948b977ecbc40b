"""Convex decomposition of closed CAD meshes for MuJoCo collision.

MuJoCo collides a mesh geom as its convex hull, so a concave part (a block with a
hole, an open bin, an arch) must be handed over as several convex pieces or its holes
fill in. :func:`decompose` turns a closed triangle mesh (millimetres, as tessellated
from a build123d solid) into convex pieces:

1. If the mesh is convex within tolerance, its hull is the only piece (``"convex"``).
2. Otherwise the "cavities" -- the connected parts of hull minus mesh -- are computed
   exactly with manifold3d. Each cavity is split into convex parts, each part is
   shrunk to a polytope with few facets that lies inside the cavity, and the hull is
   cut by a binary space partition along the facet planes of those polytopes. The
   cells outside every cavity are the pieces (``"plane_split"``). Because the
   polytopes lie inside the cavities, the pieces cover the whole mesh; they
   over-fill only by thin slivers (at most ``max_gap`` thick, curved walls turned
   into chords) and by cavities too thin to matter.
3. What the plane split cannot handle (a mesh manifold3d rejects, a cavity that does
   not split into convex parts, too many pieces) goes to CoACD with fast parameters
   (``"coacd"``, or ``"plane_split+coacd"`` when only the material around one cavity
   needed it).

Results are deterministic and can be cached on disk by geometry hash
(:class:`DecompositionCache`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import manifold3d as m3
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from scipy.spatial import ConvexHull

CODE_VERSION = "benchgen.decomposition/1"
"""Part of every cache key: bump it whenever the algorithm's output may change."""

Method = Literal["convex", "plane_split", "coacd", "plane_split+coacd"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]
Piece = tuple[FloatArray, IntArray]

# Geometric noise floors, relative to the part's bounding-box diagonal (lengths) or
# its hull volume (volumes). Tessellation and boolean round-off live far below them.
_REL_EPS_LENGTH = 1e-7
_REL_EPS_VOLUME = 1e-9
# Relative shrink of the hull before subtracting the mesh (see _cavities).
_HULL_SHRINK = 1e-8
# A cavity counts as convex when its hull exceeds it by less than this fraction.
_CONVEX_CAVITY_REL = 1e-5
# How many plane evaluations splitting one non-convex cavity into convex parts may
# cost before the cavity is handed to CoACD instead.
_CAVITY_SPLIT_BUDGET = 600
# Coarser gaps tried, as multiples of max_gap, when the pieces exceed max_pieces.
_GAP_RELAXATION = (1.0, 2.0, 4.0)


class DecompositionSettings(BaseModel):
    """Tolerances of :func:`decompose`; frozen, and part of the cache key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_concavity: float = Field(
        0.01,
        gt=0,
        le=1,
        description="Relative volume the pieces may over-fill the mesh by (their summed volume "
        "minus the mesh volume, over the mesh volume); the plane split keeps its error within it",
    )
    max_gap: float = Field(
        1.0,
        gt=0,
        description="Thickest over-fill allowed, in mm: a cavity whose every width exceeds this "
        "stays open, and a curved wall may be replaced by chords at most this far inside the cavity",
    )
    max_pieces: int = Field(32, ge=1, le=4096, description="Most convex pieces returned")
    coacd_threshold: float = Field(0.05, gt=0, le=1, description="CoACD concavity threshold (fallback)")
    coacd_resolution: int = Field(300, ge=20, description="CoACD sampling resolution (fallback)")
    coacd_mcts_iterations: int = Field(30, ge=1)
    coacd_mcts_nodes: int = Field(8, ge=1)
    coacd_mcts_max_depth: int = Field(2, ge=1)
    coacd_seed: int = Field(0, ge=0)
    allow_coacd: bool = Field(True, description="Fall back to CoACD where the plane split fails")


class Decomposition(BaseModel):
    """Convex pieces covering a mesh, and how they were obtained.

    ``pieces`` are closed convex meshes (vertices ``(k, 3)`` float64 mm, faces ``(j, 3)``
    int32, outward-facing) whose union covers the mesh. The arrays are read-only.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pieces: list[tuple[np.ndarray, np.ndarray]]
    method: Method
    error: float = Field(description="(sum of piece volumes - mesh volume) / mesh volume")
    seconds: float = Field(description="Wall time of the call that returned this result")
    cached: bool


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Tolerances:
    length: float  # noise floor for distances, mm
    volume: float  # noise floor for volumes, mm^3
    gap: float  # thickest over-fill allowed, mm


def _mesh_arrays(solid: m3.Manifold) -> tuple[FloatArray, NDArray[np.int64]]:
    mesh = solid.to_mesh64()
    points = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    tris = np.asarray(mesh.tri_verts, dtype=np.int64).reshape(-1, 3)
    return np.ascontiguousarray(points), tris


def _signed_volume(points: FloatArray, tris: NDArray[np.int64]) -> float:
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


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


class _Polytope:
    """A convex solid with its vertices; facet planes (n . x <= d) are computed on demand."""

    def __init__(self, solid: m3.Manifold, points: FloatArray, volume: float) -> None:
        self.solid = solid
        self.points = points
        self.volume = volume

    @cached_property
    def planes(self) -> tuple[FloatArray, FloatArray]:
        """Unit outward normals and supporting offsets, one per facet."""
        # qhull gives every triangle of a merged facet the same hyperplane, so exact
        # de-duplication yields one plane per facet.
        equations = np.unique(ConvexHull(self.points).equations, axis=0)
        normals = equations[:, :3] / np.linalg.norm(equations[:, :3], axis=1, keepdims=True)
        # Supporting offsets keep every vertex on the inner side despite round-off.
        return normals, (self.points @ normals.T).max(axis=0)


def _polytope(solid: m3.Manifold) -> _Polytope | None:
    """Describe a convex manifold; None if it is empty or flat."""
    if solid.is_empty():
        return None
    volume = float(solid.volume())
    if volume <= 0:
        return None
    points, _ = _mesh_arrays(solid)
    return _Polytope(solid, points, volume)


def _hull_polytope(points: FloatArray) -> _Polytope | None:
    return _polytope(m3.Manifold.hull_points(np.ascontiguousarray(points, dtype=np.float64)))


def _width(points: FloatArray, normals: FloatArray) -> float:
    """An upper bound on the thickness of a point set: its least extent over some directions.

    A ball inside the set fits between the two supporting planes of any direction, so
    the least extent over the given directions (the set's own face normals, which
    include the hull lid a sliver hangs from) bounds twice its inscribed radius.
    """
    projections = points @ normals.T
    return float((projections.max(axis=0) - projections.min(axis=0)).min())


def _face_normals(points: FloatArray, tris: NDArray[np.int64]) -> FloatArray:
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    cross = np.cross(b - a, c - a)
    length = np.linalg.norm(cross, axis=1)
    keep = length > 0
    return np.asarray(cross[keep] / length[keep, None])


# --------------------------------------------------------------------------- cavities


@dataclass(frozen=True)
class _Cavity:
    solid: m3.Manifold
    volume: float
    width: float


def _lid_tolerance(hull: _Polytope, tol: _Tolerances) -> float:
    """How far inside the hull a point may be and still count as on it (see _cavities)."""
    lo, hi = np.asarray(hull.solid.bounding_box()).reshape(2, 3)
    return 10 * (tol.length + _HULL_SHRINK * float(np.linalg.norm(hi - lo)))


def _cavities(solid: m3.Manifold, hull: _Polytope, tol: _Tolerances) -> list[_Cavity]:
    """Connected parts of hull minus mesh that open onto the hull surface.

    Closed internal voids are left out: nothing outside the part can reach them, so
    filling them changes no contact.
    """
    # Subtract from a hull shrunk by a hair: where a mesh face lies on the hull, round-off
    # in the tessellation (1e-14 mm) otherwise leaves zero-thickness sheets attached to
    # the cavities, which inflate their hulls to the whole part.
    lo, hi = np.asarray(hull.solid.bounding_box()).reshape(2, 3)
    centre = (lo + hi) / 2
    scale = 1 - _HULL_SHRINK
    shrunk = hull.solid.translate(tuple(-centre)).scale((scale, scale, scale)).translate(tuple(centre))
    overfill = shrunk - solid
    cavities = []
    for part in overfill.decompose():
        volume = float(part.volume())
        if volume <= tol.volume:
            continue
        points, tris = _mesh_arrays(part)
        outside = (points @ hull.planes[0].T - hull.planes[1]).max(axis=1)
        if outside.max() < -_lid_tolerance(hull, tol):
            continue
        cavities.append(_Cavity(part, volume, _width(points, _face_normals(points, tris))))
    return cavities


def _split_significant(cavities: list[_Cavity], budget: float, gap: float) -> tuple[list[_Cavity], float]:
    """Choose the cavities to keep open; fill the thin ones while the volume budget lasts.

    Returns the cavities to keep open and the volume filled.
    """
    thin = sorted((c for c in cavities if c.width <= gap), key=lambda c: c.volume)
    keep = [c for c in cavities if c.width > gap]
    filled = 0.0
    for cavity in thin:
        if filled + cavity.volume <= budget:
            filled += cavity.volume
        else:
            keep.append(cavity)
    return keep, filled


def _solid_hull(solid: m3.Manifold) -> m3.Manifold:
    """Convex hull of a boolean result, ignoring zero-thickness sheets left on it.

    Cutting or subtracting exactly along a face whose vertices carry round-off leaves
    sheets 1e-14 mm thick hanging off the result; their far vertices would blow the
    hull up. A sheet's vertices see only faces in one plane (facing both ways), and so
    does any vertex inside a flat region, which never shapes a hull: both are skipped.
    """
    points, tris = _mesh_arrays(solid)
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    cross = np.cross(b - a, c - a)
    area = np.linalg.norm(cross, axis=1)
    solid_tris = area > 1e-12 * max(float(area.max(initial=0.0)), 1e-300)
    normals = cross[solid_tris] / area[solid_tris, None]
    corners = tris[solid_tris].reshape(-1)
    corner_normals = np.repeat(normals, 3, axis=0)
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


def _is_convex(solid: m3.Manifold, volume: float) -> bool:
    return float(_solid_hull(solid).volume()) - volume <= _CONVEX_CAVITY_REL * volume


def _face_planes(solid: m3.Manifold, tol: _Tolerances) -> list[tuple[FloatArray, float]]:
    """Distinct planes of a mesh's faces, largest total area first."""
    points, tris = _mesh_arrays(solid)
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    cross = np.cross(b - a, c - a)
    area = np.linalg.norm(cross, axis=1)
    keep = area > tol.length**2
    normals = cross[keep] / area[keep, None]
    offsets = np.einsum("ij,ij->i", normals, a[keep])
    area = area[keep]
    planes: list[tuple[FloatArray, float, float]] = []
    for i in np.argsort(-area, kind="stable"):
        for j, (normal, offset, total) in enumerate(planes):
            if float(normal @ normals[i]) > 1 - 1e-9 and abs(offset - offsets[i]) <= tol.length * 10:
                planes[j] = (normal, offset, total + float(area[i]))
                break
        else:
            planes.append((normals[i], float(offsets[i]), float(area[i])))
    planes.sort(key=lambda p: -p[2])
    return [(n, d) for n, d, _ in planes]


def _convex_parts(cavity: m3.Manifold, tol: _Tolerances) -> list[m3.Manifold] | None:
    """Split a cavity into convex parts along its own face planes, or None if too costly.

    Greedy: each step takes the face plane whose cut leaves the least hull excess. Parts
    must be convex up to noise, because their union is removed from the material.
    """
    done: list[m3.Manifold] = []
    todo = [cavity]
    evaluations = 0
    while todo:
        part = todo.pop()
        volume = float(part.volume())
        if _is_convex(part, volume):
            done.append(part)
            continue
        best: tuple[float, list[m3.Manifold]] | None = None
        for normal, offset in _face_planes(part, tol):
            evaluations += 1
            if evaluations > _CAVITY_SPLIT_BUDGET:
                return None
            above, below = part.split_by_plane(normal, offset)
            pieces = [p for side in (above, below) for p in side.decompose()]
            pieces = [p for p in pieces if p.volume() > tol.volume]
            if len(pieces) < 2:
                continue
            excess = sum(float(_solid_hull(p).volume() - p.volume()) for p in pieces)
            if best is None or excess < best[0]:
                best = (excess, pieces)
        if best is None:
            return None
        todo.extend(best[1])
    return done


# ------------------------------------------------------------------ simplification


def _triangle_clusters(
    points: FloatArray, tris: NDArray[np.int64], lid: NDArray[np.bool_], gap: float
) -> NDArray[np.int64]:
    """Group adjacent hull triangles into patches less than ``gap`` deep along their mean normal.

    A patch's depth is how far the chord plane through its rim is from its deepest point,
    i.e. how much of the cavity is lost when the patch is replaced by one flat facet.
    Lid triangles (on the part's hull) and wall triangles are never grouped together.
    """
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    cross = np.cross(b - a, c - a)
    area = np.linalg.norm(cross, axis=1)
    normals = cross / np.maximum(area, 1e-300)[:, None]
    edge_faces: dict[tuple[int, int], list[int]] = {}
    for t, tri in enumerate(tris.tolist()):
        for k in range(3):
            u, v = tri[k], tri[(k + 1) % 3]
            edge_faces.setdefault((min(u, v), max(u, v)), []).append(t)
    adjacent: list[list[int]] = [[] for _ in range(len(tris))]
    for faces in edge_faces.values():
        for t in faces:
            adjacent[t].extend(f for f in faces if f != t)
    labels = np.full(len(tris), -1, dtype=np.int64)
    by_area = np.argsort(-area, kind="stable").tolist()
    normal_list = normals.tolist()
    tri_list = tris.tolist()
    boundary: list[int] = []
    direction = np.zeros(3)
    label = 0
    while True:
        # Continue next to the last patch, in the direction the surface keeps turning,
        # so a ring of facets (a cylinder wall) is swept into full-width runs instead
        # of leaving one-facet fragments between patches grown from scattered seeds.
        open_boundary = [t for t in boundary if labels[t] < 0]
        if open_boundary:
            seed = max(open_boundary, key=lambda t: float(normals[t] @ direction))
        else:
            seed = next((t for t in by_area if labels[t] < 0), -1)
            if seed < 0:
                return labels
        weighted = normals[seed] * area[seed]
        members = list(tri_list[seed])
        labels[seed] = label
        frontier = [seed]
        boundary = []
        while frontier:
            t = frontier.pop(0)
            for f in adjacent[t]:
                if labels[f] >= 0:
                    continue
                trial = weighted + normals[f] * area[f]
                mean = trial / max(float(np.linalg.norm(trial)), 1e-300)
                nf = normal_list[f]
                if lid[f] == lid[seed] and nf[0] * mean[0] + nf[1] * mean[1] + nf[2] * mean[2] > 0.5:
                    heights = points[members + tri_list[f]] @ mean
                    if float(heights.max() - heights.min()) <= gap:
                        labels[f] = label
                        weighted = trial
                        members.extend(v for v in tri_list[f] if v not in members)
                        frontier.append(f)
                        continue
                boundary.append(f)
        direction = weighted / max(float(np.linalg.norm(weighted)), 1e-300)
        label += 1


def _simplify(
    cavity: m3.Manifold, hull: _Polytope, tol: _Tolerances, volume_budget: float
) -> _Polytope | None:
    """A polytope with few facets inside a convex cavity, missing at most ``gap`` of it.

    The cavity's wall facets are grouped into patches less than ``gap`` deep, and each
    patch is replaced by its chord: the plane along its mean normal through its
    innermost vertex. Intersecting the cavity with those planes keeps the result inside
    the cavity (so the pieces still cover the mesh) while a curved wall of many facets
    becomes a few flat ones. The lid -- where the cavity opens onto the part's hull --
    is left alone: a chord there would close the opening with a thin film. The gap is
    halved until the lost volume fits the budget.
    """
    full = _polytope(_solid_hull(cavity))
    if full is None:
        return None
    points, tris = _mesh_arrays(full.solid)
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    weighted = np.cross(b - a, c - a)
    centroids = (a + b + c) / 3
    normals, offsets = hull.planes
    lid = (centroids @ normals.T - offsets).max(axis=1) >= -_lid_tolerance(hull, tol)
    patch_gap = tol.gap
    for _ in range(6):
        labels = _triangle_clusters(points, tris, lid, patch_gap)
        inner = full.solid
        for label in range(int(labels.max()) + 1):
            members = labels == label
            if lid[members].any():
                continue
            normal = weighted[members].sum(axis=0)
            normal = normal / np.linalg.norm(normal)
            offset = float((points[np.unique(tris[members])] @ normal).min())
            inner = inner.trim_by_plane(-normal, -offset)
        simplified = _polytope(inner)
        if simplified is not None and full.volume - simplified.volume <= volume_budget:
            return simplified
        patch_gap /= 2
    return full


# ----------------------------------------------------------------------------- BSP


@dataclass(frozen=True)
class _Plane:
    normal: FloatArray
    offset: float


def _side(points: FloatArray, plane: _Plane, eps: float) -> int:
    """+1 if all points are on the outer side, -1 if all inner, 0 if they straddle."""
    distance = points @ plane.normal - plane.offset
    if distance.max() <= eps:
        return -1
    if distance.min() >= -eps:
        return 1
    return 0


def _choose_plane(cell: _Polytope, obstacles: list[_Polytope], eps: float) -> _Plane | None:
    """The obstacle facet plane to cut a cell along, or None if no facet cuts it.

    Prefer planes that split no other obstacle, then planes that separate obstacles
    evenly, then the plane cutting off the largest chunk (so peeled pieces are chunky).
    """
    best: tuple[tuple[int, int, float, int], _Plane] | None = None
    index = 0
    for obstacle in obstacles:
        for normal, offset in zip(*obstacle.planes, strict=True):
            index += 1
            plane = _Plane(normal, float(offset))
            distance = cell.points @ normal - offset
            if distance.max() <= eps or distance.min() >= -eps:
                continue
            sides = [_side(o.points, plane, eps) for o in obstacles]
            split = sides.count(0)
            balance = min(sides.count(1), sides.count(-1)) + split
            key = (split, -balance, -float(distance.max()), index)
            if best is None or key < best[0]:
                best = (key, plane)
    return None if best is None else best[1]


def _cut(poly: _Polytope, plane: _Plane) -> tuple[_Polytope | None, _Polytope | None]:
    outer, inner = poly.solid.split_by_plane(plane.normal, plane.offset)
    return _polytope(outer), _polytope(inner)


def _partition(
    hull: _Polytope, obstacles: list[_Polytope], tol: _Tolerances, max_cells: int
) -> list[_Polytope] | None:
    """Cut the hull along obstacle facets until every cell is outside all obstacles.

    Returns the cells outside the obstacles (convex, disjoint, covering hull minus the
    obstacles), or None once more than ``max_cells`` would be needed.
    """
    cells: list[_Polytope] = []
    stack: list[tuple[_Polytope, list[_Polytope]]] = [(hull, obstacles)]
    while stack:
        cell, inside = stack.pop()
        if not inside:
            cells.append(cell)
            if len(cells) > max_cells:
                return None
            continue
        plane = _choose_plane(cell, inside, tol.length)
        if plane is None:
            # Every obstacle lies in the cell and no facet of one cuts it: the cell is
            # an obstacle, i.e. cavity, so it yields no piece.
            continue
        outer, inner = _cut(cell, plane)
        groups: tuple[list[_Polytope], list[_Polytope]] = ([], [])
        for obstacle in inside:
            side = _side(obstacle.points, plane, tol.length)
            if side == 1:
                groups[0].append(obstacle)
            elif side == -1:
                groups[1].append(obstacle)
            else:
                for group, part in zip(groups, _cut(obstacle, plane), strict=True):
                    if part is not None and part.volume > tol.volume:
                        group.append(part)
        # Inner side last on the stack so it is processed first: peeling stays shallow.
        for sub, group in ((outer, groups[0]), (inner, groups[1])):
            if sub is not None and sub.volume > tol.volume:
                stack.append((sub, group))
    return cells


def _share_facet(first: _Polytope, second: _Polytope, eps: float) -> bool:
    """Whether two cells have facets on one plane, facing each other."""
    n1, d1 = first.planes
    n2, d2 = second.planes
    opposite = (n1 @ n2.T) < -1 + 1e-9
    coincide = np.abs(d1[:, None] + d2[None, :]) <= eps
    return bool((opposite & coincide).any())


def _merge_convex(cells: list[_Polytope], tol: _Tolerances) -> list[_Polytope]:
    """Merge pairs of touching cells whose union is itself convex (up to noise)."""
    cells = list(cells)
    i = 0
    while i < len(cells):
        for j in range(i + 1, len(cells)):
            if not _share_facet(cells[i], cells[j], tol.length * 10):
                continue
            union = _hull_polytope(np.concatenate([cells[i].points, cells[j].points]))
            if union is not None and union.volume - cells[i].volume - cells[j].volume <= tol.volume * 10:
                cells[i] = union
                del cells[j]
                break
        else:
            i += 1
    return cells


# ---------------------------------------------------------------------------- drivers


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


def _coacd_pieces(
    solid_or_mesh: tuple[FloatArray, NDArray[np.int64]], settings: DecompositionSettings
) -> list[Piece]:
    import coacd  # imported lazily: it is slow to load and only the fallback needs it

    coacd.set_log_level("error")
    vertices, faces = solid_or_mesh
    parts = coacd.run_coacd(
        coacd.Mesh(
            np.ascontiguousarray(vertices, dtype=np.float64), np.ascontiguousarray(faces, dtype=np.int32)
        ),
        threshold=settings.coacd_threshold,
        max_convex_hull=settings.max_pieces,
        preprocess_mode="off",
        resolution=settings.coacd_resolution,
        mcts_nodes=settings.coacd_mcts_nodes,
        mcts_iterations=settings.coacd_mcts_iterations,
        mcts_max_depth=settings.coacd_mcts_max_depth,
        seed=settings.coacd_seed,
    )
    pieces = [_as_piece(np.asarray(points, dtype=np.float64)) for points, _ in parts]
    return [p for p in pieces if p is not None]


def _plane_split(
    solid: m3.Manifold, hull: _Polytope, tol: _Tolerances, settings: DecompositionSettings
) -> _Outcome | None:
    """Decompose with cavity-facet cuts at one gap setting; None if it cannot."""
    mesh_volume = float(solid.volume())
    budget = settings.max_concavity * mesh_volume
    open_cavities, filled = _split_significant(_cavities(solid, hull, tol), budget, tol.gap)
    if not open_cavities:
        return _Outcome([_piece_of(hull)], "convex")
    total = sum(c.volume for c in open_cavities)
    obstacles: list[_Polytope] = []
    teeth: list[m3.Manifold] = []
    for cavity in open_cavities:
        parts = (
            [cavity.solid] if _is_convex(cavity.solid, cavity.volume) else _convex_parts(cavity.solid, tol)
        )
        if parts is None:
            if not settings.allow_coacd:
                return None
            # Keep the cavity's hull out of the plane split and let CoACD handle the
            # material that pokes into it.
            cavity_hull = _polytope(_solid_hull(cavity.solid))
            if cavity_hull is None:
                return None
            obstacles.append(cavity_hull)
            teeth.extend((cavity_hull.solid ^ solid).decompose())
            continue
        share = (budget - filled) * cavity.volume / total
        for part in parts:
            simplified = _simplify(part, hull, tol, share * float(part.volume()) / cavity.volume)
            if simplified is not None:
                obstacles.append(simplified)
    cells = _partition(hull, obstacles, tol, settings.max_pieces * 4)
    if cells is None:
        return None
    cells = _merge_convex(cells, tol)
    pieces = [_piece_of(c) for c in cells]
    method: Method = "plane_split"
    if teeth:
        method = "plane_split+coacd"
        for tooth in teeth:
            pieces.extend(_coacd_pieces(_mesh_arrays(tooth), settings))
    if len(pieces) > settings.max_pieces:
        return None
    return _Outcome(pieces, method)


def _piece_of(poly: _Polytope) -> Piece:
    piece = _as_piece(poly.points)
    assert piece is not None  # a _Polytope is never flat
    return piece


def _compute(
    vertices: FloatArray, faces: NDArray[np.int64], settings: DecompositionSettings
) -> tuple[_Outcome, float]:
    """Pieces and the mesh volume they are measured against."""
    solid = _to_manifold(vertices, faces)
    if solid is None:
        if not settings.allow_coacd:
            raise ValueError("the mesh is not a closed manifold and CoACD fallback is disabled")
        return _Outcome(_coacd_pieces((vertices, faces), settings), "coacd"), abs(
            _signed_volume(vertices, faces)
        )
    hull = _polytope(solid.hull())
    if hull is None:
        raise ValueError("the mesh is flat")
    lo, hi = np.asarray(solid.bounding_box()).reshape(2, 3)
    diagonal = float(np.linalg.norm(hi - lo))
    for factor in _GAP_RELAXATION:
        tol = _Tolerances(
            length=_REL_EPS_LENGTH * diagonal,
            volume=_REL_EPS_VOLUME * hull.volume,
            gap=settings.max_gap * factor,
        )
        outcome = _plane_split(solid, hull, tol, settings)
        if outcome is not None:
            return outcome, float(solid.volume())
    if not settings.allow_coacd:
        raise ValueError(f"plane split needs more than {settings.max_pieces} pieces and CoACD is disabled")
    mesh_vertices, mesh_faces = _mesh_arrays(solid)
    return _Outcome(_coacd_pieces((mesh_vertices, mesh_faces), settings), "coacd"), float(solid.volume())


def _piece_volume(piece: Piece) -> float:
    vertices, faces = piece
    return _signed_volume(vertices, faces.astype(np.int64))


# ------------------------------------------------------------------------------ cache


def _cache_key(vertices: FloatArray, faces: NDArray[np.int64], settings: DecompositionSettings) -> str:
    digest = hashlib.sha256()
    for part in (
        CODE_VERSION.encode(),
        settings.model_dump_json().encode(),
        np.ascontiguousarray(vertices, dtype="<f8").tobytes(),
        np.ascontiguousarray(faces, dtype="<i8").tobytes(),
    ):
        # Length prefixes keep the concatenation unambiguous.
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


class DecompositionCache:
    """On-disk cache of decompositions keyed by a hash of mesh, settings and code version.

    Each entry is one ``.npz`` file (no pickles) written to a temporary file and moved
    into place atomically, so concurrent processes may share a directory: a reader sees
    a whole entry or none, and two writers of one key write the same content.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def load(self, key: str) -> tuple[list[Piece], Method, float] | None:
        """Pieces, method and error stored under ``key``, or None if absent or unreadable."""
        try:
            with np.load(self._path(key), allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                vertices = data["vertices"]
                faces = data["faces"]
                vertex_counts = data["vertex_counts"]
                face_counts = data["face_counts"]
        except (OSError, KeyError, ValueError):
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
        return pieces, meta["method"], float(meta["error"])

    def store(self, key: str, pieces: list[Piece], method: Method, error: float) -> None:
        """Write an entry atomically (temporary file in the same directory, then rename)."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            meta=np.array(json.dumps({"method": method, "error": error})),
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
    return np.ascontiguousarray(v), np.ascontiguousarray(f)


def _frozen(pieces: list[Piece]) -> list[tuple[np.ndarray, np.ndarray]]:
    for vertices, faces in pieces:
        vertices.setflags(write=False)
        faces.setflags(write=False)
    return [(v, f) for v, f in pieces]


def decompose(
    vertices: object,
    faces: object,
    settings: DecompositionSettings | None = None,
    cache: DecompositionCache | None = None,
) -> Decomposition:
    """Split a closed triangle mesh (mm) into convex pieces for MuJoCo collision.

    ``vertices`` is ``(N, 3)`` float, ``faces`` ``(M, 3)`` int; duplicated vertices (as
    from ``shape.tessellate``) are welded. The pieces cover the mesh; ``error`` is how
    much their summed volume exceeds it, relative to it. With a ``cache``, a result for
    the same mesh bytes, settings and code version is read back instead of recomputed.
    """
    start = time.perf_counter()
    settings = settings or DecompositionSettings()
    v, f = _validated(vertices, faces)
    key = _cache_key(v, f, settings) if cache is not None else ""
    if cache is not None:
        hit = cache.load(key)
        if hit is not None:
            pieces, method, error = hit
            return Decomposition(
                pieces=_frozen(pieces),
                method=method,
                error=error,
                seconds=time.perf_counter() - start,
                cached=True,
            )
    outcome, mesh_volume = _compute(v, f, settings)
    error = (sum(_piece_volume(p) for p in outcome.pieces) - mesh_volume) / mesh_volume
    if cache is not None:
        cache.store(key, outcome.pieces, outcome.method, error)
    return Decomposition(
        pieces=_frozen(outcome.pieces),
        method=outcome.method,
        error=error,
        seconds=time.perf_counter() - start,
        cached=False,
    )


def covers_point(decomposition: Decomposition, point: object, tolerance: float = 1e-6) -> bool:
    """Whether a point (mm) lies inside or on any piece, within ``tolerance`` mm."""
    p = np.asarray(point, dtype=np.float64).reshape(3)
    for vertices, faces in decomposition.pieces:
        normals = _face_normals(vertices, faces.astype(np.int64))
        offsets = (vertices @ normals.T).max(axis=0)
        if (normals @ p - offsets).max() <= tolerance:
            return True
    return False
