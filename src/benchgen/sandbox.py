"""Run an untrusted scenario script in a sandboxed process and collect its builds as data.

The caller never imports the script and never unpickles anything. One sandboxed
process per script imports build123d once, then runs ``build(seed, scale)`` for every
request; each build becomes ``scene.json`` (a :class:`benchgen.scene.SceneRecord`) plus
one BREP file per body, which the parent copies, validated, to ``workdir/builds/<index>/``.

Isolation has three layers:

1. OS: bubblewrap (new user, network, pid, ipc, uts and cgroup namespaces; read-only
   system and Python binds; a read-only root; cleared environment). The only writable
   place is the script's working directory, a size-limited tmpfs (the disk quota) that
   the host never sees: the runner hands the parent a directory fd and the parent copies
   each finished build out of it. Resource limits (address space, CPU, file size, no
   core dumps) apply too, and the parent keeps every deadline on its own clock.
2. Kernel: a seccomp filter (:mod:`benchgen.seccomp`), installed before the script is
   imported, parks every forbidden system call and notifies the parent, which reports
   it as ``sandbox_violation`` naming the call, and counts threads against a cap.
3. In-process: :mod:`benchgen.sandbox_runner` installs an audit hook that ends the
   process on network use, process creation, ctypes/cffi, native code it wrote itself,
   writes outside the workdir or reads of another process's ``/proc`` entries.

Without bubblewrap and seccomp nothing untrusted runs unless the caller opts in loudly
(``unsafe_no_isolation=True``, ``$BENCHGEN_UNSAFE_NO_ISOLATION=1`` or the CLI's
``--unsafe-no-isolation``); then ``unshare`` namespaces or nothing but the hooks.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import importlib.util
import os
import resource
import select
import shutil
import signal
import site
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

from pydantic import BaseModel, Field, ValidationError

import benchgen
from benchgen import seccomp
from benchgen.errors import InfrastructureError
from benchgen.sandbox_runner import (
    BUILDS_DIR,
    JOB_FILE,
    SCRIPT_FILE,
    SETUP_FAILURE_EXIT_CODE,
    VIEWS_DIR,
    VIOLATION_EXIT_CODE,
    ZYGOTE_MAX_FDS,
    ZYGOTE_MAX_MESSAGE,
    JobKind,
    RunnerEvent,
    RunnerJob,
    SpawnRequest,
)
from benchgen.sandbox_runner import ZygoteEvent as RunnerZygoteEvent
from benchgen.scene import MAX_SCENE_JSON_BYTES, SCENE_FILE, SceneRecord
from benchgen.solution import DESIGN_FILE, MAX_DESIGN_JSON_BYTES, DesignRecord

IsolationMode = Literal["bwrap", "unshare", "none"]
SandboxStatus = Literal[
    "ok", "script_error", "contract_error", "timeout", "resource_limit", "sandbox_violation"
]

UNSAFE_ENV = "BENCHGEN_UNSAFE_NO_ISOLATION"
"""Set to 1 to let untrusted code run without bubblewrap and seccomp (what ``--unsafe-no-isolation`` sets)."""
IMPORT_ALLOWANCE_S = 120.0
"""Wall time for the interpreter to start and import build123d (~4 s here), before any script code runs."""
EXIT_GRACE_S = 2.0
TAIL_BYTES = 4096
FILE_SIZE_LIMIT_BYTES = 1 << 30
"""Largest file the sandbox may write (RLIMIT_FSIZE); under bubblewrap the disk quota is the tighter bound."""
DISK_FULL_SLACK_BYTES = 1 << 20
"""A run that failed with less than this left on its tmpfs is judged to have hit the disk quota."""
TMP_BYTES = 1 << 20
"""Size of the sandbox's private /tmp; the script's TMPDIR is in its workdir, and writes to /tmp are violations."""
MAX_EVENT_BYTES = 1 << 20
MAX_PROTOCOL_BYTES = 64 << 20
MAX_PASSED_FDS = 4
SANDBOX_ID = "1000"
SANDBOX_DIR = "/sandbox"
"""The script's working directory inside bubblewrap: the quota-limited tmpfs."""
HOST_SANDBOX_DIR = "sandbox"
"""Under the caller's workdir: the run's inputs (and, without bubblewrap, the script's working directory)."""
PROBE_MARKER = b"benchgen-sandbox-ok"
LOADER_HASH_SEED = 0
"""The template geometry loaders are forked from (the one of a check's main run)."""
REPEAT_HASH_SEED = 0x5EED
"""``PYTHONHASHSEED`` of a check's second sandbox process, the determinism repeat (the first uses 0)."""

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
HOW_TO_ISOLATE = (
    "install bubblewrap and libseccomp2 (Debian/Ubuntu: apt-get install bubblewrap libseccomp2) and allow "
    "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also "
    "kernel.apparmor_restrict_unprivileged_userns=0; in Docker, run the container with "
    "--security-opt seccomp=unconfined --security-opt apparmor=unconfined or use Podman); "
    "on macOS run benchgen in a Linux VM or container"
)


class BuildRequest(BaseModel):
    """One call of the script's ``build(seed, scale)``."""

    seed: int
    scale: float = Field(gt=0, allow_inf_nan=False)


class SandboxLimits(BaseModel):
    """Limits for one sandboxed run."""

    timeout_s: float = Field(default=60.0, gt=0)
    """Wall time allowed per ``build()`` call; importing the script counts toward the first.

    Kept by the parent's clock alone: a build's allowance starts when the parent has copied
    and validated the previous build (or when the runtime became ready), and the whole run
    never outlasts the runtime's start-up allowance plus one ``timeout_s`` per request.
    """
    memory_mb: int = Field(default=4096, gt=0)
    """Address-space and data-segment limit of the sandboxed process."""
    disk_mb: int = Field(default=512, gt=0)
    """Size of the tmpfs that is the script's whole writable disk (bubblewrap only); it is RAM-backed."""
    max_threads: int = Field(default=32, ge=1)
    """Threads the sandboxed process may run at once; processes it may not start at all."""


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
    warm: bool = False
    """The process was forked from a warm template (see :class:`SandboxPool`) rather than started cold."""


class SandboxError(InfrastructureError, RuntimeError):
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
    return set(_bwrap_features_of(shutil.which("bwrap")))


