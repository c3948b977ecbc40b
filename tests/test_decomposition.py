"""Convex decomposition of real build123d parts, checked against closed-form geometry.

Each part is tessellated the way the checker does it, decomposed, and probed: points
on a cavity's axis must stay free (holes stay holes, openings stay open), points in
the material must be covered, the pieces together must cover the whole mesh (exact
manifold boolean), and the reported gap must be what an independent dense measurement
finds and within the tolerance.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import igl
import manifold3d as m3
import numpy as np
import pytest
from build123d import Box, Cylinder, Pos, Rot, Shape, import_brep, scale

from benchgen.decomposition import (
    Decomposition,
    DecompositionCache,
    DecompositionLimit,
    DecompositionSettings,
    SurfaceHint,
    covers_point,
    decompose,
)
from benchgen.physics import _surface_hints
from cad_parts import surfaces_of
from test_real_parts import body_geometry

TOLERANCE = 0.05  # mm, linear deflection of the tessellation
ANGULAR_TOLERANCE = 0.2  # rad


def tessellate(shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float64 and faces (M, 3) int, as the trusted checker produces them."""
    vertices, triangles = shape.tessellate(TOLERANCE, ANGULAR_TOLERANCE)
    points = np.array([[v.X, v.Y, v.Z] for v in vertices], dtype=np.float64)
    return points, np.array(triangles, dtype=np.int64)


def solid_of(vertices: np.ndarray, faces: np.ndarray) -> m3.Manifold:
    mesh = m3.Mesh64(vert_properties=vertices, tri_verts=faces.astype(np.uint64))
    mesh.merge()
    solid = m3.Manifold(mesh)
    assert solid.status() == m3.Error.NoError
    return solid


def dense_gap(vertices: np.ndarray, faces: np.ndarray, result: Decomposition) -> float:
    """Largest distance outside the mesh of points sampled densely in every piece (independent check)."""
    solid = solid_of(vertices, faces)
    mesh = solid.to_mesh64()
    v = np.asarray(mesh.vert_properties)[:, :3]
    f = np.asarray(mesh.tri_verts, dtype=np.int64).reshape(-1, 3)
    rng = np.random.default_rng(1)
    samples = []
    for piece_vertices, _ in result.pieces:
        points = np.asarray(piece_vertices)
        weights = rng.dirichlet(np.ones(len(points)) * 0.3, size=2000)
        samples.append(weights @ points)
    distance, *_ = igl.signed_distance(
        np.concatenate(samples), v, f, sign_type=igl.SIGNED_DISTANCE_TYPE_PSEUDONORMAL
    )
    return float(max(distance.max(), 0.0))


def check_pieces(vertices: np.ndarray, faces: np.ndarray, result: Decomposition) -> None:
    """Pieces are closed convex meshes, cover the whole mesh, and the reported gap holds."""
    assert result.pieces
    for piece_vertices, piece_faces in result.pieces:
        assert piece_vertices.dtype == np.float64 and piece_vertices.shape[1] == 3
        assert piece_faces.dtype == np.int32 and piece_faces.shape[1] == 3
        hull = m3.Manifold.hull_points(np.asarray(piece_vertices))
        a, b, c = (piece_vertices[piece_faces[:, k]] for k in range(3))
        volume = float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)
        assert volume > 0
        assert hull.volume() == pytest.approx(volume, rel=1e-9)  # closed, outward, convex
    solid = solid_of(vertices, faces)
    union = m3.Manifold.batch_boolean(
        [m3.Manifold.hull_points(np.asarray(v)) for v, _ in result.pieces], m3.OpType.Add
    )
    # No under-fill beyond round-off: the pieces hold the whole mesh.
    assert (solid - union).volume() <= 1e-6 * solid.volume()
    assert result.uncovered <= 1e-6
    assert result.error >= -1e-6
    # The reported gap is what a denser, independent measurement finds (sampling error
    # aside), and within what the decomposition aimed for.
    measured = dense_gap(vertices, faces, result)
    assert measured <= result.gap_mm + 0.25 * result.tolerance_mm
    assert result.gap_mm <= 1.2 * result.tolerance_mm


def exact(shape: Shape) -> list[SurfaceHint]:
    """The shape's exact faces, as the checker's loader hands them over."""
    return surfaces_of(shape.solids()[0])


def blind_hole_block() -> Shape:
    """120 mm cube centred at the origin; a 40 mm hole, 60 mm deep, down from the top."""
    return Box(120, 120, 120) - Pos(0, 0, 30) * Cylinder(20, 60)


def open_bin() -> Shape:
    """100 x 80 x 60 box, hollowed from the top leaving 5 mm walls and floor."""
    return Box(100, 80, 60) - Pos(0, 0, 5) * Box(90, 70, 50)


def holed_plate() -> Shape:
    """100 x 100 x 10 plate with a 40 mm through-hole in the middle."""
    return Box(100, 100, 10) - Cylinder(20, 10)


