"""benchgen: generate simulation-checked benchmark datasets of physics puzzles for engineering agents."""

import os as _os

__version__ = "0.1.0"

# MuJoCo picks its OpenGL backend when it is first imported; benchgen renders headless,
# so default to EGL (Mesa's software renderer works on CPU-only machines).
_os.environ.setdefault("MUJOCO_GL", "egl")