@functools.lru_cache(maxsize=4)
def _bwrap_features_of(bwrap: str | None) -> frozenset[str]:
    """The optional flags this bubblewrap binary knows (asked once per binary and process)."""
    if bwrap is None:
        return frozenset()
    try:
        help_text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(flag for flag in ("--disable-userns", "--size") if flag in help_text)


def _child_env(workdir: Path, hash_seed: int = 0) -> dict[str, str]:
    """The whole environment of the sandboxed process: nothing of the caller's leaks in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(workdir / ".tmp"),
        "XDG_CACHE_HOME": str(workdir / ".cache"),
        "MPLBACKEND": "Agg",
        # Scripts must be deterministic per seed; string hashing must not vary between runs
        # (the checker's determinism repeat picks another seed to catch scripts that depend on it).
        "PYTHONHASHSEED": str(hash_seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        # Processes are forbidden; without this joblib warns that it cannot use /dev/shm.
        "JOBLIB_MULTIPROCESSING": "0",
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


def _bwrap_command(
    env: dict[str, str],
    command: list[str],
    features: set[str],
    disk_bytes: int,
    inputs: Iterable[Path],
    zygote: bool = False,
) -> list[str]:
    """Bubblewrap around ``command``: nothing writable but a ``disk_bytes`` tmpfs at :data:`SANDBOX_DIR`.

    A ``zygote`` gets no workdir (each child mounts its own tmpfs there) and may create the
    user namespaces its children need; the children's seccomp filter forbids any further
    one. It does not die with the thread that started it (it is shared by every thread of
    the process): it exits when the parent's end of its control socket closes.
    """
    args = ["bwrap", "--unshare-all", "--unshare-user", "--uid", SANDBOX_ID, "--gid", SANDBOX_ID]
    if "--disable-userns" in features and not zygote:
        args.append("--disable-userns")
    args += ["--cap-drop", "ALL"] + ([] if zygote else ["--die-with-parent"])
    args += ["--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    # /dev is a tmpfs too: read-only, so its device nodes work but it holds no files. /tmp
    # comes before the binds (the Python may live under /tmp) and is tiny: writing there is a
    # violation anyway, TMPDIR points into the workdir.
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    args += ["--size", str(TMP_BYTES), "--tmpfs", "/tmp"] if "--size" in features else ["--tmpfs", "/tmp"]
    args += ["--ro-bind", "/usr", "/usr"]
    for link in ROOT_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for name in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in _python_paths():
        args += ["--ro-bind", str(path), str(path)]
    if zygote:
        args += ["--dir", SANDBOX_DIR]
    else:
        if "--size" in features:
            args += ["--size", str(disk_bytes)]
        args += ["--tmpfs", SANDBOX_DIR]
    for path in inputs:
        args += ["--ro-bind", str(path), f"{SANDBOX_DIR}/{path.name}"]
    # The root itself (a tmpfs bwrap made) becomes read-only.
    args += ["--remount-ro", "/", "--chdir", "/" if zygote else SANDBOX_DIR]
    return [*args, "--", *command]


def _unshare_command(command: list[str]) -> list[str]:
    return ["unshare", "--net", "--pid", "--fork", "--map-root-user", "--kill-child", "--", *command]


class _Plan(NamedTuple):
    """How one run is isolated."""

    mode: IsolationMode
    seccomp: bool
    quota: bool
    """Whether the workdir is a size-limited tmpfs (bubblewrap with ``--size``)."""


def _probe(mode: IsolationMode, features: set[str]) -> tuple[bool, str]:
    """Start the real interpreter once under ``mode``; return whether it worked and why not."""
    tool = "bwrap" if mode == "bwrap" else "unshare"
    if shutil.which(tool) is None:
        return False, f"{tool} not found on PATH"
    command = [sys.executable, "-s", "-P", "-B", "-c", f"print({PROBE_MARKER.decode()!r})"]
    with tempfile.TemporaryDirectory(prefix="benchgen-probe-") as tmp:
        workdir = Path(tmp).resolve()
        if mode == "bwrap":
            env = _child_env(Path(SANDBOX_DIR))
            command = _bwrap_command(env, command, features, 1 << 20, [])
        else:
            env, command = _child_env(workdir), _unshare_command(command)
        try:
            proc = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, cwd=workdir, env=env, timeout=60
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return False, str(exc)
    if proc.returncode == 0 and proc.stdout.strip() == PROBE_MARKER:
        return True, "usable"
    detail = " ".join(proc.stderr.decode(errors="replace").split())[-500:]
    return False, detail or f"exit status {proc.returncode}"


_USABLE_BWRAP: set[tuple[str, frozenset[str]]] = set()
"""Bubblewrap binaries (and feature sets) a probe found working in this process."""


def _probe_bwrap(features: set[str]) -> tuple[bool, str]:
    """:func:`_probe` for bubblewrap, remembered once it worked: every run asks, and the answer does not change."""
    key = (shutil.which("bwrap") or "", frozenset(features))
    if key in _USABLE_BWRAP:
        return True, "usable"
    usable, detail = _probe("bwrap", features)
    if usable:
        _USABLE_BWRAP.add(key)
    return usable, detail


def unsafe_opt_in() -> bool:
    """Whether ``$BENCHGEN_UNSAFE_NO_ISOLATION`` allows running untrusted code without isolation."""
    return os.environ.get(UNSAFE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _refusal(why: str) -> SandboxError:
    return SandboxError(
        f"refusing to run untrusted code without kernel isolation: {why[:300]}; "
        f"run `benchgen doctor` for how to enable it, or pass --unsafe-no-isolation "
        f"({UNSAFE_ENV}=1) to run it anyway"
    )


def _plan(mode: IsolationMode | None, allow_unsafe: bool) -> _Plan:
    """The isolation of a run; raises :class:`SandboxError` instead of silently running with less."""
    features = _bwrap_features()
    filter_ok, filter_detail = seccomp.availability()
    quota = "--size" in features
    if mode in (None, "bwrap"):
        bwrap_ok, bwrap_detail = _probe_bwrap(features)
        if bwrap_ok and filter_ok:
            return _Plan("bwrap", True, quota)
        if not allow_unsafe:
            why = f"bubblewrap is not usable ({bwrap_detail})" if not bwrap_ok else ""
            why = why or f"the seccomp filter is not usable ({filter_detail})"
            raise _refusal(why)
        if bwrap_ok:
            return _Plan("bwrap", False, quota)
        if mode == "bwrap":
            raise SandboxError(f"bubblewrap is not usable: {bwrap_detail}")
        mode = "unshare" if _probe("unshare", features)[0] else "none"
    elif not allow_unsafe:
        raise _refusal(f"isolation mode {mode!r} was asked for")
    return _Plan(mode, filter_ok, False)


def describe_isolation(plan: _Plan, limits: SandboxLimits) -> str:
    """One line saying what protects the host during a run."""
    kernel = (
        f"seccomp (forbidden system calls reported; at most {limits.max_threads} threads, no processes)"
        if plan.seccomp
        else "NO seccomp filter"
    )
    if plan.mode == "bwrap":
        disk = f"a {limits.disk_mb} MB tmpfs" if plan.quota else "a tmpfs without size limit (old bubblewrap)"
        text = (
            "bubblewrap (user, net, pid, ipc, uts, cgroup namespaces; read-only system; "
            f"the workdir is {disk}, nothing else writable; cleared environment)"
        )
    elif plan.mode == "unshare":
        text = "unshare (user, net, pid namespaces; cleared environment; the host file system is visible)"
    else:
        text = "no OS isolation: cleared environment only"
    text = f"{text} + {kernel} + audit hooks + rlimits"
    if plan.mode != "bwrap" or not plan.seccomp:
        text = f"UNSAFE, explicitly allowed (--unsafe-no-isolation): {text}"
    return text


def isolation_report() -> dict[str, str | bool]:
    """Which isolation :func:`run_script` will use, found by actually trying bwrap, unshare and seccomp.

    Keys: ``bwrap_usable``/``bwrap_detail``, ``unshare_usable``/``unshare_detail``,
    ``seccomp_usable``/``seccomp_detail``, ``disk_quota`` (bubblewrap can size the tmpfs),
    ``isolated`` (untrusted code runs without an opt-in), ``mode`` (the strongest usable:
    ``bwrap``, ``unshare`` or ``none``), ``isolation`` (a description of a default run),
    ``unsafe_opt_in`` (``$BENCHGEN_UNSAFE_NO_ISOLATION`` is set) and ``bytecode_cached``
    (whether the sandbox can skip compiling build123d on every run).
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
    filter_ok, filter_detail = seccomp.availability()
    report["seccomp_usable"], report["seccomp_detail"] = filter_ok, filter_detail
    report["disk_quota"] = "--size" in features
    report["isolated"] = mode == "bwrap" and filter_ok
    report["mode"] = mode
    report["isolation"] = describe_isolation(
        _Plan(mode, filter_ok, mode == "bwrap" and "--size" in features), SandboxLimits()
    )
    report["unsafe_opt_in"] = unsafe_opt_in()
    report["bytecode_cached"] = _bytecode_cached()
    return report


