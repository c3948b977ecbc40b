"""`benchgen check` from the command line: exit codes, the JSON contract, artifacts, determinism."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest
from PIL import Image

from conftest import EXAMPLES
from scenario_template import write_scenario

pytestmark = pytest.mark.e2e  # every test here runs the benchgen CLI in a subprocess

BENCHGEN = [sys.executable, "-m", "benchgen"]


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BENCHGEN, "check", *args], capture_output=True, text=True, timeout=900)


def digests(root: Path, pattern: str) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.glob(pattern))
    }


def test_accepted_example_writes_complete_deterministic_artifacts(tmp_path: Path) -> None:
    script = EXAMPLES / "concave_bin.py"
    first, second = tmp_path / "a", tmp_path / "b"
    result = run_check(str(script), "--json", "--out", str(first))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert report["accepted"] is True and report["code"] is None
    assert set(report) == {"accepted", "code", "message", "seeds", "scales", "metrics", "artifacts"}
    assert (
        json.loads((first / "report.json").read_text())["metrics"]["randomization"]
        == report["metrics"]["randomization"]
    )

    model = mujoco.MjModel.from_xml_path(str(first / "model.xml"))
    scene = report["metrics"]["scene"]
    labels = {p["label"] for p in scene["parts"]} | {scene["payload"]["label"]}
    assert labels <= {model.body(i).name for i in range(model.nbody)}
    payload = model.body(scene["payload"]["label"])
    assert model.jnt_type[payload.jntadr[0]] == mujoco.mjtJoint.mjJNT_FREE
    assert model.site("goal_zone").id >= 0
    assert all(model.site_bodyid[i] == 0 for i in range(model.nsite))  # zones are world sites

    renders = sorted((first / "renders").glob("*.png"))
    assert len(renders) == 24
    pixels = [np.asarray(Image.open(p).convert("RGB")) for p in renders]
    assert len({hashlib.sha256(p.tobytes()).hexdigest() for p in pixels}) == 24  # 24 really different views
    assert all(p.std() > 10 for p in pixels)

    again = run_check(str(script), "--json", "--out", str(second))
    assert again.returncode == 0
    for pattern in ("model.xml", "meshes/*.stl", "cad/*.step"):
        assert digests(first, pattern) == digests(second, pattern), pattern
        assert digests(first, pattern)


def test_exit_codes_and_human_output(tmp_path: Path) -> None:
    rejected = run_check(str(write_scenario(tmp_path, "fixed", before="bin_x = 30.0")), "--seeds", "3")
    assert rejected.returncode == 1
    assert "insufficient_randomization" in rejected.stderr
    assert run_check(str(tmp_path / "missing.py")).returncode == 2
    assert run_check(str(EXAMPLES / "concave_bin.py"), "--seeds", "0").returncode == 2
