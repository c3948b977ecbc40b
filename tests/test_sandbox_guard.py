"""The sandbox runner's audit hook, fed synthetic audit events in this process.

:func:`benchgen.sandbox_runner.make_guard` builds the hook the runner installs inside the
sandbox. Here it is built but never installed: each test calls it with one event, the way
CPython's audit machinery would. On a violation the hook writes one JSON line to the
protocol fd and calls ``os._exit(87)``; ``os._exit`` is replaced (before the hook binds it)
by a function that raises, so the test process survives and the verdict, the message on
the protocol fd, and the exit code are all the real hook's own.
"""

from __future__ import annotations

import json
import os
import site
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchgen.sandbox_runner import VIOLATION_EXIT_CODE, make_guard


class Stopped(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


Verdict = Callable[[str, tuple[Any, ...]], str | None]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def verdict(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Verdict]:
    """``verdict(event, args)``: None when the hook lets the event through, else the violation message."""
    read_fd, write_fd = os.pipe()

    def fake_exit(code: int) -> None:
        raise Stopped(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    hook = make_guard(str(workdir), write_fd)

    def judge(event: str, args: tuple[Any, ...]) -> str | None:
        try:
            hook(event, args)
        except Stopped as stopped:
            assert stopped.code == VIOLATION_EXIT_CODE
            line = os.read(read_fd, 65536).decode()
            assert line.endswith("}\n") and line.count("\n") == 1
            record = json.loads(line)
            assert record["event"] == "violation"
            return str(record["message"])
        return None

    yield judge
    os.close(read_fd)
    os.close(write_fd)


WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def test_writes_inside_the_workdir_and_to_dev_null_pass(verdict: Verdict, workdir: Path) -> None:
    assert verdict("open", (str(workdir / "out.brep"), "w", WRITE)) is None
    assert verdict("open", (str(workdir / "sub" / ".." / "x"), "w", WRITE)) is None
    assert verdict("open", ("/dev/null", "w", os.O_WRONLY)) is None
    assert verdict("os.mkdir", (str(workdir / "d"), 0o777, -1)) is None
    assert verdict("open", (3, "w", WRITE)) is None  # an fd the process already holds


def test_writes_outside_the_workdir_stop_the_process(verdict: Verdict, workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    assert verdict("open", (str(outside), "w", WRITE)) == (
        f"tried to write {outside} outside its working directory (open)"
    )
    escaped = str(workdir / ".." / "elsewhere.txt")
    assert verdict("open", (escaped, "a", os.O_APPEND | os.O_WRONLY)) == (
        f"tried to write {outside} outside its working directory (open)"
    )
    assert verdict("os.rename", (str(workdir / "a"), str(outside), -1, -1)) == (
        f"tried to write {outside} outside its working directory (os.rename)"
    )
    assert verdict("shutil.rmtree", (str(tmp_path), None)) == (
        f"tried to write {tmp_path} outside its working directory (shutil.rmtree)"
    )


def test_a_symlink_out_of_the_workdir_is_followed(verdict: Verdict, workdir: Path, tmp_path: Path) -> None:
    (workdir / "link").symlink_to(tmp_path)
    assert verdict("open", (str(workdir / "link" / "x"), "w", WRITE)) == (
        f"tried to write {tmp_path / 'x'} outside its working directory (open)"
    )


def test_a_relative_path_is_judged_against_its_dir_fd(verdict: Verdict, tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        assert verdict("os.remove", ("victim", fd)) == (
            f"tried to write {tmp_path / 'victim'} outside its working directory (os.remove)"
        )
    finally:
        os.close(fd)


def test_reads_are_free_except_other_processes(verdict: Verdict) -> None:
    assert verdict("open", ("/etc/hostname", "r", os.O_RDONLY)) is None
    assert verdict("open", (f"/proc/{os.getpid()}/status", "r", os.O_RDONLY)) is None
    other = os.getpid() + 1
    assert verdict("open", (f"/proc/{other}/environ", "r", os.O_RDONLY)) == (
        f"tried to read /proc/{other}/environ, which belongs to another process (open)"
    )
    assert verdict("os.listdir", (f"/proc/{other}/fd",)) == (
        f"tried to read /proc/{other}/fd, which belongs to another process (os.listdir)"
    )


@pytest.mark.parametrize(
    ("event", "args", "message"),
    [
        ("subprocess.Popen", ("/bin/ls", ["ls", "-l"], None, None), "tried to start a process: ['ls', '-l']"),
        ("os.system", (b"rm -rf /",), "tried to start a process: os.system('rm -rf /')"),
        ("os.exec", ("/bin/sh", ("sh", "-c", "id"), None), "tried to start a process: ['sh', '-c', 'id']"),
        ("os.fork", (), "tried to start a process (os.fork)"),
        ("socket.connect", (object(), ("10.1.2.3", 443)), "tried to connect to 10.1.2.3:443"),
        ("socket.bind", (object(), ("0.0.0.0", 8080)), "tried to bind 0.0.0.0:8080"),
        ("socket.getaddrinfo", ("example.com", 80, 0, 0, 0), "tried to resolve example.com:80"),
        ("socket.getaddrinfo", ("10.0.0.1", 80, 0, 0, 0), "tried to reach 10.0.0.1:80"),
        ("socket.gethostbyname", ("example.com",), "tried to resolve 'example.com'"),
        ("os.kill", (1234, 9), "tried to send a signal to process 1234 (os.kill)"),
        ("ctypes.dlopen", ("libc.so.6",), "tried to use ctypes (ctypes.dlopen)"),
        ("resource.setrlimit", (7, (1, 1)), "tried to change its resource limits"),
        (
            "import",
            ("_ctypes", None, [], [], []),
            "tried to load _ctypes, which runs processes or C functions without auditing",
        ),
    ],
)
def test_process_network_signal_and_ctypes_events_stop_the_process(
    verdict: Verdict, event: str, args: tuple[Any, ...], message: str
) -> None:
    assert verdict(event, args) == message


def test_native_code_loads_only_from_the_installed_python(
    verdict: Verdict, workdir: Path, tmp_path: Path
) -> None:
    suffix = ".cpython-312-x86_64-linux-gnu.so"
    installed = os.path.join(site.getsitepackages()[0], "numpy", "core" + suffix)
    assert verdict("import", ("numpy.core", installed, sys.path, sys.meta_path, sys.path_hooks)) is None
    assert verdict("import", ("json", None, [], [], [])) is None  # pure Python
    planted = str(workdir / ("evil" + suffix))
    assert verdict("import", ("evil", planted, [], [], [])) == (
        f"tried to load native code from {workdir / ('evil' + suffix)}, outside the installed Python"
    )
    renamed = str(tmp_path / ("_posixsubprocess" + suffix))
    assert verdict("import", ("innocent", renamed, [], [], [])) == (
        f"tried to load _posixsubprocess from {renamed} under the name 'innocent'"
    )


def test_events_it_does_not_judge_pass(verdict: Verdict) -> None:
    for event, args in [
        ("compile", (b"x = 1", "<string>")),
        ("exec", (None,)),
        ("object.__getattr__", (1, "x")),
    ]:
        assert verdict(event, args) is None
