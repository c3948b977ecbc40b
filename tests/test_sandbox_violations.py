"""Misuse refused up front: output directories that cannot be written and runs without isolation.

Each CLI case runs the real ``benchgen`` command; a read-only directory is a real read-only
bind mount (bubblewrap), because permission bits do not stop root.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES

pytestmark = pytest.mark.e2e  # every test here starts a sandbox or the CLI

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


# Runs in a bare interpreter (no audit hook): every act reaches the kernel exactly as a
# ctypes or cffi call would. Prints [act, errno] per act; 0 means it ran.
KERNEL_PROBE = r"""
import ctypes, json, os, socket, sys, threading
from benchgen import seccomp

channel = socket.socket(fileno=int(sys.argv[1]))
listener = seccomp.install(seccomp.compile_filter(os.getpid()))
socket.send_fds(channel, [b"ready"], [listener])
os.close(listener)
libc = ctypes.CDLL(None, use_errno=True)
number = lambda name: seccomp._pyseccomp().resolve_syscall(0, name)
fifo = os.path.join(sys.argv[2], "fifo")

def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)

def thread():
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()

acts = {
    "fork": fork,
    "execve": lambda: os.execv("/bin/true", ["true"]),
    "mknodat": lambda: os.mkfifo(fifo),
    "socket": lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM),
    "kill": lambda: os.kill(os.getppid(), 0),
    "ptrace": lambda: libc.ptrace(0, 0, None, None),
    "unshare": lambda: libc.unshare(0x10000000),
    "mount": lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
    "bpf": lambda: libc.syscall(number("bpf"), 0, None, 0),
    "io_uring_setup": lambda: libc.syscall(number("io_uring_setup"), 1, None),
    "keyctl": lambda: libc.syscall(number("keyctl"), 0, 0, 0, 0, 0),
    "process_vm_readv": lambda: libc.syscall(number("process_vm_readv"), os.getppid(), None, 0, None, 0, 0),
    "seccomp": lambda: libc.prctl(22, 2, None, 0, 0),
    "personality": lambda: libc.personality(0x0008),
    # Allowed: a thread, signalling itself, a local socket pair, querying the personality.
    "thread": thread,
    "own_kill": lambda: os.kill(os.getpid(), 0),
    "unix_socket": lambda: socket.socketpair(),
    "personality_query": lambda: libc.personality(ctypes.c_ulong(0xFFFFFFFF)),
}
for name, act in acts.items():
    ctypes.set_errno(0)
    try:
        result = act()
        code = ctypes.get_errno() if isinstance(result, int) and result == -1 else 0
    except OSError as exc:
        code = exc.errno
    print(json.dumps([name, code]), flush=True)
"""

FORBIDDEN_ACTS = {
    "fork": "clone(flags=",
    "execve": "execve() (running a program)",
    "mknodat": "mknodat() (creating device nodes or FIFOs)",
    "socket": "socket(AF_INET6) (network access)",
    "kill": "kill(pid ",
    "ptrace": "ptrace() (reaching into another process)",
    "unshare": "unshare() (namespaces and mounts)",
    "mount": "mount() (namespaces and mounts)",
    "bpf": "bpf() (kernel interfaces",
    "io_uring_setup": "io_uring_setup() (kernel interfaces",
    "keyctl": "keyctl() (kernel interfaces",
    "process_vm_readv": "process_vm_readv() (reaching into another process)",
    "seccomp": "prctl(22)",
    "personality": "personality(0x8)",
}


def test_kernel_filter_reports_every_forbidden_call_and_runs_none(tmp_path: Path) -> None:
    import select
    import socket

    from benchgen import seccomp

    if not seccomp.availability()[0]:
        pytest.skip(f"seccomp user notification is not usable here: {seccomp.availability()[1]}")
    parent, child = socket.socketpair()
    src = Path(__file__).resolve().parents[1] / "src"
    proc = subprocess.Popen(
        [sys.executable, "-c", KERNEL_PROBE, str(child.fileno()), str(tmp_path)],
        pass_fds=(child.fileno(),),
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    child.close()
    _data, fds, _flags, _addr = socket.recv_fds(parent, 16, 1)
    listener = fds[0]
    reported: list[str] = []
    threads = 0
    try:
        while proc.poll() is None:
            if not select.select([listener], [], [], 0.1)[0]:
                continue
            notification = seccomp.receive(listener)
            if notification is None:
                continue
            if seccomp.is_thread_creation(notification):
                threads += 1
                seccomp.let_continue(listener, notification)
            else:
                reported.append(seccomp.describe(notification))
                seccomp.refuse(listener, notification)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        os.close(listener)
    results = dict(json.loads(line) for line in out.splitlines())
    assert list(results) == [*FORBIDDEN_ACTS, "thread", "own_kill", "unix_socket", "personality_query"]
    # Each forbidden act was reported once, in order, and failed without running.
    assert len(reported) == len(FORBIDDEN_ACTS), "\n".join(reported)
    for (act, fragment), report in zip(FORBIDDEN_ACTS.items(), reported, strict=True):
        assert fragment in report, (act, report, reported)
        assert results[act] == errno.EPERM, (act, results[act])
    assert not (tmp_path / "fifo").exists()
    # The allowed acts ran, and the thread was counted.
    assert threads == 1
    assert [results[a] for a in ("thread", "own_kill", "unix_socket", "personality_query")] == [0, 0, 0, 0]


def _without_sandbox_tools(tmp_path: Path) -> dict[str, str]:
    """The caller's environment with a PATH on which neither bwrap nor unshare exists."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "BENCHGEN_UNSAFE_NO_ISOLATION"}
    return {**env, "PATH": str(empty)}


