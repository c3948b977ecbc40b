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

import benchgen
from benchgen.sandbox import (
    UNSAFE_ENV,
    BuildRequest,
    IsolationMode,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    _python_paths,
    isolation_report,
    require_isolation,
    run_script,
    unsafe_opt_in,
)
from benchgen.scene import SCENE_FILE, SceneRecord

pytestmark = pytest.mark.e2e  # every test here starts a sandbox or the CLI

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
    unsafe: bool = False
    """Explicitly allow a run without bubblewrap (the ``mode`` given)."""
    disk_mb: int = 512
    max_threads: int = 32


@dataclass
class Outcome:
    result: SandboxResult
    workdir: Path


def _writer(path: Path, mode: IsolationMode | None = None) -> Case:
    body = (
        f"def build(seed, scale):\n    open({str(path)!r}, 'w').write('x')\n    return scene(seed, scale)\n"
    )
    return Case(body, mode=mode, forbidden=path, unsafe=mode is not None)


def _attempt(act: str, mode: IsolationMode | None = None, **settings: object) -> Case:
    """A build that tries ``act`` (a code block), catching whatever it raises, then returns a scene."""
    body = "def build(seed, scale):\n    try:\n" + textwrap.indent(textwrap.dedent(act).strip(), " " * 8)
    body += "\n    except BaseException as exc:\n        print('caught', repr(exc), flush=True)\n"
    body += "    return scene(seed, scale)\n"
    return Case(body, mode=mode, unsafe=mode is not None, **settings)  # type: ignore[arg-type]


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
        # A host path the sandbox can see (read-only); host /tmp is invisible inside, where /tmp is the script's.
        "write_outside": _writer(Path(benchgen.__file__).resolve().parent / f"evil-{uuid.uuid4().hex}.txt"),
        "write_tmp": _writer(tmp_file),
        # No OS isolation: the audit hook alone must stop the write.
        "guards_only": _writer(outside / "evil-none.txt", mode="none"),
        "unshare": Case(
            "def build(seed, scale):\n    return scene(seed, scale)\n", mode="unshare", unsafe=True
        ),
        **_attack_cases(outside),
    }


def _attack_cases(outside: Path) -> dict[str, Case]:
    """Issue 8: forbidden acts the audit hook cannot see (or could be fooled about), and forged clocks.

    Cases whose act would leave a trace on the host run without bubblewrap (explicitly
    unsafe) so that "it did not happen" can be checked; the kernel filter is the same.
    """
    return {
        # Loading the real _posixsubprocess under another name, to call fork_exec unaudited.
        "renamed_module": _attempt(
            """
            import importlib.util, importlib.machinery, _posixsubprocess
            loader = importlib.machinery.ExtensionFileLoader("helper", _posixsubprocess.__file__)
            helper = importlib.util.module_from_spec(importlib.util.spec_from_loader("helper", loader))
            print("loaded", helper.fork_exec, flush=True)
            """
        ),
        "mkfifo": _attempt("os.mkfifo('pipe')", mode="none"),
        "socket_raw": _attempt(
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('127.0.0.1', 9))"
        ),
        "cffi": _attempt("import cffi\ncffi.FFI().dlopen(None)"),
        "copied_module": _attempt(
            """
            import shutil, importlib.util, importlib.machinery, _posixsubprocess, sys
            shutil.copy(_posixsubprocess.__file__, "helper.so")
            loader = importlib.machinery.ExtensionFileLoader("helper", os.path.abspath("helper.so"))
            spec = importlib.util.spec_from_loader("helper", loader)
            importlib.util.module_from_spec(spec)
            """
        ),
        # The caller's environment holds SECRET; in this unisolated run the parent's /proc
        # entry is really there to read through a directory fd.
        "proc_dirfd": _attempt(
            """
            proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
            fd = os.open(f"{os.getppid()}/environ", os.O_RDONLY, dir_fd=proc)
            print("read", os.read(fd, 100000), flush=True)
            """,
            mode="none",
        ),
        "posixpath_patch": _attempt(
            f"""
            import posixpath
            here = os.getcwd()
            posixpath.realpath = os.path.realpath = lambda path, **kw: here + "/x"
            posixpath._joinrealpath = lambda *args: (here + "/x", True)
            posixpath.abspath = os.path.abspath = lambda path: here + "/x"
            open({str(outside / "patched.txt")!r}, "w").write("x")
            """,
            mode="none",
            forbidden=outside / "patched.txt",
        ),
        "threads": _attempt(
            """
            import threading, time
            threads = [threading.Thread(target=time.sleep, args=(30,), daemon=True) for _ in range(40)]
            for t in threads:
                t.start()
            """,
            max_threads=8,
        ),
        "disk": _attempt(
            """
            with open("filler.bin", "wb") as handle:
                for _ in range(64):
                    handle.write(bytes(1 << 20))
            """,
            disk_mb=16,
        ),
        # The clock is the parent's: forged events on the protocol socket never buy time.
        "forged_events": Case(
            textwrap.dedent(
                """
                import sys, time

                def build(seed, scale):
                    fd = int(sys.argv[sys.argv.index("--protocol-fd") + 1])
                    while True:
                        for line in ('{"event": "start", "index": 0}', '{"event": "ready"}', 'garbage',
                                     '{"event": "imported"}', '{"event": "start", "index": 1}'):
                            os.write(fd, (line + "\\n").encode())
                        time.sleep(0.05)
                """
            ),
            seeds=[0, 1, 2],
            timeout_s=3.0,
        ),
        "forged_done": Case(
            textwrap.dedent(
                """
                import sys, time

                def build(seed, scale):
                    fd = int(sys.argv[sys.argv.index("--protocol-fd") + 1])
                    os.write(fd, b'{"event": "done", "index": 0}\\n')
                    time.sleep(30)
                """
            ),
            seeds=[0, 1],
            timeout_s=20.0,
        ),
    }


