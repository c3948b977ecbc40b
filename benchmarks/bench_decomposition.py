"""Convex decomposition: benchgen's plane split next to CoACD (defaults, and fast parameters).

For a handful of concave CAD parts, prints per method the wall time, the number of
pieces, the error ((sum of piece volumes - mesh volume) / mesh volume), how much of
the mesh the pieces miss (under-fill, exact boolean), and how many probe points in the
part's cavities stay free (a hole that stays a hole) -- then the speed-up of the plane
split over each CoACD run.

CoACD runs in a subprocess with a time limit (``--timeout``, default 60 s); a run that
hits it is reported as such. Run: ``.venv/bin/python benchmarks/bench_decomposition.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import manifold3d as m3
import numpy as np
from build123d import Box, Cylinder, Pos, Rot, Shape, Sphere
from scipy.spatial import ConvexHull

from benchgen.decomposition import decompose

Point = tuple[float, float, float]

FAST = {
    "threshold": 0.1,
    "preprocess_mode": "off",
    "mcts_iterations": 30,
    "mcts_nodes": 8,
    "mcts_max_depth": 2,
    "resolution": 300,
}


@dataclass(frozen=True)
class Part:
    name: str
    build: Callable[[], Shape]
    free: tuple[Point, ...]  # points in cavities: must not be covered


def plate_with_holes() -> Shape:
    plate = Box(100, 100, 10)
    for x in (-30, 30):
        for y in (-30, 30):
            plate = plate - Pos(x, y, 0) * Cylinder(6, 10)
    return plate


PARTS = (
    Part(
        "block, blind hole",
        lambda: Box(120, 120, 120) - Pos(0, 0, 30) * Cylinder(20, 60),
        ((0, 0, 59), (0, 0, 30), (0, 0, 5), (12, 0, 30)),
    ),
    Part(
        "open bin",
        lambda: Box(100, 80, 60) - Pos(0, 0, 5) * Box(90, 70, 50),
        ((0, 0, 0), (0, 0, 29), (40, 30, -19), (-40, -30, 20)),
    ),
    Part(
        "arch",
        lambda: Box(100, 60, 80) - Pos(0, 0, -40) * Rot(90, 0, 0) * Cylinder(30, 60),
        ((0, 0, -39), (0, 25, -30), (0, -25, -20), (15, 0, -35)),
    ),
    Part(
        "L-bracket",
        lambda: Box(80, 40, 10) + Pos(-35, 0, 25) * Box(10, 40, 60),
        ((0, 0, 20), (-29, 0, 6), (30, 15, 6), (-20, 0, 50)),
    ),
    Part(
        "plate, 4 holes",
        plate_with_holes,
        ((30, 30, 0), (-30, 30, 4), (30, -30, -4), (-26, -30, 0)),
    ),
    Part(
        "sphere, pocket",
        lambda: Sphere(50) - Pos(0, 0, 30) * Box(40, 40, 60),
        ((0, 0, 45), (0, 0, 20), (15, 15, 10), (-15, 10, 30)),
    ),
    Part(
        "shaft, cross hole",
        lambda: Cylinder(15, 80) - Pos(0, 0, 10) * Rot(0, 90, 0) * Cylinder(5, 40),
        ((0, 0, 10), (10, 0, 10), (-14, 0, 12), (0, 3, 8)),
    ),
)


@dataclass(frozen=True)
class Row:
    seconds: float | None  # None: not run to completion, see note
    note: str = ""
    pieces: int = 0
    error: float = 0.0
    under: float = 0.0
    free: int = 0


def tessellate(shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    vertices, triangles = shape.tessellate(0.1, 0.2)
    points = np.array([[v.X, v.Y, v.Z] for v in vertices], dtype=np.float64)
    return points, np.array(triangles, dtype=np.int64)


def solid_of(vertices: np.ndarray, faces: np.ndarray) -> m3.Manifold:
    mesh = m3.Mesh64(vert_properties=vertices, tri_verts=faces.astype(np.uint64))
    mesh.merge()
    return m3.Manifold(mesh)


def covered(hulls: list[np.ndarray], point: Point) -> bool:
    """Whether a point lies in the convex hull of any of the point sets."""
    for points in hulls:
        equations = ConvexHull(points).equations
        if (equations[:, :3] @ np.asarray(point) + equations[:, 3]).max() <= 1e-6:
            return True
    return False


def evaluate(solid: m3.Manifold, hulls: list[np.ndarray], seconds: float, part: Part) -> Row:
    """Error, under-fill and free probes for pieces given as point sets (their hulls)."""
    pieces = [m3.Manifold.hull_points(np.ascontiguousarray(h, dtype=np.float64)) for h in hulls]
    kept = [h for h, p in zip(hulls, pieces, strict=True) if not p.is_empty()]
    pieces = [p for p in pieces if not p.is_empty()]
    volume = float(solid.volume())
    union = m3.Manifold.batch_boolean(pieces, m3.OpType.Add)
    return Row(
        seconds=seconds,
        pieces=len(pieces),
        error=(sum(float(p.volume()) for p in pieces) - volume) / volume,
        under=float((solid - union).volume()) / volume,
        free=sum(not covered(kept, point) for point in part.free),
    )


def run_ours(vertices: np.ndarray, faces: np.ndarray, solid: m3.Manifold, part: Part, repeats: int) -> Row:
    times = []
    result = decompose(vertices, faces)
    for _ in range(repeats):
        start = time.perf_counter()
        result = decompose(vertices, faces)
        times.append(time.perf_counter() - start)
    return evaluate(solid, [v for v, _ in result.pieces], statistics.median(times), part)


WORKER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import coacd
    coacd.set_log_level("error")
    data = np.load(sys.argv[1])
    params = json.loads(sys.argv[3])
    start = time.perf_counter()
    parts = coacd.run_coacd(coacd.Mesh(data["v"], data["f"]), **params)
    seconds = time.perf_counter() - start
    np.savez(sys.argv[2], seconds=seconds, count=len(parts), **{f"p{i}": np.asarray(p[0]) for i, p in enumerate(parts)})
    """
)


