"""Misuse refused up front: output directories that cannot be written and runs without isolation.

Each CLI case runs the real ``benchgen`` command; a read-only directory is a real read-only
bind mount (bubblewrap), because permission bits do not stop root.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES

BENCHGEN = [sys.executable, "-m", "benchgen"]


def _benchgen(*args: str, readonly: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [*BENCHGEN, *args]
    if readonly is not None:
        command = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(readonly), str(readonly), "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _assert_refused(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --out"), result.stderr
    assert fragment in lines[0]


@pytest.mark.e2e
def test_out_that_cannot_be_written_is_refused_before_any_work(tmp_path: Path) -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is needed for a real read-only directory")
    a_file, readonly = tmp_path / "report.txt", tmp_path / "ro"
    a_file.write_text("keep me")
    readonly.mkdir()
    script = str(EXAMPLES / "concave_bin.py")
    _assert_refused(_benchgen("check", script, "--out", str(a_file)), "exists and is not a directory")
    _assert_refused(
        _benchgen("check", script, "--out", str(readonly), readonly=readonly), "Read-only file system"
    )
    _assert_refused(
        _benchgen("check", script, "--out", str(readonly / "new" / "deeper"), readonly=readonly),
        "Read-only file system",
    )
    # variant checks --out before it even opens the benchmark.
    _assert_refused(
        _benchgen("variant", str(tmp_path / "no-such-benchmark"), "--out", str(a_file)),
        "exists and is not a directory",
    )
    _assert_refused(
        _benchgen("variant", str(tmp_path / "no-such-benchmark"), "--out", str(readonly), readonly=readonly),
        "Read-only file system",
    )
    assert a_file.read_text() == "keep me"
    assert list(readonly.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt", "ro"]