def require_isolation(unsafe_no_isolation: bool = False) -> str:
    """Raise :class:`SandboxError` (one line) unless untrusted code may run here: an up-front check.

    Returns the description of the isolation a run will get (``UNSAFE...`` when only the
    opt-in allows it).
    """
    return describe_isolation(_plan(None, unsafe_no_isolation or unsafe_opt_in()), SandboxLimits())


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


def _prepare_workdir(
    script: Path, requests: list[BuildRequest], workdir: Path, plan: _Plan, kind: JobKind, views: Path | None
) -> Path:
    """Lay out a fresh run and return its input directory; a reused workdir may hold planted links."""
    job = RunnerJob(
        script=SCRIPT_FILE, requests=[(r.seed, r.scale) for r in requests], kind=kind, seccomp=plan.seccomp
    )
    host = workdir / HOST_SANDBOX_DIR
    for name in (HOST_SANDBOX_DIR, BUILDS_DIR):
        _remove(workdir / name)  # stale builds must never be mistaken for this run's
        (workdir / name).mkdir()
    files = {SCRIPT_FILE: script.read_bytes(), JOB_FILE: job.model_dump_json().encode()}
    for name, data in files.items():
        with open(host / name, "xb") as handle:  # O_EXCL: never writes through a link
            handle.write(data)
    if views is not None:
        # The trusted side wrote the views; a copy keeps the sandbox away from the originals.
        shutil.copytree(views, host / VIEWS_DIR, symlinks=False)
    return host


def _open_dir(name: str, dir_fd: int) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def _read_plain(name: str, dir_fd: int, max_bytes: int) -> bytes:
    """Read a file the sandbox wrote, refusing links, FIFOs, devices and oversize files."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        raise ValueError(f"{name} cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise ValueError(f"{name} is not a plain file")
        if info.st_size > max_bytes:
            raise ValueError(f"{name} is {info.st_size} bytes, over the {max_bytes}-byte limit")
        chunks, remaining = [], max_bytes + 1
        while remaining > 0 and (chunk := os.read(fd, min(remaining, 1 << 20))):
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ValueError(f"{name} grew over the {max_bytes}-byte limit")
    return data


def _collect_build(
    root_fd: int, index: int, request: BuildRequest, dest: Path, max_bytes: int, kind: JobKind = "scenario"
) -> None:
    """Copy build ``index`` out of the sandbox's workdir into ``dest``, validating it; raises ValueError.

    The copy is what gets judged, so nothing the script does afterwards can change it.
    """
    fds: list[int] = []
    record: SceneRecord | DesignRecord
    try:
        try:
            fds.append(_open_dir(BUILDS_DIR, root_fd))
            fds.append(_open_dir(str(index), fds[-1]))
        except OSError:
            raise ValueError(f"{BUILDS_DIR}/{index} is not a plain directory") from None
        name = DESIGN_FILE if kind == "design" else SCENE_FILE
        data = _read_plain(name, fds[-1], MAX_DESIGN_JSON_BYTES if kind == "design" else MAX_SCENE_JSON_BYTES)
        try:
            record = (
                DesignRecord.model_validate_json(data)
                if kind == "design"
                else SceneRecord.model_validate_json(data)
            )
        except ValidationError as exc:
            raise ValueError(f"{name} is invalid: {exc}") from None
        if record.seed != request.seed or record.scale != request.scale:
            raise ValueError(f"{name} is for seed={record.seed}, scale={record.scale}")
        files = {name: data}
        bodies = record.parts if isinstance(record, DesignRecord) else record.bodies
        for body in bodies:
            files[body.brep] = _read_plain(body.brep, fds[-1], max_bytes)
            if not files[body.brep]:
                raise ValueError(f"{body.brep} for {body.label!r} is empty")
    finally:
        for fd in fds:
            os.close(fd)
    dest.mkdir()
    for name, data in files.items():
        with open(dest / name, "xb") as handle:
            handle.write(data)


# --- warm runtimes (zygotes) -------------------------------------------------------------------

WARM_ENV = "BENCHGEN_WARM_SANDBOX"
"""Set to 0 to start a cold interpreter for every run instead of forking a warm template."""
ZYGOTE_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def warm_enabled() -> bool:
    """Whether runs fork a warm template (``$BENCHGEN_WARM_SANDBOX``, default on)."""
    return os.environ.get(WARM_ENV, "").strip().lower() not in ("0", "false", "no", "off")


def _zygote_rlimits() -> None:
    """The template itself runs only trusted code; its children set their own limits."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT_BYTES, FILE_SIZE_LIMIT_BYTES))


