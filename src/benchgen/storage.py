"""Where a dataset lives: a local directory (the default) or any fsspec URL (``s3://bucket/prefix``).

S3 and S3-compatible servers are configured the standard AWS way (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``), plus benchgen's endpoint, per-request timeouts
and upload retry policy: :class:`~benchgen.settings.StorageSettings` and
``Settings.upload_retry`` (``BENCHGEN_S3_*``, ``BENCHGEN_UPLOAD_*``; see :mod:`benchgen.settings`).
Functions that need them take a ``settings`` argument; without one they read the environment
(for library callers), while the CLI passes the settings it read once.

Other fsspec protocols (``gs://``, ``az://``, ``memory://`` ...) work with their own
packages and environment.

Errors are classified (:func:`classify`) so that a reader or a run can say what is wrong in
one line: :class:`StoreConfigError` (malformed URL, unknown scheme, missing bucket, bad
endpoint, rejected credentials), :class:`StoreNotFound`, :class:`StoreAccessDenied` and
:class:`StoreUnreachable`. :func:`probe` checks access with one unretried request that a
credential limited to the dataset's prefix is allowed to make (a listing of the prefix,
never ``HeadBucket`` or ``ListBuckets``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fsspec
from fsspec.asyn import AsyncFileSystem, sync
from fsspec.spec import AbstractFileSystem

from benchgen.errors import UsageError
from benchgen.retry import ConfigurationError
from benchgen.settings import ENDPOINT_ENV as ENDPOINT_ENV  # re-exported: part of this module's API
from benchgen.settings import Settings
from benchgen.settings import StorageSettings as StorageSettings

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_BUCKET = re.compile(r"^[A-Za-z0-9.\-_]{1,255}$")
"""Bucket names botocore accepts (AWS's own rules are stricter; old buckets and other servers differ)."""
S3_PROTOCOLS = ("s3", "s3a")
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
_DENIED_CODES = {"AccessDenied", "403", "AllAccessDisabled", "Forbidden"}
_MISSING_CODES = {"NoSuchBucket", "NoSuchKey", "404"}


class StoreError(UsageError):
    """A dataset location cannot be used; the message is one line that says why.

    A usage error (exit 2): a store error surfaces from the first, unretried contact with
    the store (see :mod:`benchgen.retry`), when a location that never answered is
    misconfigured until proven otherwise. Failures after that are retried and end as
    :class:`~benchgen.retry.RetriesExhausted` (an infrastructure error, exit 1).
    """

    kind = "storage"


class StoreConfigError(StoreError, ConfigurationError):
    """Malformed URL, unknown scheme, missing bucket, invalid endpoint or rejected credentials."""

    kind = "misconfigured"


class StoreNotFound(StoreError, FileNotFoundError):
    """The bucket (or the dataset) does not exist."""

    kind = "not found"


class StoreAccessDenied(StoreError, PermissionError):
    """The credentials are valid but not allowed to do this."""

    kind = "access denied"


class StoreUnreachable(StoreError, ConnectionError):
    """No answer from the store: unknown host, connection refused, time-out."""

    kind = "unreachable"


def is_remote(location: str | os.PathLike[str]) -> bool:
    """True for a URL with a scheme other than ``file://`` (``s3://b/p``, ``memory://x``)."""
    text = os.fspath(location)
    return bool(_URL.match(text)) and not text.startswith(("file://", "local://"))


def normalize(location: str | os.PathLike[str]) -> str:
    """A canonical spelling: an absolute path for a local dataset, the URL without trailing
    slashes for a remote one. Used as the dataset's key in the metadata database."""
    text = os.fspath(location)
    if is_remote(text):
        scheme, rest = text.split("://", 1)
        return f"{scheme}://{rest.rstrip('/')}"
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


def validate(location: str | os.PathLike[str], settings: StorageSettings | None = None) -> None:
    """Check a location's syntax without contacting anything: a known scheme whose package
    is installed, a bucket for S3, a well-formed endpoint. Raises :class:`StoreConfigError`."""
    text = os.fspath(location)
    if not is_remote(text):
        return
    protocol, rest = text.split("://", 1)
    try:
        fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise StoreConfigError(
            f"unknown storage scheme {protocol}:// in {text!r} (use a directory, s3://BUCKET/PREFIX "
            "or another fsspec URL)"
        ) from None
    except ImportError as exc:
        raise StoreConfigError(f"{protocol}:// needs an extra package: {exc}") from None
    if protocol not in S3_PROTOCOLS:
        return
    bucket = rest.split("/", 1)[0]
    if not bucket:
        raise StoreConfigError(f"{text!r} names no bucket: use s3://BUCKET or s3://BUCKET/PREFIX")
    if not _BUCKET.match(bucket):
        raise StoreConfigError(f"{bucket!r} is not a valid bucket name (in {text!r})")
    endpoint = (settings or StorageSettings.from_env()).endpoint_url
    if endpoint:
        _validate_endpoint(endpoint)


def _validate_endpoint(endpoint: str) -> None:
    where = f"the S3 endpoint {endpoint!r} ({ENDPOINT_ENV} / AWS_ENDPOINT_URL)"
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreConfigError(f"{where} is not an http(s)://HOST[:PORT] URL")
    try:
        port = parts.port
    except ValueError:
        raise StoreConfigError(f"{where} has an invalid port (1-65535)") from None
    if port == 0:
        raise StoreConfigError(f"{where} has an invalid port (1-65535)")


def filesystem(
    location: str | os.PathLike[str], settings: StorageSettings | None = None
) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``location`` and the root path inside it.

    Raises :class:`StoreConfigError` for a malformed location (see :func:`validate`); nothing
    is contacted here. ``settings`` None: read from the environment.
    """
    text = normalize(location)
    if not is_remote(text):
        return fsspec.filesystem("file"), text
    settings = settings or StorageSettings.from_env()
    validate(text, settings)
    protocol = text.split("://", 1)[0]
    try:
        fs, root = fsspec.core.url_to_fs(text, **storage_options(protocol, settings))
    except (ValueError, TypeError) as exc:  # e.g. a storage option the backend rejects
        raise StoreConfigError(f"cannot open {text}: {exc}") from None
    if protocol in ("s3", "s3a"):
        fs.retries = 1  # a class attribute in s3fs, not a constructor argument; this instance is ours
    return fs, root.rstrip("/")


def _is_s3(fs: AbstractFileSystem) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return any(p in S3_PROTOCOLS for p in protocols)


def _error_code(exc: BaseException) -> str | None:
    """The S3 error code (``AccessDenied``, ``NoSuchBucket``...) somewhere in ``exc``'s causes."""
    for link in _chain(exc):
        response = getattr(link, "response", None)
        if isinstance(response, dict):
            error = response.get("Error", {})
            code = error.get("Code")
            if code:
                return str(code)
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    links: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in links:
        links.append(current)
        current = current.__cause__ or current.__context__
    return links


def classify(exc: BaseException, location: str, settings: StorageSettings | None = None) -> StoreError:
    """Turn an error from the store into a one-line :class:`StoreError` subclass (``settings``
    name the endpoint in the message; None: read from the environment)."""
    if isinstance(exc, StoreError):
        return exc
    code = _error_code(exc)
    links = _chain(exc)
    if code in _CREDENTIAL_CODES:
        return StoreConfigError(
            f"{location}: the store rejected the credentials ({code}); check AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE"
        )
    if code in _DENIED_CODES or (code is None and any(isinstance(e, PermissionError) for e in links)):
        return StoreAccessDenied(
            f"{location}: access denied ({code or exc}); the credentials lack permission"
        )
    if code in _MISSING_CODES:
        return StoreNotFound(f"{location}: {_first_line(exc)}")
    if any(isinstance(e, socket.gaierror) for e in links):
        return StoreUnreachable(f"{location}: unknown host ({_endpoint_hint(settings)})")
    if any(isinstance(e, ConnectionRefusedError) for e in links):
        return StoreUnreachable(f"{location}: connection refused ({_endpoint_hint(settings)})")
    if any(isinstance(e, FileNotFoundError) for e in links):
        return StoreNotFound(f"{location}: not found")
    if code is None and any(isinstance(e, TimeoutError | ConnectionError | OSError) for e in links):
        return StoreUnreachable(f"{location}: no answer from the store ({_first_line(exc)})")
    return StoreUnreachable(f"{location}: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _endpoint_hint(settings: StorageSettings | None) -> str:
    endpoint = (settings or StorageSettings.from_env()).endpoint_url
    return f"endpoint {endpoint}" if endpoint else "the default AWS endpoint"


def probe(
    location: str | os.PathLike[str], timeout: float | None = None, settings: StorageSettings | None = None
) -> bool:
    """One unretried request that checks the location is reachable and readable: for S3 a
    listing of at most one key under the prefix (allowed to a credential limited to that
    prefix, unlike ``HeadBucket``). Returns whether anything exists under the location.

    Raises a :class:`StoreError` subclass that says what is wrong.
    """
    text = normalize(location)
    settings = settings or StorageSettings.from_env()
    try:
        fs, root = filesystem(text, settings)
        if not is_remote(text):
            return Path(root).exists()
        limit = timeout or settings.connect_timeout_s * 3
        if _is_s3(fs):
            bucket, _, key = root.partition("/")
            prefix = f"{key}/" if key else ""
            listing = bounded(
                fs, "call_s3", "list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1, timeout=limit
            )
            return bool(listing.get("KeyCount") or listing.get("Contents"))
        return bool(bounded(fs, "exists", root, timeout=limit))
    except StoreError:
        raise
    except Exception as exc:
        raise classify(exc, text, settings) from exc


class ConditionFailed(Exception):
    """A conditional write lost: the object exists (create) or changed (replace)."""


def supports_conditional_writes(fs: AbstractFileSystem) -> bool:
    """True for S3 (``If-None-Match`` / ``If-Match`` on PUT; AWS, MinIO, Ceph and moto have them)."""
    return _is_s3(fs)


def get_with_etag(fs: AbstractFileSystem, path: str, timeout: float) -> tuple[bytes, str] | None:
    """The content of an S3 object and its ETag from one GET; None when it does not exist."""
    bucket, key, _ = fs.split_path(path)

    async def get() -> tuple[bytes, str]:
        response = await fs._call_s3("get_object", Bucket=bucket, Key=key)
        body = await response["Body"].read()
        return bytes(body), str(response["ETag"])

    async def bounded_get() -> tuple[bytes, str]:
        return await asyncio.wait_for(get(), timeout)

    try:
        result: tuple[bytes, str] = sync(fs.loop, bounded_get)
    except FileNotFoundError:
        return None
    return result


def put_conditional(
    fs: AbstractFileSystem, path: str, data: bytes, timeout: float, *, if_match: str | None = None
) -> str:
    """PUT ``data`` only if the object does not exist (``if_match`` None) or still has the ETag
    ``if_match``; returns the new ETag. Raises :class:`ConditionFailed` when the condition fails."""
    bucket, key, _ = fs.split_path(path)
    condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
    try:
        response = bounded(
            fs, "call_s3", "put_object", Bucket=bucket, Key=key, Body=data, timeout=timeout, **condition
        )
    except Exception as exc:
        if _error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            raise ConditionFailed(path) from exc
        raise
    return str(response["ETag"])


def join(root: str, *parts: str) -> str:
    """Join fsspec path segments with ``/``."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])


def url_of(location: str, *parts: str) -> str:
    """The URL (remote) or ``file://`` URI (local) of a file under a dataset location."""
    if is_remote(location):
        return join(location, *parts)
    return Path(location, *parts).resolve().as_uri()


def default_work_dir(location: str, cache_dir: Path | None = None) -> Path:
    """The local work directory of a remote dataset: staging, checks, renders, the default
    SQLite database and the upload journal. Under the cache directory (None: the one the
    environment names), keyed by the URL."""

    key = hashlib.sha256(normalize(location).encode()).hexdigest()[:16]
    return (cache_dir or Settings.from_env().cache_dir) / "datasets" / key


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
