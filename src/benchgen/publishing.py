"""Publishing targets of ``benchgen generate``: a local directory or remote storage (fsspec).

All work (staging, checks, renders) happens on local disk. A local dataset publishes by
rename (:class:`benchgen.dataset.DatasetWriter`). A remote dataset (``s3://bucket/prefix``
or any fsspec URL) publishes with :class:`RemoteDatasetWriter`:

1. every file of the staged benchmark is uploaded under ``<prefix>/<id>/`` (renders under
   ``<id>/assets/renders/``), ``manifest.json`` last;
2. then ``index.jsonl`` and ``index.html`` are rewritten.

A benchmark is visible only when its manifest exists and the index lists it; readers
check both (:mod:`benchgen.dataset`). Each upload step is retried with bounded exponential
backoff (:func:`benchgen.storage.upload_retry_policy`). When the retries are exhausted
the files uploaded for that benchmark are deleted (manifest first, best effort) and
:class:`PublishError` stops the run: continuing would publish later candidates in its
place and break "same seed, same benchmarks". The finished files are kept in the work
directory (``pending/``) and the next run uploads them before anything else, so
re-running resumes where it stopped without checking that candidate again. An
upload journal in the local work directory records what is being uploaded, so files left
behind by a crash or a failed clean-up are deleted by the next run, and only those:
nothing else under the prefix is ever deleted. One writer per prefix at a time.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fsspec.spec import AbstractFileSystem

from benchgen import storage
from benchgen.dataset import (
    INDEX_FILE,
    MANIFEST_FILE,
    REJECTED_DIR,
    STAGING_DIR,
    DatasetWriter,
    Manifest,
    Rejection,
    fresh_dir,
    write_json,
)
from benchgen.retry import RetriesExhausted, RetryPolicy, call_with_retries

_M = TypeVar("_M", Manifest, Rejection)
_T = TypeVar("_T")

REJECTION_FILE = "rejection.json"
JOURNAL_DIR = "uploads"
PENDING_DIR = "pending"


class PublishError(RuntimeError):
    """A benchmark or rejection could not be uploaded, even after retries."""


class Publisher(Protocol):
    """What :class:`benchgen.generate.Generator` needs from a dataset target."""

    @property
    def location(self) -> str:
        """The dataset's canonical location (absolute path or URL)."""
        ...

    def prepare(self) -> None: ...
    def clear_staging(self) -> None: ...
    def stage(self, name: str) -> Path: ...
    def manifests(self) -> list[Manifest]: ...
    def rejections(self) -> list[Rejection]: ...
    def rebuild_index(self) -> None: ...
    def publish(self, staged: Path, manifest: Manifest) -> object: ...
    def archive_rejection(self, staged: Path, rejection: Rejection) -> object: ...
    def write_gallery(self, manifests: list[Manifest]) -> str: ...
    def default_db_url(self) -> str: ...


def open_writer(
    out: str | os.PathLike[str],
    work_dir: Path | None = None,
    on_event: Callable[[str], None] | None = None,
) -> Publisher:
    """The publisher of a dataset location: local directory or fsspec URL."""
    if storage.is_remote(out):
        return RemoteDatasetWriter(str(out), work_dir=work_dir, on_event=on_event)
    return DatasetWriter(Path(storage.normalize(out)))


def _retryable(exc: BaseException) -> bool:
    """Transient failures are retried; a missing bucket or a refused permission is not."""
    return not isinstance(exc, FileNotFoundError | PermissionError | ValueError | TypeError)


