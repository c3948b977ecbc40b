"""The inside of the sandbox: import build123d, guard the process, run the untrusted script.

:mod:`benchgen.sandbox` starts this module as
``python -s -P -B -u -m benchgen.sandbox_runner --workdir W --protocol-fd N`` inside the
OS sandbox. It imports build123d and the contract types, installs the kernel's seccomp
filter (:mod:`benchgen.seccomp`) and an audit hook that turns network, process and
out-of-workdir writes into a fatal violation, then imports the script and calls
``build(seed, scale)`` for every request in ``job.json``. Each build becomes
``builds/<index>/scene.json`` plus ``body_<n>.brep`` files.

Progress and failures go to the parent as JSON lines (:class:`RunnerEvent`) on the
protocol socket, never on stdout, which belongs to the script. The ``ready`` event, sent
before any script code runs, carries two fds: the working directory (the parent copies
each finished build out of it) and the seccomp listener. After that the script runs in
this process and can write to the socket too, so the parent treats every later event as
a hint: it keeps its own clock and copies and re-validates every file this module writes.

This module must stay cheap to import: the parent imports its constants and models.
"""

from __future__ import annotations

import _thread
import argparse
import contextlib
import importlib.machinery
import importlib.util
import inspect
import ipaddress
import json
import json.encoder
import os
import site
import socket
import stat
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, ValidationError

SCRIPT_FILE = "script.py"
JOB_FILE = "job.json"
BUILDS_DIR = "builds"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
VIOLATION_EXIT_CODE = 87
"""Exit status of a process the audit hook stopped; the script cannot catch ``os._exit``."""
FAILURE_EXIT_CODE = 3
SETUP_FAILURE_EXIT_CODE = 4
"""The runner could not set the sandbox up (e.g. the seccomp filter); no script code ran."""
MAX_MESSAGE_CHARS = 4_000
MAX_TRACEBACK_CHARS = 20_000

SANDBOX_WORKDIR = "/sandbox"
"""The working directory of a zygote's children (each mounts its own tmpfs there)."""

VIEWS_DIR = "views"
"""In a design job: one directory per request holding the variant's ``view.json`` and part BREPs."""

EventKind = Literal["ready", "imported", "start", "done", "error", "violation", "finished"]
JobKind = Literal["scenario", "design"]
"""``scenario``: call ``build(seed, scale)``; ``design``: call a solution's ``design(view)``."""
ErrorStatus = Literal["script_error", "contract_error", "resource_limit"]


class RunnerJob(BaseModel):
    """What the parent asks for: the script's file name in the workdir and ``(seed, scale)`` pairs."""

    model_config = ConfigDict(extra="forbid")

    script: str
    requests: list[tuple[int, float]]
    kind: JobKind = "scenario"
    seccomp: bool = True
    """Install the seccomp filter (:mod:`benchgen.seccomp`); off only when the caller opted out of isolation."""


class RunnerEvent(BaseModel):
    """One line on the protocol fd.

    ``ready``: build123d is imported and the seccomp filter installed (the event carries
    the workdir fd and the filter's listener, SCM_RIGHTS); ``imported``: the script
    module loaded; ``start``/``done``: request ``index`` began/finished; ``error``: the
    run stopped with ``status``; ``violation``: the guard stopped the process;
    ``finished``: every request is done.
    """

    model_config = ConfigDict(extra="forbid")

    event: EventKind
    index: int | None = None
    status: ErrorStatus | None = None
    message: str = ""
    traceback: str | None = None


class RunFailure(Exception):
    """Stops the run with a status the parent reports as is."""

    def __init__(self, status: ErrorStatus, message: str, tb: str | None = None) -> None:
        super().__init__(message)
        self.status: ErrorStatus = status
        self.message = message
        self.tb = tb


class Channel:
    """Writes events to the protocol fd."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def emit(self, event: RunnerEvent) -> None:
        data = (event.model_dump_json(exclude_none=True) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data) :]

    def hand_over(self, event: RunnerEvent, fds: list[int]) -> None:
        """Send ``event`` with ``fds`` attached (SCM_RIGHTS), then close this process's copies."""
        data = (event.model_dump_json(exclude_none=True) + "\n").encode()
        sock = socket.socket(fileno=self.fd)
        try:
            sent = socket.send_fds(sock, [data], fds)
        finally:
            sock.detach()
            for fd in fds:
                os.close(fd)
        if sent != len(data):
            self.emit_raw(data[sent:])

    def emit_raw(self, data: bytes) -> None:
        while data:
            data = data[os.write(self.fd, data) :]


# --- the guard -------------------------------------------------------------------------------

_PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.fork",
        "os.forkpty",
        "os.spawn",
        "pty.spawn",
    }
)
_NETWORK_EVENTS = {
    "socket.connect": "connect to",
    "socket.bind": "bind",
    "socket.sendto": "send to",
    "socket.sendmsg": "send to",
    "socket.getaddrinfo": "resolve",
    "socket.gethostbyname": "resolve",
    "socket.gethostbyaddr": "resolve",
}
# Audit event -> positions of arguments naming paths the operation creates, modifies or
# removes. Hard links, renames and moves check both ends: a link to an outside file
# would let a later "inside" write change it.
_WRITE_PATH_ARGS: dict[str, tuple[int, ...]] = {
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
    "shutil.rmtree": (0,),
    "shutil.chown": (0,),
    "shutil.make_archive": (0,),
    "shutil.unpack_archive": (1,),
    "tempfile.mkstemp": (0,),
    "tempfile.mkdtemp": (0,),
}
# Events whose argument tuple carries a dir_fd that relative paths are resolved against.
_DIR_FD_ARG: dict[str, int] = {
    "os.remove": 1,
    "os.rmdir": 1,
    "os.mkdir": 2,
    "os.chmod": 2,
    "os.chown": 3,
    "os.utime": 3,
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Modules that start processes or call C directly without raising an audit event; once
# the runner's imports are done, loading them afresh (or a copy of them) is refused.
_UNAUDITED_MODULES = frozenset({"_posixsubprocess", "_cffi_backend", "_ctypes"})
_WRITABLE_DEVICES = frozenset({"/dev/null"})


def _describe_process(event: str, args: tuple[Any, ...]) -> str:
    if event == "subprocess.Popen" and len(args) > 1:
        return f"tried to start a process: {args[1]!r}"
    if event == "os.system" and args:
        command = os.fsdecode(args[0]) if isinstance(args[0], bytes) else args[0]
        return f"tried to start a process: os.system({command!r})"
    if event in ("os.exec", "os.posix_spawn") and len(args) > 1:
        return f"tried to start a process: {list(args[1])!r}"
    if event == "pty.spawn" and args:
        return f"tried to start a process: pty.spawn({args[0]!r})"
    return f"tried to start a process ({event})"


def _describe_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return repr(address)


def make_guard(workdir: str, protocol_fd: int) -> Callable[[str, tuple[Any, ...]], None]:
    """Build the audit hook that stops the process on network, process or outside-write events.

    Everything the hook calls is bound here, at install time, and the hook uses no Python
    library code at all (its own path resolution instead of ``os.path.realpath``), so a
    script that later patches ``os``, ``posixpath``, ``json`` or ``builtins`` cannot fool or
    disarm it. Relative paths are judged against the working directory *and* every
    directory fd the process holds, because the audit events do not say which ``dir_fd`` an
    ``os.open`` used. That is defence in depth, not the boundary: the kernel's seccomp
    filter (:mod:`benchgen.seccomp`) and the OS sandbox are.
    """
    root = os.path.realpath(workdir)
    prefix = root.rstrip("/") + "/"
    _exit, _write, _encode = os._exit, os.write, json.encoder.encode_basestring_ascii
    _lstat, _fstat, _readlink, _getcwd, _listdir, _fspath = (
        os.lstat,
        os.fstat,
        os.readlink,
        os.getcwd,
        os.listdir,
        os.fspath,
    )
    _is_link, _is_dir, _get_ident = stat.S_ISLNK, stat.S_ISDIR, _thread.get_ident
    _isinstance, _len, _int, _str, _bytes = isinstance, len, int, str, bytes
    _list, _reversed, _any = list, reversed, any
    _BaseException, _OSError, _ValueError, _TypeError = BaseException, OSError, ValueError, TypeError
    _stdout, _stderr = sys.stdout, sys.stderr
    process_events, network_events = _PROCESS_EVENTS, dict(_NETWORK_EVENTS)
    write_path_args, dir_fd_arg = dict(_WRITE_PATH_ARGS), dict(_DIR_FD_ARG)
    describe_process, describe_address, ip_address = (
        _describe_process,
        _describe_address,
        ipaddress.ip_address,
    )
    write_flags, writable_devices, exit_code = _WRITE_FLAGS, _WRITABLE_DEVICES, VIOLATION_EXIT_CODE
    limit = MAX_MESSAGE_CHARS
    own_pid, unaudited_modules = _str(os.getpid()), _UNAUDITED_MODULES
    native_suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    native_roots = _native_roots(root)
    busy: set[int] = set()

    def stop(what: str) -> NoReturn:
        try:
            for stream in (_stdout, _stderr):
                stream.flush()
        except _BaseException:  # flushing is best effort; stopping is not
            pass
        try:
            record = '{"event": "violation", "message": ' + _encode(what[:limit]) + "}\n"
            _write(protocol_fd, record.encode())
        finally:
            _exit(exit_code)
        # Unreachable unless os._exit was subverted; raising still aborts the operation.
        raise SystemExit(exit_code)

    def text_of(path: Any) -> str:
        value = _fspath(path)
        return value.decode("utf-8", "surrogateescape") if _isinstance(value, _bytes) else value

    def real(path: str) -> str:
        """``os.path.realpath`` (non-strict) of an absolute path, from bound builtins only."""
        pending, resolved, links = _list(_reversed(path.split("/"))), "", 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                resolved = resolved[: resolved.rfind("/")] if resolved else ""
                continue
            candidate = resolved + "/" + part
            try:
                mode = _lstat(candidate).st_mode
            except _OSError:
                resolved = candidate
                continue
            if not _is_link(mode):
                resolved = candidate
                continue
            links += 1
            if links > 40:
                raise _ValueError("too many levels of symbolic links")
            target = _readlink(candidate)
            if target.startswith("/"):
                resolved = ""
            pending.extend(_reversed(target.split("/")))
        return resolved or "/"

    def held_directories() -> list[str]:
        found = []
        for name in _listdir("/proc/self/fd"):
            try:
                if _is_dir(_fstat(_int(name)).st_mode):
                    found.append(_readlink("/proc/self/fd/" + name))
            except (_OSError, _ValueError):
                pass
        return found

    def candidates(path: Any, dir_fd: Any = None, known_dir_fd: bool = False) -> list[str]:
        """Every place ``path`` may name: one for absolute paths, several for ambiguous relative ones."""
        text = text_of(path)
        if text.startswith("/"):
            return [real(text)]
        # CPython reports a missing dir_fd as -1 or None.
        if _isinstance(dir_fd, _int) and dir_fd >= 0:
            bases = [_readlink("/proc/self/fd/" + _str(dir_fd))]
        elif known_dir_fd:
            bases = [_getcwd()]
        else:
            bases = [_getcwd(), *held_directories()]
        return [real(base + "/" + text) for base in bases]

    def inside(resolved: str) -> bool:
        return resolved == root or resolved.startswith(prefix)

    def check_write(event: str, path: Any, dir_fd: Any = None, known_dir_fd: bool = False) -> None:
        if _isinstance(path, _int):  # an fd the process already holds
            return
        try:
            places = candidates(path, dir_fd, known_dir_fd)
        except _BaseException:  # an unreadable path is refused, not trusted
            stop(f"tried to write {path!r} ({event}), which could not be resolved")
        for resolved in places:
            if not inside(resolved) and resolved not in writable_devices:
                stop(f"tried to write {resolved} outside its working directory ({event})")

    def other_process(resolved: str) -> bool:
        # Another process's /proc entry (environ, cmdline, mem) can hold the caller's secrets
        # when there is no pid namespace.
        parts = resolved.split("/")
        return _len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] != own_pid

    def check_read(event: str, path: Any) -> None:
        if path is None or _isinstance(path, _int):
            return
        try:
            places = candidates(path)
        except _BaseException:  # an unresolvable path is refused, not trusted
            stop(f"tried to open {path!r} ({event}), which could not be resolved")
        for resolved in places:
            if other_process(resolved):
                stop(f"tried to read {resolved}, which belongs to another process ({event})")

    def check_import(module: Any, filename: Any) -> None:
        if module in unaudited_modules:
            stop(f"tried to load {module}, which runs processes or C functions without auditing")
        if not (_isinstance(filename, _str) and filename.endswith(native_suffixes)):
            return
        base = filename[filename.rfind("/") + 1 :]
        for name in unaudited_modules:
            if base.startswith(name + "."):
                stop(f"tried to load {name} from {filename} under the name {module!r}")
        try:
            resolved = real(filename if filename.startswith("/") else _getcwd() + "/" + filename)
        except _BaseException:
            stop(f"tried to load native code from {filename!r}, which could not be resolved")
        if inside(resolved) or not _any(resolved.startswith(r) for r in native_roots):
            stop(f"tried to load native code from {resolved}, outside the installed Python")

    def numeric_host(host: Any) -> bool:
        try:
            ip_address(host.decode() if _isinstance(host, _bytes) else host)
        except (_TypeError, _ValueError):
            return False
        return True

    def check(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, _mode, flags = args
            if _isinstance(flags, _int) and flags & write_flags:
                check_write(event, path)
            else:
                check_read(event, path)
        elif event in ("os.listdir", "os.scandir"):
            check_read(event, args[0] if args else None)
        elif event == "import" and args:
            check_import(args[0], args[1] if _len(args) > 1 else None)
        elif event in write_path_args:
            known = event in dir_fd_arg
            dir_fd = args[dir_fd_arg[event]] if known and _len(args) > dir_fd_arg[event] else None
            for position in write_path_args[event]:
                if position < _len(args) and args[position] is not None:
                    check_write(event, args[position], dir_fd, known)
        elif event == "os.symlink":
            target, link = args[0], args[1]
            dir_fd = args[2] if _len(args) > 2 else None
            check_write(event, link, dir_fd, True)
            if not _isinstance(link, _int):
                link_text = text_of(link)
                check_write(event, link_text[: link_text.rfind("/") + 1] + text_of(target), dir_fd, True)
        elif event in process_events:
            stop(describe_process(event, args))
        elif event == "socket.getaddrinfo":
            # A scenario has no use for addresses at all. Stopping here, before the kernel
            # filter stops socket(), lets the verdict name the address the script was after.
            address = describe_address((args[0], args[1]))
            stop(f"tried to reach {address}" if numeric_host(args[0]) else f"tried to resolve {address}")
        elif event in network_events:
            address = (
                args[1] if event.startswith(("socket.connect", "socket.bind", "socket.send")) else args[0]
            )
            stop(f"tried to {network_events[event]} {describe_address(address)}")
        elif event in ("os.kill", "os.killpg"):
            stop(f"tried to send a signal to process {args[0]} ({event})")
        elif event.startswith("ctypes."):
            # ctypes reaches libc directly (fork, execve, connect) past every other check.
            stop(f"tried to use ctypes ({event})")
        elif event in ("resource.setrlimit", "resource.prlimit"):
            stop("tried to change its resource limits")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        # The hook's own listdir of /proc/self/fd raises events too; they are ours, not the script's.
        ident = _get_ident()
        if ident in busy:
            return
        busy.add(ident)
        try:
            check(event, args)
        finally:
            busy.discard(ident)

    return hook


def _native_roots(workdir: str) -> tuple[str, ...]:
    """Directories native extension modules may be loaded from: the installed, read-only Python."""
    candidates = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *site.getsitepackages(),
        "/usr/lib",
        "/usr/local/lib",
    }
    roots = {os.path.realpath(path).rstrip("/") + "/" for path in candidates}
    return tuple(sorted(root for root in roots if root != "/" and not (workdir + "/").startswith(root)))


