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
from collections.abc import Sequence
from string import Template
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from benchgen.authors import families
from benchgen.authors.families import FAMILIES, Const, Family
from benchgen.authors.families import source as _source
from benchgen.errors import UsageError
from benchgen.materials import MATERIALS

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


class NoFamilyMatches(UsageError, ValueError):
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
