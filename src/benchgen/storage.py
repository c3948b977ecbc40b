"""Where a dataset lives: a local directory (the default) or any fsspec URL (``s3://bucket/prefix``).

S3 and S3-compatible servers are configured the standard AWS way (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``), plus:

- ``BENCHGEN_S3_ENDPOINT_URL``: endpoint of an S3-compatible server (MinIO, Ceph, moto, ...);
  takes precedence over the AWS endpoint variables;
- ``BENCHGEN_S3_CONNECT_TIMEOUT_S`` / ``BENCHGEN_S3_READ_TIMEOUT_S``: per-request timeouts
  (default 10 s / 60 s), and ``BENCHGEN_S3_OPERATION_TIMEOUT_S`` (300 s), a hard deadline per
  request, so an unreachable server is noticed and retried instead of hanging;
- ``BENCHGEN_UPLOAD_ATTEMPTS``, ``BENCHGEN_UPLOAD_BASE_DELAY_S``, ``BENCHGEN_UPLOAD_MAX_DELAY_S``:
  the upload retry policy (default 6 tries, 0.5 s doubling up to 8 s: about 15 s of waiting).

Other fsspec protocols (``gs://``, ``az://``, ``memory://`` ...) work with their own
packages and environment.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fsspec
from fsspec.asyn import AsyncFileSystem, sync
from fsspec.spec import AbstractFileSystem
from pydantic import BaseModel, Field

from benchgen.retry import RetryPolicy

ENDPOINT_ENV = "BENCHGEN_S3_ENDPOINT_URL"
UPLOAD_RETRY_PREFIX = "BENCHGEN_UPLOAD"

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class StorageSettings(BaseModel):
    """Connection settings of remote storage, read from the environment."""

    endpoint_url: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    operation_timeout_s: float = Field(default=300.0, gt=0)
    """Hard deadline of one request (one file of a batch); the request is cancelled when it
    passes. Needed because a PUT to a server that stopped answering can wait forever for
    its ``100 Continue`` despite the read timeout."""

    @classmethod
    def from_env(cls) -> StorageSettings:
        """Settings from ``BENCHGEN_S3_*`` variables (unset ones keep their defaults)."""
        values: dict[str, str] = {}
        if os.environ.get(ENDPOINT_ENV):
            values["endpoint_url"] = os.environ[ENDPOINT_ENV]
        for field in ("connect_timeout_s", "read_timeout_s", "operation_timeout_s"):
            name = f"BENCHGEN_S3_{field.upper()}"
            if os.environ.get(name):
                values[field] = os.environ[name]
        return cls.model_validate(values)


def upload_retry_policy() -> RetryPolicy:
    """The upload retry policy, from ``BENCHGEN_UPLOAD_*`` variables."""
    return RetryPolicy.from_env(UPLOAD_RETRY_PREFIX)


def is_remote(location: str | os.PathLike[str]) -> bool:
    """True for a URL with a scheme other than ``file://`` (``s3://b/p``, ``memory://x``)."""
    text = os.fspath(location)
    return bool(_URL.match(text)) and not text.startswith(("file://", "local://"))


def normalize(location: str | os.PathLike[str]) -> str:
    """A canonical spelling: an absolute path for a local dataset, the URL without trailing
    slashes for a remote one. Used as the dataset's key in the metadata database."""
    text = os.fspath(location)
    if is_remote(text):
        return text.rstrip("/")
    if text.startswith("file://"):
        text = text[len("file://") :]
    return str(Path(text).expanduser().resolve())


def storage_options(protocol: str, settings: StorageSettings) -> dict[str, Any]:
    """fsspec constructor arguments for ``protocol``."""
    if protocol not in ("s3", "s3a"):
        return {}
    options: dict[str, Any] = {
        # benchgen retries whole operations itself (bounded, reported); botocore's own
        # retries (and s3fs's, see filesystem()) would multiply the wait of an outage.
        "config_kwargs": {
            "connect_timeout": settings.connect_timeout_s,
            "read_timeout": settings.read_timeout_s,
            "retries": {"mode": "standard", "total_max_attempts": 1},
        },
        # Another process may write the dataset: never answer listings from a stale cache.
        "use_listings_cache": False,
        "skip_instance_cache": True,
    }
    if settings.endpoint_url:
        options["endpoint_url"] = settings.endpoint_url
    return options


