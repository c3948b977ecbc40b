"""Where candidate checks run: a local process pool (the default) or a Ray cluster.

An :class:`Executor` runs ``fn(*args)`` somewhere and hands back a :class:`Task` with
``done()``, ``result()`` and ``cancel()``; ``wait_any()`` blocks until one of several tasks
finished and ``stop()`` ends all outstanding work. ``submit_in_dir`` runs a function that
works in a directory (``fn(directory, *args)``): the process pool shares the local disk,
so the function works in place; a Ray task may run on another machine, so the
directory's files travel with the task, the function works in a scratch directory there,
and the files it produced are unpacked back into the directory when the result is
collected. Either way the caller sees the same directory contents and result.

At most ``workers`` calls run at once with either executor (a Ray ``submit`` waits for a
free slot), so ``--workers`` bounds what a run takes from a shared cluster.

Nothing outlives the run: pool workers ask the kernel to kill them when the process that
started them dies (``PR_SET_PDEATHSIG``; they also exit if that process is already gone),
so a ``kill -9`` of ``generate`` takes them, and with them their sandboxes (bubblewrap's
``--die-with-parent``) and multiprocessing's resource tracker (it exits when the last
process holding its pipe is gone). Ray tasks are cancelled on ``stop()``; a local Ray
instance is started in the driver's fate-sharing mode by Ray itself.

Ray: ``ray.init(address)`` joins an existing cluster (``HOST:6379``, ``ray://host:10001`` or
``auto``) or, without an address, starts a local one. Settings reach the tasks explicitly
(:class:`WorkerSettings`: the job's environment on every worker, and an argument of every
task); every node needs benchgen installed (same version), bubblewrap, and Mesa's EGL.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import io
import multiprocessing
import os
import signal
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from benchgen.settings import default_cache_dir

T = TypeVar("T")
ExecutorKind = Literal["process", "ray"]

RAY_OBJECT_STORE_BYTES = 512 * 1024**2
"""Object store of a local Ray instance: results are a few MB each, the default (30 % of RAM) is wasteful."""
PR_SET_PDEATHSIG = 1
WORKER_CACHE_ENV = "BENCHGEN_WORKER_CACHE_DIR"
"""A cache directory to use on every worker node (a path valid there); default: each node's own."""
FORWARDED_ENV = (
    "MUJOCO_GL",
    "PYOPENGL_PLATFORM",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
"""Variables besides ``BENCHGEN_*`` that tasks receive (no credentials: tasks never touch the store)."""
NODE_LOCAL_ENV = ("BENCHGEN_CACHE_DIR", WORKER_CACHE_ENV)
"""Paths of the driver's machine, never forwarded."""


class WorkerSettings(BaseModel):
    """What a check worker needs from the driver, sent explicitly with every task.

    ``env`` holds the driver's ``BENCHGEN_*`` settings and the endpoint/rendering variables
    of :data:`FORWARDED_ENV`; the driver's cache path is *not* forwarded, because it names
    a directory on the driver's machine: tasks use ``cache_dir`` when set (from
    ``BENCHGEN_WORKER_CACHE_DIR``, or the driver's own path for the local process pool), else
    the node's own default (``BENCHGEN_CACHE_DIR`` there, or ``~/.cache/benchgen``).
    """

    env: dict[str, str] = Field(default_factory=dict)
    cache_dir: str | None = None
    cache: bool = True
    """False: no decomposition cache at all (as ``CheckOptions(cache_dir=None)``)."""

    @classmethod
    def capture(
        cls, cache_dir: Path | None, cache: bool = True, environ: Mapping[str, str] | None = None
    ) -> WorkerSettings:
        """The driver's settings; ``cache_dir`` None means each node's default."""
        source = os.environ if environ is None else environ
        env = {
            key: value
            for key, value in source.items()
            if (key.startswith("BENCHGEN_") or key in FORWARDED_ENV) and key not in NODE_LOCAL_ENV
        }
        explicit = source.get(WORKER_CACHE_ENV)
        chosen = explicit or (str(cache_dir) if cache_dir is not None else None)
        return cls(env=env, cache_dir=chosen, cache=cache)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Set ``env`` in this process for the duration of a task (restored afterwards)."""
        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def cache_path(self) -> Path | None:
        """The cache directory of this node (evaluated where the task runs)."""
        if not self.cache:
            return None
        if self.cache_dir:
            return Path(self.cache_dir)

        return default_cache_dir()


class Task(Protocol):
    """A submitted call: poll it, wait for its result, or cancel it."""

    def done(self) -> bool:
        """True when the call finished (successfully or not) or was cancelled."""
        ...

    def result(self) -> Any:
        """Block until the call finished; return its value or raise its exception."""
        ...

    def cancel(self) -> bool:
        """Try to cancel; True if it will not run (or was stopped)."""
        ...


class Executor(Protocol):
    """Runs calls in parallel somewhere, at most ``workers`` at a time."""

    workers: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        """Run ``fn(*args)``."""
        ...

    def submit_in_dir(self, fn: Callable[..., Any], directory: Path, *args: Any) -> Task:
        """Run ``fn(directory, *args)``; afterwards ``directory`` holds what ``fn`` wrote there."""
        ...

    def wait_any(self, tasks: Sequence[Task], timeout: float | None = None) -> None:
        """Block until one of ``tasks`` is done, or ``timeout`` seconds passed."""
        ...

    def stop(self) -> None:
        """Cancel queued calls, end running ones, release the workers."""
        ...


def die_with_parent(parent: int) -> None:
    """Pool worker initializer: get SIGKILL when the process that started this one dies.

    Linux's parent-death signal covers SIGKILL of the parent, which no clean-up code can.
    If the parent is already gone (it died between fork and here) exit at once.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


class ProcessExecutor:
    """A local process pool (spawned workers: no state inherited from the parent)."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` in a worker process."""
        return self.pool.submit(fn, *args)

    def submit_in_dir(self, fn: Callable[..., Any], directory: Path, *args: Any) -> Future[Any]:
        """Workers share the local disk: ``fn`` works in ``directory`` itself."""
        return self.pool.submit(fn, directory, *args)

    def wait_any(self, tasks: Sequence[Task], timeout: float | None = None) -> None:
        """Block until one of the futures is done (or ``timeout``)."""
        futures = [t for t in tasks if isinstance(t, Future)]
        if futures:
            concurrent.futures.wait(futures, timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED)

    def stop(self) -> None:
        """Stop now: drop queued work and end workers still running abandoned calls.

        Their sandboxes die with them (bubblewrap's --die-with-parent).
        """
        processes = list(getattr(self.pool, "_processes", {}).values())  # no public API to end running work
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)


