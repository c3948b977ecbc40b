"""Convex decomposition of real build123d parts, checked against closed-form geometry.

Each concave part is tessellated the way the checker does it, decomposed, and probed:
points on a cavity's axis must stay free (holes stay holes, openings stay open),
points in the material must be covered, and the pieces together must cover the whole
mesh (checked exactly with a manifold boolean).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import manifold3d as m3
import numpy as np
import pytest
from build123d import Box, Cylinder, Pos, Rot, Shape

from benchgen.decomposition import (
    Decomposition,
    DecompositionCache,
    DecompositionSettings,
    covers_point,
    decompose,
)

TOLERANCE = 0.1  # mm, linear deflection of the tessellation
ANGULAR_TOLERANCE = 0.2  # rad


def tessellate(shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float64 and faces (M, 3) int, as the trusted checker produces them."""
    vertices, triangles = shape.tessellate(TOLERANCE, ANGULAR_TOLERANCE)
    points = np.array([[v.X, v.Y, v.Z] for v in vertices], dtype=np.float64)
    return points, np.array(triangles, dtype=np.int64)


def mesh_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def uncovered_volume(vertices: np.ndarray, faces: np.ndarray, result: Decomposition) -> float:
    """Volume of the mesh outside every piece (exact boolean)."""
    mesh = m3.Mesh64(vert_properties=vertices, tri_verts=faces.astype(np.uint64))
    mesh.merge()
    solid = m3.Manifold(mesh)
    assert solid.status() == m3.Error.NoError
    union = m3.Manifold.batch_boolean(
        [m3.Manifold.hull_points(np.asarray(v)) for v, _ in result.pieces], m3.OpType.Add
    )
    return float((solid - union).volume())


def check_pieces(vertices: np.ndarray, faces: np.ndarray, result: Decomposition) -> None:
    """Pieces are closed convex meshes, and together they cover the whole mesh."""
    assert result.pieces
    for piece_vertices, piece_faces in result.pieces:
        assert piece_vertices.dtype == np.float64 and piece_vertices.shape[1] == 3
        assert piece_faces.dtype == np.int32 and piece_faces.shape[1] == 3
        volume = mesh_volume(piece_vertices, piece_faces.astype(np.int64))
        hull = m3.Manifold.hull_points(np.asarray(piece_vertices))
        assert volume > 0
        assert hull.volume() == pytest.approx(volume, rel=1e-9)  # closed, outward, convex
    # No under-fill beyond tessellation noise: the pieces hold the whole mesh.
    assert uncovered_volume(vertices, faces, result) <= 1e-6 * mesh_volume(vertices, faces)
    assert result.error >= -1e-6


def blind_hole_block() -> Shape:
    """120 mm cube centred at the origin; a 40 mm hole, 60 mm deep, down from the top."""
    return Box(120, 120, 120) - Pos(0, 0, 30) * Cylinder(20, 60)


def open_bin() -> Shape:
    """100 x 80 x 60 box, hollowed from the top leaving 5 mm walls and floor."""
    return Box(100, 80, 60) - Pos(0, 0, 5) * Box(90, 70, 50)


def arch() -> Shape:
    """100 x 60 x 80 box with a 30 mm half-round tunnel along y through its bottom face."""
    return Box(100, 60, 80) - Pos(0, 0, -40) * Rot(90, 0, 0) * Cylinder(30, 60)


def holed_plate() -> Shape:
    """100 x 100 x 10 plate with a 40 mm through-hole in the middle."""
    return Box(100, 100, 10) - Cylinder(20, 10)


def l_bracket() -> Shape:
    """80 x 40 x 10 base with a 10 x 40 x 60 upright along its -x edge."""
    return Box(80, 40, 10) + Pos(-35, 0, 25) * Box(10, 40, 60)


def test_box_is_its_own_hull() -> None:
    vertices, faces = tessellate(Box(30, 20, 10))
    result = decompose(vertices, faces)
    assert result.method == "convex"
    assert len(result.pieces) == 1
    assert abs(result.error) < 1e-9
    check_pieces(vertices, faces, result)


def test_blind_hole_stays_open() -> None:
    vertices, faces = tessellate(blind_hole_block())
    result = decompose(vertices, faces)
    assert result.method == "plane_split"
    for z in (59, 50, 30, 5):  # the hole's centre line, from the opening to near the bottom
        assert not covers_point(result, (0, 0, z))
    assert not covers_point(result, (15, 0, 30))  # near the wall, beyond the chord slivers
    for point in ((0, 0, -5), (0, 0, -55), (30, 0, 30), (-50, 50, 50), (55, -55, -55)):
        assert covers_point(result, point)
    assert 0 < result.error < 0.03
    assert len(result.pieces) <= DecompositionSettings().max_pieces
    check_pieces(vertices, faces, result)


def test_open_bin_cavity_stays_open() -> None:
    vertices, faces = tessellate(open_bin())
    result = decompose(vertices, faces)
    for point in ((0, 0, 0), (0, 0, 29), (40, 30, -19), (-40, -30, 20)):
        assert not covers_point(result, point)
    for point in ((47, 0, 0), (0, 37, 10), (0, 0, -27), (-47, -37, -27)):
        assert covers_point(result, point)
    assert abs(result.error) < 1e-6  # every face is flat: the pieces are exact
    check_pieces(vertices, faces, result)


