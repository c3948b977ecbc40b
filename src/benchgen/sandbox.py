"""Run an untrusted scenario script in a sandboxed process and collect its builds as data.

The caller never imports the script and never unpickles anything. One sandboxed
process per script imports build123d once, then runs ``build(seed, scale)`` for every
request; each build becomes ``scene.json`` (a :class:`benchgen.scene.SceneRecord`) plus
one BREP file per body under ``workdir/builds/<index>/``.

Isolation has two layers:

1. OS: bubblewrap (new user, network, pid, ipc, uts and cgroup namespaces, read-only
   system and Python binds, a private ``/tmp``, only ``workdir`` writable, cleared
   environment). If bubblewrap is unusable, ``unshare`` (network and pid namespaces);
   failing that, nothing. Resource limits (address space, CPU, file size, no core
   dumps) apply in every mode and the parent enforces wall-clock deadlines.
2. In-process: :mod:`benchgen.sandbox_runner` installs an audit hook before the script
   is imported that ends the process on network use, process creation, ctypes, or
   writes outside ``workdir``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import resource
import select
import shutil
import signal
import site
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, Field, ValidationError

import benchgen
from benchgen.sandbox_runner import (
    BUILDS_DIR,
    JOB_FILE,
    SCRIPT_FILE,
    STDERR_FILE,
    STDOUT_FILE,
    VIOLATION_EXIT_CODE,
    RunnerEvent,
    RunnerJob,
)
from benchgen.scene import MAX_SCENE_JSON_BYTES, SCENE_FILE, SceneRecord

IsolationMode = Literal["bwrap", "unshare", "none"]
SandboxStatus = Literal[
    "ok", "script_error", "contract_error", "timeout", "resource_limit", "sandbox_violation"
]

IMPORT_ALLOWANCE_S = 120.0
"""Wall time for the interpreter to start and import build123d (~12 s here), before any script code runs."""
EXIT_GRACE_S = 2.0
TAIL_BYTES = 4096
FILE_SIZE_LIMIT_BYTES = 1 << 30
"""Largest file the sandbox may write (RLIMIT_FSIZE); BREPs of real scenes are far smaller."""
TMPFS_BYTES = 64 << 20
MAX_EVENT_BYTES = 1 << 20
MAX_PROTOCOL_BYTES = 64 << 20
SANDBOX_ID = "1000"
PROBE_MARKER = b"benchgen-sandbox-ok"

# Only what the dynamic linker, Python and fontconfig read; /etc as a whole holds host secrets.
ETC_ENTRIES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "alternatives",
    "fonts",
    "nsswitch.conf",
    "passwd",
    "group",
    "os-release",
)
ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
MEMORY_HINTS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory", "OutOfMemory")

ISOLATION_DESCRIPTIONS: dict[IsolationMode, str] = {
    "bwrap": (
        "bubblewrap (user, net, pid, ipc, uts, cgroup namespaces; read-only system binds; private /tmp; "
        "only the workdir writable; cleared environment) + audit hooks + rlimits"
    ),
    "unshare": "unshare (user, net, pid namespaces; cleared environment) + audit hooks + rlimits",
    "none": "no OS isolation available: cleared environment + in-process audit hooks + rlimits only",
}


class BuildRequest(BaseModel):
    """One call of the script's ``build(seed, scale)``."""

    seed: int
    scale: float = Field(gt=0, allow_inf_nan=False)


class SandboxLimits(BaseModel):
    """Limits for one sandboxed run."""

    timeout_s: float = Field(default=60.0, gt=0)
    """Wall time allowed per ``build()`` call; importing the script counts toward the first."""
    memory_mb: int = Field(default=4096, gt=0)
    """Address-space and data-segment limit of the sandboxed process."""


class BuildOutcome(BaseModel):
    """A completed, validated build: ``directory`` holds ``scene.json`` and ``body_N.brep``."""

    seed: int
    scale: float
    directory: Path
    seconds: float