def pack_dir(directory: Path) -> bytes:
    """An uncompressed tar of ``directory``'s contents (renders are PNG: compressing gains nothing)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
    return buffer.getvalue()


def unpack_dir(blob: bytes, directory: Path) -> None:
    """Extract a :func:`pack_dir` archive into ``directory`` (no links, nothing outside it)."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        tar.extractall(directory, filter="data")


def run_in_scratch(fn: Callable[..., T], files: bytes, *args: Any) -> tuple[T, bytes]:
    """Run ``fn(scratch, *args)`` in a fresh directory holding ``files`` (a :func:`pack_dir`
    archive); return its result and the directory's contents afterwards."""
    with tempfile.TemporaryDirectory(prefix="benchgen-task-") as tmp:
        scratch = Path(tmp) / "work"
        scratch.mkdir()
        unpack_dir(files, scratch)
        result = fn(scratch, *args)
        return result, pack_dir(scratch)


class RayTask:
    """A Ray task; with ``directory`` set, its files are unpacked there on ``result()``."""

    def __init__(self, ref: Any, owner: RayExecutor, directory: Path | None = None) -> None:
        self.ref = ref
        self.owner = owner
        self.directory = directory
        self._done = False

    def done(self) -> bool:
        """Poll without blocking."""
        import ray

        if not self._done:
            ready, _ = ray.wait([self.ref], num_returns=1, timeout=0, fetch_local=False)
            self._done = bool(ready)
        return self._done

    def result(self) -> Any:
        """Wait for the task (Ray's error types propagate, e.g. ``RayTaskError``)."""
        import ray

        try:
            value = ray.get(self.ref)
        finally:
            self._done = True
            self.owner.forget(self)
        if self.directory is None:
            return value
        result, blob = value
        unpack_dir(blob, self.directory)
        return result

    def cancel(self) -> bool:
        """Cancel the task, killing its worker if it already runs (and the sandbox with it)."""
        import ray

        try:
            ray.cancel(self.ref, force=True)
        except Exception:  # already finished or already gone: nothing left to cancel
            return False
        finally:
            self._done = True
            self.owner.forget(self)
        return True


