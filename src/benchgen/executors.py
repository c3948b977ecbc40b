"""Where candidate checks run: a local process pool (the default) or a Ray cluster.

An :class:`Executor` runs ``fn(*args)`` somewhere and hands back a :class:`Task` with
``result()`` and ``cancel()``; ``stop()`` ends all outstanding work. ``submit_in_dir`` runs
a function that works in a directory (``fn(directory, *args)``): the process pool shares
the local disk, so the function works in place; a Ray task may run on another machine,
so the directory's files travel with the task, the function works in a scratch directory
there, and the files it produced are unpacked back into the directory when the result
is collected. Either way the caller sees the same directory contents and result.

Ray: ``ray.init(address)`` joins an existing cluster (``ray://host:10001`` or ``auto``)
or, without an address, starts a local one. Every node needs benchgen installed (same
version), bubblewrap, and Mesa's EGL, as on the machine running ``generate``.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import tarfile
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")
ExecutorKind = Literal["process", "ray"]

RAY_OBJECT_STORE_BYTES = 512 * 1024**2
"""Object store of a local Ray instance: results are a few MB each, the default (30 % of RAM) is wasteful."""


class Task(Protocol):
    """A submitted call: wait for its result, or cancel it."""

    def result(self) -> Any:
        """Block until the call finished; return its value or raise its exception."""
        ...

    def cancel(self) -> bool:
        """Try to cancel; True if it will not run (or was stopped)."""
        ...


class Executor(Protocol):
    """Runs calls in parallel somewhere."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        """Run ``fn(*args)``."""
        ...

    def submit_in_dir(self, fn: Callable[..., Any], directory: Path, *args: Any) -> Task:
        """Run ``fn(directory, *args)``; afterwards ``directory`` holds what ``fn`` wrote there."""
        ...

    def stop(self) -> None:
        """Cancel queued calls, end running ones, release the workers."""
        ...


class ProcessExecutor:
    """A local process pool (spawned workers: no state inherited from the parent)."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` in a worker process."""
        return self.pool.submit(fn, *args)

    def submit_in_dir(self, fn: Callable[..., Any], directory: Path, *args: Any) -> Future[Any]:
        """Workers share the local disk: ``fn`` works in ``directory`` itself."""
        return self.pool.submit(fn, directory, *args)

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

    def result(self) -> Any:
        """Wait for the task (Ray's error types propagate, e.g. ``RayTaskError``)."""
        import ray

        try:
            value = ray.get(self.ref)
        finally:
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
            self.owner.forget(self)
        return True


class RayExecutor:
    """Runs calls as Ray tasks (one CPU each) on a cluster, or on a local Ray instance."""

    def __init__(self, address: str | None = None, num_cpus_per_task: float = 1.0) -> None:
        import ray

        env = {k: os.environ[k] for k in ("MUJOCO_GL",) if k in os.environ}
        if address:
            ray.init(address=address, runtime_env={"env_vars": env} if env else None, log_to_driver=False)
        else:  # a local instance; its workers inherit this process's environment
            ray.init(include_dashboard=False, object_store_memory=RAY_OBJECT_STORE_BYTES, log_to_driver=False)
        self._call = ray.remote(num_cpus=num_cpus_per_task)(_call)
        self._in_dir = ray.remote(num_cpus=num_cpus_per_task)(run_in_scratch)
        self._outstanding: dict[int, RayTask] = {}

    def submit(self, fn: Callable[..., Any], *args: Any) -> RayTask:
        """Run ``fn(*args)`` as a Ray task."""
        return self._track(RayTask(self._call.remote(fn, *args), self))

    def submit_in_dir(self, fn: Callable[..., Any], directory: Path, *args: Any) -> RayTask:
        """Ship ``directory``'s files with the task; unpack what it produced on ``result()``."""
        ref = self._in_dir.remote(fn, pack_dir(directory), *args)
        return self._track(RayTask(ref, self, directory))

    def _track(self, task: RayTask) -> RayTask:
        self._outstanding[id(task)] = task
        return task

    def forget(self, task: RayTask) -> None:
        """Called by a task that finished or was cancelled."""
        self._outstanding.pop(id(task), None)

    def stop(self) -> None:
        """Cancel outstanding tasks and disconnect (a local instance is shut down)."""
        import ray

        for task in list(self._outstanding.values()):
            task.cancel()
        ray.shutdown()


def _call(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def make_executor(kind: ExecutorKind, workers: int, ray_address: str | None = None) -> Executor:
    """The executor of a run: ``process`` (``workers`` local processes) or ``ray``."""
    if kind == "ray":
        return RayExecutor(ray_address)
    return ProcessExecutor(workers)