class SandboxResult(BaseModel):
    """What running a script produced: a status, its completed builds and diagnostics."""

    status: SandboxStatus
    message: str
    """Human readable; names the seed and scale at fault."""
    traceback: str | None = None
    """The script's traceback for script errors (and contract errors raised inside the script)."""
    failed: BuildRequest | None = None
    """The request that failed; None when the run failed outside any build (e.g. importing the script)."""
    builds: list[BuildOutcome] = Field(default_factory=list)
    """Completed builds in request order; every one passed :class:`SceneRecord` validation."""
    stdout_tail: str = ""
    stderr_tail: str = ""
    isolation: str
    import_seconds: float
    wall_seconds: float


class SandboxError(RuntimeError):
    """The sandbox itself could not start or run; this is no verdict on the script."""


# --- isolation --------------------------------------------------------------------------------


def _python_paths() -> list[Path]:
    """Directories the interpreter, the venv and benchgen's own source live in."""
    benchgen_root = Path(benchgen.__file__).resolve().parent.parent
    candidates: list[str | Path] = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *site.getsitepackages(),
        os.path.dirname(os.path.realpath(sys.executable)),
        benchgen_root,
    ]
    paths: set[Path] = set()
    for candidate in candidates:
        path = Path(candidate)
        if path.exists():
            paths.update({path.absolute(), path.resolve()})
    return _outermost(paths)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths already covered by another path in the set or by /usr."""
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(other) for other in [*kept, Path("/usr")]):
            kept.append(path)
    return kept


def _readonly_paths() -> list[Path]:
    return [Path("/usr"), Path("/etc"), *_python_paths()]


def _check_workdir(workdir: Path) -> None:
    """Refuse a workdir whose writable bind would expose the system or benchgen's own code."""
    for path in _readonly_paths():
        if path.is_relative_to(workdir):
            raise ValueError(f"workdir {workdir} contains {path}, which must stay read-only")
    if workdir.is_relative_to("/proc") or workdir.is_relative_to("/dev"):
        raise ValueError(f"workdir {workdir} is not a plain directory")


def _bwrap_features() -> set[str]:
    try:
        help_text = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {flag for flag in ("--disable-userns", "--size") if flag in help_text}