def _disarm_fork_exec() -> None:
    """Remove ``_posixsubprocess.fork_exec``, which spawns processes without an audit event.

    ``subprocess.Popen`` is audited before it calls it; calling it directly is not.
    Nothing the runner or a scenario legitimately does needs it after the imports.
    """
    module = sys.modules.get("_posixsubprocess")
    fork_exec = getattr(module, "fork_exec", None)
    if fork_exec is None:
        return
    for loaded in list(sys.modules.values()):
        names = [name for name, value in list(getattr(loaded, "__dict__", {}).items()) if value is fork_exec]
        for name in names:
            delattr(loaded, name)


def install_guard(workdir: Path, protocol_fd: int) -> None:
    """Install the guard; audit hooks cannot be removed once added."""
    _disarm_fork_exec()
    sys.addaudithook(make_guard(str(workdir), protocol_fd))


# --- running the script ----------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _script_traceback(exc: BaseException, script: Path) -> str:
    """Format ``exc`` from the first frame in the script on, so the runner's frames do not show."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != str(script):
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb or exc.__traceback__)
    return _clip("".join(lines), MAX_TRACEBACK_CHARS)


def _exception_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _failure(what: str, exc: BaseException, script: Path) -> RunFailure:
    """Classify an exception escaping the script during ``what`` (e.g. ``build(seed=1, scale=1.0)``)."""
    tb = _script_traceback(exc, script)
    if isinstance(exc, MemoryError):
        return RunFailure(
            "resource_limit",
            _clip(f"{what} ran out of memory ({_exception_text(exc)})", MAX_MESSAGE_CHARS),
            tb,
        )
    if isinstance(exc, ValidationError):
        return RunFailure(
            "contract_error", _clip(f"{what} broke the scenario contract: {exc}", MAX_MESSAGE_CHARS), tb
        )
    return RunFailure("script_error", _clip(f"{what} raised {_exception_text(exc)}", MAX_MESSAGE_CHARS), tb)


def load_script(path: Path) -> ModuleType:
    """Import the script as module ``scenario_script``; failures become :class:`RunFailure`."""
    spec = importlib.util.spec_from_file_location("scenario_script", path)
    if spec is None or spec.loader is None:
        raise RunFailure("script_error", f"could not load {path.name} as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        tb = _clip("".join(traceback.format_exception_only(type(exc), exc)), MAX_TRACEBACK_CHARS)
        raise RunFailure("script_error", f"the script does not parse: {_exception_text(exc)}", tb) from None
    except BaseException as exc:  # SystemExit and friends are script errors too
        raise _failure("importing the script", exc, path) from None
    return module


def _entry_point(module: ModuleType, name: str, owner: str, example: tuple[Any, ...], signature: str) -> Any:
    """The module's function ``name`` if it can be called with arguments like ``example``."""
    function = getattr(module, name, None)
    if function is None:
        raise RunFailure("contract_error", f"the {owner} defines no {name} function")
    if not callable(function):
        raise RunFailure("contract_error", f"{name} is a {type(function).__name__}, not a function")
    try:
        inspect.signature(function).bind(*example)
    except (TypeError, ValueError) as exc:
        raise RunFailure("contract_error", f"{name} must accept {signature}: {exc}") from None
    return function