def _run(case: Case, root: Path) -> Outcome:
    root.mkdir(parents=True)
    script = root / "scenario.py"
    script.write_text((PRELUDE if case.prelude else "") + case.body, encoding="utf-8")
    workdir = root / "work"
    requests = [BuildRequest(seed=seed, scale=1.0) for seed in case.seeds]
    limits = SandboxLimits(timeout_s=case.timeout_s, disk_mb=case.disk_mb, max_threads=case.max_threads)
    result = run_script(script, requests, workdir, limits, mode=case.mode, unsafe_no_isolation=case.unsafe)
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
        ("socket", "build(seed=4, scale=1.0) tried to reach 127.0.0.1:8080"),
        ("subprocess", "tried to start a process: ['ls']"),
        ("system", "tried to start a process: os.system('echo hi')"),
        ("write_outside", ".txt outside its working directory (open)"),
        ("write_tmp", "/tmp/benchgen-evil-"),
        ("guards_only", "evil-none.txt outside its working directory"),
        (
            "mkfifo",
            "build(seed=0, scale=1.0) made a forbidden system call: mknodat() (creating device nodes or FIFOs)",
        ),
        (
            "socket_raw",
            "build(seed=0, scale=1.0) made a forbidden system call: socket(AF_INET) (network access)",
        ),
        ("cffi", "build(seed=0, scale=1.0) tried to load _cffi_backend, which runs processes or C functions"),
        ("copied_module", "tried to load native code from /sandbox/helper.so, outside the installed Python"),
        ("renamed_module", "tried to load _posixsubprocess from "),
        ("proc_dirfd", "/environ, which belongs to another process (open)"),
        ("posixpath_patch", "patched.txt outside its working directory (open)"),
    ],
)
def test_violations(outcomes: dict[str, Outcome], name: str, fragment: str) -> None:
    result = outcomes[name].result
    assert result.status == "sandbox_violation", result.message
    assert fragment in result.message
    # A violation taints the whole run, even if the script caught the exception.
    assert result.builds == []
    assert "building" not in result.stdout_tail


@pytest.mark.parametrize("name", ["write_outside", "write_tmp", "guards_only", "posixpath_patch"])
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
    assert outcomes["guards_only"].result.isolation.startswith("UNSAFE")
    assert "no OS isolation" in outcomes["guards_only"].result.isolation
    if not report["unshare_usable"]:
        pytest.skip("unshare is not usable here")
    result = outcomes["unshare"].result
    assert result.status == "ok", result.message
    assert result.isolation.startswith("UNSAFE, explicitly allowed (--unsafe-no-isolation): unshare")
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
    assert not (workdir / "builds").is_symlink()


@pytest.mark.parametrize(
    ("name", "absent"),
    [
        ("mkfifo", "sandbox/pipe"),  # an unisolated run: the FIFO would be on the host
        ("copied_module", None),
        ("renamed_module", None),
        ("cffi", None),
        ("socket_raw", None),
        ("proc_dirfd", None),
    ],
)
def test_forbidden_acts_did_not_happen(outcomes: dict[str, Outcome], name: str, absent: str | None) -> None:
    outcome = outcomes[name]
    assert outcome.result.status == "sandbox_violation", outcome.result.message
    # The process was stopped inside the act: it never returned, so the script never
    # caught an error, loaded anything or read a byte.
    for word in ("caught", "loaded", "read", SECRET):
        assert word not in outcome.result.stdout_tail, (name, outcome.result.stdout_tail)
    if absent is not None:
        assert not (outcome.workdir / absent).exists()
        assert (outcome.workdir / "sandbox").is_dir()