def _child_env(workdir: Path) -> dict[str, str]:
    """The whole environment of the sandboxed process: nothing of the caller's leaks in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(workdir / ".tmp"),
        "XDG_CACHE_HOME": str(workdir / ".cache"),
        "MPLBACKEND": "Agg",
        # Scripts must be deterministic per seed; string hashing must not vary between runs.
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
    }


def _python_command(workdir: Path, protocol_fd: int) -> list[str]:
    # -s -P -B is -I without -E: the environment is entirely ours (so PYTHONHASHSEED may
    # apply), no user site, no script directory on sys.path, no bytecode written.
    return [
        sys.executable,
        "-s",
        "-P",
        "-B",
        "-u",
        "-m",
        "benchgen.sandbox_runner",
        "--workdir",
        str(workdir),
        "--protocol-fd",
        str(protocol_fd),
    ]


def _bwrap_command(workdir: Path, env: dict[str, str], command: list[str], features: set[str]) -> list[str]:
    args = ["bwrap", "--unshare-all", "--unshare-user", "--uid", SANDBOX_ID, "--gid", SANDBOX_ID]
    if "--disable-userns" in features:
        args.append("--disable-userns")
    args += ["--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if "--size" in features:
        args += ["--size", str(TMPFS_BYTES)]
    args += ["--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]
    for link in ROOT_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for name in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in _python_paths():
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--", *command]
    return args


def _unshare_command(command: list[str]) -> list[str]:
    return ["unshare", "--net", "--pid", "--fork", "--map-root-user", "--kill-child", "--", *command]


def _wrap(mode: IsolationMode, workdir: Path, command: list[str], features: set[str]) -> list[str]:
    if mode == "bwrap":
        return _bwrap_command(workdir, _child_env(workdir), command, features)
    if mode == "unshare":
        return _unshare_command(command)
    return command


def _probe(mode: IsolationMode, features: set[str]) -> tuple[bool, str]:
    """Start the real interpreter once under ``mode``; return whether it worked and why not."""
    tool = "bwrap" if mode == "bwrap" else "unshare"
    if shutil.which(tool) is None:
        return False, f"{tool} not found on PATH"
    with tempfile.TemporaryDirectory(prefix="benchgen-probe-") as tmp:
        workdir = Path(tmp).resolve()
        command = [sys.executable, "-s", "-P", "-B", "-c", f"print({PROBE_MARKER.decode()!r})"]
        try:
            proc = subprocess.run(
                _wrap(mode, workdir, command, features),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=workdir,
                env=_child_env(workdir),
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return False, str(exc)
    if proc.returncode == 0 and proc.stdout.strip() == PROBE_MARKER:
        return True, "usable"
    detail = proc.stderr.decode(errors="replace").strip()[-500:]
    return False, detail or f"exit status {proc.returncode}"


def _select_mode() -> IsolationMode:
    """The strongest usable isolation, found by trying it."""
    features = _bwrap_features()
    for mode in ("bwrap", "unshare"):
        if _probe(mode, features)[0]:
            return mode
    return "none"


def isolation_report() -> dict[str, str | bool]:
    """Which isolation :func:`run_script` will use, found by actually trying bwrap and unshare.

    Keys: ``bwrap_usable``/``bwrap_detail``, ``unshare_usable``/``unshare_detail``,
    ``mode`` (``bwrap``, ``unshare`` or ``none``), ``isolation`` (a description) and
    ``bytecode_cached`` (whether the sandbox can skip compiling build123d on every run).
    """
    features = _bwrap_features()
    report: dict[str, str | bool] = {}
    mode: IsolationMode = "none"
    for candidate in ("unshare", "bwrap"):  # bwrap, tried last, wins when both work
        usable, detail = _probe(candidate, features)
        report[f"{candidate}_usable"] = usable
        report[f"{candidate}_detail"] = detail
        if usable:
            mode = candidate
    report["mode"] = mode
    report["isolation"] = ISOLATION_DESCRIPTIONS[mode]
    report["bytecode_cached"] = _bytecode_cached()
    return report


def _bytecode_cached() -> bool:
    """Whether build123d has compiled bytecode; the read-only sandbox cannot write any.

    Without it every sandboxed run compiles build123d, scipy and sklearn from source
    (about 12 s instead of 5 s here); ``python -m compileall`` on site-packages fixes it.
    """
    spec = importlib.util.find_spec("build123d")
    if spec is None or spec.origin is None:
        return False
    return Path(importlib.util.cache_from_source(spec.origin)).exists()


# --- running ----------------------------------------------------------------------------------


def _apply_rlimits(memory_bytes: int, cpu_seconds: int) -> None:
    """Runs in the child between fork and exec; hard limits equal soft so they cannot be raised."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    # SIGXCPU at the soft limit, SIGKILL at the hard one.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT_BYTES, FILE_SIZE_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _cpu_backstop(limits: SandboxLimits, requests: int) -> int:
    wall = max(limits.timeout_s, IMPORT_ALLOWANCE_S) + (requests + 1) * limits.timeout_s
    return int(wall * max(1, os.cpu_count() or 1)) + 10