def find_build(module: ModuleType) -> Callable[[int, float], Any]:
    """Return the script's ``build`` if it can be called as ``build(seed, scale)``."""
    build: Callable[[int, float], Any] = _entry_point(
        module, "build", "script", (0, 1.0), "(seed, scale) as two positional arguments"
    )
    return build


def scene_record(scenario: Any, seed: int, scale: float) -> Any:
    """Convert a :class:`benchgen.scenario.Scenario` into a :class:`benchgen.scene.SceneRecord`."""
    from benchgen.scene import JointRecord, PartRecord, PayloadRecord, SceneRecord

    parts = [
        PartRecord(
            label=part.label,
            material=part.material,
            brep=f"body_{index}.brep",
            joint=JointRecord.from_joint(part.joint),
        )
        for index, part in enumerate(scenario.parts)
    ]
    payload = scenario.payload
    return SceneRecord(
        seed=seed,
        scale=scale,
        name=scenario.name,
        description=scenario.description,
        tier=scenario.tier,
        parts=parts,
        payload=PayloadRecord(
            label=payload.label,
            material=payload.material,
            brep=f"body_{len(parts)}.brep",
            start=payload.start,
            jitter=payload.jitter,
        ),
        goal_zone=scenario.goal_zone,
        build_zone=scenario.build_zone,
        bounds=scenario.bounds,
        constraints=scenario.constraints,
        forbid_zones=list(scenario.forbid_zones),
        params=dict(scenario.params),
    )