def _inputs_memfd(host: Path) -> tuple[int, list[tuple[str, int]]]:
    """Every file under ``host`` back to back in a sealed memfd, with (relative path, size) in order."""
    fd = os.memfd_create("benchgen-inputs", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    inputs: list[tuple[str, int]] = []
    try:
        for path in sorted(p for p in host.rglob("*") if p.is_file() and not p.is_symlink()):
            data = path.read_bytes()
            inputs.append((path.relative_to(host).as_posix(), len(data)))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, ZYGOTE_SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd, inputs


class _Zygote:
    """A warm sandbox runtime: ``sandbox_runner --zygote`` under bubblewrap, forking one child per job.

    Shared by every thread of the process; spawning is serialized, children run side by side.
    A reader thread collects the zygote's events: spawn replies and child exits.
    """

    def __init__(self, hash_seed: int, features: set[str]) -> None:
        self.hash_seed = hash_seed
        self.control, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        env = _child_env(Path(SANDBOX_DIR), hash_seed)
        python = [*_python_command(Path(SANDBOX_DIR), child.fileno())[:7], "--zygote", str(child.fileno())]
        command = _bwrap_command(env, python, features, 0, [], zygote=True)
        self._spawning = threading.Lock()
        self._events = threading.Condition()
        self._replies: list[tuple[RunnerZygoteEvent, list[int]]] = []
        self._exits: dict[int, int] = {}
        self.dead: str | None = None
        try:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                cwd="/",
                env=env,
                pass_fds=(child.fileno(),),
                start_new_session=True,
                preexec_fn=_zygote_rlimits,
            )
        except OSError as exc:
            child.close()
            self.close()
            raise SandboxError(f"could not start the sandbox: {exc}") from exc
        child.close()
        try:
            ready = self._await_ready()
        except BaseException:
            self.close()
            raise
        self.nested = bool(ready.nested)
        threading.Thread(target=self._read_events, name="benchgen-zygote-events", daemon=True).start()

    def _stderr_tail(self) -> str:
        with contextlib.suppress(OSError):
            self._stderr.seek(0)
            return self._stderr.read()[-2000:].decode(errors="replace")
        return ""

    def _receive(self, timeout: float | None) -> tuple[RunnerZygoteEvent, list[int]] | None:
        if timeout is not None and not select.select([self.control], [], [], max(timeout, 0.0))[0]:
            return None
        data, fds, _flags, _address = socket.recv_fds(self.control, ZYGOTE_MAX_MESSAGE, ZYGOTE_MAX_FDS)
        for fd in fds:
            os.set_inheritable(fd, False)
        if not data:
            _close_all(fds)
            raise EOFError("the sandbox runtime closed its control socket")
        try:
            return RunnerZygoteEvent.model_validate_json(data), fds
        except ValidationError:
            _close_all(fds)
            raise EOFError("the sandbox runtime answered garbage") from None

    def _await_ready(self) -> RunnerZygoteEvent:
        deadline = time.monotonic() + IMPORT_ALLOWANCE_S
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got = self._receive(min(remaining, 0.25))
            except EOFError:
                got = None
                self.proc.wait()
            if got is not None and got[0].event == "ready":
                _close_all(got[1])
                return got[0]
            if self.proc.poll() is not None:
                break
        why = "in time" if self.proc.poll() is None else f"(exit status {self.proc.returncode})"
        raise SandboxError(f"the sandbox runtime did not start {why}: {self._stderr_tail()}")

    def _read_events(self) -> None:
        while True:
            try:
                got = self._receive(None)
            except (EOFError, OSError) as exc:
                with self._events:
                    self.dead = str(exc) or "the sandbox runtime ended"
                    self._events.notify_all()
                return
            assert got is not None
            event, fds = got
            with self._events:
                if event.event == "exited" and event.pid is not None and event.returncode is not None:
                    self._exits[event.pid] = event.returncode
                else:
                    self._replies.append((event, fds))
                self._events.notify_all()

    @property
    def alive(self) -> bool:
        return self.dead is None and self.proc.poll() is None

    def spawn(self, request: SpawnRequest, fds: list[int]) -> _ZygoteChild:
        """Ask for a child with ``fds`` (protocol, stdout, stderr, inputs memfd); raises SandboxError."""
        with self._spawning:
            try:
                socket.send_fds(self.control, [request.model_dump_json().encode()], fds)
            except OSError as exc:
                raise SandboxError(f"the sandbox runtime is gone: {exc}") from None
            deadline = time.monotonic() + 60.0
            with self._events:
                while not self._replies and self.dead is None and time.monotonic() < deadline:
                    self._events.wait(0.5)
                if not self._replies:
                    raise SandboxError(f"the sandbox runtime did not answer: {self.dead or 'timeout'}")
                event, got = self._replies.pop(0)
        if event.event != "spawned" or event.pid is None or len(got) != 1:
            _close_all(got)
            raise SandboxError(f"the sandbox runtime refused a job: {event.message or event.event}")
        return _ZygoteChild(self, event.pid, got[0])

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        """The return code of child ``pid`` once the zygote reaped it; None if it did not in time."""
        deadline = time.monotonic() + timeout
        with self._events:
            while pid not in self._exits and self.dead is None and (left := deadline - time.monotonic()) > 0:
                self._events.wait(left)
            return self._exits.pop(pid, None)

    def close(self) -> None:
        """Hang up: the zygote kills its children and exits; its sandbox goes with it."""
        with contextlib.suppress(OSError):
            # shutdown, not only close: the reader thread's pending recv holds the socket open.
            self.control.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.control.close()
        proc = getattr(self, "proc", None)
        if proc is not None:
            try:
                proc.wait(timeout=EXIT_GRACE_S)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.wait()
        self._stderr.close()