def l_bracket() -> Shape:
    """80 x 40 x 10 base with a 10 x 40 x 60 upright along its -x edge."""
    return Box(80, 40, 10) + Pos(-35, 0, 25) * Box(10, 40, 60)


def test_convex_mesh_is_one_piece() -> None:
    vertices, faces = tessellate(Box(30, 20, 10))
    result = decompose(vertices, faces)
    assert result.method == "convex"
    assert len(result.pieces) == 1
    assert abs(result.error) < 1e-9 and result.gap_mm < 1e-6
    check_pieces(vertices, faces, result)


def test_blind_hole_stays_open() -> None:
    vertices, faces = tessellate(blind_hole_block())
    result = decompose(vertices, faces)
    assert result.method == "feature_split"
    for z in (59, 50, 30, 5):  # the hole's centre line, from the opening to near the bottom
        assert not covers_point(result, (0, 0, z))
    assert not covers_point(result, (17, 0, 30))  # near the wall, beyond the chords
    for point in ((0, 0, -5), (0, 0, -55), (30, 0, 30), (-50, 50, 50), (55, -55, -55)):
        assert covers_point(result, point)
    assert len(result.pieces) <= DecompositionSettings().max_pieces
    check_pieces(vertices, faces, result)


def test_open_bin_stays_open() -> None:
    vertices, faces = tessellate(open_bin())
    result = decompose(vertices, faces, surfaces=exact(open_bin()))
    for point in ((0, 0, 0), (0, 0, 29), (40, 30, -19), (-40, -30, 20)):
        assert not covers_point(result, point)
    for point in ((47, 0, 0), (0, 37, 10), (0, 0, -27), (-47, -37, -27)):
        assert covers_point(result, point)
    # Every face is flat: cut along them, the pieces are exact.
    assert abs(result.error) < 1e-6 and result.gap_mm < 1e-3
    check_pieces(vertices, faces, result)


def test_bin_whose_cuts_leave_a_sliver_stays_open() -> None:
    """An open bin (from a shelf_to_bin variant) whose oblique cuts leave a thin sliver that no
    cut improves and CoACD crashes on: halving it brings it within tolerance, instead of a
    hull filling the whole bin. The bin of shelf_to_bin's author seed 4242 at seed 102, as
    its script built it: the cuts depend on the triangulation, so a rebuilt box may not fail."""
    shape = import_brep(str(Path(__file__).parent / "data" / "sliver_bin.brep"))
    box = shape.bounding_box()
    middle = (box.min + box.max) / 2
    # Meshed and hinted as the checker's loader does (the cuts depend on the triangulation).
    body = body_geometry(SimpleNamespace(name="bin", build=lambda: shape))  # type: ignore[arg-type]
    solid = body.solids[0]
    vertices, faces = solid.mesh.vertices.copy(), solid.mesh.faces.copy()
    result = decompose(vertices, faces, surfaces=_surface_hints(solid))
    assert not covers_point(result, (middle.X, middle.Y, middle.Z))
    check_pieces(vertices, faces, result)


def test_plate_through_hole_stays_open() -> None:
    vertices, faces = tessellate(holed_plate())
    result = decompose(vertices, faces)
    for point in ((0, 0, 0), (0, 0, 4.9), (0, 0, -4.9), (17, 0, 0), (0, -17, 0)):
        assert not covers_point(result, point)
    for point in ((25, 0, 0), (45, 45, 0), (-30, 10, 4)):
        assert covers_point(result, point)
    check_pieces(vertices, faces, result)


def test_bore_chords_follow_the_radius_with_exact_surfaces() -> None:
    """With the exact cylinder known, a bore's chords stay within radius_fraction of its radius."""
    plate = holed_plate()
    vertices, faces = tessellate(plate)
    hint = SurfaceHint(kind="cylinder", origin=(0, 0, 0), axis=(0, 0, 1), radius=20.0)
    settings = DecompositionSettings()
    result = decompose(vertices, faces, settings, surfaces=[hint])
    inscribed = 20.0 * (1 - settings.radius_fraction)
    for angle in np.linspace(0, 2 * np.pi, 37):
        assert not covers_point(result, (inscribed * np.cos(angle), inscribed * np.sin(angle), 0))
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


def test_thin_recess_within_tolerance_is_filled() -> None:
    # A 0.5 mm deep recess is shallower than the tolerance (1 % of the diagonal, 0.85 mm).
    part = Box(60, 60, 20) - Pos(0, 0, 9.75) * Box(20, 20, 0.5)
    vertices, faces = tessellate(part)
    result = decompose(vertices, faces, surfaces=exact(part))
    assert result.method == "convex"
    assert covers_point(result, (0, 0, 9.9))
    # With a tighter tolerance it is kept open.
    tight = decompose(
        vertices, faces, DecompositionSettings(gap_fraction=0.002, allow_coacd=False), surfaces=exact(part)
    )
    assert tight.method == "feature_split"
    assert not covers_point(tight, (0, 0, 9.9))