def run_coacd(solid: m3.Manifold, part: Part, params: dict[str, object], timeout: float) -> Row:
    mesh = solid.to_mesh64()
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "in.npz", Path(scratch) / "out.npz"
        np.savez(
            source,
            v=np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3],
            f=np.asarray(mesh.tri_verts, dtype=np.int32),
        )
        try:
            subprocess.run(
                [sys.executable, "-c", WORKER, str(source), str(target), json.dumps(params)],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return Row(seconds=None, note=f"> {timeout:.0f} s")
        with np.load(target) as data:
            hulls = [data[f"p{i}"] for i in range(int(data["count"]))]
            seconds = float(data["seconds"])
    return evaluate(solid, hulls, seconds, part)


def cell(row: Row, probes: int) -> str:
    if row.seconds is None:
        return f"{row.note:>9} {'-':>3} {'-':>7} {'-':>7} {'-':>4}"
    return f"{row.seconds:8.2f}s {row.pieces:3d} {row.error:7.4f} {row.under:7.1e} {row.free}/{probes}"


def ratio(ours: Row, other: Row, timeout: float) -> str:
    assert ours.seconds is not None
    if other.seconds is None:
        return f"> {timeout / ours.seconds:.0f}x" if other.note.startswith(">") else "-"
    return f"{other.seconds / ours.seconds:.0f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per CoACD run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the plane split (median)")
    parser.add_argument("--skip-defaults", action="store_true", help="leave out CoACD with defaults")
    args = parser.parse_args()
    head = f"{'time':>9} {'n':>3} {'error':>7} {'under':>7} {'free':>4}"
    print(f"{'part':18} | {'plane split':^34} | {'CoACD defaults':^34} | {'CoACD fast':^34} | speed-up")
    print(f"{'':18} | {head} | {head} | {head} | vs dflt / fast")
    for part in PARTS:
        vertices, faces = tessellate(part.build())
        solid = solid_of(vertices, faces)
        ours = run_ours(vertices, faces, solid, part, args.repeats)
        defaults = (
            Row(seconds=None, note="skipped")
            if args.skip_defaults
            else run_coacd(solid, part, {}, args.timeout)
        )
        fast = run_coacd(solid, part, FAST, args.timeout)
        probes = len(part.free)
        print(
            f"{part.name:18} | {cell(ours, probes)} | {cell(defaults, probes)} | "
            f"{cell(fast, probes)} | {ratio(ours, defaults, args.timeout)} / "
            f"{ratio(ours, fast, args.timeout)}",
            flush=True,
        )
    print(
        "time: wall seconds (plane split: median of repeated runs, no cache; CoACD: inside its process). "
        "under: share of the mesh outside every piece. free: cavity probe points left uncovered."
    )


if __name__ == "__main__":
    main()