class _ZygoteChild:
    """One job's process, forked by a zygote; the parent holds its pidfd."""

    def __init__(self, zygote: _Zygote, pid: int, pidfd: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.pidfd = pidfd

    def exited(self) -> bool:
        return bool(select.select([self.pidfd], [], [], 0)[0])

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def wait(self) -> int:
        """Its return code, once the zygote has reaped it; raises SandboxError if the zygote died first."""
        try:
            code = self.zygote.wait_exit(self.pid, 30.0)
        finally:
            os.close(self.pidfd)
        if code is None:
            raise SandboxError(f"the sandbox runtime lost a job: {self.zygote.dead or 'no exit status'}")
        return code


class _PopenProcess:
    """A cold run's process (bubblewrap or the interpreter itself), in its own process group."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def exited(self) -> bool:
        return _has_exited(self.proc.pid)

    def kill(self) -> None:
        # Also reaps anything the script left behind in the group (unshare/none modes).
        _kill_group(self.proc.pid)

    def wait(self) -> int:
        return self.proc.wait()


class SandboxPool:
    """The warm runtimes of this process: one zygote per hash seed, started on first use, then reused.

    Starting an interpreter that imports build123d costs seconds; forking a prepared one
    costs milliseconds. Every run still gets a fresh process with its own namespaces,
    tmpfs, limits and seccomp filter (see :mod:`benchgen.sandbox_runner`). A zygote that
    dies is replaced on the next run. Closing the pool (at interpreter exit, or when the
    process dies) ends every zygote and its children.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._starting: dict[int, threading.Lock] = {}
        self._zygotes: dict[int, _Zygote] = {}
        self.cold_reason: str | None = None
        """Why runs start cold here (the kernel would not give a child its own namespaces), if they do."""

    def zygote(self, hash_seed: int, features: set[str]) -> _Zygote | None:
        """The live zygote for ``hash_seed`` (started now if needed), or None when children cannot be isolated."""
        with self._lock:
            starting = self._starting.setdefault(hash_seed, threading.Lock())
        with starting:
            with self._lock:
                current = self._zygotes.get(hash_seed)
                if self.cold_reason is not None:
                    return None
            if current is not None and current.alive:
                return current
            if current is not None:
                current.close()
            zygote = _Zygote(hash_seed, features)
            if not zygote.nested:
                zygote.close()
                with self._lock:
                    self.cold_reason = "a zygote's child cannot have its own user and mount namespaces here"
                return None
            with self._lock:
                self._zygotes[hash_seed] = zygote
            return zygote

    def close(self) -> None:
        """End every zygote (idempotent)."""
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            zygote.close()


_pool: SandboxPool | None = None
_pool_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """This process's :class:`SandboxPool` (a forked process gets its own; the parent's zygotes stay the parent's).

    Process-wide on purpose: the warm interpreters are a cache of processes, like a
    connection pool, and the checks of one worker process share them.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = SandboxPool()
            atexit.register(_pool.close)
        return _pool


class _Progress:
    """What the run has achieved, judged by the parent: its clock, its copies, the kernel's reports.

    Events come from the sandboxed process, which the script controls once ``ready`` is
    past. They only ever move the run forward when the parent can check them: a ``done``
    counts once the parent has copied and validated that build, so no event can stretch a
    deadline, and a forged one ends the run as a contract error.
    """

    def __init__(
        self,
        requests: list[BuildRequest],
        limits: SandboxLimits,
        launched: float,
        workdir: Path,
        plan: _Plan,
        kind: JobKind = "scenario",
    ) -> None:
        self.requests = requests
        self.kind: JobKind = kind
        self.verb = "design" if kind == "design" else "build"
        self.limits = limits
        self.launched = launched
        self.workdir = workdir
        self.plan = plan
        self.ready: float | None = None
        self.imported: float | None = None
        self.current: int | None = None
        self.done_at: list[float] = []
        self.root_fd: int | None = None
        self.listener: int | None = None
        self.error: RunnerEvent | None = None
        self.error_index: int | None = None
        self.violation: str | None = None
        self.limit: str | None = None
        self.invalid: tuple[int, str] | None = None
        self.finished = False
        start_up = max(limits.timeout_s, IMPORT_ALLOWANCE_S)
        self.start_deadline = launched + start_up
        self.run_deadline = launched + start_up + len(requests) * limits.timeout_s

    @property
    def closed(self) -> bool:
        return (
            any(x is not None for x in (self.error, self.violation, self.limit, self.invalid))
            or self.finished
        )

    @property
    def must_stop(self) -> bool:
        return any(x is not None for x in (self.violation, self.limit, self.invalid))

    def accept(self, event: RunnerEvent, now: float, fds: list[int]) -> None:
        if event.event == "violation":
            self.violation = self.violation or event.message or "attempted a forbidden operation"
            return
        if self.closed:
            return
        if event.event == "ready" and self.ready is None:
            self._take_fds(fds)
            if self.root_fd is not None:
                self.ready = now
        elif event.event == "imported" and self.ready is not None and self.imported is None:
            self.imported = now
        elif event.event == "start" and self.imported is not None:
            self.current = event.index
        elif event.event == "done" and self.imported is not None and event.index == len(self.done_at):
            self._collect(event.index, now)
        elif event.event == "error" and self.ready is not None:
            self.error = event
            pending = len(self.done_at)
            self.error_index = pending if self.current == pending else None
        elif event.event == "finished" and len(self.done_at) == len(self.requests):
            self.finished = True

    def _take_fds(self, fds: list[int]) -> None:
        """The ready event's fds: the workdir, then (with seccomp) the filter's listener."""
        expected = 2 if self.plan.seccomp else 1
        if len(fds) == expected:
            self.root_fd = fds[0]
            self.listener = fds[1] if self.plan.seccomp else None
            fds.clear()

    def _collect(self, index: int, now: float) -> None:
        if self.root_fd is None or index >= len(self.requests):
            return
        request = self.requests[index]
        dest = self.workdir / BUILDS_DIR / str(index)
        try:
            _collect_build(self.root_fd, index, request, dest, self.limits.disk_mb << 20, self.kind)
        except ValueError as exc:
            self.invalid = (
                index,
                f"{self.verb}(seed={request.seed}, scale={request.scale}) produced invalid output: {exc}",
            )
            return
        self.done_at.append(now)
        self.current = None

    def deadline(self) -> float:
        if self.ready is None:
            return self.start_deadline
        # The script's import counts toward the first build; each later build gets a fresh
        # allowance from the moment the parent validated the previous one.
        last = self.done_at[-1] if self.done_at else self.ready
        return min(last + self.limits.timeout_s, self.run_deadline)

    def disk_full(self) -> bool:
        if self.root_fd is None or not self.plan.quota:
            return False
        try:
            info = os.fstatvfs(self.root_fd)
        except OSError:
            return False
        return info.f_bavail * info.f_frsize < DISK_FULL_SLACK_BYTES

    def phase(self) -> tuple[str, BuildRequest | None]:
        """What the sandbox is doing now: a description and the request at fault, if any."""
        if self.ready is None:
            return "starting the sandbox", None
        if self.imported is None:
            return "importing the script", None
        index = len(self.done_at)
        if index < len(self.requests):
            request = self.requests[index]
            return f"{self.verb}(seed={request.seed}, scale={request.scale})", request
        return "finishing after the last build", None

    def close(self) -> None:
        for fd in (self.root_fd, self.listener):
            if fd is not None:
                os.close(fd)
        self.root_fd = self.listener = None


class _Run:
    """The outcome of waiting for the sandboxed process."""

    def __init__(
        self, progress: _Progress, returncode: int, timed_out: bool, stdout_tail: str, stderr_tail: str
    ) -> None:
        self.progress = progress
        self.returncode = returncode
        self.timed_out = timed_out
        self.stdout_tail = stdout_tail
        self.stderr_tail = stderr_tail


class _ProtocolReader:
    """Splits protocol bytes into lines and hands well-formed events to a :class:`_Progress`."""

    def __init__(self, progress: _Progress) -> None:
        self.progress = progress
        self.buffer = bytearray()
        self.budget = MAX_PROTOCOL_BYTES
        self.fds: list[int] = []

    def feed(self, chunk: bytes, fds: list[int]) -> None:
        if self.progress.ready is None:
            self.fds += fds
        else:
            _close_all(fds)  # only the ready event may carry fds
        self.budget -= len(chunk)
        if self.budget < 0:
            return  # past the protocol budget: keep draining the socket, stop parsing
        self.buffer += chunk
        while (newline := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[:newline])
            del self.buffer[: newline + 1]
            try:
                event = RunnerEvent.model_validate_json(line)
            except ValidationError:
                continue  # the script wrote garbage to the protocol socket
            self.progress.accept(event, time.monotonic(), self.fds)
            _close_all(self.fds)
        if len(self.buffer) > MAX_EVENT_BYTES:
            self.buffer.clear()

    def receive(self, sock: socket.socket) -> bool:
        """Read what is there; False at end of stream."""
        data, fds, _flags, _address = socket.recv_fds(sock, 65536, MAX_PASSED_FDS)
        for fd in fds:  # no later child of this process may inherit them
            os.set_inheritable(fd, False)
        if not data:
            _close_all(fds)
            return False
        self.feed(data, fds)
        return True


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


class _Tail:
    """The last :data:`TAIL_BYTES` of a stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        del self.data[:-TAIL_BYTES]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _has_exited(pid: int) -> bool:
    # WNOWAIT leaves the zombie in place, so the process group id stays valid for killpg.
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _thread_count(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _supervise(progress: _Progress) -> None:
    """Answer one call the kernel parked: a thread under the cap runs, anything else is a violation."""
    assert progress.listener is not None
    try:
        notification = seccomp.receive(progress.listener)
    except OSError:
        return
    if notification is None or progress.must_stop:
        return
    if seccomp.is_thread_creation(notification):
        # Every clone waits for this answer, so at most one per existing thread can overshoot.
        threads = _thread_count(notification.pid)
        if threads < progress.limits.max_threads:
            seccomp.let_continue(progress.listener, notification)
        else:
            progress.limit = f"tried to run more than {progress.limits.max_threads} threads"
        return
    progress.violation = f"made a forbidden system call: {seccomp.describe(notification)}"


class _Streams:
    """The fds the parent watches: protocol socket, seccomp listener, stdout and stderr pipes."""

    def __init__(self, sock: socket.socket, stdout_fd: int, stderr_fd: int) -> None:
        self.poller = select.poll()
        self.sock = sock
        self.tails = {stdout_fd: _Tail(), stderr_fd: _Tail()}
        self.open = {sock.fileno(), stdout_fd, stderr_fd}
        self.listener: int | None = None
        for fd in self.open:
            self.poller.register(fd, select.POLLIN)

    @property
    def protocol_open(self) -> bool:
        return self.sock.fileno() in self.open

    def watch_listener(self, listener: int | None) -> None:
        if listener is not None and self.listener is None:
            self.listener = listener
            self.open.add(listener)
            self.poller.register(listener, select.POLLIN)

    def _drop(self, fd: int) -> None:
        self.poller.unregister(fd)
        self.open.discard(fd)

    def pump(self, wait_s: float, reader: _ProtocolReader) -> None:
        """Wait up to ``wait_s`` and handle whatever is ready."""
        if not self.open:
            time.sleep(wait_s)
            return
        for fd, flags in self.poller.poll(max(1, int(wait_s * 1000))):
            if fd == self.listener:
                if flags & select.POLLIN:
                    _supervise(reader.progress)
                elif flags & (select.POLLHUP | select.POLLERR):
                    self._drop(fd)  # no process uses the filter any more
            elif fd == self.sock.fileno():
                if not reader.receive(self.sock):
                    self._drop(fd)
            else:
                chunk = os.read(fd, 65536)
                if chunk:
                    self.tails[fd].add(chunk)
                else:
                    self._drop(fd)
            self.watch_listener(reader.progress.listener)

    def tail(self, fd: int) -> str:
        return self.tails[fd].text()


class _Process(Protocol):
    """The sandboxed process as :func:`_monitor` sees it, cold (a Popen) or forked by a zygote."""

    def exited(self) -> bool: ...

    def kill(self) -> None: ...

    def wait(self) -> int: ...


def _monitor(proc: _Process, streams: _Streams, progress: _Progress) -> tuple[int, bool]:
    """Follow the run until the process ends, killing it (its whole group) at a deadline or violation."""
    reader = _ProtocolReader(progress)
    exited_at, timed_out = None, False
    while True:
        now = time.monotonic()
        if progress.must_stop:
            break
        if exited_at is None and proc.exited():
            exited_at = now
        if exited_at is not None and (not streams.protocol_open or now - exited_at > EXIT_GRACE_S):
            break
        if now >= progress.deadline():
            timed_out = True
            break
        streams.pump(min(progress.deadline() - now, 0.25), reader)
    proc.kill()
    returncode = proc.wait()
    # Wait briefly until no process holds the protocol socket or the output pipes.
    give_up = time.monotonic() + EXIT_GRACE_S
    while streams.open - {streams.listener} and (remaining := give_up - time.monotonic()) > 0:
        streams.pump(remaining, reader)
    _close_all(reader.fds)
    return returncode, timed_out


def _signal_of(returncode: int, mode: IsolationMode) -> int | None:
    if returncode < 0:
        return -returncode
    if mode == "bwrap" and returncode > 128:
        return returncode - 128  # bwrap reports a signalled child as 128 + signal
    return None


def _crash_verdict(run: _Run, mode: IsolationMode, where: str) -> tuple[SandboxStatus, str]:
    """Name the status of a process that ended without reporting why."""
    sig = _signal_of(run.returncode, mode)
    if run.returncode == VIOLATION_EXIT_CODE:
        return "sandbox_violation", f"{where} attempted a forbidden operation"
    if sig == signal.SIGSYS:
        return "sandbox_violation", f"{where} made a system call the sandbox forbids (SIGSYS)"
    if sig == signal.SIGXCPU:
        return "timeout", f"{where} exceeded the CPU-time limit"
    if sig == signal.SIGKILL:
        return "resource_limit", f"{where} was killed (SIGKILL), most likely for running out of memory"
    if any(hint in run.stderr_tail for hint in MEMORY_HINTS):
        return "resource_limit", f"{where} ran out of memory (exit status {run.returncode})"
    if sig is not None:
        return "script_error", f"{where} crashed the interpreter ({signal.Signals(sig).name})"
    if run.returncode == 0:
        return "script_error", f"{where} ended the process early"
    return "script_error", f"{where} ended the process with exit status {run.returncode}"


def _verdict(
    run: _Run, mode: IsolationMode, limits: SandboxLimits, workdir: Path
) -> tuple[SandboxStatus, str, str | None, BuildRequest | None, list[BuildOutcome]]:
    """Turn what happened into (status, message, traceback, failed request, validated builds)."""
    progress = run.progress
    where, at_fault = progress.phase()
    if progress.violation is not None or run.returncode == VIOLATION_EXIT_CODE:
        what = progress.violation or "attempted a forbidden operation"
        return "sandbox_violation", f"{where} {what}", None, at_fault, []
    if progress.ready is None:
        why = "in time" if run.timed_out else f"(exit status {run.returncode})"
        if run.returncode == SETUP_FAILURE_EXIT_CODE:
            why = "(it could not set itself up)"
        raise SandboxError(f"the sandbox runtime did not start {why}: {run.stderr_tail[-2000:]}")
    builds: list[BuildOutcome] = []
    previous = progress.ready
    for index, done in enumerate(progress.done_at):
        request = progress.requests[index]
        directory = workdir / BUILDS_DIR / str(index)
        builds.append(
            BuildOutcome(seed=request.seed, scale=request.scale, directory=directory, seconds=done - previous)
        )
        previous = done
    if progress.invalid is not None:
        index, message = progress.invalid
        return "contract_error", message, None, progress.requests[index], builds
    if progress.limit is not None:
        return "resource_limit", f"{where} {progress.limit}", None, at_fault, builds
    if run.timed_out:
        limit = f"the {limits.timeout_s:g} s timeout"
        return "timeout", f"{where} exceeded {limit}", None, at_fault, builds
    if progress.finished and run.returncode == 0:
        count = len(builds)
        return "ok", f"{count} build{'s' if count != 1 else ''} completed", None, None, builds
    if progress.disk_full():
        message = f"{where} filled its {limits.disk_mb} MB disk quota"
        return "resource_limit", message, None, at_fault, builds
    if progress.error is not None:
        error = progress.error
        failed = progress.requests[progress.error_index] if progress.error_index is not None else None
        return error.status or "script_error", error.message, error.traceback, failed, builds
    status, message = _crash_verdict(run, mode, where)
    return status, message, None, at_fault, builds


def run_script(
    script: Path,
    requests: list[BuildRequest],
    workdir: Path,
    limits: SandboxLimits | None = None,
    *,
    mode: IsolationMode | None = None,
    unsafe_no_isolation: bool | None = None,
    hash_seed: int = 0,
    kind: JobKind = "scenario",
    views: Path | None = None,
    warm: bool | None = None,
    pool: SandboxPool | None = None,
) -> SandboxResult:
    """Run ``build(seed, scale)`` of an untrusted script for every request in one sandboxed process.

    The script is copied into ``workdir`` (which the caller owns and cleans up) and each
    completed build lands in ``workdir/builds/<index>/`` as ``scene.json`` plus
    ``body_<n>.brep`` files, parts in order then the payload. The run stops at the first
    failing request; builds before it are returned, each already validated as a
    :class:`SceneRecord`.

    Untrusted code runs only under bubblewrap with the seccomp filter. ``mode`` forces an
    isolation mode; anything weaker than ``bwrap`` with seccomp needs
    ``unsafe_no_isolation=True`` (default: ``$BENCHGEN_UNSAFE_NO_ISOLATION``).

    ``hash_seed`` is the process's ``PYTHONHASHSEED``.

    ``kind="design"`` runs a solution instead: ``script`` defines ``design(view)``, ``views``
    holds one directory per request (``view.json`` + part BREPs, see
    :func:`benchgen.evaluate.write_view`), and each build is ``design.json`` plus one BREP per
    design part (:class:`benchgen.solution.DesignRecord`). Same isolation, limits and clock.

    With full isolation the process is forked from a warm template of ``pool`` (default:
    :func:`default_pool`) that has build123d imported already, one template per
    ``hash_seed``; ``warm=False`` (or ``$BENCHGEN_WARM_SANDBOX=0``) starts a cold
    interpreter instead. Either way the run gets a fresh process with the same isolation,
    limits and clock, and nothing of an earlier run.

    Raises :class:`SandboxError` when the sandbox itself cannot start, or would be weaker
    than allowed.
    """
    limits = limits or SandboxLimits()
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    _check_workdir(workdir)
    plan = _plan(mode, unsafe_opt_in() if unsafe_no_isolation is None else unsafe_no_isolation)
    if (kind == "design") != (views is not None):
        raise ValueError("a design job needs views, and only a design job takes them")
    host = _prepare_workdir(script, requests, workdir, plan, kind, views)
    started = time.monotonic()
    warm = warm_enabled() if warm is None else warm
    zygote = (
        (pool or default_pool()).zygote(hash_seed, _bwrap_features()) if warm and _warmable(plan) else None
    )
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    child_fds = [out_write, err_write]
    progress = _Progress(requests, limits, time.monotonic(), workdir, plan, kind)
    try:
        if zygote is not None:
            proc: _Process = _spawn_warm(
                zygote, host, limits, len(requests), [child_sock.fileno(), *child_fds]
            )
        else:
            proc = _spawn_cold(
                plan, host, limits, requests, hash_seed, views is not None, child_sock, child_fds
            )
        child_sock.close()
        _close_all(child_fds)
        streams = _Streams(parent_sock, out_read, err_read)
        returncode, timed_out = _monitor(proc, streams, progress)
        run = _Run(progress, returncode, timed_out, streams.tail(out_read), streams.tail(err_read))
        status, message, tb, failed, builds = _verdict(run, plan.mode, limits, workdir)
    finally:
        progress.close()
        child_sock.close()
        parent_sock.close()
        _close_all([fd for fd in (out_read, err_read, *child_fds)])
    return SandboxResult(
        status=status,
        message=message,
        traceback=tb,
        failed=failed,
        builds=builds,
        stdout_tail=run.stdout_tail,
        stderr_tail=run.stderr_tail,
        isolation=describe_isolation(plan, limits),
        import_seconds=(progress.imported or time.monotonic()) - started,
        wall_seconds=time.monotonic() - started,
        warm=zygote is not None,
    )


def prestart(
    hash_seeds: Iterable[int] = (0, REPEAT_HASH_SEED), unsafe_no_isolation: bool | None = None
) -> None:
    """Start the warm templates for ``hash_seeds`` (default: a check's two) in the background, if runs will be warm.

    Importing build123d takes seconds; a caller that knows it will run scripts soon (a
    check) starts it now, so the import overlaps its own. Failures are left for the run
    to report.
    """
    if not warm_enabled():
        return
    try:
        plan = _plan(None, unsafe_opt_in() if unsafe_no_isolation is None else unsafe_no_isolation)
    except SandboxError:
        return
    if not _warmable(plan):
        return
    pool, features = default_pool(), _bwrap_features()

    def start(seed: int) -> None:
        with contextlib.suppress(Exception):
            pool.zygote(seed, features)

    for seed in hash_seeds:
        threading.Thread(target=start, args=(seed,), name="benchgen-zygote-start", daemon=True).start()


def spawn_loader(settings_json: str, memory_mb: int) -> tuple[socket.socket, _Process] | None:
    """A geometry loader forked from the warm template (hash seed 0), or None where runs are not warm.

    The loader is trusted code reading hostile BREPs: it gets a child's isolation (its own
    namespaces and tmpfs, no capabilities, ``memory_mb`` of address space) and a seccomp
    filter that kills it on any forbidden call. Returns the parent's end of its socket and
    the process.
    """
    if not warm_enabled():
        return None
    try:
        plan = _plan(None, False)
    except SandboxError:
        return None
    zygote = default_pool().zygote(LOADER_HASH_SEED, _bwrap_features()) if _warmable(plan) else None
    if zygote is None:
        return None
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    memfd = os.memfd_create("benchgen-inputs", os.MFD_CLOEXEC)
    request = SpawnRequest(
        role="loader",
        loader_settings=settings_json,
        memory_bytes=memory_mb << 20,
        cpu_seconds=None,
        disk_bytes=SandboxLimits().disk_mb << 20,
        tmp_bytes=TMP_BYTES,
        file_size_bytes=FILE_SIZE_LIMIT_BYTES,
        inputs=[],
    )
    try:
        process = zygote.spawn(request, [child.fileno(), devnull, devnull, memfd])
    except BaseException:
        parent.close()
        raise
    finally:
        child.close()
        os.close(devnull)
        os.close(memfd)
    return parent, process


def _warmable(plan: _Plan) -> bool:
    """Only a fully isolated run forks a template: its children need bubblewrap's namespaces and seccomp."""
    return plan.mode == "bwrap" and plan.seccomp


def _spawn_warm(
    zygote: _Zygote, host: Path, limits: SandboxLimits, requests: int, fds: list[int]
) -> _Process:
    """A fresh child of ``zygote`` for the job in ``host`` (its inputs travel in a sealed memfd)."""
    memfd, inputs = _inputs_memfd(host)
    try:
        request = SpawnRequest(
            memory_bytes=limits.memory_mb << 20,
            cpu_seconds=_cpu_backstop(limits, requests),
            disk_bytes=limits.disk_mb << 20,
            tmp_bytes=TMP_BYTES,
            file_size_bytes=FILE_SIZE_LIMIT_BYTES,
            inputs=inputs,
        )
        return zygote.spawn(request, [*fds, memfd])
    finally:
        os.close(memfd)


def _spawn_cold(
    plan: _Plan,
    host: Path,
    limits: SandboxLimits,
    requests: list[BuildRequest],
    hash_seed: int,
    views: bool,
    child_sock: socket.socket,
    child_fds: list[int],
) -> _Process:
    """A new interpreter for the job (under bubblewrap, ``unshare`` or nothing, as planned)."""
    if plan.mode == "bwrap":
        inner = Path(SANDBOX_DIR)
        python = _python_command(inner, child_sock.fileno())
        inputs = [host / SCRIPT_FILE, host / JOB_FILE] + ([host / VIEWS_DIR] if views else [])
        command = _bwrap_command(
            _child_env(inner, hash_seed), python, _bwrap_features(), limits.disk_mb << 20, inputs
        )
    else:
        inner = host
        python = _python_command(inner, child_sock.fileno())
        command = _unshare_command(python) if plan.mode == "unshare" else python
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=child_fds[0],
            stderr=child_fds[1],
            cwd=host,
            env=_child_env(inner, hash_seed),
            pass_fds=(child_sock.fileno(),),
            start_new_session=True,
            preexec_fn=functools.partial(
                _apply_rlimits, limits.memory_mb << 20, _cpu_backstop(limits, len(requests))
            ),
        )
    except OSError as exc:
        raise SandboxError(f"could not start the sandbox: {exc}") from exc
    return _PopenProcess(proc)
