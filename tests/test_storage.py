"""Dataset locations: local paths and fsspec URLs (``memory://``), validation and error classes.

Nothing here contacts a server: S3 URLs are only validated, and the error classification is
fed the exceptions botocore and the socket layer raise.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from benchgen import storage
from benchgen.retry import ConfigurationError
from benchgen.storage import (
    StorageSettings,
    StoreAccessDenied,
    StoreConfigError,
    StoreNotFound,
    StoreUnreachable,
)


def memory_url() -> str:
    """A fresh location in the process-wide memory filesystem."""
    return f"memory://benchgen-test-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    ("location", "remote"),
    [
        ("s3://bucket/prefix", True),
        ("memory://x", True),
        ("gs://b", True),
        ("file:///tmp/x", False),
        ("local://x", False),
        ("/tmp/data", False),
        ("relative/dir", False),
        ("c:/windows-like", False),
    ],
)
def test_is_remote(location: str, remote: bool) -> None:
    assert storage.is_remote(location) is remote


def test_normalize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert storage.normalize("s3://bucket/prefix///") == "s3://bucket/prefix"
    assert storage.normalize("memory://x/") == "memory://x"
    assert storage.normalize("data") == str(tmp_path.resolve() / "data")
    assert storage.normalize(f"file://{tmp_path}/a/../b/") == str(tmp_path.resolve() / "b")
    assert storage.normalize(tmp_path / "c") == str(tmp_path.resolve() / "c")


def test_join_and_url_of(tmp_path: Path) -> None:
    assert storage.join("s3://b/p/", "/benchmarks/", "", "x.json") == "s3://b/p/benchmarks/x.json"
    assert storage.join("/root") == "/root"
    assert storage.url_of("s3://b/p", "a", "b.json") == "s3://b/p/a/b.json"
    assert storage.url_of(str(tmp_path), "a", "b.json") == (tmp_path.resolve() / "a" / "b.json").as_uri()
    assert storage.url_of(str(tmp_path), "a").startswith("file:///")


def test_default_work_dir_is_keyed_by_the_normalized_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENCHGEN_CACHE_DIR", str(tmp_path))
    a = storage.default_work_dir("s3://b/p")
    assert a == storage.default_work_dir("s3://b/p//")
    assert a != storage.default_work_dir("s3://b/q")
    assert a.parent.name == "datasets"
    assert len(a.name) == 16


@pytest.mark.parametrize(
    ("location", "needle"),
    [
        ("nosuchscheme://x/y", "unknown storage scheme nosuchscheme://"),
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bad bucket!/p", "is not a valid bucket name"),
    ],
)
def test_validate_refuses_malformed_locations(location: str, needle: str) -> None:
    with pytest.raises(StoreConfigError, match=needle) as raised:
        storage.validate(location, StorageSettings())
    assert isinstance(raised.value, ConfigurationError)  # never retried


@pytest.mark.parametrize(
    ("endpoint", "needle"),
    [
        ("localhost:9000", "not an http"),
        ("http://", "not an http"),
        ("http://h:99999", "invalid port"),
        ("http://h:0", "invalid port"),
    ],
)
def test_validate_refuses_malformed_endpoints(endpoint: str, needle: str) -> None:
    with pytest.raises(StoreConfigError, match=needle):
        storage.validate("s3://bucket/p", StorageSettings(endpoint_url=endpoint))
    storage.validate("memory://x", StorageSettings(endpoint_url=endpoint))  # only S3 uses the endpoint


def test_validate_accepts_well_formed_locations() -> None:
    for location in ("/tmp/x", "memory://x", "s3://bucket.name-1/p"):
        storage.validate(location, StorageSettings(endpoint_url="http://127.0.0.1:9000"))


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BENCHGEN_S3_ENDPOINT_URL", "BENCHGEN_S3_READ_TIMEOUT_S", "BENCHGEN_S3_OPERATION_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BENCHGEN_S3_CONNECT_TIMEOUT_S", "2.5")
    assert StorageSettings.from_env() == StorageSettings(connect_timeout_s=2.5)
    monkeypatch.setenv("BENCHGEN_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    assert StorageSettings.from_env().endpoint_url == "http://127.0.0.1:1"


def test_storage_options_bound_s3_and_leave_others_alone() -> None:
    settings = StorageSettings(endpoint_url="http://h:9000", connect_timeout_s=3, read_timeout_s=4)
    options = storage.storage_options("s3", settings)
    assert options["endpoint_url"] == "http://h:9000"
    assert options["config_kwargs"]["connect_timeout"] == 3
    assert options["config_kwargs"]["read_timeout"] == 4
    assert options["config_kwargs"]["retries"]["total_max_attempts"] == 1
    assert options["use_listings_cache"] is False
    assert "endpoint_url" not in storage.storage_options("s3", StorageSettings())
    assert storage.storage_options("memory", settings) == {}


def test_local_filesystem_probe_and_upload(tmp_path: Path) -> None:
    fs, root = storage.filesystem(tmp_path / "ds")
    assert root == str((tmp_path / "ds").resolve())
    assert storage.probe(tmp_path / "ds") is False
    source = tmp_path / "a.json"
    source.write_text("{}")
    (tmp_path / "ds").mkdir()
    storage.put_files(fs, [(str(source), storage.join(root, "a.json"))], timeout=5)
    assert storage.probe(tmp_path / "ds") is True
    assert storage.cat_existing(fs, [storage.join(root, "a.json"), storage.join(root, "b.json")]) == {
        storage.join(root, "a.json"): b"{}"
    }
    assert storage.supports_conditional_writes(fs) is False


def test_memory_filesystem_round_trip() -> None:
    url = memory_url()
    fs, root = storage.filesystem(url + "/")
    assert root == url.removeprefix("memory:/")  # "/benchgen-test-…": memory paths are rooted
    assert storage.probe(url) is False
    fs.pipe_file(storage.join(root, "benchmarks", "a.json"), b"A")
    fs.pipe_file(storage.join(root, "b.json"), b"B")
    assert storage.probe(url) is True
    found = storage.cat_existing(
        fs, [storage.join(root, "benchmarks", "a.json"), storage.join(root, "c.json")]
    )
    assert found == {storage.join(root, "benchmarks", "a.json"): b"A"}
    assert storage.cat_existing(fs, [storage.join(root, "b.json")], timeout=5) == {
        storage.join(root, "b.json"): b"B"
    }
    assert storage.cat_existing(fs, []) == {}
    assert storage.bounded(fs, "cat_file", storage.join(root, "b.json"), timeout=5) == b"B"
    assert storage.supports_conditional_writes(fs) is False


class ClientError(Exception):
    """Shaped like botocore's: the S3 error code in ``response["Error"]["Code"]``."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or f"An error occurred ({code})")
        self.response = {"Error": {"Code": code}}


