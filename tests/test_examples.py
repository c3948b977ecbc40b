"""The bundled example scripts: they build, are deterministic, honour scale and pass the static rules.

These run in-process (the examples are our own trusted files); the sandboxed checker
and the physics run have their own tests.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import benchgen
from benchgen.scenario import Hinge, Scenario, Slide
from script_audit import audit_script

EXAMPLES = Path(benchgen.__file__).parent / "examples"
NAMES = ("concave_bin", "hinged_gate", "drawer_slide")


def _source(name: str) -> str:
    return (EXAMPLES / f"{name}.py").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_example_passes_static_audit(name: str) -> None:
    audit = audit_script(_source(name))
    assert audit.problems == []
    assert audit.randomization_ratio >= 0.4


@pytest.mark.parametrize("name", NAMES)
def test_example_contract_basics(name: str) -> None:
    build = runpy.run_path(str(EXAMPLES / f"{name}.py"))["build"]
    scene = build(3, 1.0)
    assert isinstance(scene, Scenario)
    assert scene.name == name
    assert scene.params and all(isinstance(v, float) for v in scene.params.values())
    assert scene.constraints.max_weight_g is not None
    assert scene.forbid_zones, "every example has a forbid zone"
    assert build(3, 1.0).params == scene.params
    assert build(4, 1.0).params != scene.params


def test_example_tiers_and_joints() -> None:
    scenes = {n: runpy.run_path(str(EXAMPLES / f"{n}.py"))["build"](0, 1.0) for n in NAMES}
    assert scenes["concave_bin"].tier == "spatial"
    assert [type(p.joint) for p in scenes["hinged_gate"].parts].count(Hinge) == 1
    assert [type(p.joint) for p in scenes["drawer_slide"].parts].count(Slide) == 1


def test_slide_range_scales_and_hinge_range_does_not() -> None:
    drawer = runpy.run_path(str(EXAMPLES / "drawer_slide.py"))["build"]
    gate = runpy.run_path(str(EXAMPLES / "hinged_gate.py"))["build"]
    slide_1 = next(p.joint for p in drawer(0, 1.0).parts if isinstance(p.joint, Slide))
    slide_2 = next(p.joint for p in drawer(0, 2.0).parts if isinstance(p.joint, Slide))
    assert slide_1.range is not None
    assert slide_2.range == pytest.approx((2 * slide_1.range[0], 2 * slide_1.range[1]))
    hinge_1 = next(p.joint for p in gate(0, 1.0).parts if isinstance(p.joint, Hinge))
    hinge_2 = next(p.joint for p in gate(0, 2.0).parts if isinstance(p.joint, Hinge))
    assert hinge_1.range == hinge_2.range
    assert hinge_2.anchor == pytest.approx(tuple(2 * a for a in hinge_1.anchor))


@pytest.mark.e2e  # runs ruff in a subprocess
def test_examples_pass_ruff() -> None:
    pytest.importorskip("ruff")
    paths = [str(EXAMPLES / f"{n}.py") for n in NAMES]
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *paths], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout
