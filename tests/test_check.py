"""Every rejection code earned by a script that breaks exactly one rule, through the real pipeline.

Nothing is mocked: each case runs the real sandbox, build123d, manifold3d and MuJoCo.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from benchgen.check import CheckOptions, check_script
from benchgen.verdict import RejectCode
from scenario_template import write_scenario

pytestmark = pytest.mark.e2e  # every test here runs the sandbox (and MuJoCo)

CASES: dict[str, tuple[RejectCode, dict[str, str], str]] = {
    # name: (expected code, template hooks, text the message must contain)
    "script_error": (
        RejectCode.SCRIPT_ERROR,
        {"before": "if seed == 3:\n    raise RuntimeError('the bin broke')"},
        "seed=3",
    ),
    "unknown_material": (
        RejectCode.CONTRACT_ERROR,
        {
            "parts": "parts.append(Part('gadget', Pos(0, -150 * s, 10 * s) * Box(20 * s, 20 * s, 20 * s), material='unobtainium'))"
        },
        "unobtainium",
    ),
    "scale_ignored": (RejectCode.CONTRACT_ERROR, {"before": "s = 1.0"}, "scale"),
    "timeout": (RejectCode.TIMEOUT, {"before": "while seed == 1:\n    pass"}, "seed=1"),
    "resource_limit": (RejectCode.RESOURCE_LIMIT, {"before": "hog = bytearray(64 * 1024**3)"}, ""),
    "network": (
        RejectCode.SANDBOX_VIOLATION,
        {"before": "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)"},
        "127.0.0.1",
    ),
    "not_a_solid": (
        RejectCode.INVALID_GEOMETRY,
        {
            "before": "from build123d import Rectangle",
            "parts": "parts.append(Part('sheet', Pos(0, -150 * s, 10 * s) * Rectangle(20 * s, 20 * s)))",
        },
        "sheet",
    ),
    "overlapping_parts": (
        RejectCode.INTERSECTION,
        {
            "parts": "parts.append(Part('block', Pos(-150 * s, -60 * s, 50 * s) * Box(40 * s, 40 * s, 40 * s)))"
        },
        "block",
    ),
    "part_on_payload": (
        RejectCode.INTERSECTION,
        {
            "parts": "parts.append(Part('lid', Pos(-150 * s, -100 * s, 135 * s) * Box(30 * s, 30 * s, 10 * s)))"
        },
        "lid",
    ),
    "outside_bounds": (
        RejectCode.OUT_OF_BOUNDS,
        {"parts": "parts.append(Part('far', Pos(400 * s, 0, 10 * s) * Box(20 * s, 20 * s, 20 * s)))"},
        "far",
    ),
    "goal_in_forbid": (
        RejectCode.ZONE_CONFLICT,
        {"after": "forbid.append(Zone(goal.min, goal.center, 'bad'))"},
        "bad",
    ),
    "exploding_hinge": (
        # A lever whose joint range excludes its built pose: the limit flings it.
        RejectCode.UNSTABLE,
        {
            "parts": (
                "parts.append(Part('arm', Pos(120 * s, 0, 240 * s) * Box(240 * s, 10 * s, 10 * s), material='steel',\n"
                "    joint=Hinge(anchor=(0, 0, 240 * s), axis=(0, 0, 1), range=(-179, -170))))"
            ),
        },
        "arm",
    ),
    "swinging_pendulum": (
        RejectCode.NOT_SETTLED,
        {
            "parts": (
                "parts.append(Part('pendulum', Pos(120 * s, -120 * s, 150 * s) * Box(100 * s, 10 * s, 10 * s),\n"
                "    joint=Hinge(anchor=(70 * s, -120 * s, 150 * s), axis=(0, 1, 0))))"
            )
        },
        "pendulum",
    ),
    "falls_into_goal": (
        RejectCode.TRIVIAL,
        {"after": "start = (bin_x * s, 80 * s, 150 * s)"},
        "goal",
    ),
    "clock_dependent": (
        RejectCode.NONDETERMINISTIC,
        {"before": "import time\nbin_x += (time.perf_counter_ns() % 997) / 100.0"},
        "seed=0",
    ),
    "fixed_scene": (RejectCode.INSUFFICIENT_RANDOMIZATION, {"before": "bin_x = 30.0"}, "40%"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejection_code(name: str, tmp_path: Path) -> None:
    code, hooks, needle = CASES[name]
    script = write_scenario(tmp_path, name, **hooks)
    options = CheckOptions(timeout_s=5.0) if code is RejectCode.TIMEOUT else CheckOptions()
    report = check_script(script, options)
    assert report.code is code, report.message
    assert not report.accepted
    assert needle in report.message


def test_valid_template_is_accepted_with_metrics(tmp_path: Path) -> None:
    report = check_script(write_scenario(tmp_path, "valid"))
    assert report.accepted, report.message
    assert report.code is None
    per_build = report.metrics.per_build or []
    assert [(b.seed, b.scale) for b in per_build] == [(s, 1.0) for s in range(8)] + [
        (0, 0.5),
        (0, 2.0),
        (1, 0.5),
        (1, 2.0),
    ]
    for build in per_build:
        assert build.max_speed < 5.0
        assert build.payload_in_goal is False
        # The ball rests on the platform top (z = 100 mm) at its radius (15 mm) above it.
        assert build.payload_end_mm[2] == pytest.approx(115 * build.scale, abs=2 * build.scale)
    assert report.metrics.randomization is not None and report.metrics.randomization.best_ratio >= 0.4
    assert report.metrics.collision is not None
    assert report.metrics.collision["bin"].pieces > 1  # the open bin is decomposed, not hulled


def test_escape_write_leaves_no_file(tmp_path: Path) -> None:
    target = Path("/tmp") / f"benchgen-escape-{uuid.uuid4().hex}.txt"
    script = write_scenario(tmp_path, "escape", before=f"open({str(target)!r}, 'w').write('pwned')")
    report = check_script(script)
    assert report.code is RejectCode.SANDBOX_VIOLATION
    assert str(target) in report.message
    assert not target.exists()


def test_monkeypatching_benchgen_cannot_change_the_verdict(tmp_path: Path) -> None:
    """A script that rewrites benchgen inside the sandbox still gets the verdict its scene earns."""
    hijack = (
        "import benchgen.scene, benchgen.verdict\n"
        "benchgen.verdict.CheckFailure.__init__ = lambda self, *a, **k: None\n"
        "benchgen.verdict.RejectCode.INTERSECTION._value_ = 'accepted'\n"
        "benchgen.scene.check_unique_labels = lambda labels: None"
    )
    script = write_scenario(
        tmp_path,
        "hijack",
        before=hijack,
        parts="parts.append(Part('block', Pos(-150 * s, -60 * s, 50 * s) * Box(40 * s, 40 * s, 40 * s)))",
    )
    report = check_script(script)
    assert report.code is RejectCode.INTERSECTION
