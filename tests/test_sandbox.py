"""The sandbox, for real: every case runs an actual script in an actual sandboxed process.

Each sandboxed run pays ~12 s for importing build123d, so all cases run once, two at a
time (this machine has two cores), in a module-scoped fixture; the tests then assert
on their results.
"""

from __future__ import annotations

import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchgen.sandbox import (
    BuildRequest,
    IsolationMode,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    isolation_report,
    run_script,
)
from benchgen.scene import SCENE_FILE, SceneRecord

SECRET = "sk-test-secret"

PRELUDE = """
import os
from build123d import Box, Pos, Sphere
from benchgen.scenario import Constraints, Part, Payload, Scenario, Zone


def scene(seed, scale, material="aluminum_6061", shape=None):
    print("building", seed, flush=True)
    return Scenario(
        name=f"box {os.environ.get('OPENAI_API_KEY')}",
        description="a ball above a plate",
        tier="spatial",
        parts=[Part(label="plate", material=material,
                    shape=shape if shape is not None else Pos(0, 0, 5 * scale) * Box(100 * scale, 100 * scale, 10 * scale))],
        payload=Payload(label="ball", shape=Sphere(5 * scale), start=(0, 0, 30 * scale)),
        goal_zone=Zone((-10, -10, 10), (10, 10, 30)),
        build_zone=Zone((-50, -50, 0), (50, 50, 50)),
        bounds=Zone((-200, -200, -10), (200, 200, 200)),
        constraints=Constraints(target_quantity=100, max_unit_cost=5.0),
        params={"seed": float(seed)},
    )
"""


@dataclass
class Case:
    """One sandboxed run: the script's body (after the prelude), its requests and settings."""

    body: str
    seeds: list[int] = field(default_factory=lambda: [0])
    timeout_s: float = 60.0
    mode: IsolationMode | None = None
    prelude: bool = True
    forbidden: Path | None = None
    """A path outside the workdir the script tries to write."""


@dataclass
class Outcome:
    result: SandboxResult
    workdir: Path


def _writer(path: Path, mode: IsolationMode | None = None) -> Case:
    body = (
        f"def build(seed, scale):\n    open({str(path)!r}, 'w').write('x')\n    return scene(seed, scale)\n"
    )
    return Case(body, mode=mode, forbidden=path)


def _cases(outside: Path) -> dict[str, Case]:
    tmp_file = Path(f"/tmp/benchgen-evil-{uuid.uuid4().hex}.txt")
    return {
        "good": Case("def build(seed, scale=1.0):\n    return scene(seed, scale)\n", seeds=[1, 2, 3]),
        "raises": Case(
            "def build(seed, scale):\n    if seed == 3:\n        return 1 / 0\n    return scene(seed, scale)\n",
            seeds=[1, 3, 5],
        ),
        "syntax": Case("def build(seed, scale:\n    return 1\n", prelude=False),
        "no_build": Case("def make(seed, scale):\n    return scene(seed, scale)\n"),
        "signature": Case("def build(seed):\n    return scene(seed, 1.0)\n"),
        "wrong_return": Case("def build(seed, scale):\n    return {'name': 'box'}\n"),
        "material": Case(
            "def build(seed, scale):\n    return scene(seed, scale, material='unobtainium')\n", seeds=[7]
        ),
        "not_a_shape": Case("def build(seed, scale):\n    return scene(seed, scale, shape=42)\n"),
        "loop": Case(
            "def build(seed, scale):\n    while seed == 1:\n        pass\n    return scene(seed, scale)\n",
            seeds=[0, 1],
            timeout_s=3.0,
        ),
        "memory": Case(
            "def build(seed, scale):\n    blob = bytearray(64 * 1024**3)\n    return scene(seed, scale)\n"
        ),
        "socket": Case(
            textwrap.dedent(
                """
                import socket

                def build(seed, scale):
                    try:  # the guard must not be catchable
                        socket.create_connection(("127.0.0.1", 8080), timeout=1)
                    except BaseException:
                        pass
                    return scene(seed, scale)
                """
            ),
            seeds=[4],
        ),
        "subprocess": Case(
            "import subprocess\n\ndef build(seed, scale):\n    subprocess.run(['ls'])\n    return scene(seed, scale)\n"
        ),
        "system": Case(
            "def build(seed, scale):\n    try:\n        os.system('echo hi')\n    except BaseException:\n"
            "        pass\n    return scene(seed, scale)\n"
        ),
        "write_outside": _writer(outside / "evil.txt"),
        "write_tmp": _writer(tmp_file),
        # No OS isolation: the audit hook alone must stop the write.
        "guards_only": _writer(outside / "evil-none.txt", mode="none"),
        "unshare": Case("def build(seed, scale):\n    return scene(seed, scale)\n", mode="unshare"),
    }


