"""The offline author: family selection, deterministic script text, and scripts that pass the static rules.

Generated scripts are executed in-process (they are our own templates); the sandboxed
checker and physics have their own tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import benchgen
from benchgen.authors.families import REGISTRY
from benchgen.authors.offline import (
    FAMILIES,
    Candidate,
    NoFamilyMatches,
    select_families,
    write_candidate,
)
from benchgen.materials import MATERIALS
from benchgen.scenario import Hinge, Slide
from script_audit import audit_script, load_build

FAMILY_NAMES = [f.name for f in FAMILIES]
PYPROJECT = Path(benchgen.__file__).parents[2] / "pyproject.toml"


def _candidate(family: str, seed: int) -> Candidate:
    return write_candidate(np.random.default_rng(seed), theme=family)


def test_families_cover_tiers() -> None:
    assert len(FAMILIES) >= 8
    assert len(set(FAMILY_NAMES)) == len(FAMILY_NAMES)
    assert {f.tier for f in FAMILIES} >= {"spatial", "kinematic"}


def test_registry_order_is_fixed() -> None:
    """The author draws a family by its index, so the order is part of the output: new ones go last."""
    assert FAMILY_NAMES[:12] == [
        "shelf_to_bin",
        "arch_tunnel",
        "peg_in_hole",
        "gap_pit",
        "step_up",
        "obstacle_field",
        "lever_seesaw",
        "drawer_slide",
        "flap_gate",
        "table_push",
        "funnel_to_cup",
        "bowl_landing",
    ]
    assert [m.FAMILY for m in REGISTRY.values()] == list(FAMILIES)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_family_module_is_complete(family: str) -> None:
    """Each family module has its entry, a chooser, a ``build`` body and a reference (or ``None``)."""
    module = REGISTRY[family]
    assert module.__name__ == f"benchgen.authors.families.{family}"
    assert "\ndef build(seed: int, scale: float = 1.0) -> Scenario:\n" in module.BODY
    assert module.SOLUTION is None or "\ndef design(view: SceneView) -> Design:" in module.SOLUTION
    consts = module.choose(np.random.default_rng(0))
    names = [c.name for c in consts]
    assert len(set(names)) == len(names) and names[:3] == ["WIDTH", "DEPTH", "HEIGHT"]
    assert all(c.value in MATERIALS for c in consts if c.name.endswith("MATERIAL"))


@pytest.mark.parametrize(
    ("theme", "expected"),
    [
        ("hinge", {"lever_seesaw", "flap_gate"}),
        ("a hinged gate", {"lever_seesaw", "flap_gate"}),
        ("stairs", {"step_up"}),
        ("drawer", {"drawer_slide"}),
        ("peg in a hole", {"peg_in_hole"}),
    ],
)
def test_select_by_theme(theme: str, expected: set[str]) -> None:
    assert {f.name for f in select_families(theme, None)} == expected


def test_select_bin_and_exact_name() -> None:
    assert "shelf_to_bin" in {f.name for f in select_families("bin", None)}
    assert [f.name for f in select_families("shelf_to_bin", None)] == ["shelf_to_bin"]


def test_select_by_tier() -> None:
    assert {f.name for f in select_families(None, "kinematic")} == {
        "lever_seesaw",
        "drawer_slide",
        "flap_gate",
    }
    assert all(f.tier == "spatial" for f in select_families(None, "spatial"))
    assert [f.name for f in select_families("hinge", "kinematic")] == ["lever_seesaw", "flap_gate"]
    assert [f.name for f in select_families(None, "mechanism")] == ["table_push"]
    assert len(select_families(None, None)) == len(FAMILIES)


@pytest.mark.parametrize(
    ("theme", "tier"), [("xylophone quantum", None), ("stairs", "kinematic"), ("drawer", "mechanism")]
)
def test_no_match_lists_families(theme: str | None, tier: str | None) -> None:
    with pytest.raises(NoFamilyMatches) as info:
        select_families(theme, tier)
    assert "flap_gate" in str(info.value) and "stairs" in str(info.value)


def test_same_rng_state_gives_identical_script() -> None:
    for seed in range(5):
        a = write_candidate(np.random.default_rng(seed))
        b = write_candidate(np.random.default_rng(seed))
        assert a.script.encode() == b.script.encode()
        assert a.choices == b.choices


def test_different_draws_usually_differ() -> None:
    scripts = {write_candidate(np.random.default_rng(seed)).script for seed in range(12)}
    families = {write_candidate(np.random.default_rng(seed)).family for seed in range(40)}
    assert len(scripts) == 12
    assert len(families) >= 7, "the author should reach most families"


def test_theme_and_tier_steer_the_candidate() -> None:
    for seed in range(6):
        candidate = write_candidate(np.random.default_rng(seed), theme="hinge", tier="kinematic")
        assert candidate.family in {"lever_seesaw", "flap_gate"}
        assert candidate.tier == "kinematic"


def test_choices_are_recorded_as_constants() -> None:
    candidate = _candidate("obstacle_field", 3)
    assert 2 <= int(candidate.choices["n_obstacles"]) <= 3
    assert f"N_OBSTACLES = {candidate.choices['n_obstacles']}" in candidate.script
    assert all(isinstance(v, int | float | str) for v in candidate.choices.values())
    assert max(len(line) for line in candidate.script.splitlines()) <= 130


@pytest.mark.e2e  # builds every checked (seed, scale): up to ~20 s a family
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_family_scripts_pass_static_audit(family: str) -> None:
    """Two different author draws per family: every checked (seed, scale) passes the static rules."""
    for seed in (0, 1):
        candidate = _candidate(family, seed)
        assert candidate.family == family
        audit = audit_script(candidate.script)
        assert audit.problems == [], f"rng seed {seed}"
        assert audit.randomization_ratio >= 0.4


@pytest.mark.e2e  # builds 24 scenes a family
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_family_scripts_build_for_more_draws(family: str) -> None:
    """Cheaper sweep over more author draws: builds, varies, and the randomization bar holds."""
    for seed in range(2, 5):
        build = load_build(_candidate(family, seed).script)
        scenes = [build(s, 1.0) for s in range(8)]
        starts = np.array([s.payload.start for s in scenes])
        goals = np.array([s.goal_zone.center for s in scenes])
        spread = max(np.ptp(starts[:, 0]), np.ptp(goals[:, 0])) / scenes[0].bounds.size[0]
        assert spread >= 0.4
        joints = [type(p.joint) for p in scenes[0].parts]
        if scenes[0].tier == "kinematic":
            assert Hinge in joints or Slide in joints


@pytest.mark.e2e  # runs ruff in a subprocess
def test_generated_scripts_pass_ruff(tmp_path: Path) -> None:
    """Generated scripts are lint-clean and already formatted, like hand-written code."""
    pytest.importorskip("ruff")
    for family in FAMILY_NAMES:
        (tmp_path / f"{family}.py").write_text(_candidate(family, 0).script)
    config = ["--config", str(PYPROJECT)] if PYPROJECT.exists() else []
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, str(tmp_path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout
