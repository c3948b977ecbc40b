"""Shared fixtures: a per-session decomposition cache and the scenario template on sys.path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("MUJOCO_GL", "egl")

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "benchgen" / "examples"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep test runs from reading or filling the user's cache."""
    os.environ["BENCHGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("benchgen-cache"))