def _run(case: Case, root: Path) -> Outcome:
    root.mkdir(parents=True)
    script = root / "scenario.py"
    script.write_text((PRELUDE if case.prelude else "") + case.body, encoding="utf-8")
    workdir = root / "work"
    requests = [BuildRequest(seed=seed, scale=1.0) for seed in case.seeds]
    result = run_script(script, requests, workdir, SandboxLimits(timeout_s=case.timeout_s), mode=case.mode)
    return Outcome(result, workdir)


@pytest.fixture(scope="module")
def report() -> dict[str, str | bool]:
    return isolation_report()


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outside")


@pytest.fixture(scope="module")
def cases(outside: Path) -> dict[str, Case]:
    return _cases(outside)


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, cases: dict[str, Case], report: dict[str, str | bool]
) -> dict[str, Outcome]:
    runnable = {
        name: case for name, case in cases.items() if case.mode != "unshare" or report["unshare_usable"]
    }
    base = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch, ThreadPoolExecutor(max_workers=2) as pool:
        # A caller's secrets must never reach the script.
        patch.setenv("OPENAI_API_KEY", SECRET)
        futures = {name: pool.submit(_run, case, base / name) for name, case in runnable.items()}
        return {name: future.result() for name, future in futures.items()}


def _assert_valid_build(outcome: Outcome, index: int, seed: int) -> SceneRecord:
    build = outcome.result.builds[index]
    assert build.directory == outcome.workdir / "builds" / str(index)
    record = SceneRecord.model_validate_json((build.directory / SCENE_FILE).read_text())
    assert (record.seed, record.scale) == (seed, 1.0)
    for body in record.bodies:
        assert (build.directory / body.brep).stat().st_size > 0
    return record


def test_isolation_report_names_the_mode(report: dict[str, str | bool]) -> None:
    assert report["mode"] in ("bwrap", "unshare", "none")
    assert isinstance(report["bwrap_usable"], bool)
    assert isinstance(report["unshare_usable"], bool)
    assert report["isolation"]
    assert isinstance(report["bytecode_cached"], bool)


def test_good_script_builds_every_request_in_one_process(
    outcomes: dict[str, Outcome], report: dict[str, str | bool]
) -> None:
    outcome = outcomes["good"]
    result = outcome.result
    assert result.status == "ok", result.message
    assert result.failed is None and result.traceback is None
    assert [b.seed for b in result.builds] == [1, 2, 3]
    for index, seed in enumerate([1, 2, 3]):
        record = _assert_valid_build(outcome, index, seed)
        assert [p.brep for p in record.parts] == ["body_0.brep"]
        assert record.payload.brep == "body_1.brep"
        assert record.params == {"seed": float(seed)}
    assert result.stdout_tail == "building 1\nbuilding 2\nbuilding 3\n"
    assert result.isolation == report["isolation"]
    assert 0 < result.import_seconds <= result.wall_seconds


def test_caller_secrets_do_not_reach_the_script(outcomes: dict[str, Outcome]) -> None:
    for name in ("good", "unshare", "guards_only"):
        if name not in outcomes:
            continue
        workdir = outcomes[name].workdir
        for scene in (workdir / "builds").glob(f"*/{SCENE_FILE}"):
            text = scene.read_text()
            assert SECRET not in text
            assert '"name":"box None"' in text


def test_script_error_names_the_seed_and_keeps_earlier_builds(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["raises"]
    result = outcome.result
    assert result.status == "script_error"
    assert result.message.startswith("build(seed=3, scale=1.0) raised ZeroDivisionError")
    assert result.failed == BuildRequest(seed=3, scale=1.0)
    assert result.traceback is not None and "ZeroDivisionError" in result.traceback
    assert "script.py" in result.traceback and "sandbox_runner" not in result.traceback
    assert [b.seed for b in result.builds] == [1]
    _assert_valid_build(outcome, 0, 1)


def test_syntax_error_is_a_script_error(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["syntax"].result
    assert result.status == "script_error"
    assert "does not parse" in result.message
    assert result.traceback is not None and "SyntaxError" in result.traceback
    assert result.failed is None and result.builds == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("no_build", "defines no build function"),
        ("signature", "two positional arguments"),
        ("wrong_return", "returned dict, not a benchgen.scenario.Scenario"),
        ("material", "unknown material 'unobtainium'"),
        ("not_a_shape", "'plate' is a int, not a build123d Shape"),
    ],
)
def test_contract_errors(outcomes: dict[str, Outcome], name: str, fragment: str) -> None:
    result = outcomes[name].result
    assert result.status == "contract_error", result.message
    assert fragment in result.message
    assert result.builds == []


