"""The offline author: writes real scenario scripts procedurally, with no language model.

Each *family* is one module of :mod:`benchgen.authors.families` (its metadata, its chooser,
its reviewed ``build`` template and its reference solution), registered there in a fixed
order. The author's random generator picks a family and then its structural choices
(obstacle count and shape, materials, whether there is a forbidden pit, the ranges the
script draws from, ...) and writes them as constants at the top of the script. The
script's own ``build(seed, scale)`` then draws per-seed values inside those ranges. The
output follows exactly the contract an LLM author must follow, so it goes through the
same checker.

Every family lays its scene out in a canonical frame (start on -x, goal on +x) and
mirrors it on odd seeds, which guarantees the checker's randomization bar for any
choices the author makes here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from string import Template
from typing import Any

import numpy as np
from build123d import Location
from pydantic import BaseModel, Field

from benchgen.authors import families
from benchgen.authors.families import FAMILIES, Const, Family
from benchgen.authors.families import source as _source
from benchgen.materials import MATERIALS
from benchgen.scenario import Scenario, Zone

__all__ = [
    "FAMILIES",
    "Candidate",
    "Const",
    "Family",
    "NoFamilyMatches",
    "choose",
    "render_script",
    "select_families",
    "solvable_families",
    "write_candidate",
]

_STOPWORDS = frozenset({"the", "and", "for", "with", "into", "onto", "from", "that", "this", "its", "off"})


class NoFamilyMatches(ValueError):
    """No family matches the requested theme and tier; the message lists what exists."""


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9-]*", text.lower()) if w not in _STOPWORDS}


def _family_words(family: Family) -> set[str]:
    words = set(family.name.split("_")) | {family.name} | {k.lower() for k in family.keywords}
    return words | _words(family.summary)


def select_families(theme: str | None, tier: str | None, names: Sequence[str] | None = None) -> list[Family]:
    """Families matching ``names`` (if given), ``tier`` (exact) and ``theme`` (any word of it
    names a family word).

    A theme that is exactly a family's name selects just that family. Otherwise theme
    words are matched against each family's name, keywords and summary, also without a
    trailing ``s`` so "gates" finds the gate family. An unknown name is an error.
    """
    chosen = [f for f in FAMILIES if tier is None or f.tier == tier]
    if names is not None:
        unknown = sorted(set(names) - {f.name for f in FAMILIES})
        if unknown:
            raise NoFamilyMatches(
                f"unknown families {unknown}. Available families: {', '.join(f.name for f in FAMILIES)}"
            )
        chosen = [f for f in chosen if f.name in set(names)]
    exact = [f for f in chosen if theme is not None and f.name == theme.strip().lower()]
    if exact:
        return exact
    if theme is not None and theme.strip():
        wanted = {w for w in _words(theme) if len(w) >= 3}
        wanted |= {w[:-1] for w in wanted if w.endswith("s") and len(w) > 3}
        chosen = [f for f in chosen if wanted & _family_words(f)]
    if not chosen:
        listing = "; ".join(f"{f.name} ({f.tier}): {', '.join(f.keywords)}" for f in FAMILIES)
        asked = f"theme={theme!r}, tier={tier!r}" + (f", families={list(names)}" if names is not None else "")
        raise NoFamilyMatches(f"no family matches {asked}. Available families: {listing}")
    return chosen


def solvable_families(
    theme: str | None, tier: str | None, names: Sequence[str] | None = None
) -> list[Family]:
    """The families :func:`select_families` picks that have a reference solution.

    ``generate`` rejects a candidate without one (``unsolved``), so dealing such a family
    would only spend the budget; a selection with none left is an error that says which
    families matched and lack a reference.
    """
    matching = select_families(theme, tier, names)
    solvable = [f for f in matching if families.solution(f.name) is not None]
    if not solvable:
        raise NoFamilyMatches(
            f"no family with a reference solution matches: {', '.join(f.name for f in matching)} "
            "have none yet, and generate rejects every candidate without one ('unsolved')"
        )
    return solvable


class Candidate(BaseModel):
    """One generated script plus the structural choices that shaped it."""

    family: str
    tier: str
    script: str
    choices: dict[str, float | int | str]
    solution: str | None = None
    """The reference ``solution.py`` that shows every variant can be solved (``None``: none written yet)."""
    provenance: dict[str, Any] = Field(default_factory=dict)
    """Who wrote it beyond the family: for agent-authored scripts the session, models and token usage."""


# --- Writing ---------------------------------------------------------------------

_B3D_NAMES = ("Box", "Cone", "Cylinder", "Pos", "Rot", "Sphere")
_CONTRACT_NAMES = ("Constraints", "Hinge", "Part", "Payload", "Scenario", "Slide", "Zone")


def _imports(code: str) -> str:
    """Import exactly the names the assembled code uses, so scripts stay lint-clean."""
    stdlib = [f"import {m}" for m in ("math", "random") if re.search(rf"\b{m}\.", code)]
    b3d = [n for n in _B3D_NAMES if re.search(rf"\b{n}\b", code)]
    contract = [n for n in _CONTRACT_NAMES if re.search(rf"\b{n}\b", code)]
    return "\n".join(
        [
            *stdlib,
            "",
            f"from build123d import {', '.join(b3d)}",
            "",
            f"from benchgen.scenario import {', '.join(contract)}",
        ]
    )


def render_script(family: Family, consts: list[Const]) -> str:
    """Assemble a family's script from its constants; pure text, deterministic."""
    code = _source.FRAME + _source.FILL_LANE + families.get(family.name).BODY
    head = Template(_source.HEAD).substitute(
        title=family.name.replace("_", " ").capitalize(),
        tier=family.tier,
        family=family.name,
        summary=family.summary,
        imports=_imports(code),
        constants="\n".join(c.line() for c in consts),
    )
    return head + code