def test_arch_tunnel_is_free() -> None:
    vertices, faces = tessellate(arch())
    result = decompose(vertices, faces)
    for y in (-29, 0, 29):
        for z in (-39, -30, -15):
            assert not covers_point(result, (0, y, z))
    for point in ((0, 0, 0), (0, 0, 39), (45, 0, -35), (-45, 20, -35)):
        assert covers_point(result, point)
    assert 0 < result.error < 0.03
    check_pieces(vertices, faces, result)


def test_plate_through_hole_stays_open() -> None:
    vertices, faces = tessellate(holed_plate())
    result = decompose(vertices, faces)
    for point in ((0, 0, 0), (0, 0, 4.9), (0, 0, -4.9), (15, 0, 0), (0, -15, 0)):
        assert not covers_point(result, point)
    for point in ((25, 0, 0), (45, 45, 0), (-30, 10, 4)):
        assert covers_point(result, point)
    assert 0 < result.error < 0.03
    check_pieces(vertices, faces, result)


def test_l_bracket_inner_corner_is_free() -> None:
    vertices, faces = tessellate(l_bracket())
    result = decompose(vertices, faces)
    assert len(result.pieces) == 2
    for point in ((0, 0, 20), (-29, 0, 6), (30, 15, 6), (-20, 0, 50)):
        assert not covers_point(result, point)
    for point in ((-35, 0, 40), (30, 0, 0), (-39, 19, 54)):
        assert covers_point(result, point)
    assert abs(result.error) < 1e-6
    check_pieces(vertices, faces, result)


def test_thin_cavity_within_gap_is_filled() -> None:
    # A 0.5 mm deep recess is thinner than the default 1 mm gap, and its 200 mm^3 fit the
    # 1 % volume budget: not worth a piece.
    vertices, faces = tessellate(Box(60, 60, 20) - Pos(0, 0, 9.75) * Box(20, 20, 0.5))
    result = decompose(vertices, faces)
    assert result.method == "convex"
    assert covers_point(result, (0, 0, 9.9))
    assert result.error == pytest.approx(200 / mesh_volume(vertices, faces), rel=1e-6)
    # With a tighter gap it is kept open.
    tight = decompose(vertices, faces, DecompositionSettings(max_gap=0.25))
    assert tight.method == "plane_split"
    assert not covers_point(tight, (0, 0, 9.9))


def test_cache_returns_identical_result(tmp_path: Path) -> None:
    vertices, faces = tessellate(blind_hole_block())
    first = decompose(vertices, faces, cache=DecompositionCache(tmp_path))
    assert not first.cached
    assert len(list(tmp_path.glob("*.npz"))) == 1
    # A fresh cache object on the same directory stands for another process.
    second = decompose(vertices, faces, cache=DecompositionCache(tmp_path))
    assert second.cached
    assert second.method == first.method and second.error == first.error
    assert len(second.pieces) == len(first.pieces)
    for (v1, f1), (v2, f2) in zip(first.pieces, second.pieces, strict=True):
        assert v1.tobytes() == v2.tobytes() and f1.tobytes() == f2.tobytes()
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary file left behind
    # Other settings are another entry.
    third = decompose(vertices, faces, DecompositionSettings(max_gap=2.0), cache=DecompositionCache(tmp_path))
    assert not third.cached
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_unreadable_cache_entry_is_recomputed(tmp_path: Path) -> None:
    vertices, faces = tessellate(l_bracket())
    cache = DecompositionCache(tmp_path)
    decompose(vertices, faces, cache=cache)
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"not an npz file")
    again = decompose(vertices, faces, cache=cache)
    assert not again.cached and len(again.pieces) == 2


def pieces_digest(result: Decomposition) -> str:
    digest = hashlib.sha256()
    for vertices, faces in result.pieces:
        digest.update(vertices.tobytes())
        digest.update(faces.tobytes())
    return digest.hexdigest()


def test_deterministic_across_runs_and_processes() -> None:
    vertices, faces = tessellate(arch())
    here = pieces_digest(decompose(vertices, faces))
    assert pieces_digest(decompose(vertices, faces)) == here
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        from benchgen.decomposition import decompose
        data = json.load(sys.stdin)
        result = decompose(np.array(data["v"], dtype=np.float64), np.array(data["f"], dtype=np.int64))
        import hashlib
        digest = hashlib.sha256()
        for v, f in result.pieces:
            digest.update(v.tobytes())
            digest.update(f.tobytes())
        print(digest.hexdigest())
        """
    )
    payload = json.dumps({"v": vertices.tolist(), "f": faces.tolist()})
    done = subprocess.run(
        [sys.executable, "-c", script], input=payload, capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == here


def test_pieces_never_under_fill_the_mesh() -> None:
    for shape in (blind_hole_block(), open_bin(), arch(), holed_plate(), l_bracket()):
        vertices, faces = tessellate(shape)
        result = decompose(vertices, faces)
        total = sum(mesh_volume(v, f.astype(np.int64)) for v, f in result.pieces)
        assert total >= mesh_volume(vertices, faces) * (1 - 1e-6)


def test_rejects_malformed_input() -> None:
    vertices, faces = tessellate(Box(10, 10, 10))
    with pytest.raises(ValueError):
        decompose(vertices[:, :2], faces)
    with pytest.raises(ValueError):
        decompose(vertices, faces + len(vertices))
    with pytest.raises(ValueError):
        decompose(np.where(vertices > 0, np.nan, vertices), faces)


def test_settings_are_frozen() -> None:
    settings = DecompositionSettings()
    with pytest.raises(ValueError):
        settings.max_gap = 3.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        DecompositionSettings(max_pieces=0)
