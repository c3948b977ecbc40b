"""Headless Chromium for the gallery tests, started the way this machine needs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium headless on ``args`` with a fresh profile under ``tmp_path``; without the
    background-networking flags it keeps trying to reach hosts this machine cannot reach."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: scripts/setup.sh installs it")
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run([*flags, *args], capture_output=True, text=True, timeout=120)
