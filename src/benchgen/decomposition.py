"""Convex decomposition of closed CAD meshes for MuJoCo collision.

MuJoCo collides a mesh geom as its convex hull, so a concave part (a block with a
hole, an open bin, an arch) must be handed over as several convex pieces or its holes
fill in. :func:`decompose` turns a closed triangle mesh (millimetres, as tessellated
from a build123d solid) into convex pieces:

1. The *cavities* -- connected parts of hull minus mesh that open onto the hull -- are
   computed exactly with manifold3d. If none is worth keeping open, the hull is the
   only piece (``"convex"``).
2. Otherwise each cavity (or each convex part of it) gets a convex *stand-in*: the
   hull intersected with the inner half-spaces of the cavity's walls. Curved walls are
   then reduced to a few chords at most ``max_gap`` deep, and the hull is cut by a
   binary space partition along the stand-ins' facet planes; the cells outside every
   stand-in are the pieces (``"plane_split"``). Stand-ins lie inside the cavities, so
   the pieces cover the mesh and over-fill only by thin slivers and by cavities too
   thin to matter. A cavity with no convex parts is dealt with by cutting the part in
   two across it and decomposing each side.
3. What the plane split cannot handle (a mesh manifold3d rejects, a shape needing
   too many cuts) goes to CoACD with fast parameters, run in a subprocess with a time
   limit: ``"coacd"`` for the whole part, ``"plane_split+coacd"`` for one side of a cut.

Tolerances are relaxed step by step (volume budget, then gap) when the pieces would
exceed ``max_pieces``. Results are deterministic and can be cached on disk by
geometry hash (:class:`DecompositionCache`).

The pieces are disjoint up to round-off. Use them for collision only: a closed void
inside the part is filled (nothing can reach it), which shows in ``error`` but changes
no contact; take mass and inertia from the real mesh.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import manifold3d as m3
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

CODE_VERSION = "benchgen.decomposition/2"
"""Part of every cache key: bump it whenever the algorithm's output may change."""

Method = Literal["convex", "plane_split", "coacd", "plane_split+coacd"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]
Piece = tuple[FloatArray, IntArray]

# Geometric noise floors, relative to the part's bounding-box diagonal (lengths) or
# its hull volume (volumes). Tessellation and boolean round-off live far below them.
_REL_EPS_LENGTH = 1e-7
_REL_EPS_VOLUME = 1e-9
# Relative shrink of the hull before subtracting the mesh: where a mesh face lies on
# the hull, round-off in the tessellation (1e-14 mm) otherwise leaves zero-thickness
# sheets attached to the cavities.
_HULL_SHRINK = 1e-8
# A mesh face lies along the hull when its normal is within 30 degrees of that of the
# hull facet above it.
_LID_COS = float(np.cos(np.radians(30)))
# Hull excess, relative to volume, below which a cavity part counts as convex, and
# below which it may be nearly convex (dented by tessellation, hung with slivers).
_CONVEX_REL = 1e-5
_NEARLY_CONVEX_REL = 0.05
# Plane evaluations allowed for splitting one cavity into convex parts.
_CAVITY_SPLIT_BUDGET = 40
# Largest face planes tried per cut of a cavity.
_CUTS_TRIED = 6
# Tolerance levels tried in turn while the pieces exceed max_pieces: (multiple of
# max_gap, multiple of max_concavity). Thin walls around a big cavity (a cup) cannot
# meet a volume budget relative to the material, so the budget goes first.
_RELAXATION = ((1.0, 1.0), (1.0, np.inf), (2.0, np.inf), (4.0, np.inf))
# Times the chord gap of one cavity part is halved to meet the volume budget.
_MAX_HALVINGS = 8
# How many times a solid may be cut in two across a cavity with no convex parts.
_MAX_DEPTH = 2
# Cutting planes tried across such a cavity.
_DIVISIONS_TRIED = 2
# Most solid pieces analysed in all such cuts of one part.
_ANALYSES = 12


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
    coacd_threshold: float = Field(0.1, gt=0, le=1, description="CoACD concavity threshold (fallback)")
    coacd_resolution: int = Field(300, ge=20, description="CoACD sampling resolution (fallback)")
    coacd_mcts_iterations: int = Field(30, ge=1)
    coacd_mcts_nodes: int = Field(8, ge=1)
    coacd_mcts_max_depth: int = Field(2, ge=1)
    coacd_seed: int = Field(0, ge=0)
    coacd_timeout: float = Field(120.0, gt=0, description="Seconds before a CoACD fallback is abandoned")
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