def test_cache_round_trip(tmp_path: Path) -> None:
    vertices, faces = tessellate(holed_plate())
    first = decompose(vertices, faces, cache=DecompositionCache(tmp_path))
    assert not first.cached
    assert len(list(tmp_path.glob("*.npz"))) == 1
    # A fresh cache object on the same directory stands for another process.
    second = decompose(vertices, faces, cache=DecompositionCache(tmp_path))
    assert second.cached
    assert second.method == first.method and second.error == first.error
    assert len(second.pieces) == len(first.pieces)
    assert pieces_digest(second) == pieces_digest(first)  # a hit is exactly what computing gave
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary file left behind
    # Other settings are another entry.
    third = decompose(
        vertices, faces, DecompositionSettings(gap_fraction=0.02), cache=DecompositionCache(tmp_path)
    )
    assert not third.cached
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_cache_key_ignores_pose_and_scale(tmp_path: Path) -> None:
    """A moved, rotated or uniformly scaled copy reuses the decomposition, moved and scaled back."""
    part = holed_plate() - Pos(30, 30, 5) * Box(20, 20, 6)  # a pocket: no symmetry to lean on
    cache = DecompositionCache(tmp_path)
    vertices, faces = tessellate(part)
    first = decompose(vertices, faces, cache=cache)
    assert not first.cached
    for copy, factor in ((Pos(300, -20, 45) * Rot(30, 15, 70) * part, 1.0), (scale(part, 0.5), 0.5)):
        moved_vertices, moved_faces = tessellate(copy)
        again = decompose(moved_vertices, moved_faces, cache=cache)
        assert again.cached
        assert len(again.pieces) == len(first.pieces)
        assert again.gap_mm <= 1.25 * max(first.gap_mm * factor, again.tolerance_mm)
        check_pieces(moved_vertices, moved_faces, again)
    # The hole of the moved copy is where the moved copy has it.
    moved = Pos(300, -20, 45) * Rot(30, 15, 70)
    moved_vertices, moved_faces = tessellate(moved * part)
    again = decompose(moved_vertices, moved_faces, cache=cache)
    axis_point = moved * Pos(0, 0, 0)
    assert not covers_point(again, tuple(axis_point.position))
    assert len(list(tmp_path.glob("*.npz"))) == 1


def test_results_do_not_depend_on_what_was_cached_before(tmp_path: Path) -> None:
    """Cold cache, warm cache, or a disk that already holds a moved copy: the same pieces each time."""
    part = holed_plate() - Pos(30, 30, 5) * Box(20, 20, 6)
    meshes = [tessellate(part), tessellate(Pos(200, 10, 30) * Rot(0, 0, 40) * part)]

    def run(directory: Path) -> list[str]:
        cache = DecompositionCache(directory)  # one check's cache object
        return [pieces_digest(decompose(v, f, cache=cache)) for v, f in meshes]

    cold = run(tmp_path / "a")
    assert run(tmp_path / "a") == cold  # warm disk
    # A disk that saw the moved copy first, on its own, changes nothing either.
    decompose(*meshes[1], cache=DecompositionCache(tmp_path / "b"))
    assert run(tmp_path / "b") == cold
    assert run(tmp_path / "c") == cold  # and neither does a cold one


def test_unreadable_cache_entry_is_recomputed(tmp_path: Path) -> None:
    vertices, faces = tessellate(l_bracket())
    cache = DecompositionCache(tmp_path)
    decompose(vertices, faces, cache=cache)
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"not an npz file")
    again = decompose(vertices, faces, cache=DecompositionCache(tmp_path))  # another process
    assert not again.cached and len(again.pieces) == 2


def pieces_digest(result: Decomposition) -> str:
    digest = hashlib.sha256()
    for vertices, faces in result.pieces:
        digest.update(vertices.tobytes())
        digest.update(faces.tobytes())
    return digest.hexdigest()


@pytest.mark.e2e  # decomposes again in a subprocess
def test_deterministic_across_runs_and_processes() -> None:
    vertices, faces = tessellate(holed_plate())
    here = pieces_digest(decompose(vertices, faces))
    assert pieces_digest(decompose(vertices, faces)) == here
    script = textwrap.dedent(
        """
        import hashlib, json, sys
        import numpy as np
        from benchgen.decomposition import decompose
        data = json.load(sys.stdin)
        result = decompose(np.array(data["v"], dtype=np.float64), np.array(data["f"], dtype=np.int64))
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


def test_cpu_limit_rejects_instead_of_running_on() -> None:
    vertices, faces = tessellate(blind_hole_block())
    with pytest.raises(DecompositionLimit, match="CPU seconds"):
        decompose(vertices, faces, DecompositionSettings(cpu_limit=1e-6))


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
        settings.gap_fraction = 0.5  # type: ignore[misc]
    with pytest.raises(ValueError):
        DecompositionSettings(max_pieces=0)