def _write_record(
    bodies: Sequence[Any],
    make_record: Callable[[], Any],
    directory: Path,
    filename: str,
    what: str,
    noun: str,
) -> None:
    """Check every body's shape is a build123d Shape, build the record, then write it and one
    BREP per body (``body_<index>.brep``, in ``bodies`` order)."""
    from build123d import Shape, export_brep

    for body in bodies:
        if not isinstance(body.shape, Shape):
            raise RunFailure(
                "contract_error",
                f"{what}: the shape of {body.label!r} is a {type(body.shape).__name__}, not a build123d Shape",
            )
    try:
        record = make_record()
    except ValidationError as exc:
        raise RunFailure(
            "contract_error", _clip(f"{what} returned an invalid {noun}: {exc}", MAX_MESSAGE_CHARS)
        ) from None
    directory.mkdir(parents=True, exist_ok=True)
    for index, body in enumerate(bodies):
        if not export_brep(body.shape, directory / f"body_{index}.brep"):
            raise RunFailure(
                "contract_error", f"{what}: the shape of {body.label!r} could not be exported as BREP"
            )
    (directory / filename).write_text(record.model_dump_json(), encoding="utf-8")


def write_build(result: Any, seed: int, scale: float, directory: Path, what: str) -> None:
    """Check the returned value's types, then write ``scene.json`` and one BREP per body."""
    from benchgen.scenario import Scenario
    from benchgen.scene import SCENE_FILE

    if not isinstance(result, Scenario):
        raise RunFailure(
            "contract_error", f"{what} returned {type(result).__name__}, not a benchgen.scenario.Scenario"
        )
    bodies = [*result.parts, result.payload]
    _write_record(bodies, lambda: scene_record(result, seed, scale), directory, SCENE_FILE, what, "scene")


def find_design(module: ModuleType) -> Callable[[Any], Any]:
    """Return the solution's ``design`` if it can be called as ``design(view)``."""
    design: Callable[[Any], Any] = _entry_point(
        module, "design", "solution", (None,), "(view) as one positional argument"
    )
    return design


def write_design(result: Any, seed: int, scale: float, directory: Path, what: str) -> None:
    """Check the returned value's types, then write ``design.json`` and one BREP per part."""
    from benchgen.solution import DESIGN_FILE, Design, design_record

    if not isinstance(result, Design):
        raise RunFailure(
            "contract_error", f"{what} returned {type(result).__name__}, not a benchgen.solution.Design"
        )
    _write_record(
        result.parts, lambda: design_record(result, seed, scale), directory, DESIGN_FILE, what, "design"
    )


def run_requests(channel: Channel, workdir: Path, job: RunnerJob) -> None:
    """Import the script (or solution) and answer every request, emitting progress: ``build(seed,
    scale)`` for a script, ``design(view)`` for a solution; raises :class:`RunFailure`."""
    from benchgen.solution import load_view

    script = workdir / job.script
    module = load_script(script)
    channel.emit(RunnerEvent(event="imported"))
    if job.kind == "design":
        design = find_design(module)

        def produce(index: int, seed: int, scale: float) -> Any:
            return design(load_view(workdir / VIEWS_DIR / str(index)))

        write, call = write_design, "design(view of seed={seed}, scale={scale})"
    else:
        build = find_build(module)

        def produce(index: int, seed: int, scale: float) -> Any:
            return build(seed, scale)

        write, call = write_build, "build(seed={seed}, scale={scale})"
    for index, (seed, scale) in enumerate(job.requests):
        what = call.format(seed=seed, scale=scale)
        channel.emit(RunnerEvent(event="start", index=index))
        try:
            result = produce(index, seed, scale)
            write(result, seed, scale, workdir / BUILDS_DIR / str(index), what)
        except RunFailure as failure:
            failure.message = _clip(failure.message, MAX_MESSAGE_CHARS)
            raise
        except BaseException as exc:  # whatever the script or solution raises ends its run
            raise _failure(what, exc, script) from None
        channel.emit(RunnerEvent(event="done", index=index))


