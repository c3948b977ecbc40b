"""Collision geometry for real CAD parts: benchgen next to CoACD (defaults) and V-HACD.

For every part of the corpus in ``tests/cad_parts.py`` (flange, bowl, funnel, pipe
elbow, spur gear, cup, ring, hat bracket), tessellated the way the checker does it,
each method's convex pieces are measured independently of what the method reports:

- time: benchgen's CPU seconds (the machine is shared, so wall time says little), and
  CoACD's and V-HACD's wall seconds inside their own process, without start-up;
- n: number of convex pieces;
- over: volume of the pieces' union outside the part, % of the part's volume;
- gap: largest over-fill depth in mm -- the farthest sampled point of any piece from
  the part (points sampled inside and on every piece, signed distance to the mesh);
- under: volume of the part outside every piece, % (a hole in the collision geometry);
- feat: through-features a fitting payload passes and cups that stay open, judged
  statically (the payload swept along the feature's path must touch no piece).

CoACD and V-HACD run in a subprocess with a time limit (``--timeout``); a run that hits
it is reported as such. Run: ``.venv/bin/python benchmarks/bench_decomposition.py``
(``--parts flange,ring`` for a subset, ``--methods benchgen`` to skip the others).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, replace
from pathlib import Path

import igl
import manifold3d as m3
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from build123d import Pos, Rot  # noqa: E402

from benchgen.decomposition import DecompositionCache, SurfaceHint, decompose  # noqa: E402
from benchgen.geometry import GeometrySettings, TriMesh, tessellate_solid  # noqa: E402
from cad_parts import PARTS, CadPart, surfaces_of  # noqa: E402

SAMPLES = 60_000  # points per part for the gap measurement


@dataclass(frozen=True)
class Row:
    seconds: float | None  # None: not run to completion, see note
    note: str = ""
    pieces: int = 0
    over: float = 0.0
    gap: float = 0.0
    under: float = 0.0
    clear: int = 0


def _manifold(vertices: np.ndarray, faces: np.ndarray) -> m3.Manifold:
    mesh = m3.Mesh64(
        vert_properties=np.ascontiguousarray(vertices, dtype=np.float64),
        tri_verts=np.ascontiguousarray(faces, dtype=np.uint64),
    )
    mesh.merge()
    return m3.Manifold(mesh)


def _sample_hull(hull: m3.Manifold, count: int, rng: np.random.Generator) -> np.ndarray:
    """Points uniformly inside a convex hull (tetrahedra fanned from its centroid) and on it."""
    mesh = hull.to_mesh64()
    points = np.asarray(mesh.vert_properties)[:, :3]
    tris = np.asarray(mesh.tri_verts, dtype=np.int64).reshape(-1, 3)
    centre = points.mean(axis=0)
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    volume = np.abs(np.einsum("ij,ij->i", a - centre, np.cross(b - centre, c - centre)))
    if volume.sum() <= 0:
        return points
    pick = rng.choice(len(tris), size=count, p=volume / volume.sum())
    weights = rng.dirichlet(np.ones(4), size=count)
    inside = (
        weights[:, :1] * centre
        + weights[:, 1:2] * a[pick]
        + weights[:, 2:3] * b[pick]
        + weights[:, 3:] * c[pick]
    )
    # The same number again on the surface, where a chord's sagitta is deepest.
    on_face = weights[:, 1:] / weights[:, 1:].sum(axis=1, keepdims=True)
    surface = on_face[:, :1] * a[pick] + on_face[:, 1:2] * b[pick] + on_face[:, 2:] * c[pick]
    return np.concatenate([inside, surface, points])


def _swept(part: CadPart) -> list[tuple[str, m3.Manifold]]:
    """Each feature's payload swept along its path, shrunk by 0.2 mm for round-off."""
    regions = []
    for feature in part.through:
        radius, path = feature.payload_radius - 0.2, feature.path
        regions.append((feature.name, radius, path))
    for cup in part.cups:
        regions.append((cup.name, cup.ball_radius - 0.2, (cup.drop, cup.rest)))
    out = []
    for name, radius, path in regions:
        balls = [m3.Manifold.sphere(radius, 48).translate(p) for p in path]
        capsules = [m3.Manifold.batch_hull([a, b]) for a, b in zip(balls, balls[1:], strict=False)]
        out.append((name, m3.Manifold.batch_boolean(capsules, m3.OpType.Add)))
    return out


def evaluate(mesh: TriMesh, hulls: list[np.ndarray], seconds: float, part: CadPart) -> Row:
    solid = _manifold(mesh.vertices, mesh.faces)
    pieces = [m3.Manifold.hull_points(np.ascontiguousarray(h, dtype=np.float64)) for h in hulls]
    pieces = [p for p in pieces if not p.is_empty() and p.volume() > 0]
    volume = float(solid.volume())
    union = m3.Manifold.batch_boolean(pieces, m3.OpType.Add)
    rng = np.random.default_rng(0)
    total = sum(float(p.volume()) for p in pieces)
    samples = np.concatenate(
        [_sample_hull(p, max(16, int(SAMPLES * float(p.volume()) / total)), rng) for p in pieces]
    )
    distance, *_ = igl.signed_distance(
        samples, mesh.vertices, mesh.faces, sign_type=igl.SIGNED_DISTANCE_TYPE_PSEUDONORMAL
    )
    clear = sum(float((region ^ union).volume()) <= 1e-3 for _, region in _swept(part))
    return Row(
        seconds=seconds,
        pieces=len(pieces),
        over=100 * float((union - solid).volume()) / volume,
        gap=float(max(np.max(distance), 0.0)),
        under=100 * float((solid - union).volume()) / volume,
        clear=clear,
    )