def chained(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("error", "kind", "needle"),
    [
        (
            ClientError("InvalidAccessKeyId"),
            StoreConfigError,
            "rejected the credentials (InvalidAccessKeyId)",
        ),
        (ClientError("SignatureDoesNotMatch"), StoreConfigError, "AWS_SECRET_ACCESS_KEY"),
        (ClientError("AccessDenied"), StoreAccessDenied, "access denied (AccessDenied)"),
        (chained(OSError("wrapped"), ClientError("403")), StoreAccessDenied, "access denied (403)"),
        (PermissionError("nope"), StoreAccessDenied, "access denied (nope)"),
        (
            ClientError("NoSuchBucket", "The bucket does not exist\nmore"),
            StoreNotFound,
            "The bucket does not exist",
        ),
        (
            chained(OSError("x"), socket.gaierror("Name or service not known")),
            StoreUnreachable,
            "unknown host",
        ),
        (ConnectionRefusedError(), StoreUnreachable, "connection refused"),
        (FileNotFoundError("gone"), StoreNotFound, "not found"),
        (TimeoutError("slow"), StoreUnreachable, "no answer from the store (slow)"),
        (ClientError("InternalError", "boom"), StoreUnreachable, "ClientError: boom"),
    ],
)
def test_classify(
    error: Exception, kind: type[Exception], needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENCHGEN_S3_ENDPOINT_URL", raising=False)
    result = storage.classify(error, "s3://b/p")
    assert type(result) is kind
    assert str(result).startswith("s3://b/p: ")
    assert needle in str(result)
    assert "\n" not in str(result)


def test_classify_names_the_endpoint_and_keeps_store_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHGEN_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    result = storage.classify(ConnectionRefusedError(), "s3://b")
    assert str(result) == "s3://b: connection refused (endpoint http://127.0.0.1:9)"
    original = StoreNotFound("kept")
    assert storage.classify(original, "s3://b") is original


def test_probe_of_a_malformed_location_is_a_config_error() -> None:
    with pytest.raises(StoreConfigError):
        storage.probe("nosuchscheme://x")