def _remove(path: Path) -> None:
    """Delete whatever a previous run left at ``path``, never following a symlink."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _prepare_workdir(script: Path, requests: list[BuildRequest], workdir: Path) -> None:
    """Lay out a fresh run; a reused workdir may hold links a previous script planted."""
    job = RunnerJob(script=SCRIPT_FILE, requests=[(r.seed, r.scale) for r in requests])
    files = {SCRIPT_FILE: script.read_bytes(), JOB_FILE: job.model_dump_json().encode()}
    for name, data in files.items():
        _remove(workdir / name)
        with open(workdir / name, "xb") as handle:  # O_EXCL: never writes through a link
            handle.write(data)
    for name in (BUILDS_DIR, STDOUT_FILE, STDERR_FILE):
        _remove(workdir / name)  # stale builds must never be mistaken for this run's
    for name in (BUILDS_DIR, ".tmp", ".cache"):
        if (workdir / name).is_symlink():
            _remove(workdir / name)
        (workdir / name).mkdir(exist_ok=True)


class _Progress:
    """What the runner has reported so far, accepted only in protocol order.

    Events come from the sandboxed process, which the script controls; out-of-order or
    repeated events are ignored so a script cannot stretch its deadlines.
    """

    def __init__(self, requests: list[BuildRequest], limits: SandboxLimits, launched: float) -> None:
        self.requests = requests
        self.limits = limits
        self.launched = launched
        self.ready: float | None = None
        self.imported: float | None = None
        self.current: int | None = None
        self.started_at = 0.0
        self.last_done: float | None = None
        self.seconds: list[float] = []
        self.error: RunnerEvent | None = None
        self.error_index: int | None = None
        self.violation: RunnerEvent | None = None
        self.finished = False

    @property
    def closed(self) -> bool:
        return self.error is not None or self.violation is not None or self.finished

    def accept(self, event: RunnerEvent, now: float) -> None:
        if event.event == "violation":
            self.violation = self.violation or event
            return
        if self.closed:
            return
        if event.event == "ready" and self.ready is None:
            self.ready = now
        elif event.event == "imported" and self.ready is not None and self.imported is None:
            self.imported = now
        elif event.event == "start" and self._can_start(event.index):
            self.current, self.started_at = event.index, now
        elif event.event == "done" and self.current is not None and event.index == self.current:
            self.seconds.append(now - self.started_at)
            self.current, self.last_done = None, now
        elif event.event == "error" and self.ready is not None:
            self.error, self.error_index = event, self.current
        elif (
            event.event == "finished"
            and len(self.seconds) == len(self.requests)
            and self.imported is not None
        ):
            self.finished = True

    def _can_start(self, index: int | None) -> bool:
        expected = len(self.seconds)
        return self.imported is not None and self.current is None and index == expected < len(self.requests)

    def deadline(self) -> float:
        if self.ready is None:
            return self.launched + max(self.limits.timeout_s, IMPORT_ALLOWANCE_S)
        # The script's import counts toward the first build; each later build gets a fresh allowance.
        return (self.last_done or self.ready) + self.limits.timeout_s

    def phase(self) -> tuple[str, BuildRequest | None]:
        """What the sandbox is doing now: a description and the request at fault, if any."""
        if self.ready is None:
            return "starting the sandbox", None
        if self.imported is None:
            return "importing the script", None
        index = self.current if self.current is not None else len(self.seconds)
        if index < len(self.requests):
            request = self.requests[index]
            return f"build(seed={request.seed}, scale={request.scale})", request
        return "finishing after the last build", None


class _Run:
    """The outcome of waiting for the sandboxed process."""

    def __init__(self, progress: _Progress, returncode: int, timed_out: bool, killed: bool) -> None:
        self.progress = progress
        self.returncode = returncode
        self.timed_out = timed_out
        self.killed = killed


class _ProtocolReader:
    """Splits protocol bytes into lines and hands well-formed events to a :class:`_Progress`."""

    def __init__(self, progress: _Progress) -> None:
        self.progress = progress
        self.buffer = bytearray()
        self.budget = MAX_PROTOCOL_BYTES

    def feed(self, chunk: bytes) -> None:
        self.budget -= len(chunk)
        if self.budget < 0:
            return  # past the protocol budget: keep draining the pipe, stop parsing
        self.buffer += chunk
        while (newline := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[:newline])
            del self.buffer[: newline + 1]
            try:
                event = RunnerEvent.model_validate_json(line)
            except ValidationError:
                continue  # the script wrote garbage to the protocol fd
            self.progress.accept(event, time.monotonic())
        if len(self.buffer) > MAX_EVENT_BYTES:
            self.buffer.clear()


def _has_exited(pid: int) -> bool:
    # WNOWAIT leaves the zombie in place, so the process group id stays valid for killpg.
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _monitor(proc: subprocess.Popen[bytes], read_fd: int, progress: _Progress) -> _Run:
    """Read progress until the process ends, killing its whole group at a deadline or violation."""
    poller = select.poll()
    poller.register(read_fd, select.POLLIN | select.POLLHUP)
    reader = _ProtocolReader(progress)
    eof, exited_at, timed_out, killed = False, None, False, False
    while True:
        now = time.monotonic()
        if progress.violation is not None:
            killed = True
            break
        if exited_at is None and _has_exited(proc.pid):
            exited_at = now
        if exited_at is not None and (eof or now - exited_at > EXIT_GRACE_S):
            break
        if now >= progress.deadline():
            timed_out = killed = True
            break
        wait_ms = max(1, int(min(progress.deadline() - now, 0.25) * 1000))
        if eof:
            time.sleep(wait_ms / 1000)
        elif poller.poll(wait_ms):
            chunk = os.read(read_fd, 65536)
            if chunk:
                reader.feed(chunk)
            else:
                eof = True
    # Also reaps anything the script left behind in the group (unshare/none modes).
    _kill_group(proc.pid)
    returncode = proc.wait()
    if not eof:
        _await_eof(poller, read_fd, reader)
    return _Run(progress, returncode, timed_out, killed)


def _await_eof(poller: select.poll, read_fd: int, reader: _ProtocolReader) -> None:
    """Wait briefly until no process holds the protocol pipe, so none can still be writing files."""
    give_up = time.monotonic() + EXIT_GRACE_S
    while (remaining := give_up - time.monotonic()) > 0:
        if poller.poll(max(1, int(remaining * 1000))):
            chunk = os.read(read_fd, 65536)
            if not chunk:
                return
            reader.feed(chunk)


def _tail(stream: IO[bytes]) -> str:
    size = os.fstat(stream.fileno()).st_size
    data = os.pread(stream.fileno(), TAIL_BYTES, max(0, size - TAIL_BYTES))
    return data.decode("utf-8", errors="replace")


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    """Read a file the sandbox wrote, refusing links, FIFOs, devices and oversize files."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise ValueError(f"{path.name} is not a plain file")
        if info.st_size > max_bytes:
            raise ValueError(f"{path.name} is {info.st_size} bytes, over the {max_bytes}-byte limit")
        chunks, remaining = [], max_bytes + 1
        while remaining > 0 and (chunk := os.read(fd, min(remaining, 1 << 20))):
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ValueError(f"{path.name} grew over the {max_bytes}-byte limit")
    return data