def _preload() -> None:
    """Import everything a script and the runner need before untrusted code runs.

    The script's own ``import build123d`` is then a cache hit, and nothing needs to
    load a library (ctypes is forbidden afterwards) or write a cache file.
    """
    import build123d  # noqa: F401
    import numpy  # noqa: F401

    import benchgen.scenario  # noqa: F401
    import benchgen.scene  # noqa: F401
    import benchgen.solution  # noqa: F401
    import benchgen.toolkit  # noqa: F401


def _install_seccomp() -> int:
    """Install the kernel filter for this process; a failure ends the runner before any script runs."""
    from benchgen import seccomp

    try:
        return seccomp.install(seccomp.compile_filter(os.getpid()))
    except (seccomp.SeccompUnavailable, OSError) as exc:
        sys.stderr.write(f"benchgen sandbox: the seccomp filter could not be installed: {exc}\n")
        _finish(SETUP_FAILURE_EXIT_CODE)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchgen.sandbox_runner")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--protocol-fd", type=int)
    parser.add_argument("--zygote", type=int, metavar="CONTROL_FD", help="serve as a warm template")
    parser.add_argument(
        "--loader-template", action="store_true", help="a zygote that also forks geometry loaders"
    )
    args = parser.parse_args(argv)
    if args.zygote is None and (args.workdir is None or args.protocol_fd is None):
        parser.error("--workdir and --protocol-fd are required")
    return args