def _triangles(points: FloatArray, tris: NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Corners ``(T, 3, 3)``, unit normals and areas of a mesh's triangles."""
    corners = points[tris]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    return corners, cross / np.maximum(double_area, 1e-300)[:, None], double_area / 2


class _Polytope:
    """A convex solid with its vertices; facet planes (n . x <= d) are computed on demand."""

    def __init__(self, solid: m3.Manifold, points: FloatArray, volume: float) -> None:
        self.solid = solid
        self.points = points
        self.volume = volume

    @cached_property
    def planes(self) -> tuple[FloatArray, FloatArray]:
        """Unit outward normals and supporting offsets, one per facet (none if too thin)."""
        try:
            equations = ConvexHull(self.points).equations
        except QhullError:
            # A sliver too thin for qhull. Callers then treat it as filled (an
            # obstacle) or unmergeable (a cell), both on the safe side.
            return np.zeros((0, 3)), np.zeros(0)
        normals = equations[:, :3] / np.linalg.norm(equations[:, :3], axis=1, keepdims=True)
        # qhull may split one facet into hyperplanes differing in the last bits.
        _, kept = np.unique(np.round(normals, 9), axis=0, return_index=True)
        normals = normals[np.sort(kept)]
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


def _depth(points: FloatArray, polytope: _Polytope) -> FloatArray:
    """How far each point lies inside a convex polytope (negative: outside)."""
    normals, offsets = polytope.planes
    return np.asarray(-(points @ normals.T - offsets).max(axis=1))


def _width(solid: m3.Manifold) -> float:
    """An upper bound on the diameter of the largest ball inside a solid.

    The least extent along the solid's own face normals: a ball fits between the two
    supporting planes of any direction. Tight for a flat sliver hanging from a hull lid.
    """
    points, tris = _mesh_arrays(solid)
    _, unit, area = _triangles(points, tris)
    projections = points @ unit[area > 0].T
    return float((projections.max(axis=0) - projections.min(axis=0)).min(initial=np.inf))


def _thickness(solid: m3.Manifold) -> float:
    """An estimate of the diameter of the largest ball inside a thin solid.

    The least of :func:`_width` and six times volume over area, which is at least the
    diameter for a convex body and about three times the thickness of a thin curved
    shell -- the lens between two triangulations of one curved surface -- where
    extents are useless. (A thick lump hung with large thin fins could fool it; the
    callers bound the volume too.)
    """
    return min(_width(solid), 6 * float(solid.volume()) / max(float(solid.surface_area()), 1e-300))


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


def _edge_pairs(tris: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """For each edge of a closed manifold mesh: its two triangles and their opposite vertices.

    Returns ``(faces (E, 2), opposite (E, 2), edge (E, 2))``.
    """
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    face = np.tile(np.arange(len(tris)), 3)
    opposite = np.concatenate([tris[:, 2], tris[:, 0], tris[:, 1]])
    key = np.sort(edges, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    key, face, opposite = key[order], face[order], opposite[order]
    # In a closed manifold every edge has exactly two faces, adjacent after sorting.
    pair = np.flatnonzero((key[:-1] == key[1:]).all(axis=1))
    return (
        np.stack([face[pair], face[pair + 1]], axis=1),
        np.stack([opposite[pair], opposite[pair + 1]], axis=1),
        key[pair],
    )


# --------------------------------------------------------------------------- cavities


@dataclass(frozen=True)
class _Cavity:
    solid: m3.Manifold
    volume: float
    width: float


def _cavities(solid: m3.Manifold, hull: _Polytope, tol: _Tolerances) -> list[_Cavity]:
    """Connected parts of hull minus mesh that open onto the hull surface.

    Closed internal voids are left out: nothing outside the part can reach them, so
    filling them changes no contact.
    """
    lo, hi = np.asarray(hull.solid.bounding_box()).reshape(2, 3)
    centre = tuple((lo + hi) / 2)
    scale = 1 - _HULL_SHRINK
    shrunk = hull.solid.translate(tuple(-c for c in centre)).scale((scale, scale, scale)).translate(centre)
    on_hull = 10 * tol.length + _HULL_SHRINK * float(np.linalg.norm(hi - lo))
    cavities = []
    for part in (shrunk - solid).decompose():
        volume = float(part.volume())
        if volume <= tol.volume:
            continue
        points, _ = _mesh_arrays(part)
        if _depth(points, hull).min() > on_hull:
            continue
        cavities.append(_Cavity(part, volume, _width(part)))
    return cavities


def _split_significant(cavities: list[_Cavity], budget: float, gap: float) -> tuple[list[int], float]:
    """Choose the cavities to keep open; fill thin ones, smallest first, while the budget lasts.

    Returns the indices of the cavities kept open and the volume filled.
    """
    thin = sorted(
        (i for i, c in enumerate(cavities) if c.width <= gap), key=lambda i: (cavities[i].volume, i)
    )
    keep = [i for i, c in enumerate(cavities) if c.width > gap]
    filled = 0.0
    for index in thin:
        if filled + cavities[index].volume <= budget:
            filled += cavities[index].volume
        else:
            keep.append(index)
    return sorted(keep), filled


def _sliver_depth(solid: m3.Manifold, hull: _Polytope, tol: _Tolerances) -> float:
    """How deep the mesh's faces that lie along the hull dip below it.

    On a convex curved surface the mesh and its hull are two triangulations of the same
    points; the lens-shaped slivers between them are as thick as the tessellation
    tolerance. A face counts when each of its vertices lies on a hull facet nearly
    parallel to it (a face spanning a cavity from rim to rim does not).
    """
    points, tris = _mesh_arrays(solid)
    normals, offsets = hull.planes
    # Which hull facets each vertex lies on, as (vertex, facet) pairs sorted by vertex.
    pairs = [
        np.argwhere(np.abs(points[start : start + 1024] @ normals.T - offsets) <= 10 * tol.length)
        + [start, 0]
        for start in range(0, len(points), 1024)
    ]
    vertex, facet = np.concatenate(pairs).T
    first = np.searchsorted(vertex, np.arange(len(points) + 1))
    corners, unit, _ = _triangles(points, tris)
    corner_vertex = tris.reshape(-1)
    counts = first[corner_vertex + 1] - first[corner_vertex]
    corner_of_pair = np.repeat(np.arange(len(corner_vertex)), counts)
    pair = np.repeat(first[corner_vertex] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    parallel = np.einsum("ij,ij->i", unit[corner_of_pair // 3], normals[facet[pair]]) > _LID_COS
    corner_ok = np.zeros(len(corner_vertex), dtype=bool)
    corner_ok[corner_of_pair[parallel]] = True
    along = corner_ok.reshape(-1, 3).all(axis=1)
    centroids = corners[along].mean(axis=1)
    return float(_depth(centroids, hull).max(initial=0.0)) if len(centroids) else 0.0


# -------------------------------------------------------------------------- stand-ins


@dataclass(frozen=True)
class _StandIn:
    """A convex polytope standing in for (part of) a cavity, and what it misses of it."""

    polytope: _Polytope
    lost_volume: float  # cavity volume outside the polytope, mm^3
    lost_gap: float  # how far the cavity reaches beyond the polytope, mm
    # Planes the cavity was cut along to get this part: cavity lies beyond them, so the
    # polytope's facets there must stay put (a chord would wall the cavity off).
    cuts: tuple[tuple[float, float, float, float], ...] = ()


@dataclass(frozen=True)
class _Frame:
    """The solid being decomposed, as stand-ins need it."""

    solid: m3.Manifold
    hull: _Polytope
    wall_depth: float  # faces deeper than this below the hull are walls, mm
    tol: _Tolerances


def _wall_planes(part: m3.Manifold, frame: _Frame, convex: bool) -> tuple[FloatArray, FloatArray]:
    """Distinct planes of a cavity part's walls (faces deeper than the lid depth): normals, offsets.

    For a convex part the faces of its hull are used: a part cut from a cavity exactly
    along one of its faces may carry a zero-thickness sheet there, whose far side would
    cut the stand-in down to nothing.
    """
    points, tris = _mesh_arrays(_solid_hull(part) if convex else part)
    corners, unit, area = _triangles(points, tris)
    deep = (_depth(corners.mean(axis=1), frame.hull) > frame.wall_depth) & (area > frame.tol.length**2)
    normals = unit[deep]
    offsets = np.einsum("ij,ij->i", normals, corners[deep, 0])
    key = np.round(np.column_stack([normals, offsets / frame.tol.length * 1e-3]), 9)
    _, kept = np.unique(key, axis=0, return_index=True)
    kept = np.sort(kept)
    return normals[kept], offsets[kept]


def _clip(frame: _Frame, normals: FloatArray, offsets: FloatArray) -> _Polytope | None:
    """The hull intersected with the half-spaces n . x <= d; None if (nearly) empty."""
    hull_normals, hull_offsets = frame.hull.planes
    all_normals = np.concatenate([hull_normals, normals])
    all_offsets = np.concatenate([hull_offsets, offsets])
    # Chebyshev centre: the deepest interior point, needed to seed qhull.
    centre = linprog(
        c=[0.0, 0.0, 0.0, -1.0],
        A_ub=np.column_stack([all_normals, np.ones(len(all_normals))]),
        b_ub=all_offsets,
        bounds=[(None, None)] * 3 + [(0.0, None)],
        method="highs",
    )
    if not centre.success or centre.x[3] <= 10 * frame.tol.length:
        return None
    try:
        corners = HalfspaceIntersection(
            np.column_stack([all_normals, -all_offsets]), centre.x[:3]
        ).intersections
    except QhullError:
        return None
    return _hull_polytope(corners)


def _stand_in(part: m3.Manifold, frame: _Frame, convex: bool) -> _StandIn | None:
    """The hull cut by the planes of a cavity part's walls, or None if that is empty.

    A point of the hull outside the cavity part is beyond the part's face nearest to
    it, so the result lies in the part -- except next to faces within the lid depth of
    the hull, which are left out so that the stand-in reaches through the opening
    (the lid) and ignores the tessellation slivers clinging to its rim. For a convex
    part this is the part itself; for a nearly convex one it is what is left after
    cutting away the dents.
    """
    normals, offsets = _wall_planes(part, frame, convex)
    if len(normals) == 0:
        return None
    polytope = _clip(frame, normals, offsets)
    if polytope is None:
        return None
    lost_volume = 0.0
    lost_gap = 0.0
    for lost in (part - polytope.solid).decompose():
        volume = float(lost.volume())
        if volume > frame.tol.volume:
            lost_volume += volume
            lost_gap = max(lost_gap, _thickness(lost))
    return _StandIn(polytope, lost_volume, lost_gap)


def _hollow(polytope: _Polytope, frame: _Frame) -> bool:
    """Whether a stand-in holds no material but slivers thinner than the lid depth.

    This is the guarantee that the pieces cover the mesh, checked rather than assumed.
    """
    for overlap in (polytope.solid ^ frame.solid).decompose():
        if (
            overlap.volume() > frame.tol.volume
            and _thickness(overlap) > 2 * frame.wall_depth + 10 * frame.tol.length
        ):
            return False
    return True


def _face_planes(solid: m3.Manifold, frame: _Frame, reflex_only: bool) -> list[tuple[FloatArray, float]]:
    """Distinct planes of a cavity's walls (optionally only faces at reflex edges), largest first."""
    points, tris = _mesh_arrays(solid)
    corners, unit, area = _triangles(points, tris)
    keep = (_depth(corners.mean(axis=1), frame.hull) > frame.wall_depth) & (area > frame.tol.length**2)
    if reflex_only:
        keep &= _reflex_faces(points, tris, frame.tol.length)
    normals = unit[keep]
    offsets = np.einsum("ij,ij->i", normals, corners[keep, 0])
    area = area[keep]
    if len(area) == 0:
        return []
    # Coplanar faces share a key (normal to 1e-6, offset to ten noise floors).
    key = np.column_stack([np.round(normals, 6), np.round(offsets / (10 * frame.tol.length))])
    _, group = np.unique(key, axis=0, return_inverse=True)
    group = group.reshape(-1)
    total = np.bincount(group, weights=area)
    # Each plane is that of its group's largest face.
    order = np.lexsort((-area, group))
    leader = order[np.searchsorted(group[order], np.arange(len(total)))]
    ranked = leader[np.lexsort((leader, -total))]
    return [(normals[i], float(offsets[i])) for i in ranked.tolist()]


def _reflex_faces(points: FloatArray, tris: NDArray[np.int64], eps: float) -> NDArray[np.bool_]:
    """Which triangles touch a reflex (concave) edge of a closed, outward-facing mesh."""
    _, unit, _ = _triangles(points, tris)
    faces, opposite, edge = _edge_pairs(tris)
    base = points[edge[:, 0]]
    # An edge is reflex when either neighbour's far vertex is above the other's plane.
    above = np.einsum("ij,ij->i", points[opposite[:, 1]] - base, unit[faces[:, 0]]) > eps
    above |= np.einsum("ij,ij->i", points[opposite[:, 0]] - base, unit[faces[:, 1]]) > eps
    reflex = np.zeros(len(tris), dtype=bool)
    reflex[faces[above].reshape(-1)] = True
    return reflex


def _excess(solid: m3.Manifold) -> float:
    """Hull volume over volume, minus one."""
    volume = float(solid.volume())
    return float(_solid_hull(solid).volume()) / volume - 1


def _whole_stand_in(
    part: m3.Manifold, frame: _Frame, accept_gap: float, always_kernel: bool
) -> _StandIn | None:
    """A stand-in for the part as a whole if it is convex or nearly so, else None.

    A convex part is replaced by its hull's facets, unless tessellation makes those
    bulge into the material; then, as for a nearly convex part, by its kernel. Slivers
    along the hull can make a nearly convex cavity's hull huge, so ``always_kernel``
    tries the kernel whatever the hull says (costly, so not for every trial part).
    """
    excess = _excess(part)
    for convex in (True, False):
        if excess > (_CONVEX_REL if convex else _NEARLY_CONVEX_REL) and (convex or not always_kernel):
            continue
        stand_in = _stand_in(part, frame, convex)
        if (
            stand_in is not None
            and stand_in.lost_gap <= accept_gap
            and stand_in.lost_volume <= _NEARLY_CONVEX_REL * float(part.volume())
            and _hollow(stand_in.polytope, frame)
        ):
            return stand_in
    return None


def _convex_parts(cavity: m3.Manifold, frame: _Frame, accept_gap: float) -> list[_StandIn] | None:
    """Split a cavity into nearly convex parts along its own face planes; None if too costly.

    Greedy: each step tries the largest face planes at reflex edges and takes the cut
    leaving the least hull excess; a part is done when it has a stand-in missing at
    most ``accept_gap`` of it. A ring-shaped cavity (a groove around a shaft) is refused
    at once: it only comes apart facet by facet.
    """
    if cavity.genus() > 0:
        return None
    done: list[_StandIn] = []
    todo: list[tuple[m3.Manifold, tuple[tuple[float, float, float, float], ...]]] = [(cavity, ())]
    evaluations = 0
    while todo:
        part, cuts = todo.pop()
        stand_in = _whole_stand_in(part, frame, accept_gap, always_kernel=False)
        if stand_in is not None:
            done.append(replace(stand_in, cuts=cuts))
            continue
        volume = float(part.volume())
        best: tuple[float, list[m3.Manifold], tuple[float, float, float, float]] | None = None
        for normal, offset in _face_planes(part, frame, reflex_only=True)[:_CUTS_TRIED]:
            evaluations += 1
            if evaluations > _CAVITY_SPLIT_BUDGET:
                return None
            sides = part.split_by_plane(normal, offset)
            pieces = [p for side in sides for p in side.decompose() if p.volume() > frame.tol.volume]
            if len(pieces) < 2:
                continue
            excess = float(sum(_solid_hull(p).volume() - p.volume() for p in pieces))
            if best is None or excess < best[0]:
                best = (excess, pieces, (float(normal[0]), float(normal[1]), float(normal[2]), float(offset)))
            if excess <= _CONVEX_REL * volume:
                break  # every part is convex: no plane can do better
        if best is None:
            return None
        todo.extend((piece, (*cuts, best[2])) for piece in best[1])
    return done


# ------------------------------------------------------------------ simplification


@dataclass(frozen=True)
class _FacetGraph:
    """A convex cavity's hull as flat facets (coplanar triangles merged) and their adjacency."""

    points: FloatArray
    tri_facet: NDArray[np.int64]  # facet of each triangle
    weighted: FloatArray  # per facet: normal times area
    vertices: list[list[int]]  # per facet: its vertex indices
    neighbours: list[list[int]]  # per facet: adjacent facets
    fixed: NDArray[np.bool_]  # per facet: never chorded, as it lies on the part's hull or on a cut


def _facet_graph(stand_in: _StandIn, hull: _Polytope, tol: _Tolerances) -> _FacetGraph:
    """The facet graph of a stand-in; fixed are its facets on the part's hull or on a cut."""
    full = stand_in.polytope
    points, tris = _mesh_arrays(full.solid)
    corners, unit, area = _triangles(points, tris)
    faces, opposite, _ = _edge_pairs(tris)
    # Neighbours are coplanar when each one's far vertex lies in the other's plane.
    base = corners[faces[:, 0], 0]
    flat = (np.abs(np.einsum("ij,ij->i", points[opposite[:, 1]] - base, unit[faces[:, 0]])) <= tol.length) & (
        np.einsum("ij,ij->i", unit[faces[:, 0]], unit[faces[:, 1]]) > 0
    )
    graph = coo_matrix(
        (np.ones(int(flat.sum())), (faces[flat, 0], faces[flat, 1])), shape=(len(tris), len(tris))
    )
    count, tri_facet = connected_components(graph, directed=False)
    tri_facet = tri_facet.astype(np.int64)
    weighted = np.zeros((count, 3))
    np.add.at(weighted, tri_facet, unit * area[:, None])
    vertices: list[list[int]] = [[] for _ in range(count)]
    for facet, tri in zip(tri_facet.tolist(), tris.tolist(), strict=True):
        vertices[facet].extend(tri)
    vertices = [sorted(set(v)) for v in vertices]
    links = np.unique(np.sort(tri_facet[faces[~flat]], axis=1), axis=0)
    links = links[links[:, 0] != links[:, 1]]
    neighbours: list[list[int]] = [[] for _ in range(count)]
    for u, v in links.tolist():
        neighbours[u].append(v)
        neighbours[v].append(u)
    centroids = np.zeros((count, 3))
    np.add.at(centroids, tri_facet, corners.mean(axis=1))
    centroids /= np.bincount(tri_facet, minlength=count)[:, None]
    fixed = _depth(centroids, hull) <= 10 * tol.length
    if stand_in.cuts:
        cuts = np.asarray(stand_in.cuts)
        on_cut = np.abs(centroids @ cuts[:, :3].T - cuts[:, 3]) <= 10 * tol.length
        unit_facets = weighted / np.maximum(np.linalg.norm(weighted, axis=1), 1e-300)[:, None]
        parallel = np.abs(unit_facets @ cuts[:, :3].T) > 1 - 1e-6
        fixed |= (on_cut & parallel).any(axis=1)
    return _FacetGraph(points, tri_facet, weighted, vertices, neighbours, fixed)


def _patch_depth(graph: _FacetGraph, weighted: FloatArray, vertices: list[int]) -> float:
    """How far a patch's deepest vertex is below its chord, along its mean normal."""
    normal = weighted / max(float(np.linalg.norm(weighted)), 1e-300)
    heights = graph.points[vertices] @ normal
    return float(heights.max() - heights.min())


def _grow_patches(graph: _FacetGraph, gap: float) -> NDArray[np.int64]:
    """Region-grow wall facets into patches at most ``gap`` deep; fixed facets get label -1.

    Each new patch starts next to the last one, in the direction the surface keeps
    turning, so a ring of facets (a cylinder wall) is swept into full-width runs
    instead of leaving one-facet fragments between patches grown from scattered seeds.
    """
    labels = np.where(graph.fixed, -1, -2)  # -2: not yet assigned
    area = np.linalg.norm(graph.weighted, axis=1)
    unit = graph.weighted / np.maximum(area, 1e-300)[:, None]
    by_area = [int(f) for f in np.argsort(-area, kind="stable") if not graph.fixed[f]]
    boundary: list[int] = []
    direction = np.zeros(3)
    label = 0
    while True:
        open_boundary = [f for f in boundary if labels[f] == -2]
        if open_boundary:
            seed = max(open_boundary, key=lambda f: float(unit[f] @ direction))
        else:
            seed = next((f for f in by_area if labels[f] == -2), -1)
            if seed < 0:
                return labels
        weighted = graph.weighted[seed].copy()
        members = set(graph.vertices[seed])
        labels[seed] = label
        frontier = [seed]
        boundary = []
        while frontier:
            facet = frontier.pop(0)
            for other in graph.neighbours[facet]:
                if labels[other] != -2:
                    continue
                trial = weighted + graph.weighted[other]
                if float(unit[other] @ trial) > 0.5 * float(np.linalg.norm(trial)):
                    candidate = members.union(graph.vertices[other])
                    if _patch_depth(graph, trial, sorted(candidate)) <= gap:
                        labels[other] = label
                        weighted = trial
                        members = candidate
                        frontier.append(other)
                        continue
                boundary.append(other)
        direction = weighted / max(float(np.linalg.norm(weighted)), 1e-300)
        label += 1


def _merge_patches(graph: _FacetGraph, labels: NDArray[np.int64], gap: float) -> NDArray[np.int64]:
    """Merge adjacent wall patches while the result stays at most ``gap`` deep, cheapest first.

    This absorbs the fragments region growing leaves on doubly curved walls.
    """
    count = int(labels.max()) + 1
    weighted = [graph.weighted[labels == k].sum(axis=0) for k in range(count)]
    vertices: list[set[int]] = [set() for _ in range(count)]
    neighbours: list[set[int]] = [set() for _ in range(count)]
    for facet, label in enumerate(labels.tolist()):
        if label < 0:
            continue
        vertices[label].update(graph.vertices[facet])
        neighbours[label].update(int(labels[f]) for f in graph.neighbours[facet] if labels[f] >= 0)
    for label in range(count):
        neighbours[label].discard(label)
    parent = list(range(count))

    def depth(p: int, q: int) -> float:
        return _patch_depth(graph, weighted[p] + weighted[q], sorted(vertices[p] | vertices[q]))

    heap = [(depth(p, q), p, q) for p in range(count) for q in sorted(neighbours[p]) if p < q]
    heap = [entry for entry in heap if entry[0] <= gap]
    heapq.heapify(heap)
    while heap:
        _, p, q = heapq.heappop(heap)
        if parent[p] != p or parent[q] != q or depth(p, q) > gap:
            continue  # merged away since, or grown too deep
        parent[q] = p
        weighted[p] = weighted[p] + weighted[q]
        vertices[p] |= vertices[q]
        neighbours[p] = (neighbours[p] | neighbours[q]) - {p, q}
        for r in sorted(neighbours[p]):
            neighbours[r].discard(q)
            neighbours[r].add(p)
            cost = depth(min(p, r), max(p, r))
            if cost <= gap:
                heapq.heappush(heap, (cost, min(p, r), max(p, r)))

    def root(p: int) -> int:
        while parent[p] != p:
            p = parent[p]
        return p

    roots = sorted({root(p) for p in range(count)})
    relabel = {r: i for i, r in enumerate(roots)}
    return np.array([relabel[root(k)] if k >= 0 else -1 for k in labels.tolist()], dtype=np.int64)


class _TooManyPieces(Exception):
    """The plane split at this tolerance level would exceed the piece budget."""


def _chorded(full: _Polytope, graph: _FacetGraph, gap: float) -> tuple[_Polytope | None, int]:
    """The cavity hull cut by the chords of its wall patches at most ``gap`` deep.

    Returns the polytope (None if degenerate) and the number of wall patches.
    """
    labels = _merge_patches(graph, _grow_patches(graph, gap), gap)
    count = int(labels.max()) + 1
    walls = labels >= 0
    patch_normals = np.zeros((count, 3))
    np.add.at(patch_normals, labels[walls], graph.weighted[walls])
    lengths = np.linalg.norm(patch_normals, axis=1, keepdims=True)
    # A patch whose facets' normals cancel out has no chord; keeping its facets is safe.
    if (lengths <= 0).any():
        return full, count
    patch_normals /= lengths
    chord = np.full(count, np.inf)
    for facet in np.flatnonzero(walls).tolist():
        label = int(labels[facet])
        heights = graph.points[graph.vertices[facet]] @ patch_normals[label]
        chord[label] = min(chord[label], float(heights.min()))
    # Never cut deeper than the gap below the polytope's extreme point along the chord's
    # normal: a patch whose mean normal points past its own rim (towards a lid, say)
    # would otherwise slice off a thick cap.
    chord = np.maximum(chord, (full.points @ patch_normals.T).max(axis=0) - gap)
    inner = full.solid
    for label in range(count):
        inner = inner.trim_by_plane(-patch_normals[label], -float(chord[label]))
    return _polytope(inner), count


class _CavityPart:
    """A stand-in ready to be simplified at any gap (results cached per gap)."""

    def __init__(self, stand_in: _StandIn, graph: _FacetGraph) -> None:
        self.full = stand_in.polytope
        self.graph = graph
        self.lost_volume = stand_in.lost_volume
        self.lost_gap = stand_in.lost_gap
        self._chorded: dict[float, tuple[_Polytope | None, int]] = {}

    def fits(self, gap: float, volume_budget: float) -> bool:
        return self.lost_gap <= gap and self.lost_volume <= volume_budget

    def simplified(self, gap: float, volume_budget: float, max_facets: int) -> _Polytope:
        """A polytope with few facets inside the stand-in, missing at most ``gap`` of it.

        Each wall patch is replaced by its chord (see :func:`_chorded`): the result lies
        inside the stand-in, so the pieces still cover the mesh, while a curved wall of
        many facets becomes a few flat ones. Fixed facets (lids, cuts) stay put. The
        gap is halved until the lost volume fits the budget; more than ``max_facets``
        wall patches raise :class:`_TooManyPieces`, since each becomes at least one piece.
        """
        patch_gap = gap
        for _ in range(_MAX_HALVINGS):
            if patch_gap not in self._chorded:
                self._chorded[patch_gap] = _chorded(self.full, self.graph, patch_gap)
            polytope, walls = self._chorded[patch_gap]
            if walls > max_facets:
                raise _TooManyPieces
            if polytope is not None and self.full.volume - polytope.volume <= volume_budget:
                return polytope
            patch_gap /= 2
        return self.full


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
    normals = np.concatenate([o.planes[0] for o in obstacles])
    offsets = np.concatenate([o.planes[1] for o in obstacles])
    distance = cell.points @ normals.T - offsets
    reach = distance.max(axis=0)
    candidates = np.flatnonzero((reach > eps) & (distance.min(axis=0) < -eps))
    if len(candidates) == 0:
        return None
    normals, offsets, reach = normals[candidates], offsets[candidates], reach[candidates]
    inner = np.zeros(len(candidates), dtype=np.int64)
    outer = np.zeros(len(candidates), dtype=np.int64)
    if len(obstacles) > 1:
        for obstacle in obstacles:
            d = obstacle.points @ normals.T - offsets
            is_inner = d.max(axis=0) <= eps
            inner += is_inner
            outer += (d.min(axis=0) >= -eps) & ~is_inner
    split = len(obstacles) - inner - outer
    balance = np.minimum(inner, outer) + split
    best = int(np.lexsort((candidates, -reach, -balance, split))[0])
    return _Plane(normals[best], float(offsets[best]))


def _cut(poly: _Polytope, plane: _Plane) -> tuple[_Polytope | None, _Polytope | None]:
    outer, inner = poly.solid.split_by_plane(plane.normal, plane.offset)
    return _polytope(outer), _polytope(inner)


def _partition(
    hull: _Polytope, obstacles: list[_Polytope], tol: _Tolerances, max_cells: int
) -> list[_Polytope]:
    """Cut the hull along obstacle facets until every cell is outside all obstacles.

    Returns the cells outside the obstacles (convex, disjoint, covering hull minus the
    obstacles); raises :class:`_TooManyPieces` once more than ``max_cells`` are needed.
    """
    cells: list[_Polytope] = []
    # An obstacle qhull cannot describe is dropped: its cavity is filled, never lost.
    obstacles = [o for o in obstacles if len(o.planes[0])]
    stack: list[tuple[_Polytope, list[_Polytope]]] = [(hull, obstacles)]
    while stack:
        cell, inside = stack.pop()
        if not inside:
            cells.append(cell)
            if len(cells) > max_cells:
                raise _TooManyPieces
            continue
        plane = _choose_plane(cell, inside, tol.length)
        if plane is None:
            # Every obstacle lies in the cell and no facet of one cuts it: the cell is
            # an obstacle, i.e. cavity, so it yields no piece -- unless round-off
            # says otherwise, in which case keeping it over-fills but never loses.
            if cell.volume > 1.001 * max(o.volume for o in inside) + 10 * tol.volume:
                cells.append(cell)
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
                    if part is not None and part.volume > tol.volume and len(part.planes[0]):
                        group.append(part)
        # Inner side last on the stack so it is processed first: peeling stays shallow.
        for sub, group in ((outer, groups[0]), (inner, groups[1])):
            if sub is not None and sub.volume > tol.volume:
                stack.append((sub, group))
    return cells


def _touching_pairs(cells: list[_Polytope], tol: _Tolerances) -> list[tuple[int, int]]:
    """Pairs of cells with facets on one plane, facing each other (sorted, deterministic)."""
    owner = np.concatenate([np.full(len(c.planes[0]), i) for i, c in enumerate(cells)])
    normals = np.concatenate([c.planes[0] for c in cells])
    offsets = np.concatenate([c.planes[1] for c in cells])
    # Orient every plane so its largest normal component is positive; facing planes
    # then coincide, with opposite flips.
    major = np.abs(normals).argmax(axis=1)
    flip = np.where(normals[np.arange(len(normals)), major] < 0, -1.0, 1.0)
    keys = np.round(np.column_stack([normals * flip[:, None], offsets * flip / (tol.length * 100)]), 6)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    order = np.lexsort((owner, group))
    pairs: set[tuple[int, int]] = set()
    start = 0
    for end in range(1, len(order) + 1):
        if end < len(order) and group[order[end]] == group[order[start]]:
            continue
        members = order[start:end]
        for i in members:
            for j in members:
                if owner[i] < owner[j] and flip[i] != flip[j]:
                    pairs.add((int(owner[i]), int(owner[j])))
        start = end
    return sorted(pairs)


def _merge_convex(cells: list[_Polytope], tol: _Tolerances) -> list[_Polytope]:
    """Merge pairs of touching cells whose union is itself convex (up to noise)."""
    cells = list(cells)
    merged = True
    while merged and len(cells) > 1:
        merged = False
        for i, j in _touching_pairs(cells, tol):
            union = _hull_polytope(np.concatenate([cells[i].points, cells[j].points]))
            if union is not None and union.volume - cells[i].volume - cells[j].volume <= tol.volume * 10:
                cells[i] = union
                del cells[j]
                merged = True
                break
    return cells


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


# ---------------------------------------------------------------------------- drivers


@dataclass(frozen=True)
class _Outcome:
    pieces: list[Piece]
    method: Method


@dataclass(frozen=True)
class _Level:
    """One try of the plane split: gap in mm, volume budget relative to the mesh volume."""

    gap: float
    budget: float


def _as_piece(points: FloatArray) -> Piece | None:
    """The closed convex hull mesh of a point set, or None if it is flat."""
    hull = m3.Manifold.hull_points(np.ascontiguousarray(points, dtype=np.float64))
    if hull.is_empty():
        return None
    vertices, tris = _mesh_arrays(hull)
    return vertices, tris.astype(np.int32)


def _pieces_of(polytopes: list[_Polytope]) -> list[Piece]:
    """Hull meshes of polytopes, leaving out any too flat to have one (they hold nothing)."""
    pieces = [_as_piece(p.points) for p in polytopes]
    return [p for p in pieces if p is not None]


class _Work:
    """A count of solids analysed for one decomposition, so the search is bounded.

    Counting work rather than time keeps the result independent of machine load.
    """

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, amount: int) -> bool:
        if amount > self.left:
            return False
        self.left -= amount
        return True


class _Analysis:
    """What holds for one solid at every tolerance level, computed once and reused."""

    def __init__(self, solid: m3.Manifold, max_gap: float, work: _Work) -> None:
        hull = _polytope(_solid_hull(solid))
        if hull is None:
            raise ValueError("the mesh is flat")
        lo, hi = np.asarray(solid.bounding_box()).reshape(2, 3)
        tol = _Tolerances(
            length=_REL_EPS_LENGTH * float(np.linalg.norm(hi - lo)), volume=_REL_EPS_VOLUME * hull.volume
        )
        self.solid = solid
        self.volume = float(solid.volume())
        self.hull = hull
        self.tol = tol
        self.max_gap = max_gap
        self.work = work
        # Faces this close to the hull are lids or tessellation slivers, not walls. It
        # bounds how much material a stand-in may cut off (see _hollow).
        wall_depth = min(1.5 * _sliver_depth(solid, hull, tol) + 10 * tol.length, max_gap / 4)
        self.frame = _Frame(solid, hull, wall_depth, tol)
        self.cavities = _cavities(solid, hull, tol)
        self._whole: dict[int, _CavityPart | None] = {}
        self._parts: dict[int, list[_CavityPart] | None] = {}
        self._halves: dict[int, list[list[_Analysis]]] = {}
        self._coacd: list[list[Piece] | None] = []

    def _part(self, stand_in: _StandIn) -> _CavityPart:
        return _CavityPart(stand_in, _facet_graph(stand_in, self.hull, self.tol))

    def whole(self, index: int) -> _CavityPart | None:
        """The cavity's stand-in as a whole (see :func:`_stand_in`)."""
        if index not in self._whole:
            stand_in = _whole_stand_in(self.cavities[index].solid, self.frame, np.inf, always_kernel=True)
            self._whole[index] = None if stand_in is None else self._part(stand_in)
        return self._whole[index]

    def parts(self, index: int) -> list[_CavityPart] | None:
        """Stand-ins of nearly convex parts of a cavity, or None if it does not split cheaply."""
        if index not in self._parts:
            stand_ins = _convex_parts(self.cavities[index].solid, self.frame, self.max_gap)
            self._parts[index] = (
                None
                if stand_ins is None
                else [self._part(s) for s in stand_ins if s.polytope.volume > self.tol.volume]
            )
        return self._parts[index]

    def cavity_parts(self, index: int, gap: float, budget: float) -> list[_CavityPart] | None:
        """Stand-ins for a cavity at one tolerance level, or None if it has none."""
        whole = self.whole(index)
        if whole is not None and whole.fits(gap, budget):
            return [whole]
        return self.parts(index)

    def halves(self, index: int) -> list[list[_Analysis]]:
        """Ways to cut the solid in two across a cavity, largest wall planes first.

        Each way lists the analyses of the solid's pieces on either side of the plane.
        """
        if index not in self._halves:
            ways = []
            planes = _face_planes(self.cavities[index].solid, self.frame, reflex_only=False)
            for normal, offset in planes[:_DIVISIONS_TRIED]:
                # Exactly along the plane: a sheet left on a cut face lies on the side's
                # hull and so stays out of its cavities, whereas overlapping the sides
                # could close a groove into a void that would then be filled.
                halves = self.solid.split_by_plane(normal, offset)
                sides = [p for half in halves for p in half.decompose() if p.volume() > self.tol.volume]
                if len(sides) >= 2 and self.work.take(len(sides)):
                    try:
                        ways.append([_Analysis(p, self.max_gap, self.work) for p in sides])
                    except ValueError:
                        continue  # a side too flat for a hull: not a useful cut
            self._halves[index] = ways
        return self._halves[index]

    def coacd(self, settings: DecompositionSettings) -> list[Piece] | None:
        """CoACD's pieces for this solid (run once), or None if it failed."""
        if not self._coacd:
            self._coacd.append(_run_coacd([_mesh_arrays(self.solid)], settings))
        return self._coacd[0]


def _split(
    analysis: _Analysis, level: _Level, settings: DecompositionSettings, depth: int, use_coacd: bool
) -> _Outcome | None:
    """Decompose one solid at one tolerance level; None if that needs an unavailable CoACD.

    Raises :class:`_TooManyPieces` when the pieces would clearly exceed ``max_pieces``.
    A solid with a cavity that has no convex stand-ins is cut in two across it.
    """
    budget = level.budget * analysis.volume
    open_cavities, filled = _split_significant(analysis.cavities, budget, level.gap)
    if not open_cavities:
        return _Outcome(_pieces_of([analysis.hull]), "convex")
    # Merging convex neighbours afterwards rarely saves more than a few cells.
    max_facets = settings.max_pieces + max(4, settings.max_pieces // 4)
    share = (budget - filled) / sum(analysis.cavities[i].volume for i in open_cavities)
    obstacles: list[_Polytope] = []
    for index in open_cavities:
        cavity_budget = share * analysis.cavities[index].volume
        parts = analysis.cavity_parts(index, level.gap, cavity_budget)
        if parts is None:
            return _divide(analysis, index, level, settings, depth, use_coacd)
        part_budget = (cavity_budget - sum(p.lost_volume for p in parts)) / len(parts)
        for part in parts:
            obstacle = part.simplified(level.gap, part_budget, max_facets)
            if obstacle.volume > analysis.tol.volume:
                obstacles.append(obstacle)
    hull_points = analysis.hull.points
    cutting = sum(
        int(((hull_points @ o.planes[0].T - o.planes[1]).max(axis=0) > analysis.tol.length).sum())
        for o in obstacles
    )
    if cutting > 2 * max_facets:
        raise _TooManyPieces  # nearly every obstacle facet that cuts the hull becomes a piece
    cells = _partition(analysis.hull, obstacles, analysis.tol, max_facets)
    return _Outcome(_pieces_of(_merge_convex(cells, analysis.tol)), "plane_split")


def _divide(
    analysis: _Analysis,
    index: int,
    level: _Level,
    settings: DecompositionSettings,
    depth: int,
    use_coacd: bool,
) -> _Outcome | None:
    """Decompose a solid by cutting it in two across a cavity with no convex stand-ins.

    The first cut whose sides all decompose within the piece budget wins; below a small
    depth, or if none does, CoACD takes the whole solid (if ``use_coacd``).
    """
    if depth < _MAX_DEPTH:
        for sides in analysis.halves(index):
            pieces: list[Piece] = []
            hybrid = False
            try:
                for side in sides:
                    outcome = _split(side, level, settings, depth + 1, use_coacd)
                    if outcome is None:
                        break
                    pieces.extend(outcome.pieces)
                    hybrid = hybrid or "coacd" in outcome.method
                else:
                    if len(pieces) <= settings.max_pieces:
                        return _Outcome(pieces, "plane_split+coacd" if hybrid else "plane_split")
            except _TooManyPieces:
                continue
    if not use_coacd:
        return None
    coacd_pieces = analysis.coacd(settings)
    return None if coacd_pieces is None else _Outcome(coacd_pieces, "coacd")


def _compute(
    vertices: FloatArray, faces: NDArray[np.int64], settings: DecompositionSettings
) -> tuple[_Outcome, float]:
    """Pieces and the mesh volume they are measured against.

    Tolerances are relaxed step by step (volume budget, then gap) until the pieces fit
    ``max_pieces``; only then is CoACD allowed, first for single sides of cuts, then
    for the whole part. Failing all that, the plane split with the fewest pieces is
    returned even though it exceeds ``max_pieces``.
    """
    solid = _to_manifold(vertices, faces)
    if solid is None:
        if not settings.allow_coacd:
            raise ValueError("the mesh is not a closed manifold and CoACD fallback is disabled")
        # CoACD's own preprocessing repairs non-manifold input.
        pieces = _run_coacd([(vertices, faces)], settings, preprocess="on")
        if not pieces:
            raise ValueError("the mesh is not a closed manifold and CoACD failed on it")
        return _Outcome(pieces, "coacd"), abs(_signed_volume(vertices, faces))
    analysis = _Analysis(solid, settings.max_gap, _Work(_ANALYSES))
    best: _Outcome | None = None
    for use_coacd in (False, True) if settings.allow_coacd else (False,):
        for gap_factor, budget_factor in _RELAXATION:
            level = _Level(settings.max_gap * gap_factor, settings.max_concavity * budget_factor)
            try:
                outcome = _split(analysis, level, settings, 0, use_coacd)
            except _TooManyPieces:
                continue
            if outcome is None:
                continue
            if len(outcome.pieces) <= settings.max_pieces:
                return outcome, analysis.volume
            if best is None or len(outcome.pieces) < len(best.pieces):
                best = outcome
    if settings.allow_coacd:
        pieces = analysis.coacd(settings)
        if pieces:
            return _Outcome(pieces, "coacd"), analysis.volume
    if best is None:
        raise ValueError("no decomposition found within the settings")
    return best, analysis.volume


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
        _, normals, area = _triangles(vertices, faces.astype(np.int64))
        normals = normals[area > 0]
        offsets = (vertices @ normals.T).max(axis=0)
        if (normals @ p - offsets).max() <= tolerance:
            return True
    return False