def _plain_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _load_build(workdir: Path, index: int, request: BuildRequest) -> SceneRecord:
    """Validate one build directory exactly as the checker will; raises ValueError."""
    directory = workdir / BUILDS_DIR / str(index)
    if not (_plain_directory(workdir / BUILDS_DIR) and _plain_directory(directory)):
        raise ValueError(f"{BUILDS_DIR}/{index} is not a plain directory")
    try:
        record = SceneRecord.model_validate_json(
            _read_regular_file(directory / SCENE_FILE, MAX_SCENE_JSON_BYTES)
        )
    except (OSError, ValidationError) as exc:
        raise ValueError(f"{SCENE_FILE} is invalid: {exc}") from None
    if record.seed != request.seed or record.scale != request.scale:
        raise ValueError(f"{SCENE_FILE} is for seed={record.seed}, scale={record.scale}")
    for body in record.bodies:
        try:
            info = os.lstat(directory / body.brep)
        except OSError:
            raise ValueError(f"{body.brep} for {body.label!r} is missing") from None
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size == 0:
            raise ValueError(f"{body.brep} for {body.label!r} is not a non-empty plain file")
    return record


def _signal_of(returncode: int, mode: IsolationMode) -> int | None:
    if returncode < 0:
        return -returncode
    if mode == "bwrap" and returncode > 128:
        return returncode - 128  # bwrap reports a signalled child as 128 + signal
    return None


def _crash_verdict(run: _Run, mode: IsolationMode, where: str, stderr_tail: str) -> tuple[SandboxStatus, str]:
    """Name the status of a process that ended without reporting why."""
    sig = _signal_of(run.returncode, mode)
    if run.returncode == VIOLATION_EXIT_CODE:
        return "sandbox_violation", f"{where} attempted a forbidden operation"
    if sig == signal.SIGXCPU:
        return "timeout", f"{where} exceeded the CPU-time limit"
    if sig == signal.SIGKILL:
        return "resource_limit", f"{where} was killed (SIGKILL), most likely for running out of memory"
    if any(hint in stderr_tail for hint in MEMORY_HINTS):
        return "resource_limit", f"{where} ran out of memory (exit status {run.returncode})"
    if sig is not None:
        return "script_error", f"{where} crashed the interpreter ({signal.Signals(sig).name})"
    if run.returncode == 0:
        return "script_error", f"{where} ended the process early"
    return "script_error", f"{where} ended the process with exit status {run.returncode}"