def test_unisolated_proc_read_is_reported_not_performed(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["proc_dirfd"].result
    assert result.isolation.startswith("UNSAFE")
    assert result.message.startswith("build(seed=0, scale=1.0) tried to read /proc/")
    assert SECRET not in result.stdout_tail + result.stderr_tail + result.message


def test_thread_cap_is_a_resource_limit(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["threads"].result
    assert result.status == "resource_limit"
    assert result.message == "build(seed=0, scale=1.0) tried to run more than 8 threads"
    assert result.builds == []


def test_disk_quota_is_a_resource_limit_and_spares_the_host(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["disk"]
    assert outcome.result.status == "resource_limit", outcome.result.message
    assert outcome.result.message == "build(seed=0, scale=1.0) filled its 16 MB disk quota"
    assert "16 MB tmpfs" in outcome.result.isolation
    host_bytes = sum(p.stat().st_size for p in outcome.workdir.rglob("*") if p.is_file())
    assert host_bytes < 1 << 20  # the filler lived only on the sandbox's tmpfs


def test_forged_events_never_extend_the_deadline(outcomes: dict[str, Outcome]) -> None:
    # The script floods its protocol socket with start/ready/imported events and garbage.
    result = outcomes["forged_events"].result
    assert result.status == "timeout"
    assert result.message == "build(seed=0, scale=1.0) exceeded the 3 s timeout"
    assert result.builds == []
    assert result.wall_seconds - result.import_seconds < 3.0 + 3.0


def test_forged_done_is_a_contract_error_at_once(outcomes: dict[str, Outcome]) -> None:
    result = outcomes["forged_done"].result
    assert result.status == "contract_error"
    assert (
        result.message
        == "build(seed=0, scale=1.0) produced invalid output: builds/0 is not a plain directory"
    )
    assert result.failed == BuildRequest(seed=0, scale=1.0)
    assert result.wall_seconds - result.import_seconds < 10.0  # not the 30 s the script sleeps


def test_no_isolation_is_refused_without_the_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "s.py"
    script.write_text("def build(seed, scale):\n    raise SystemExit('must never run')\n")
    request = [BuildRequest(seed=0, scale=1.0)]
    monkeypatch.delenv(UNSAFE_ENV, raising=False)
    for mode in ("none", "unshare"):
        with pytest.raises(SandboxError, match=f"refusing to run untrusted code .*isolation mode '{mode}'"):
            run_script(script, request, tmp_path / mode, mode=mode)  # type: ignore[arg-type]
    # No bubblewrap on PATH: refused, not silently degraded.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(
        SandboxError, match=r"bubblewrap is not usable \(bwrap not found on PATH\).*--unsafe-no-isolation"
    ):
        run_script(script, request, tmp_path / "default")
    with pytest.raises(SandboxError):
        require_isolation()
    assert not (tmp_path / "default" / "builds").exists()
    monkeypatch.setenv(UNSAFE_ENV, "1")
    assert unsafe_opt_in()
    require_isolation()  # the opt-in is honoured


WARM_PROBE = """
import random

import build123d
import numpy


def build(seed, scale):
    status = open("/proc/self/status").read()
    print("caps", [line.split()[1] for line in status.splitlines() if line.startswith("CapEff")][0])
    print("marked", hasattr(build123d, "benchgen_mark"))
    build123d.benchgen_mark = True
    print("files", sorted(os.listdir(".")), sorted(os.listdir("/tmp")))
    open("left-behind.txt", "w").write("x")
    print("draws", random.random(), numpy.random.random(), hash("benchgen"))
    return scene(seed, scale)
"""


def test_warm_runs_start_from_a_clean_template(tmp_path: Path, report: dict[str, str | bool]) -> None:
    """Runs forked from one template share nothing: no module state, no files, no random state, no capabilities."""
    if not report["isolated"]:
        pytest.skip("warm templates need bubblewrap and seccomp")
    script = tmp_path / "probe.py"
    script.write_text(PRELUDE + WARM_PROBE, encoding="utf-8")
    request = [BuildRequest(seed=0, scale=1.0)]
    runs = [
        run_script(script, request, tmp_path / name, hash_seed=seed)
        for name, seed in (("first", 0), ("second", 0), ("other_seed", 0x5EED))
    ]
    lines = []
    for result in runs:
        assert result.status == "ok", result.message + result.stderr_tail
        assert result.warm
        lines.append(dict(line.split(" ", 1) for line in result.stdout_tail.splitlines() if " " in line))
    # /tmp is empty, but for benchgen's own Python when it is installed under /tmp (read-only).
    python_in_tmp = sorted({p.parts[2] for p in _python_paths() if p.is_relative_to("/tmp")})
    for seen in lines:
        assert seen["caps"] == "0000000000000000"
        assert seen["marked"] == "False"
        assert "left-behind.txt" not in seen["files"] and seen["files"].endswith(f" {python_in_tmp!r}")
    first, second, other = (seen["draws"].split() for seen in lines)
    assert first[0] != second[0] and first[1] != second[1]  # random and numpy reseeded per child
    assert first[2] == second[2] != other[2]  # the hash seed is the template's