def run_benchgen(mesh: TriMesh, part: CadPart, hints: list[SurfaceHint], cache: DecompositionCache) -> Row:
    """benchgen's feature split with the exact faces as hints; time is CPU time of this process.

    CPU time, because the machine this runs on is shared: wall time under load says
    little. The second figure (in the note) is a cache hit on a moved, rotated copy.
    """
    start = time.process_time()
    result = decompose(mesh.vertices, mesh.faces, surfaces=hints, cache=cache)
    seconds = time.process_time() - start
    row = evaluate(mesh, [np.asarray(v) for v, _ in result.pieces], seconds, part)
    return replace(row, note=f"{result.method}")


WORKER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    data = np.load(sys.argv[1])
    method = sys.argv[3]
    vertices, faces = data["v"], data["f"]
    start = time.perf_counter()
    if method == "coacd":
        import coacd
        coacd.set_log_level("error")
        hulls = [np.asarray(p[0]) for p in coacd.run_coacd(coacd.Mesh(vertices, faces))]
    else:
        import vhacdx
        hulls = [np.asarray(p[0]) for p in vhacdx.compute_vhacd(vertices, faces.astype(np.uint32))]
    seconds = time.perf_counter() - start
    np.savez(sys.argv[2], seconds=seconds, count=len(hulls), **{f"p{i}": h for i, h in enumerate(hulls)})
    """
)


def run_external(mesh: TriMesh, part: CadPart, method: str, timeout: float) -> Row:
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "in.npz", Path(scratch) / "out.npz"
        np.savez(source, v=mesh.vertices.astype(np.float64), f=mesh.faces.astype(np.int32))
        try:
            done = subprocess.run(
                [sys.executable, "-c", WORKER, str(source), str(target), method],
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return Row(seconds=None, note=f"> {timeout:.0f} s")
        if done.returncode != 0 or not target.exists():
            return Row(seconds=None, note="failed")
        with np.load(target) as data:
            hulls = [data[f"p{i}"] for i in range(int(data["count"]))]
            seconds = float(data["seconds"])
    return evaluate(mesh, hulls, seconds, part)


def cell(row: Row, features: int) -> str:
    if row.seconds is None:
        return f"{row.note:>8} {'-':>4} {'-':>6} {'-':>6} {'-':>6} {'-':>4}"
    return (
        f"{row.seconds:7.2f}s {row.pieces:4d} {row.over:5.1f}% {row.gap:6.2f} {row.under:5.2f}% "
        f"{row.clear}/{features}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per CoACD / V-HACD run")
    parser.add_argument("--parts", default="", help="comma-separated part names (default: all)")
    parser.add_argument("--methods", default="benchgen,coacd,vhacd", help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    wanted = {p.strip() for p in args.parts.split(",") if p.strip()}
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    titles = {"benchgen": "benchgen", "coacd": "CoACD defaults", "vhacd": "V-HACD defaults"}
    head = f"{'time':>8} {'n':>4} {'over':>6} {'gap':>6} {'under':>6} {'feat':>4}"
    print(f"{'part':13} | " + " | ".join(f"{titles[m]:^40}" for m in methods))
    print(f"{'':13} | " + " | ".join(head for _ in methods), flush=True)
    settings = GeometrySettings()
    results: dict[str, dict[str, dict[str, object]]] = {}
    scratch = tempfile.TemporaryDirectory(prefix="bench-decomposition-")
    cache = DecompositionCache(Path(scratch.name))
    hits: list[str] = []
    for part in PARTS:
        if wanted and part.name not in wanted:
            continue
        solid = part.build()
        mesh = tessellate_solid(solid, settings)
        features = len(part.through) + len(part.cups)
        rows = {}
        for method in methods:
            if method == "benchgen":
                rows[method] = run_benchgen(mesh, part, surfaces_of(solid), cache)
                moved = Pos(120, -35, 10) * Rot(25, 40, 70) * solid
                moved_mesh = tessellate_solid(moved, settings)
                start = time.process_time()
                hit = decompose(
                    moved_mesh.vertices, moved_mesh.faces, surfaces=surfaces_of(moved), cache=cache
                )
                hits.append(
                    f"{part.name}: {'hit' if hit.cached else 'MISS'} {time.process_time() - start:.2f}s"
                )
            else:
                rows[method] = run_external(mesh, part, method, args.timeout)
        results[part.name] = {m: r.__dict__ for m, r in rows.items()}
        print(f"{part.name:13} | " + " | ".join(cell(rows[m], features) for m in methods), flush=True)
    print("cache, moved and rotated copy: " + "; ".join(hits))
    print(
        "time: benchgen CPU seconds (shared machine), CoACD/V-HACD wall seconds in their own process. n: pieces. over: union of pieces outside the part (% of its volume). "
        "gap: largest over-fill depth (mm). under: part outside every piece (%). "
        "feat: through-features and cups a fitting payload clears."
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
