"""A cheap, in-process static audit of trusted scenario scripts (no sandbox, no physics), for tests.

It builds a script's scenes the way the checker does and applies the checker's static rules,
made stricter: separate bodies must keep ``min_gap`` mm apart (the checker only forbids
overlap, but touching meshes can start a simulation interpenetrating). Where
:mod:`benchgen.geometry` has the rule (a box inside bounds, a zone inside bounds, two zones
overlapping, two boxes overlapping), this calls geometry's own function on the built
shapes' boxes; what remains is measured on the exact build123d shapes, since the checker's
meshes do not exist here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from build123d import Location
from pydantic import BaseModel

from benchgen.geometry import GeometrySettings, box_outside, boxes_overlap, zone_inside, zones_overlap
from benchgen.scenario import Scenario, Zone

_TOL = GeometrySettings().bounds_tolerance
_GROUND = 1e-6
"""How far below the ground a part may reach: stricter than the checker's ``ground_tolerance_mm``."""


class Audit(BaseModel):
    """What the audit of a script found."""

    problems: list[str]
    randomization_ratio: float
    """Largest spread of payload start or goal centre across the seeds, as a fraction of the workspace."""


def load_build(source: str, filename: str = "<scenario>") -> Callable[..., Any]:
    """Execute trusted script source in a fresh namespace and return its ``build``."""
    namespace: dict[str, Any] = {"__name__": "scenario_script", "__file__": filename}
    exec(compile(source, filename, "exec"), namespace)
    build: Callable[..., Any] = namespace["build"]
    return build


Box = tuple[np.ndarray, np.ndarray]


def _bbox(shape: Any) -> Box:
    box = shape.bounding_box()
    return np.array([box.min.X, box.min.Y, box.min.Z]), np.array([box.max.X, box.max.Y, box.max.Z])


def _near(a: Box, b: Box, gap: float) -> bool:
    """The boxes come within ``gap`` of each other (geometry's overlap test on ``a`` grown by ``gap``)."""
    return boxes_overlap((a[0] - gap, a[1] + gap), b)


def audit_scene(scene: Scenario, min_gap: float = 1.0) -> list[str]:
    """Geometry problems of one built scene: the checker's static rules, with ``min_gap`` between bodies."""
    problems: list[str] = []
    bounds = scene.bounds
    boxes = {}
    for part in scene.parts:
        shape = part.shape
        if not shape.is_valid or len(shape.solids()) != 1 or shape.volume <= 0:
            problems.append(f"part {part.label!r} is not one valid solid with volume")
        boxes[part.label] = _bbox(shape)
        if box_outside(*boxes[part.label], bounds, _TOL):
            problems.append(f"part {part.label!r} leaves bounds")
        if boxes[part.label][0][2] < -_GROUND:
            problems.append(f"part {part.label!r} goes below the ground")
    for i, a in enumerate(scene.parts):
        for b in scene.parts[i + 1 :]:
            if _near(boxes[a.label], boxes[b.label], min_gap) and a.shape.distance_to(b.shape) < min_gap:
                problems.append(f"parts {a.label!r} and {b.label!r} are closer than {min_gap} mm")

    payload = scene.payload
    start, jitter = np.array(payload.start), np.array(payload.jitter)
    # The start envelope, sampled at its 27 extreme and middle offsets (-1, 0, +1 per axis).
    corners = [start + jitter * (np.array(c) - 1) for c in np.ndindex(3, 3, 3)]
    plo, phi = _bbox(payload.shape)
    env = (plo + start - jitter, phi + start + jitter)
    if box_outside(*env, bounds, _TOL):
        problems.append("payload start envelope leaves bounds")
    for part in scene.parts:
        if not _near(boxes[part.label], env, min_gap):
            continue
        for c in corners:
            if part.shape.distance_to(payload.shape.moved(Location(tuple(c)))) < min_gap:
                problems.append(f"payload start envelope comes within {min_gap} mm of {part.label!r}")
                break
    for zone in [scene.goal_zone, scene.build_zone, *scene.forbid_zones]:
        if not zone_inside(zone, bounds, _TOL):
            problems.append(f"zone {zone.name!r} leaves bounds")
    env_zone = Zone(min=tuple(env[0]), max=tuple(env[1]))
    for zone in scene.forbid_zones:
        if zones_overlap(zone, scene.goal_zone):
            problems.append(f"goal zone overlaps forbid zone {zone.name!r}")
        if zones_overlap(zone, env_zone):
            problems.append(f"payload start envelope overlaps forbid zone {zone.name!r}")
    return problems


def _fingerprint(scene: Scenario) -> tuple[object, ...]:
    shapes = [round(p.shape.volume, 3) for p in scene.parts] + [
        tuple(np.round(_bbox(p.shape)[0], 4)) for p in scene.parts
    ]
    return (scene.params, scene.payload.start, scene.goal_zone, scene.forbid_zones, scene.bounds, shapes)


def _extent(scene: Scenario) -> float:
    lows, highs = zip(*(_bbox(p.shape) for p in scene.parts), strict=True)
    return float(np.linalg.norm(np.max(highs, axis=0) - np.min(lows, axis=0)))


def audit_script(source: str, seeds: int = 8, scales: tuple[float, ...] = (0.5, 2.0)) -> Audit:
    """Build ``source`` the way the checker does and report static problems.

    Seeds ``0..seeds-1`` at scale 1, seed 0 at each of ``scales`` and seed 0 twice;
    determinism, seed variation, scale, geometry (:func:`audit_scene`) and the
    randomization bar (payload start or goal centre spread ≥ 40 % of the workspace).
    """
    build = load_build(source)
    problems: list[str] = []
    scenes = [build(seed, 1.0) for seed in range(seeds)]
    if _fingerprint(build(0, 1.0)) != _fingerprint(scenes[0]):
        problems.append("build(0, 1.0) is not deterministic")
    if len({repr(s.params) for s in scenes}) < seeds:
        problems.append("params do not vary with the seed")
    for seed, scene in enumerate(scenes):
        problems += [f"seed {seed}: {p}" for p in audit_scene(scene)]
    reference = _extent(scenes[0])
    for scale in scales:
        scene = build(0, scale)
        ratio = _extent(scene) / reference
        if abs(ratio / scale - 1) > 0.01:
            problems.append(f"scale {scale}: extent ratio {ratio:.3f}")
        problems += [f"scale {scale}: {p}" for p in audit_scene(scene, min_gap=min(1.0, scale))]
    starts = np.array([s.payload.start for s in scenes])
    goals = np.array([s.goal_zone.center for s in scenes])
    workspace = np.mean([s.bounds.size for s in scenes], axis=0)
    ratio = float(max((np.ptp(starts, axis=0) / workspace).max(), (np.ptp(goals, axis=0) / workspace).max()))
    if ratio < 0.4:
        problems.append(f"randomization: best spread {ratio:.0%} of the workspace (need 40%)")
    return Audit(problems=problems, randomization_ratio=ratio)