def _finish(code: int) -> NoReturn:
    # os._exit skips the script's atexit handlers and non-daemon threads, which could hang.
    for stream in (sys.stdout, sys.stderr):
        # A closed or replaced stream must not change the outcome.
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def serve(workdir: Path, protocol_fd: int) -> NoReturn:
    """Run the job in ``workdir/job.json`` in this process: the part shared by cold runs and zygote children.

    Everything before ``ready`` is trusted set-up; the script runs after it.
    """
    channel = Channel(protocol_fd)
    job = RunnerJob.model_validate_json((workdir / JOB_FILE).read_text(encoding="utf-8"))
    for name in (BUILDS_DIR, ".tmp", ".cache"):
        (workdir / name).mkdir(exist_ok=True)
    _preload()
    fds = [os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    if job.seccomp:
        fds.append(_install_seccomp())
    # Nothing untrusted has run yet. From here on only the parent holds the filter's
    # listener: the script cannot answer its own forbidden calls.
    channel.hand_over(RunnerEvent(event="ready"), fds)
    install_guard(workdir, protocol_fd)
    try:
        run_requests(channel, workdir, job)
    except RunFailure as failure:
        channel.emit(
            RunnerEvent(event="error", status=failure.status, message=failure.message, traceback=failure.tb)
        )
        _finish(FAILURE_EXIT_CODE)
    except MemoryError:
        channel.emit(
            RunnerEvent(event="error", status="resource_limit", message="the sandbox ran out of memory")
        )
        _finish(FAILURE_EXIT_CODE)
    channel.emit(RunnerEvent(event="finished"))
    _finish(0)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point inside the sandbox: one cold run, or (``--zygote``) a warm template."""
    args = _parse_args(argv)
    if args.zygote is not None:
        zygote_main(args.zygote)
    serve(args.workdir.resolve(), args.protocol_fd)


# --- the warm template (zygote) ----------------------------------------------------------------
#
# Importing build123d costs seconds; a zygote pays it once. It runs under bubblewrap like a
# cold run, imports everything a script needs, and then only forks: one fresh child per
# job. The zygote never runs untrusted code, so every child starts from the same clean
# template, and nothing a child does reaches the zygote or a later child: before the
# script is imported each child gets its own user, mount, IPC, network and UTS
# namespaces, its own size-limited tmpfs as its working directory and /tmp (the inputs
# bind-mounted read-only), no capabilities, its own rlimits (its CPU clock starts at
# zero), reseeded random generators and its own seccomp filter whose listener goes to
# the parent. The zygote is not dumpable, so a child cannot reach its memory through
# /proc, and the seccomp filter forbids every other way (ptrace, signals, namespaces).
# What a forked child cannot get is another hash seed or address layout: the caller
# keeps one zygote per PYTHONHASHSEED (the determinism repeat runs in another one).

ZYGOTE_MAX_MESSAGE = 1 << 16
"""Largest control message (a spawn request or an event); the inputs travel in a memfd."""
ZYGOTE_MAX_FDS = 8
ZygoteEventKind = Literal["ready", "spawned", "exited", "refused"]

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND = 1, 2, 4, 32, 4096
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
_CAPABILITY_VERSION_3 = 0x20080522
_ADDRESS_SPACE_HEADROOM = 64 << 20
"""A child needs at least this much address space beyond the template's to run anything."""


class SpawnRequest(BaseModel):
    """The parent asks a zygote for a child: its limits and its input files.

    Sent with four fds (SCM_RIGHTS): the protocol socket, the child's stdout and stderr,
    and a memfd holding the input files back to back, ``inputs`` giving their relative
    paths and sizes in order.
    """

    model_config = ConfigDict(extra="forbid")

    role: Literal["job", "loader"] = "job"
    """``job``: run the job in the inputs' ``job.json``; ``loader``: serve the trusted geometry
    loader (:func:`benchgen.geometry.serve_loader`) on the protocol socket, under a seccomp
    filter that kills it on any forbidden call."""
    loader_settings: str = ""
    """The loader's :class:`benchgen.geometry.GeometrySettings` as JSON."""
    memory_bytes: int
    cpu_seconds: int | None
    """None: no CPU limit (the loader; the parent's per-body clock bounds it)."""
    disk_bytes: int
    tmp_bytes: int
    file_size_bytes: int
    inputs: list[tuple[str, int]]


class ZygoteEvent(BaseModel):
    """What a zygote tells the parent: ``ready`` (with ``nested``: children can be isolated),
    ``spawned`` (a pidfd attached), ``exited`` (with the child's return code, negative for a
    signal, as :mod:`subprocess` reports it) or ``refused`` (a malformed request)."""

    model_config = ConfigDict(extra="forbid")

    event: ZygoteEventKind
    pid: int | None = None
    returncode: int | None = None
    nested: bool | None = None
    message: str = ""


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(
    libc: Any, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    encode = lambda v: v.encode() if v is not None else None  # noqa: E731
    _check(libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def _own_namespaces(libc: Any) -> None:
    """New user, mount, IPC, network and UTS namespaces for this (single-threaded) process."""
    uid, gid = os.getuid(), os.getgid()
    _check(
        libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWNET | _CLONE_NEWUTS), "unshare"
    )
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as handle:
            handle.write(text)


def _python_under_tmp() -> bool:
    """Whether the interpreter, the venv or benchgen itself lives under /tmp (bound there by
    bubblewrap): a fresh tmpfs on /tmp would hide them from the child."""
    import benchgen

    places = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(benchgen.__file__)]
    return any(os.path.realpath(p).startswith("/tmp/") or p.startswith("/tmp/") for p in places)


def _fresh_disks(libc: Any, workdir: str, disk_bytes: int, tmp_bytes: int) -> None:
    flags = _MS_NOSUID | _MS_NODEV
    _mount(libc, "tmpfs", workdir, "tmpfs", flags, f"size={disk_bytes},mode=0755")
    if _python_under_tmp():
        # Keep the template's /tmp (its Python binds are mounted inside it), read-only for
        # this child, so no child can leave anything there for a later one.
        _mount(libc, None, "/tmp", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags, None)
    else:
        _mount(libc, "tmpfs", "/tmp", "tmpfs", flags, f"size={tmp_bytes},mode=0755")


def _unpack_inputs(memfd: int, inputs: list[tuple[str, int]], workdir: str) -> list[str]:
    """Write the input files into the workdir; returns their top-level names."""
    tops: list[str] = []
    with os.fdopen(memfd, "rb") as source:
        for relative, size in inputs:
            parts = relative.split("/")
            if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise ValueError(f"bad input path {relative!r}")
            target = Path(workdir, *parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = source.read(size)
            if len(data) != size:
                raise ValueError(f"input {relative!r} is truncated")
            with open(target, "xb") as handle:
                handle.write(data)
            if parts[0] not in tops:
                tops.append(parts[0])
    return tops


def _read_only(libc: Any, paths: list[str]) -> None:
    """Bind each path onto itself read-only, as bubblewrap's --ro-bind does for a cold run."""
    for path in paths:
        _mount(libc, path, path, None, _MS_BIND, None)
        _mount(libc, None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)


def _drop_capabilities(libc: Any) -> None:
    """No capabilities left, even in the new user namespace (nothing can give them back without exec)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    data = (Data * 2)()
    _check(libc.capset(ctypes.byref(Header(_CAPABILITY_VERSION_3, 0)), data), "capset")


def _address_space_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit(request: SpawnRequest) -> None:
    import resource

    used = _address_space_bytes()
    if used + _ADDRESS_SPACE_HEADROOM > request.memory_bytes:
        raise MemoryError(
            f"the sandbox runtime already uses {used >> 20} MB of address space; "
            f"the {request.memory_bytes >> 20} MB memory limit leaves it no room"
        )
    memory, cpu = request.memory_bytes, request.cpu_seconds
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    if cpu is not None:
        resource.setrlimit(
            resource.RLIMIT_CPU, (cpu, cpu + 5)
        )  # SIGXCPU at the soft limit, SIGKILL at the hard
    resource.setrlimit(resource.RLIMIT_FSIZE, (request.file_size_bytes, request.file_size_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _reseed() -> None:
    """A fresh process's random state: ``random`` reseeds itself at fork, numpy's global generator does not."""
    import numpy

    numpy.random.seed()


def _close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _child(request: SpawnRequest, fds: list[int], zygote: int) -> NoReturn:
    """A forked child: make a fresh sandbox of this process, then run the job like a cold run."""
    protocol, stdout, stderr, memfd = fds
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    # The zygote's control socket and its other children's pidfds must not reach the script.
    _close_other_fds({0, 1, 2, protocol, memfd})
    libc = _libc()
    _check(libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != zygote:
        _finish(SETUP_FAILURE_EXIT_CODE)
    workdir = SANDBOX_WORKDIR
    _own_namespaces(libc)
    _fresh_disks(libc, workdir, request.disk_bytes, request.tmp_bytes)
    _read_only(libc, [str(Path(workdir, top)) for top in _unpack_inputs(memfd, request.inputs, workdir)])
    os.chdir(workdir)
    _drop_capabilities(libc)
    _limit(request)
    _reseed()
    if request.role == "loader":
        _serve_loader(protocol, request.loader_settings)
    sys.argv = [sys.argv[0], "--workdir", workdir, "--protocol-fd", str(protocol)]
    serve(Path(workdir), protocol)


def _serve_loader(protocol: int, settings: str) -> NoReturn:
    """Be the checker's geometry loader: trusted code reading hostile BREPs, contained by a killing filter."""
    from benchgen import seccomp
    from benchgen.geometry import serve_loader

    Path(SANDBOX_WORKDIR, ".tmp").mkdir()
    seccomp.install(seccomp.compile_filter(os.getpid(), supervised=False), listen=False)
    sock = socket.socket(fileno=protocol)
    with contextlib.suppress(EOFError, OSError):
        serve_loader(sock.makefile("rb"), sock.makefile("wb"), settings)
    _finish(0)


def _spawn(request: SpawnRequest, fds: list[int]) -> int:
    """Fork a child for ``request``; returns its pid (the child never returns)."""
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            _child(request, fds, zygote)
        except BaseException:  # set-up failed: say why on the job's stderr, never run the script
            with contextlib.suppress(BaseException):
                sys.stderr.write(
                    "benchgen sandbox: the child could not set itself up:\n" + traceback.format_exc()
                )
            _finish(SETUP_FAILURE_EXIT_CODE)
    return pid


def _nested_isolation_works() -> bool:
    """Fork a probe child that sets up its namespaces and tmpfs; whether it managed."""
    pid = os.fork()
    if pid == 0:
        try:
            libc = _libc()
            _own_namespaces(libc)
            _fresh_disks(libc, SANDBOX_WORKDIR, 1 << 20, 1 << 20)
            _drop_capabilities(libc)
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _send(control: socket.socket, event: ZygoteEvent, fds: list[int] | None = None) -> None:
    socket.send_fds(control, [event.model_dump_json(exclude_none=True).encode()], fds or [])


def _returncode(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def zygote_main(control_fd: int) -> NoReturn:
    """Serve spawn requests on ``control_fd`` (a SOCK_SEQPACKET socket) until the parent hangs up.

    When the parent goes away (even by SIGKILL) the socket reports it, and the zygote
    kills its children and exits, which ends the bubblewrap sandbox.
    """
    import select

    _preload()
    import gc

    import numpy  # noqa: F401

    from benchgen import seccomp

    seccomp.preload()
    # What the geometry loader's children need. Every template imports exactly the same
    # modules before it says ready, so a script sees the same interpreter in each of them
    # (an import can change global state; the determinism repeat runs in another template).
    import trimesh  # noqa: F401

    import benchgen.geometry  # noqa: F401

    # Done once here rather than in every child: walking every module in a child would
    # copy its pages (copy-on-write) for nothing. The children's guard finds it done.
    _disarm_fork_exec()
    # Children must not copy the template's objects either: keep the collector off them.
    gc.collect()
    gc.freeze()
    libc = _libc()
    _check(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    control = socket.socket(fileno=control_fd)
    _send(control, ZygoteEvent(event="ready", nested=_nested_isolation_works()))
    poller = select.poll()
    poller.register(control, select.POLLIN)
    children: dict[int, int] = {}  # pidfd -> pid
    while True:
        for fd, _flags in poller.poll():
            if fd != control.fileno():
                pid = children.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                _send(control, ZygoteEvent(event="exited", pid=pid, returncode=_returncode(status)))
                continue
            try:
                data, fds, _flags, _address = socket.recv_fds(control, ZYGOTE_MAX_MESSAGE, ZYGOTE_MAX_FDS)
            except OSError:
                data, fds = b"", []
            if not data:  # the parent is gone: so is everything it started
                for pid in children.values():
                    with contextlib.suppress(OSError):
                        os.kill(pid, 9)
                os._exit(0)
            try:
                request = SpawnRequest.model_validate_json(data)
                if len(fds) != 4:
                    raise ValueError(f"a spawn request carries 4 fds, not {len(fds)}")
            except (ValidationError, ValueError) as exc:
                for extra in fds:
                    os.close(extra)
                _send(control, ZygoteEvent(event="refused", message=str(exc)[:1000]))
                continue
            pid = _spawn(request, fds)
            for extra in fds:
                os.close(extra)
            pidfd = os.pidfd_open(pid)
            children[pidfd] = pid
            poller.register(pidfd, select.POLLIN)
            _send(control, ZygoteEvent(event="spawned", pid=pid), [pidfd])


if __name__ == "__main__":
    main()