def _verdict(
    run: _Run, mode: IsolationMode, limits: SandboxLimits, workdir: Path, stderr_tail: str
) -> tuple[SandboxStatus, str, str | None, BuildRequest | None, list[BuildOutcome]]:
    """Turn what happened into (status, message, traceback, failed request, validated builds)."""
    progress = run.progress
    where, at_fault = progress.phase()
    if progress.violation is not None or run.returncode == VIOLATION_EXIT_CODE:
        what = progress.violation.message if progress.violation else "attempted a forbidden operation"
        return "sandbox_violation", f"{where} {what}", None, at_fault, []
    builds: list[BuildOutcome] = []
    for index, seconds in enumerate(progress.seconds):
        request = progress.requests[index]
        try:
            _load_build(workdir, index, request)
        except ValueError as exc:
            message = f"build(seed={request.seed}, scale={request.scale}) produced invalid output: {exc}"
            return "contract_error", message, None, request, builds
        directory = workdir / BUILDS_DIR / str(index)
        builds.append(
            BuildOutcome(seed=request.seed, scale=request.scale, directory=directory, seconds=seconds)
        )
    if progress.ready is None:
        why = "in time" if run.timed_out else f"(exit status {run.returncode})"
        raise SandboxError(f"the sandbox runtime did not start {why}: {stderr_tail[-2000:]}")
    if run.timed_out:
        limit = f"the {limits.timeout_s:g} s timeout"
        return "timeout", f"{where} exceeded {limit}", None, at_fault, builds
    if progress.error is not None:
        error = progress.error
        failed = progress.requests[progress.error_index] if progress.error_index is not None else None
        return error.status or "script_error", error.message, error.traceback, failed, builds
    if progress.finished and run.returncode == 0:
        count = len(builds)
        return "ok", f"{count} build{'s' if count != 1 else ''} completed", None, None, builds
    status, message = _crash_verdict(run, mode, where, stderr_tail)
    return status, message, None, at_fault, builds


def run_script(
    script: Path,
    requests: list[BuildRequest],
    workdir: Path,
    limits: SandboxLimits | None = None,
    *,
    mode: IsolationMode | None = None,
) -> SandboxResult:
    """Run ``build(seed, scale)`` of an untrusted script for every request in one sandboxed process.

    The script is copied into ``workdir`` (which the caller owns and cleans up) and each
    completed build lands in ``workdir/builds/<index>/`` as ``scene.json`` plus
    ``body_<n>.brep`` files, parts in order then the payload. The run stops at the first
    failing request; builds before it are returned, each already validated as a
    :class:`SceneRecord`. ``mode`` forces an isolation mode (default: the strongest
    usable one, see :func:`isolation_report`).

    Raises :class:`SandboxError` when the sandbox itself cannot start.
    """
    limits = limits or SandboxLimits()
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    _check_workdir(workdir)
    if mode is None:
        mode = _select_mode()
    _prepare_workdir(script, requests, workdir)
    read_fd, write_fd = os.pipe()
    memory = limits.memory_mb * 1024 * 1024
    started = time.monotonic()
    try:
        with open(workdir / STDOUT_FILE, "xb+") as out, open(workdir / STDERR_FILE, "xb+") as err:
            command = _wrap(mode, workdir, _python_command(workdir, write_fd), _bwrap_features())
            try:
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=workdir,
                    env=_child_env(workdir),
                    pass_fds=(write_fd,),
                    start_new_session=True,
                    preexec_fn=functools.partial(
                        _apply_rlimits, memory, _cpu_backstop(limits, len(requests))
                    ),
                )
            except OSError as exc:
                raise SandboxError(f"could not start the sandbox: {exc}") from exc
            os.close(write_fd)
            write_fd = -1
            run = _monitor(proc, read_fd, _Progress(requests, limits, started))
            stdout_tail, stderr_tail = _tail(out), _tail(err)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    status, message, tb, failed, builds = _verdict(run, mode, limits, workdir, stderr_tail)
    progress = run.progress
    return SandboxResult(
        status=status,
        message=message,
        traceback=tb,
        failed=failed,
        builds=builds,
        stdout_tail=stdout_tail,
        stderr_tail=stderr_tail,
        isolation=ISOLATION_DESCRIPTIONS[mode],
        import_seconds=(progress.imported or time.monotonic()) - started,
        wall_seconds=time.monotonic() - started,
    )