def test_cli_refuses_to_run_without_isolation_unless_told_loudly(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("def build(seed, scale:\n    pass\n")
    env = _without_sandbox_tools(tmp_path)
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=300, env=env)
    for command in (
        ["check", str(script)],
        ["variant", str(tmp_path / "no-such-benchmark")],
        ["generate", "--count", "1"],
    ):
        refused = run([*BENCHGEN, *command, "--out", str(tmp_path / "out")])
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip() == (
            "error: refusing to run untrusted code without kernel isolation: bubblewrap is not usable "
            "(bwrap not found on PATH); run `benchgen doctor` for how to enable it, or pass "
            "--unsafe-no-isolation (BENCHGEN_UNSAFE_NO_ISOLATION=1) to run it anyway"
        )
        assert not (tmp_path / "out").exists()
    allowed = run([*BENCHGEN, "check", str(script), "--json", "--unsafe-no-isolation"])
    assert allowed.returncode == 1, allowed.stderr
    assert json.loads(allowed.stdout)["code"] == "script_error"
    warning = allowed.stderr.strip().splitlines()[0]
    assert warning.startswith("WARNING: UNSAFE, explicitly allowed (--unsafe-no-isolation): no OS isolation")


def test_doctor_explains_how_to_get_isolation(tmp_path: Path) -> None:
    env = {**_without_sandbox_tools(tmp_path), "COLUMNS": "400"}
    doctor = subprocess.run([*BENCHGEN, "doctor"], capture_output=True, text=True, timeout=300, env=env)
    assert doctor.returncode == 0, doctor.stderr
    assert "sandbox: NOT isolated" in doctor.stdout
    assert "missing: bwrap (bwrap not found on PATH)" in doctor.stdout
    assert "apt-get install bubblewrap libseccomp2" in doctor.stdout
    assert "--unsafe-no-isolation" in doctor.stdout
    isolated = subprocess.run([*BENCHGEN, "doctor"], capture_output=True, text=True, timeout=300)
    assert "sandbox: isolated (bubblewrap + seccomp)" in isolated.stdout


# The geometry loader's filter: trusted code that only needs containing, killed on the spot.
CONTAINED_PROBE = r"""
import os, socket, sys, threading
from benchgen import seccomp

seccomp.install(seccomp.compile_filter(os.getpid(), supervised=False), listen=False)
worker = threading.Thread(target=lambda: None)
worker.start()
worker.join()
socket.socketpair()
print("threads and local sockets run", flush=True)
socket.socket(socket.AF_INET) if sys.argv[1] == "socket" else os.fork()
print("the forbidden call ran", flush=True)
"""


@pytest.mark.parametrize("act", ["fork", "socket"])
def test_unsupervised_filter_kills_on_a_forbidden_call(act: str) -> None:
    from benchgen import seccomp

    if not seccomp.availability()[0]:
        pytest.skip(f"seccomp is not usable here: {seccomp.availability()[1]}")
    src = Path(__file__).resolve().parents[1] / "src"
    proc = subprocess.run(
        [sys.executable, "-c", CONTAINED_PROBE, act],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout == "threads and local sockets run\n", proc.stdout + proc.stderr
    assert proc.returncode == -31, proc.returncode  # SIGSYS: the call never ran