def filesystem(location: str | os.PathLike[str]) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``location`` and the root path inside it."""
    text = normalize(location)
    if not is_remote(text):
        return fsspec.filesystem("file"), text
    protocol = text.split("://", 1)[0]
    fs, root = fsspec.core.url_to_fs(text, **storage_options(protocol, StorageSettings.from_env()))
    if protocol in ("s3", "s3a"):
        fs.retries = 1  # a class attribute in s3fs, not a constructor argument; this instance is ours
    return fs, root.rstrip("/")


def join(root: str, *parts: str) -> str:
    """Join fsspec path segments with ``/``."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])


def url_of(location: str, *parts: str) -> str:
    """The URL (remote) or ``file://`` URI (local) of a file under a dataset location."""
    if is_remote(location):
        return join(location, *parts)
    return Path(location, *parts).resolve().as_uri()


def default_work_dir(location: str) -> Path:
    """The local work directory of a remote dataset: staging, checks, renders, the default
    SQLite database and the upload journal. Under the cache directory, keyed by the URL."""
    from benchgen.check import default_cache_dir

    key = hashlib.sha256(normalize(location).encode()).hexdigest()[:16]
    return default_cache_dir() / "datasets" / key


def cat_existing(fs: AbstractFileSystem, paths: list[str], timeout: float | None = None) -> dict[str, bytes]:
    """Contents of those ``paths`` that exist (fetched concurrently on async filesystems,
    within ``timeout`` seconds when given)."""
    if not paths:
        return {}
    if timeout is None:
        found = fs.cat(paths, on_error="omit")
    else:
        found = bounded(fs, "cat", paths, on_error="omit", timeout=timeout)
    if not isinstance(found, dict):  # one path: fsspec returns the bytes themselves
        found = {paths[0]: found}
    return {_strip_protocol(fs, key): value for key, value in found.items()}


def _strip_protocol(fs: AbstractFileSystem, path: str) -> str:
    return str(fs._strip_protocol(path))


def _is_async(fs: AbstractFileSystem) -> bool:
    return isinstance(fs, AsyncFileSystem) and not fs.asynchronous


def bounded(fs: AbstractFileSystem, method: str, *args: Any, timeout: float, **kwargs: Any) -> Any:
    """``fs.<method>(*args, **kwargs)``, cancelled after ``timeout`` seconds on async filesystems
    (raises :class:`TimeoutError`); a plain call on synchronous ones."""
    if not _is_async(fs):
        return getattr(fs, method)(*args, **kwargs)
    coroutine: Callable[..., Awaitable[Any]] = getattr(fs, f"_{method}")

    async def call() -> Any:
        try:
            return await asyncio.wait_for(coroutine(*args, **kwargs), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{method} took longer than {timeout:g} s (no answer from the store)"
            ) from None

    return sync(fs.loop, call)


def put_files(
    fs: AbstractFileSystem, pairs: list[tuple[str, str]], timeout: float, concurrency: int = 16
) -> None:
    """Upload ``(local, remote)`` pairs, ``concurrency`` at a time, each within ``timeout``.

    The first failure cancels the uploads still running and is raised itself.
    """
    if not _is_async(fs):
        for local, remote in pairs:
            fs.put_file(local, remote)
        return

    async def upload_all() -> None:
        gate = asyncio.Semaphore(concurrency)

        async def upload(local: str, remote: str) -> None:
            async with gate:
                try:
                    await asyncio.wait_for(fs._put_file(local, remote), timeout)
                except TimeoutError:
                    raise TimeoutError(
                        f"upload of {remote} took longer than {timeout:g} s (no answer)"
                    ) from None

        async with asyncio.TaskGroup() as group:
            for local, remote in pairs:
                group.create_task(upload(local, remote))

    try:
        sync(fs.loop, upload_all)
    except BaseExceptionGroup as failures:  # report the first cause, not the group
        raise failures.exceptions[0] from None