class RayExecutor:
    """Runs calls as Ray tasks (one CPU each) on a cluster, or on a local Ray instance,
    at most ``workers`` at a time."""

    def __init__(
        self,
        workers: int,
        address: str | None = None,
        settings: WorkerSettings | None = None,
        num_cpus_per_task: float = 1.0,
    ) -> None:
        import ray

        self.workers = workers
        self.settings = settings or WorkerSettings.capture(None)
        # The job's environment is set on every worker process before it imports anything
        # (MUJOCO_GL must precede mujoco's import); tasks also get the settings as an argument.
        runtime_env = {"env_vars": dict(self.settings.env)} if self.settings.env else None
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        else:
            ray.init(
                include_dashboard=False,
                object_store_memory=RAY_OBJECT_STORE_BYTES,
                log_to_driver=False,
                runtime_env=runtime_env,
            )
        self._call = ray.remote(num_cpus=num_cpus_per_task)(_call)
        self._in_dir = ray.remote(num_cpus=num_cpus_per_task)(run_in_scratch)
        self._outstanding: dict[int, RayTask] = {}

    def submit(self, fn: Callable[..., Any], *args: Any) -> RayTask:
        """Run ``fn(*args)`` as a Ray task (after waiting for a free slot)."""
        self._wait_for_slot()
        return self._track(RayTask(self._call.remote(fn, *args), self))

    def submit_in_dir(self, fn: Callable[..., Any], directory: Path, *args: Any) -> RayTask:
        """Ship ``directory``'s files with the task; unpack what it produced on ``result()``."""
        self._wait_for_slot()
        ref = self._in_dir.remote(fn, pack_dir(directory), *args)
        return self._track(RayTask(ref, self, directory))

    def running(self) -> list[RayTask]:
        """Submitted tasks that have not finished."""
        return [task for task in self._outstanding.values() if not task.done()]

    def _wait_for_slot(self) -> None:
        """Block while ``workers`` tasks run: ``--workers`` bounds what this run takes."""
        while len(running := self.running()) >= self.workers:
            self.wait_any(running)

    def wait_any(self, tasks: Sequence[Task], timeout: float | None = None) -> None:
        """Block until one of the tasks is done (or ``timeout``)."""
        import ray

        refs = [t.ref for t in tasks if isinstance(t, RayTask)]
        if refs:
            ray.wait(refs, num_returns=1, timeout=timeout, fetch_local=False)

    def _track(self, task: RayTask) -> RayTask:
        self._outstanding[id(task)] = task
        return task

    def forget(self, task: RayTask) -> None:
        """Called by a task whose result was collected or which was cancelled."""
        self._outstanding.pop(id(task), None)

    def stop(self) -> None:
        """Cancel outstanding tasks and disconnect (a local instance is shut down)."""
        import ray

        for task in list(self._outstanding.values()):
            task.cancel()
        ray.shutdown()


def _call(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def make_executor(
    kind: ExecutorKind, workers: int, ray_address: str | None = None, settings: WorkerSettings | None = None
) -> Executor:
    """The executor of a run: ``process`` (``workers`` local processes) or ``ray`` (at most
    ``workers`` tasks at a time on the cluster at ``ray_address``, or a local instance)."""
    if kind == "ray":
        return RayExecutor(workers, ray_address, settings)
    return ProcessExecutor(workers)