def test_contract_error_names_the_request(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["material"].result
    assert result.failed == BuildRequest(seed=7, scale=1.0)
    assert result.message.startswith("build(seed=7, scale=1.0)")


def test_infinite_loop_times_out_without_counting_the_runtime_import(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["loop"].result
    assert result.status == "timeout"
    assert result.message == "build(seed=1, scale=1.0) exceeded the 3 s timeout"
    assert result.failed == BuildRequest(seed=1, scale=1.0)
    assert [b.seed for b in result.builds] == [0]
    assert result.wall_seconds - result.import_seconds < 3.0 + 5.0


def test_huge_allocation_is_a_resource_limit(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["memory"].result
    assert result.status == "resource_limit"
    assert "out of memory" in result.message and "seed=0" in result.message


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("socket", "build(seed=4, scale=1.0) tried to connect to 127.0.0.1:8080"),
        ("subprocess", "tried to start a process: ['ls']"),
        ("system", "tried to start a process: os.system('echo hi')"),
        ("write_outside", "evil.txt outside its working directory"),
        ("write_tmp", "/tmp/benchgen-evil-"),
        ("guards_only", "evil-none.txt outside its working directory"),
    ],
)
def test_violations(outcomes: dict[str, Outcome], name: str, fragment: str) -> None:
    result = outcomes[name].result
    assert result.status == "sandbox_violation", result.message
    assert fragment in result.message
    # A violation taints the whole run, even if the script caught the exception.
    assert result.builds == []
    assert "building" not in result.stdout_tail


@pytest.mark.parametrize("name", ["write_outside", "write_tmp", "guards_only"])
def test_writes_outside_the_workdir_never_land(
    outcomes: dict[str, Outcome], cases: dict[str, Case], name: str
) -> None:
    forbidden = cases[name].forbidden
    assert forbidden is not None
    assert outcomes[name].result.status == "sandbox_violation"
    assert not forbidden.exists()


def test_fallback_modes_report_themselves(
    outcomes: dict[str, Outcome], report: dict[str, str | bool]
) -> None:
    assert "no OS isolation" in outcomes["guards_only"].result.isolation
    if not report["unshare_usable"]:
        pytest.skip("unshare is not usable here")
    result = outcomes["unshare"].result
    assert result.status == "ok", result.message
    assert result.isolation.startswith("unshare")
    _assert_valid_build(outcomes["unshare"], 0, 0)


def test_workdir_must_not_expose_read_only_paths(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("def build(seed, scale):\n    pass\n")
    with pytest.raises(ValueError, match="must stay read-only"):
        run_script(script, [BuildRequest(seed=0, scale=1.0)], Path("/"))


def test_runtime_that_cannot_start_raises(tmp_path: Path) -> None:
    # build123d cannot even be imported in 300 MB: no verdict on the script is possible.
    script = tmp_path / "s.py"
    script.write_text("def build(seed, scale):\n    pass\n")
    with pytest.raises(SandboxError, match="did not start"):
        run_script(script, [BuildRequest(seed=0, scale=1.0)], tmp_path / "work", SandboxLimits(memory_mb=300))


def test_reused_workdir_links_are_replaced_not_followed(tmp_path: Path) -> None:
    workdir, victim = tmp_path / "work", tmp_path / "victim.txt"
    workdir.mkdir()
    victim.write_text("precious")
    for name in ("script.py", "job.json", "stdout.txt", "builds"):
        (workdir / name).symlink_to(victim)
    script = tmp_path / "s.py"
    script.write_text("def build(seed, scale):\n    pass\n")
    with pytest.raises(SandboxError):
        run_script(script, [BuildRequest(seed=0, scale=1.0)], workdir, SandboxLimits(memory_mb=300))
    assert victim.read_text() == "precious"
    assert not (workdir / "script.py").is_symlink()