class RemoteDatasetWriter:
    """Publishes benchmarks and rejections to remote storage; works in a local directory."""

    def __init__(
        self,
        url: str,
        work_dir: Path | None = None,
        on_event: Callable[[str], None] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.url = storage.normalize(url)
        self.fs: AbstractFileSystem
        self.fs, self.root = storage.filesystem(self.url)
        self.work_dir = work_dir or storage.default_work_dir(self.url)
        self.staging = self.work_dir / STAGING_DIR
        self.journal = self.work_dir / JOURNAL_DIR
        self.pending = self.work_dir / PENDING_DIR
        self.policy = policy or storage.upload_retry_policy()
        self.timeout = storage.StorageSettings.from_env().operation_timeout_s
        self.on_event = on_event
        self._published: dict[str, Manifest] = {}
        self._rejected: dict[str, Rejection] = {}

    @property
    def location(self) -> str:
        """The dataset URL."""
        return self.url

    def default_db_url(self) -> str:
        """SQLite in the local work directory (object stores cannot hold a database)."""
        return f"sqlite:///{self.work_dir / 'benchgen.db'}"

    # -- life cycle -------------------------------------------------------------------------

    def prepare(self) -> None:
        """Check the target, finish or undo interrupted uploads, load what is published and
        rewrite the index from the manifests (the manifests are the truth)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "location.txt").write_text(self.url + "\n")
        self.journal.mkdir(exist_ok=True)
        self.clear_staging()
        self._retry(self._ensure_root, f"opening {self.url}")
        self._replay_journal()
        self._publish_pending()
        self._published = {m.id: m for m in self._load(MANIFEST_FILE, "", Manifest)}
        self._rejected = {r.candidate_id: r for r in self._load(REJECTION_FILE, REJECTED_DIR, Rejection)}
        self.rebuild_index()

    def clear_staging(self) -> None:
        """Remove local work in progress; it was never uploaded."""
        fresh_dir(self.staging)

    def stage(self, name: str) -> Path:
        """A fresh private local directory for a candidate's work."""
        return fresh_dir(self.staging / name)

    def manifests(self) -> list[Manifest]:
        """Every published benchmark's manifest, in candidate order."""
        return sorted(self._published.values(), key=lambda m: (m.candidate.get("index", 0), m.id))

    def rejections(self) -> list[Rejection]:
        """Every archived rejection."""
        return [self._rejected[k] for k in sorted(self._rejected)]

    def rebuild_index(self) -> None:
        """Rewrite ``index.jsonl`` from the published manifests."""
        self._retry(self._write_index, f"writing {INDEX_FILE}")

    def write_gallery(self, manifests: list[Manifest]) -> str:
        """Write ``index.html`` (contact sheets are referenced relatively); returns its URL."""
        self._retry(lambda: self._upload_gallery(manifests), "writing index.html")
        return storage.join(self.url, "index.html")

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, staged: Path, manifest: Manifest) -> str:
        """Upload a staged benchmark, manifest last, then rewrite the index and the gallery.

        Raises :class:`PublishError` when an upload fails after its retries; the files
        uploaded for this benchmark are then deleted (best effort; else by the next run).
        """
        write_json(staged / MANIFEST_FILE, manifest.model_dump(mode="json"))
        target = storage.join(self.url, manifest.id)
        if manifest.id in self._published:  # a previous run published it; nothing to add
            shutil.rmtree(staged)
            return target
        remote = storage.join(self.root, manifest.id)
        self._upload_or_keep(staged, remote, MANIFEST_FILE, f"benchmark {manifest.id}", manifest.id)
        self._published[manifest.id] = manifest
        try:
            self.rebuild_index()
            self._upload_gallery(self.manifests())
        except RetriesExhausted as exc:
            # The benchmark is complete (manifest present): it is kept, and the next run's
            # index lists it. The run still stops: the store is failing.
            raise PublishError(
                f"uploaded {manifest.id} but could not update the index of {self.url}: {exc}; "
                "re-run to resume (the next run lists it)"
            ) from exc
        shutil.rmtree(staged)
        return target

    def archive_rejection(self, staged: Path, rejection: Rejection) -> str:
        """Upload a rejected candidate's script, report and reason (``rejection.json`` last)."""
        write_json(staged / REJECTION_FILE, rejection.model_dump(mode="json"))
        shutil.rmtree(staged / "assets", ignore_errors=True)  # renders of rejected scripts are not kept
        target = storage.join(self.url, REJECTED_DIR, rejection.candidate_id)
        if rejection.candidate_id not in self._rejected:
            remote = storage.join(self.root, REJECTED_DIR, rejection.candidate_id)
            what = f"rejection {rejection.candidate_id}"
            self._upload_or_keep(
                staged, remote, REJECTION_FILE, what, f"{REJECTED_DIR}/{rejection.candidate_id}"
            )
            self._rejected[rejection.candidate_id] = rejection
        shutil.rmtree(staged)
        return target

    def _upload_or_keep(self, staged: Path, remote_dir: str, marker: str, what: str, pending: str) -> None:
        """Upload; when that fails, keep the finished files in ``pending/`` so the next run
        uploads them on start instead of checking the candidate again."""
        try:
            self._upload_tree(staged, remote_dir, marker, what)
        except PublishError:
            kept = self.pending / pending
            shutil.rmtree(kept, ignore_errors=True)
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, kept)
            raise

    def _publish_pending(self) -> None:
        """Upload what an earlier run finished but could not upload (it stopped right after)."""
        if not self.pending.is_dir():
            return
        for marker_path in sorted(self.pending.glob(f"*/{MANIFEST_FILE}")):
            folder = marker_path.parent
            remote = storage.join(self.root, folder.name)
            if not self._exists(storage.join(remote, MANIFEST_FILE)):
                self._upload_tree(
                    folder, remote, MANIFEST_FILE, f"benchmark {folder.name} (from an earlier run)"
                )
            shutil.rmtree(folder)
        for marker_path in sorted(self.pending.glob(f"{REJECTED_DIR}/*/{REJECTION_FILE}")):
            folder = marker_path.parent
            remote = storage.join(self.root, REJECTED_DIR, folder.name)
            if not self._exists(storage.join(remote, REJECTION_FILE)):
                self._upload_tree(
                    folder, remote, REJECTION_FILE, f"rejection {folder.name} (from an earlier run)"
                )
            shutil.rmtree(folder)

    def _upload_tree(self, staged: Path, remote_dir: str, marker: str, what: str) -> None:
        """Upload every file under ``staged`` to ``remote_dir``, ``marker`` last; all or nothing."""
        files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
        files.remove(marker)
        local = [str(staged / f) for f in files]
        keys = [storage.join(remote_dir, f) for f in files]
        marker_key = storage.join(remote_dir, marker)
        journal = self._journal_open(what, [*keys, marker_key], marker_key)
        self._emit(f"uploading {what} ({len(files) + 1} files)")
        try:
            if local:
                self._retry(lambda: self._put(list(zip(local, keys, strict=True))), f"upload of {what}")
            self._retry(
                lambda: self._put([(str(staged / marker), marker_key)]), f"upload of {what} ({marker})"
            )
        except RetriesExhausted as exc:
            cleaned = self._discard([marker_key, *keys])
            if cleaned:
                journal.unlink(missing_ok=True)
            leftover = "removed" if cleaned else "left for the next run to remove (it is not visible)"
            self._emit(f"upload of {what} failed; what was uploaded is {leftover}")
            raise PublishError(
                f"{exc}. Nothing of it is visible: its partial upload was {leftover}. "
                "Re-run the same command once the store is reachable: it uploads the finished "
                "files first, without checking the candidate again."
            ) from exc
        journal.unlink(missing_ok=True)

    # -- helpers -----------------------------------------------------------------------------

    def _emit(self, message: str) -> None:
        if self.on_event is not None:
            self.on_event(message)

    def _retry(self, action: Callable[[], _T], what: str) -> _T:
        return call_with_retries(action, what, self.policy, _retryable, self._emit)

    def _exists(self, path: str) -> bool:
        return bool(self._retry(functools.partial(self._call, "exists", path), f"looking up {path}"))

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return storage.bounded(self.fs, method, *args, timeout=self.timeout, **kwargs)

    def _put(self, pairs: list[tuple[str, str]]) -> None:
        storage.put_files(self.fs, pairs, self.timeout)

    def _ensure_root(self) -> None:
        protocols = (self.fs.protocol,) if isinstance(self.fs.protocol, str) else tuple(self.fs.protocol)
        if "s3" in protocols:
            bucket = self.root.split("/", 1)[0]
            if not self._call("exists", bucket):
                raise FileNotFoundError(f"bucket {bucket!r} does not exist (create it first)")
        else:
            self._call("makedirs", self.root, exist_ok=True)

    def _children(self, under: str) -> list[str]:
        """Names of the entries directly under ``root/under`` (none if it does not exist)."""
        path = storage.join(self.root, under) if under else self.root
        try:
            entries = self._call("ls", path, detail=False)
        except FileNotFoundError:
            return []
        return [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]

    def _load(self, marker: str, under: str, model: type[_M]) -> list[_M]:
        """Parse ``root/under/*/marker`` for every child that has one."""

        def load() -> list[_M]:
            names = [n for n in self._children(under) if n not in (REJECTED_DIR, STAGING_DIR)]
            paths = [storage.join(self.root, under, n, marker) for n in names]
            found = storage.cat_existing(self.fs, paths, self.timeout)
            return [model.model_validate_json(found[p]) for p in paths if p in found]

        result: list[_M] = call_with_retries(load, f"listing {self.url}", self.policy, _retryable, self._emit)
        return result

    def _write_index(self) -> None:
        lines = "".join(m.model_dump_json() + "\n" for m in self.manifests())
        local = self.work_dir / INDEX_FILE
        local.write_text(lines)
        self._put([(str(local), storage.join(self.root, INDEX_FILE))])

    def _upload_gallery(self, manifests: list[Manifest]) -> None:
        from benchgen.gallery import write_gallery

        page = write_gallery(self.work_dir, manifests)
        self._put([(str(page), storage.join(self.root, "index.html"))])

    def _journal_open(self, what: str, keys: list[str], marker: str) -> Path:
        name = storage.normalize(marker).replace("/", "_").replace(":", "_")[-150:]
        path = self.journal / f"{name}.json"
        write_json(path, {"what": what, "keys": keys, "marker": marker})
        return path

    def _replay_journal(self) -> None:
        """Finish the bookkeeping of uploads that a crash or an outage interrupted: an upload
        whose marker (manifest / rejection.json) exists completed; others are deleted."""
        for path in sorted(self.journal.glob("*.json")):
            entry = json.loads(path.read_text())
            marker: str = entry["marker"]
            exists = call_with_retries(
                functools.partial(self._call, "exists", marker),
                "checking an interrupted upload",
                self.policy,
                _retryable,
                self._emit,
            )
            if exists or self._discard([entry["marker"], *entry["keys"]]):
                path.unlink()
                if not exists:
                    self._emit(f"removed the partial upload of {entry['what']} left by an earlier run")

    def _discard(self, keys: list[str]) -> bool:
        """Delete ``keys``, the first one (the marker) before the others; True when done."""
        marker, rest = keys[0], keys[1:]
        try:
            for batch in ([marker], rest):
                if batch:
                    call_with_retries(
                        functools.partial(self._rm, batch),
                        "clean-up",
                        RetryPolicy(attempts=2, base_delay_s=0.5),
                        _retryable,
                        self._emit,
                    )
        except Exception:  # best effort: the journal keeps the keys for the next run
            return False
        return True

    def _rm(self, keys: list[str]) -> None:
        try:
            self._call("rm", keys)
        except FileNotFoundError:  # some stores refuse to delete missing keys in a batch
            for key in keys:
                if self._call("exists", key):
                    self._call("rm", key)