def _flatten(consts: list[Const]) -> dict[str, float | int | str]:
    """Choices as flat scalars: a range becomes ``<name>_lo``/``<name>_hi``, a flag 0/1."""
    out: dict[str, float | int | str] = {}
    for c in consts:
        key = c.name.lower()
        if isinstance(c.value, tuple):
            out[f"{key}_lo"], out[f"{key}_hi"] = c.value
        elif isinstance(c.value, bool):
            out[key] = int(c.value)
        else:
            out[key] = c.value
    return out


def choose(family: str, rng: np.random.Generator) -> list[Const]:
    """Draw the structural choices of the named family (what its script's constants will be)."""
    return families.get(family).choose(rng)


def write_candidate(
    rng: np.random.Generator, theme: str | None = None, tier: str | None = None, family: str | None = None
) -> Candidate:
    """Write a scenario script of ``family``, or of a family matching ``theme``/``tier`` drawn
    from ``rng`` (``generate`` deals families itself: :mod:`benchgen.balance`).

    The same generator state always gives byte-identical script text.
    """
    if family is None:
        matching = select_families(theme, tier)
        spec = matching[int(rng.integers(len(matching)))]
    else:
        spec = select_families(None, None, [family])[0]
    consts = choose(spec.name, rng)
    unknown = [c.value for c in consts if c.name.endswith("MATERIAL") and c.value not in MATERIALS]
    if unknown:  # a programming error in a chooser, caught before a script is written
        raise AssertionError(f"unknown materials {unknown}")
    return Candidate(
        family=spec.name,
        tier=spec.tier,
        script=render_script(spec, consts),
        choices=_flatten(consts),
        solution=families.solution(spec.name),
    )


# --- Static audit ----------------------------------------------------------------


class Audit(BaseModel):
    """What a cheap, in-process audit of a script found (no sandbox, no physics)."""

    problems: list[str]
    randomization_ratio: float
    """Largest spread of payload start or goal centre across the seeds, as a fraction of the workspace."""


def load_build(source: str, filename: str = "<scenario>") -> Callable[..., Any]:
    """Execute trusted script source in a fresh namespace and return its ``build``."""
    namespace: dict[str, Any] = {"__name__": "scenario_script", "__file__": filename}
    exec(compile(source, filename, "exec"), namespace)
    build: Callable[..., Any] = namespace["build"]
    return build


def _bbox(shape: Any) -> tuple[np.ndarray, np.ndarray]:
    box = shape.bounding_box()
    return np.array([box.min.X, box.min.Y, box.min.Z]), np.array([box.max.X, box.max.Y, box.max.Z])


def _inside(lo: np.ndarray, hi: np.ndarray, zone: Zone, tol: float = 1e-3) -> bool:
    return bool(np.all(lo >= np.array(zone.min) - tol) and np.all(hi <= np.array(zone.max) + tol))


def _zones_overlap(a: Zone, b: Zone) -> bool:
    return all(a.min[i] < b.max[i] and b.min[i] < a.max[i] for i in range(3))


def _near(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], gap: float) -> bool:
    return bool(np.all(a[0] < b[1] + gap) and np.all(b[0] < a[1] + gap))


def audit_scene(scene: Scenario, min_gap: float = 1.0) -> list[str]:
    """Geometry problems of one built scene, the checker's static rules made stricter.

    Separate bodies must keep ``min_gap`` mm apart (the checker only forbids overlap, but
    touching meshes can start a simulation interpenetrating).
    """
    problems: list[str] = []
    bounds = scene.bounds
    boxes = {}
    for part in scene.parts:
        shape = part.shape
        if not shape.is_valid or len(shape.solids()) != 1 or shape.volume <= 0:
            problems.append(f"part {part.label!r} is not one valid solid with volume")
        boxes[part.label] = _bbox(shape)
        if not _inside(*boxes[part.label], bounds):
            problems.append(f"part {part.label!r} leaves bounds")
        if boxes[part.label][0][2] < -1e-6:
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
    if not _inside(*env, bounds):
        problems.append("payload start envelope leaves bounds")
    for part in scene.parts:
        if not _near(boxes[part.label], env, min_gap):
            continue
        for c in corners:
            if part.shape.distance_to(payload.shape.moved(Location(tuple(c)))) < min_gap:
                problems.append(f"payload start envelope comes within {min_gap} mm of {part.label!r}")
                break
    for zone in [scene.goal_zone, scene.build_zone, *scene.forbid_zones]:
        if not _inside(np.array(zone.min), np.array(zone.max), bounds):
            problems.append(f"zone {zone.name!r} leaves bounds")
    env_zone = Zone(min=tuple(env[0]), max=tuple(env[1]))
    for zone in scene.forbid_zones:
        if _zones_overlap(zone, scene.goal_zone):
            problems.append(f"goal zone overlaps forbid zone {zone.name!r}")
        if _zones_overlap(zone, env_zone):
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
