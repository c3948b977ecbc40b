"""The offline render reviewer, on a real MuJoCo scene rendered headless."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from benchgen.review import review_scene

pytestmark = pytest.mark.e2e  # every test here renders a MuJoCo scene

SCENE = """
<mujoco>
  <worldbody>
    <light pos="0 0 2" dir="0 0 -1" directional="true"/>
    <geom name="ground" type="plane" size="1 1 0.01" rgba="0.8 0.8 0.8 1"/>
    <body name="platform"><geom type="box" pos="-0.1 0 0.05" size="0.04 0.04 0.05" rgba="0.6 0.4 0.2 1"/></body>
    <body name="ball" pos="-0.1 0 0.115"><freejoint/><geom type="sphere" size="0.015" rgba="1 0.5 0 1"/></body>
    <site name="goal_zone" type="box" pos="0.12 0 0.03" size="0.04 0.04 0.03" rgba="0 1 0 0.35"/>
  </worldbody>
</mujoco>
"""


def _model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(SCENE)


def test_well_framed_scene_is_approved() -> None:
    frame = (np.array([-0.2, -0.15, 0.0]), np.array([0.2, 0.15, 0.2]))
    decision = review_scene(_model(), frame, "ball")
    assert decision.approved, decision.reasons
    assert decision.payload_visible_views >= 12 and decision.goal_visible_views >= 12
    assert decision.clipped_views == 0 and decision.blank_views == 0
    assert len(decision.views) == 24


def test_badly_framed_scene_is_rejected() -> None:
    """Cameras framed on a box that excludes half the scene: the goal falls out of view and the
    platform is cut by the image border, so the reviewer must refuse it."""
    frame = (np.array([-0.5, -0.05, 0.0]), np.array([-0.3, 0.05, 0.05]))
    decision = review_scene(_model(), frame, "ball")
    assert not decision.approved
    assert any("goal zone visible" in r or "clipped" in r for r in decision.reasons), decision.reasons


def test_tiny_scene_in_a_huge_frame_is_rejected() -> None:
    frame = (np.array([-20.0, -20.0, 0.0]), np.array([20.0, 20.0, 20.0]))
    decision = review_scene(_model(), frame, "ball")
    assert not decision.approved
    assert any("payload visible in only" in r for r in decision.reasons), decision.reasons
