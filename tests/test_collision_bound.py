"""The collision gap is bounded by the payload's size (issue 10): a part whose collision pieces
reach further outside it than a fraction of the payload's smallest width is
``invalid_geometry``, because a phantom wall that thick could stop or hold the payload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchgen.authors import offline
from benchgen.check import CheckOptions, check_script
from benchgen.decomposition import DecompositionSettings
from benchgen.physics import collision_pieces
from benchgen.verdict import CheckFailure, RejectCode
from cad_parts import PARTS
from test_real_parts import body_geometry


def test_the_callers_bound_rejects_a_larger_gap() -> None:
    part = next(p for p in PARTS if p.name == "funnel")
    body = body_geometry(part)
    _, info = collision_pieces(body, DecompositionSettings(), None)
    assert info.gap_mm > 0.1, "the funnel's pieces are not exact, so they have a gap"
    collision_pieces(body, DecompositionSettings(), None, max_gap_mm=info.gap_mm * 1.01)
    with pytest.raises(CheckFailure) as failure:
        collision_pieces(body, DecompositionSettings(), None, max_gap_mm=info.gap_mm / 2)
    assert failure.value.code == RejectCode.INVALID_GEOMETRY
    assert body.label in failure.value.message and "bound" in failure.value.message


@pytest.mark.e2e
def test_check_bounds_the_gap_by_the_payload(tmp_path: Path) -> None:
    spec = next(f for f in offline.FAMILIES if f.name == "funnel_to_cup")
    script = tmp_path / "funnel.py"
    script.write_text(offline.render_script(spec, offline.choose(spec.name, np.random.default_rng(1))))
    # A bound of a thousandth of the ball's width: the funnel's faceted pieces exceed it.
    options = CheckOptions(payload_gap_fraction=1e-3)
    report = check_script(script, options)
    assert report.code == RejectCode.INVALID_GEOMETRY, report.message
    assert "funnel" in report.message and "bound" in report.message
