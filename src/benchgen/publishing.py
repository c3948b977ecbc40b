"""Publishing targets of ``benchgen generate``: a local directory or remote storage (fsspec).

All work (staging, checks, renders) happens on local disk. A local dataset publishes by
rename (:class:`DatasetWriter`). A remote dataset (``s3://bucket/prefix``
or any fsspec URL) publishes with :class:`RemoteDatasetWriter`:

1. every file of the staged benchmark is uploaded under ``<prefix>/<id>/`` (renders under
   ``<id>/assets/renders/``), ``manifest.json`` last;
2. then one index segment, ``<prefix>/index.d/<id>.jsonl``, is written (O(1) per benchmark);
   segments are merged into ``index.jsonl`` and the gallery written when the run ends.

A benchmark is visible once its segment exists, and its segment is written only after its
manifest. Each upload step is retried with bounded exponential backoff
(``Settings.upload_retry``). When the retries are exhausted the files
uploaded for that benchmark are deleted (manifest first, best effort) and
:class:`PublishError` stops the run: continuing would publish later candidates in its
place and break "same seed, same benchmarks". The finished files are kept in the work
directory (``pending/``) and the next run uploads them before anything else. An upload
journal in the local work directory records what is being uploaded until its segment is
written, so the next run finishes an upload whose manifest made it (writes its segment) and
deletes the files of one that did not; nothing else under the prefix is ever deleted.

One writer per prefix is enforced with a lease, ``<prefix>/.lease.json``, taken with S3's
conditional writes (``If-None-Match`` to create, ``If-Match`` to renew or take over), renewed
in the background and checked before every publish. A crashed writer's lease expires after
``BENCHGEN_LEASE_TTL_S`` (60 s); one held by a dead process on the same host is taken over
at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fsspec.spec import AbstractFileSystem

from benchgen import storage
from benchgen.dataset import (
    GALLERY_FILE,
    MANIFEST_FILE,
    PUBLISHING_DIR,
    REJECTED_DIR,
    REJECTION_FILE,
    SEGMENTS_DIR,
    STAGING_DIR,
    FileLease,
    LeaseHeld,
    Manifest,
    Rejection,
    benchmark_index,
    describe_owner,
    fresh_dir,
    lease_owner,
    light_manifest,
    rejection_index,
    write_json,
)
from benchgen.errors import InfrastructureError
from benchgen.retry import RetriesExhausted, RetryPolicy, call_with_retries
from benchgen.settings import Settings

_T = TypeVar("_T")

JOURNAL_DIR = "uploads"
PENDING_DIR = "pending"
GALLERY_DIR = "gallery"
"""Where a remote dataset's gallery is built in the work directory before it is uploaded."""
LEASE_FILE = ".lease.json"


class PublishError(InfrastructureError, RuntimeError):
    """A benchmark or rejection could not be uploaded, even after retries."""


class LeaseLost(PublishError):
    """This run's lease could not be renewed in time or was taken over: it must stop writing."""


class Publisher(Protocol):
    """What :class:`benchgen.generate.Generator` needs from a dataset target."""

    @property
    def location(self) -> str:
        """The dataset's canonical location (absolute path or URL)."""
        ...

    def check(self) -> None: ...
    def acquire(self, run_id: str) -> None: ...
    def release(self) -> None: ...
    def prepare(self) -> None: ...
    def clear_staging(self) -> None: ...
    def stage(self, name: str) -> Path: ...
    def manifests(self) -> Iterator[Manifest]: ...
    def rejections(self) -> Iterator[Rejection]: ...
    def publish(self, staged: Path, manifest: Manifest) -> object: ...
    def archive_rejection(self, staged: Path, rejection: Rejection) -> object: ...
    def compact(self, gallery: bool = True) -> str: ...
    def needs_compaction(self) -> bool: ...
    def rescan(self) -> int: ...
    def default_db_url(self) -> str: ...


def open_writer(
    out: str | os.PathLike[str],
    work_dir: Path | None = None,
    on_event: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> Publisher:
    """The publisher of a dataset location: local directory or fsspec URL (nothing is contacted)."""
    if storage.is_remote(out):
        return RemoteDatasetWriter(str(out), work_dir=work_dir, on_event=on_event, settings=settings)
    return DatasetWriter(Path(storage.normalize(out)))


def _retryable(exc: BaseException) -> bool:
    """Transient failures are retried; a missing bucket, a refused permission or a bad
    setting is not (the run's first request already proved the store answers)."""
    return not isinstance(
        exc, FileNotFoundError | PermissionError | ValueError | TypeError | storage.StoreError | LeaseLost
    )


class StoreLease:
    """One writer per prefix: a lease object taken and renewed with conditional writes.

    The object holds the owner (host, pid, run) and ``expires_at`` (UTC seconds; writers'
    clocks are assumed to agree within a fraction of the TTL, as NTP gives). A background
    thread renews it every quarter TTL with ``If-Match`` on the last ETag, so a writer that
    lost it (expired, then taken over) finds out at its next renewal; :meth:`check` fails
    once no renewal has succeeded for three quarters of the TTL.
    """

    def __init__(
        self,
        fs: AbstractFileSystem,
        path: str,
        owner: dict[str, Any],
        ttl_s: float,
        timeout: float,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.fs = fs
        self.path = path
        self.owner = owner
        self.ttl_s = ttl_s
        self.timeout = timeout
        self.on_event = on_event
        self.etag: str | None = None
        self.renewed_at = 0.0
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _body(self, released: bool = False) -> bytes:
        expires = 0.0 if released else time.time() + self.ttl_s
        return json.dumps({**self.owner, "expires_at": expires, "ttl_s": self.ttl_s}).encode()

    def acquire(self) -> None:
        """Take the lease, or raise :class:`LeaseHeld` naming its holder."""
        if not storage.supports_conditional_writes(self.fs):
            self._acquire_unconditionally()
            return
        started = time.monotonic()
        try:
            self.etag = storage.put_conditional(self.fs, self.path, self._body(), self.timeout)
        except storage.ConditionFailed:
            current = storage.get_with_etag(self.fs, self.path, self.timeout)
            holder, etag = (json.loads(current[0]), current[1]) if current else ({}, None)
            if current is not None and not self._stale(holder):
                raise LeaseHeld(self._held_message(holder)) from None
            try:
                self.etag = storage.put_conditional(
                    self.fs, self.path, self._body(), self.timeout, if_match=etag
                )
            except storage.ConditionFailed:
                raise LeaseHeld(self._held_message({})) from None
            if holder:
                self._emit(f"took over the expired lease of {describe_owner(holder)}")
        self.renewed_at = started
        self._thread = threading.Thread(target=self._renew_loop, name="benchgen-lease", daemon=True)
        self._thread.start()

    def _acquire_unconditionally(self) -> None:
        """Stores without conditional writes: read, then write (a narrow race remains)."""
        try:
            holder = json.loads(self.fs.cat_file(self.path))
        except FileNotFoundError:
            holder = None
        if holder is not None and not self._stale(holder):
            raise LeaseHeld(self._held_message(holder))
        self.fs.pipe_file(self.path, self._body())
        self.renewed_at = time.monotonic()

    def _stale(self, holder: dict[str, Any]) -> bool:
        """Expired, released, or left by a process of this host that no longer runs (or by
        this very process: its runs are sequential, so an earlier one failed to release)."""
        if float(holder.get("expires_at", 0)) <= time.time():
            return True
        if holder.get("host") != socket.gethostname():
            return False
        pid = int(holder.get("pid", 0))
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _held_message(self, holder: dict[str, Any]) -> str:
        until = holder.get("expires_at")
        expiry = (
            f"; its lease expires at {time.strftime('%H:%M:%S UTC', time.gmtime(float(until)))} unless renewed"
            if until
            else ""
        )
        where = self.path.rsplit("/", 1)[0]
        return (
            f"{where} is being written by another run ({describe_owner(holder)}){expiry}. "
            f"One writer per prefix: wait for it to finish (a crashed run's lease lapses after {self.ttl_s:g} s)"
        )

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            self._renew()

    def _renew(self) -> None:
        started = time.monotonic()
        with self._lock:
            if self.lost or self._stop.is_set():
                return
            try:
                self.etag = storage.put_conditional(
                    self.fs, self.path, self._body(), self.timeout, if_match=self.etag
                )
                self.renewed_at = started
            except storage.ConditionFailed:
                self.lost = "another run took the lease over"
            except Exception as exc:  # the store is unreachable: check() decides when it is too late
                self._emit(f"could not renew the lease ({type(exc).__name__}: {str(exc)[:120]})")

    def check(self) -> None:
        """Raise :class:`LeaseLost` if this writer may no longer be the only one."""
        if self.lost:
            raise LeaseLost(f"lost the lease of {self.path}: {self.lost}; stopping")
        if self.etag is not None and time.monotonic() - self.renewed_at > 0.75 * self.ttl_s:
            raise LeaseLost(
                f"could not renew the lease of {self.path} for {time.monotonic() - self.renewed_at:.0f} s "
                f"(TTL {self.ttl_s:g} s); stopping so that no other writer overlaps"
            )

    def release(self) -> None:
        """Stop renewing and mark the lease released (best effort: else it expires)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout)
        with self._lock:
            if self.etag is None or self.lost:
                return
            try:
                storage.put_conditional(
                    self.fs, self.path, self._body(released=True), min(self.timeout, 5.0), if_match=self.etag
                )
            except Exception:  # unreachable store: the lease expires by itself
                self._emit("could not release the lease; it expires by itself")
            self.etag = None

    def _emit(self, message: str) -> None:
        if self.on_event is not None:
            self.on_event(message)


class _Writer:
    """What both writers share: a local staging directory and the two indexes."""

    staging: Path
    index: Any
    rejection_index: Any

    def clear_staging(self) -> None:
        """Remove work in progress (abandoned or interrupted candidates); it was never published."""
        fresh_dir(self.staging)

    def stage(self, name: str) -> Path:
        """A fresh private local directory for a candidate's work."""
        return fresh_dir(self.staging / name)

    def manifests(self) -> Iterator[Manifest]:
        """Every published benchmark's manifest, in candidate order (from the index)."""
        for record in self.index.records():
            yield Manifest.model_validate(record)

    def rejections(self) -> Iterator[Rejection]:
        """Every archived rejection, in candidate order (from the index)."""
        for record in self.rejection_index.records():
            yield Rejection.model_validate(record)


class DatasetWriter(_Writer):
    """Publishes benchmarks and rejections into a dataset directory, crash-safely."""

    def __init__(self, root: Path) -> None:
        from benchgen import storage

        self.root = root
        self.staging = root / STAGING_DIR
        self.rejected = root / REJECTED_DIR
        fs, path = storage.filesystem(root)
        self.index = benchmark_index(fs, path)
        self.rejection_index = rejection_index(fs, path)
        self._lease: FileLease | None = None

    @property
    def location(self) -> str:
        """The dataset directory as an absolute path (its key in the metadata database)."""
        return str(self.root.resolve())

    def default_db_url(self) -> str:
        """SQLite inside the dataset directory."""
        return f"sqlite:///{(self.root / 'benchgen.db').resolve()}"

    def check(self) -> None:
        """Fail early, creating nothing, when the directory cannot be created or written."""
        from benchgen import storage

        target = self.root.absolute()
        if target.exists() and not target.is_dir():
            raise storage.StoreConfigError(f"{self.root} exists and is not a directory")
        while not target.exists():
            target = target.parent
        if not target.is_dir() or not os.access(target, os.W_OK | os.X_OK):
            raise storage.StoreConfigError(f"cannot create or write {self.root}: {target} is not writable")

    def acquire(self, run_id: str) -> None:
        """Become the dataset's only writer, or raise :class:`LeaseHeld`."""
        self._lease = FileLease(self.root, lease_owner(run_id))
        self._lease.acquire()

    def release(self) -> None:
        """Stop being the dataset's writer."""
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    def prepare(self) -> None:
        """Create the layout and drop leftovers of an interrupted run.

        A benchmark renamed into place by a run killed before it wrote its index segment
        is indexed here (its manifest is the truth); that costs one look at each staged
        leftover, never a scan of the dataset.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self.clear_staging()
        self.rejected.mkdir(exist_ok=True)
        self.index.ensure()
        self.rejection_index.ensure()
        self._index_orphans()

    def _index_orphans(self) -> None:
        journal = self.root / PUBLISHING_DIR
        if not journal.is_dir():
            return
        for entry in sorted(journal.glob("*.json")):
            pending = json.loads(entry.read_text())
            target = Path(pending["target"])
            marker = target / pending["marker"]
            if marker.is_file():
                index = self.index if pending["kind"] == "benchmark" else self.rejection_index
                index.write_segment(pending["name"], json.dumps(json.loads(marker.read_text())))
            entry.unlink()

    def publish(self, staged: Path, manifest: Manifest) -> Path:
        """Make a staged benchmark visible: manifest last, one rename, then its index segment."""
        write_json(staged / MANIFEST_FILE, manifest.model_dump(mode="json"))
        target = self.root / manifest.id
        self._move(staged, target, "benchmark", manifest.id, MANIFEST_FILE)
        self.index.write_segment(manifest.id, manifest.model_dump_json())
        self._forget(manifest.id)
        return target

    def archive_rejection(self, staged: Path, rejection: Rejection) -> Path:
        """Move a rejected candidate's files into the archive, with its reason."""
        write_json(staged / REJECTION_FILE, rejection.model_dump(mode="json"))
        shutil.rmtree(staged / "assets", ignore_errors=True)  # renders of rejected scripts are not kept
        target = self.rejected / rejection.candidate_id
        self._move(staged, target, "rejection", rejection.candidate_id, REJECTION_FILE)
        self.rejection_index.write_segment(rejection.candidate_id, rejection.model_dump_json())
        self._forget(rejection.candidate_id)
        return target

    def _move(self, staged: Path, target: Path, kind: str, name: str, marker: str) -> None:
        """Rename ``staged`` to ``target`` (unless a previous run did), noting it first so a
        kill between the rename and the index segment is repaired by :meth:`prepare`."""
        journal = self.root / PUBLISHING_DIR
        journal.mkdir(exist_ok=True)
        write_json(
            journal / f"{name}.json", {"kind": kind, "name": name, "target": str(target), "marker": marker}
        )
        if target.exists():  # a previous run published it; the staged copy is redundant
            shutil.rmtree(staged)
        else:
            os.rename(staged, target)

    def _forget(self, name: str) -> None:
        journal = self.root / PUBLISHING_DIR
        (journal / f"{name}.json").unlink(missing_ok=True)

    def compact(self, gallery: bool = True) -> str:
        """Merge the index segments into ``index.jsonl`` (and the rejections'), then write
        the gallery from the merged index; returns the gallery's path."""
        from benchgen.gallery import write_gallery

        manifests: list[Manifest] = []
        self.index.compact(lambda record: manifests.append(light_manifest(record)))
        self.rejection_index.compact()
        if gallery:
            write_gallery(self.root, manifests)
        return str((self.root / GALLERY_FILE).resolve())

    def rescan(self) -> int:
        """Index every benchmark and rejection whose marker exists but whose index entry is
        missing (reads every manifest: for repairs). Returns how many entries were added."""
        added = 0
        known = {str(r.get("id")) for r in self.index.records()}
        for path in sorted(self.root.glob(f"*/{MANIFEST_FILE}")):
            name = path.parent.name
            if name not in known and name not in (REJECTED_DIR, STAGING_DIR):
                self.index.write_segment(
                    name, Manifest.model_validate_json(path.read_text()).model_dump_json()
                )
                added += 1
        known = {str(r.get("candidate_id")) for r in self.rejection_index.records()}
        for path in sorted(self.rejected.glob(f"*/{REJECTION_FILE}")):
            if path.parent.name not in known:
                record = Rejection.model_validate_json(path.read_text())
                self.rejection_index.write_segment(path.parent.name, record.model_dump_json())
                added += 1
        return added

    def needs_compaction(self) -> bool:
        """True when segments wait to be merged or the gallery is missing."""
        return (
            bool(self.index.segment_paths())
            or bool(self.rejection_index.segment_paths())
            or not (self.root / GALLERY_FILE).exists()
        )


class RemoteDatasetWriter(_Writer):
    """Publishes benchmarks and rejections to remote storage; works in a local directory."""

    def __init__(
        self,
        url: str,
        work_dir: Path | None = None,
        on_event: Callable[[str], None] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        """The store's connection settings, the upload retry policy, the lease lifetime, the cache."""
        self.url = storage.normalize(url)
        self.fs: AbstractFileSystem
        self.fs, self.root = storage.filesystem(self.url, self.settings.storage)
        self.work_dir = work_dir or storage.default_work_dir(self.url, self.settings.cache_dir)
        self.staging = self.work_dir / STAGING_DIR
        self.journal = self.work_dir / JOURNAL_DIR
        self.pending = self.work_dir / PENDING_DIR
        self.policy = self.settings.upload_retry
        self.timeout = self.settings.storage.operation_timeout_s
        self.on_event = on_event
        self.index = benchmark_index(self.fs, self.root)
        self.rejection_index = rejection_index(self.fs, self.root)
        self._lease: StoreLease | None = None

    @property
    def location(self) -> str:
        """The dataset URL."""
        return self.url

    def default_db_url(self) -> str:
        """SQLite in the local work directory (object stores cannot hold a database)."""
        return f"sqlite:///{self.work_dir / 'benchgen.db'}"

    # -- life cycle -------------------------------------------------------------------------

    def check(self) -> None:
        """One unretried read that proves the store answers and these credentials may read
        the prefix (see :func:`benchgen.storage.probe`). Writes nothing."""
        try:
            storage.probe(self.url, settings=self.settings.storage)
        except storage.StoreNotFound:
            bucket = self.root.split("/", 1)[0]
            raise storage.StoreNotFound(
                f"{self.url}: bucket {bucket!r} does not exist (create it first)"
            ) from None

    def acquire(self, run_id: str) -> None:
        """Take the prefix's lease (the run's first write), or raise :class:`LeaseHeld`."""
        lease = StoreLease(
            self.fs,
            storage.join(self.root, LEASE_FILE),
            lease_owner(run_id),
            self.settings.lease_ttl_s,
            min(self.timeout, 30.0),
            self._emit,
        )
        try:
            lease.acquire()
        except (LeaseHeld, storage.StoreError):
            raise
        except Exception as exc:
            raise storage.classify(exc, self.url, self.settings.storage) from exc
        self._lease = lease

    def release(self) -> None:
        """Give the lease up."""
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    def prepare(self) -> None:
        """Finish or undo interrupted uploads, upload what an earlier run left pending, and
        make sure the index exists. Costs nothing per published benchmark."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "location.txt").write_text(self.url + "\n")
        self.journal.mkdir(exist_ok=True)
        self.clear_staging()
        self._replay_journal()
        self._publish_pending()
        self._retry(self.index.ensure, "creating the index")
        self._retry(self.rejection_index.ensure, "creating the rejection index")

    def compact(self, gallery: bool = True) -> str:
        """Merge the index segments into ``index.jsonl`` (one streaming pass), the same for
        the rejections, then write the gallery; returns the gallery's URL."""
        self._check_lease()
        manifests: list[Manifest] = []

        def merge() -> None:
            manifests.clear()
            self.index.compact(lambda record: manifests.append(light_manifest(record)))

        self._retry(merge, f"compacting {self.url}/index.jsonl")
        self._retry(self.rejection_index.compact, f"compacting {self.url}/{REJECTED_DIR}/index.jsonl")
        if gallery:
            self._retry(lambda: self._upload_gallery(manifests), f"writing {GALLERY_FILE}")
        return storage.join(self.url, GALLERY_FILE)

    def needs_compaction(self) -> bool:
        """True when segments wait to be merged or the gallery is missing."""

        def look() -> bool:
            return (
                bool(self.index.segment_paths())
                or bool(self.rejection_index.segment_paths())
                or not self._call("exists", storage.join(self.root, GALLERY_FILE))
            )

        return bool(self._retry(look, f"looking at {self.url}"))

    def rescan(self) -> int:
        """Index every benchmark and rejection whose marker exists but whose index entry is
        missing, by listing the whole prefix (slow: for repairs when the work directory
        that held the upload journal was lost). Returns how many entries were added."""
        self._check_lease()
        added = 0
        for index, under, marker, model in (
            (self.index, "", MANIFEST_FILE, Manifest),
            (self.rejection_index, REJECTED_DIR, REJECTION_FILE, Rejection),
        ):
            known = {str(r.get("id") or r.get("candidate_id")) for r in index.records()}
            names = [n for n in self._children(under) if n not in known and not n.startswith(".")]
            names = [n for n in names if n not in (REJECTED_DIR, SEGMENTS_DIR, "index.jsonl", GALLERY_FILE)]
            paths = {n: storage.join(self.root, under, n, marker) for n in names}
            found = storage.cat_existing(self.fs, list(paths.values()), self.timeout)
            for name, path in paths.items():
                if path in found:
                    record = model.model_validate_json(found[path])
                    self._retry(
                        functools.partial(index.write_segment, name, record.model_dump_json()),
                        f"indexing {name}",
                    )
                    added += 1
        return added

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, staged: Path, manifest: Manifest) -> str:
        """Upload a staged benchmark, manifest last, then write its index segment.

        Raises :class:`PublishError` when an upload fails after its retries; the files
        uploaded for this benchmark are then deleted (best effort; else by the next run).
        """
        self._check_lease()
        write_json(staged / MANIFEST_FILE, manifest.model_dump(mode="json"))
        remote = storage.join(self.root, manifest.id)
        what = f"benchmark {manifest.id}"
        journal = self._upload_or_keep(staged, remote, MANIFEST_FILE, what, manifest.id)
        self._index_uploaded(journal, "benchmarks", manifest.id, manifest.model_dump_json(), what)
        shutil.rmtree(staged)
        return storage.join(self.url, manifest.id)

    def archive_rejection(self, staged: Path, rejection: Rejection) -> str:
        """Upload a rejected candidate's script, report and reason (``rejection.json`` last),
        then its index segment."""
        self._check_lease()
        write_json(staged / REJECTION_FILE, rejection.model_dump(mode="json"))
        shutil.rmtree(staged / "assets", ignore_errors=True)  # renders of rejected scripts are not kept
        name = rejection.candidate_id
        remote = storage.join(self.root, REJECTED_DIR, name)
        what = f"rejection {name}"
        journal = self._upload_or_keep(staged, remote, REJECTION_FILE, what, f"{REJECTED_DIR}/{name}")
        self._index_uploaded(journal, "rejections", name, rejection.model_dump_json(), what)
        shutil.rmtree(staged)
        return storage.join(self.url, REJECTED_DIR, name)

    def _index_uploaded(self, journal: Path, kind: str, name: str, line: str, what: str) -> None:
        """Write the segment of a complete upload; its journal entry goes only afterwards, so
        a failure here is finished by the next run."""
        index = self.index if kind == "benchmarks" else self.rejection_index
        try:
            self._retry(functools.partial(index.write_segment, name, line), f"indexing {what}")
        except RetriesExhausted as exc:
            raise PublishError(
                f"uploaded {what} but could not index it: {exc}; re-run to resume (the next run indexes it)"
            ) from exc
        journal.unlink(missing_ok=True)

    def _upload_or_keep(self, staged: Path, remote_dir: str, marker: str, what: str, pending: str) -> Path:
        """Upload; when that fails, keep the finished files in ``pending/`` so the next run
        uploads them on start instead of checking the candidate again. Returns the journal entry."""
        try:
            return self._upload_tree(staged, remote_dir, marker, what)
        except PublishError:
            kept = self.pending / pending
            shutil.rmtree(kept, ignore_errors=True)
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, kept)
            raise

    def _publish_pending(self) -> None:
        """Upload (and index) what an earlier run finished but could not upload."""
        if not self.pending.is_dir():
            return
        for kind, pattern, under, marker in (
            ("benchmarks", f"*/{MANIFEST_FILE}", "", MANIFEST_FILE),
            ("rejections", f"{REJECTED_DIR}/*/{REJECTION_FILE}", REJECTED_DIR, REJECTION_FILE),
        ):
            for marker_path in sorted(self.pending.glob(pattern)):
                folder = marker_path.parent
                if kind == "benchmarks" and folder.name == REJECTED_DIR:
                    continue
                what = f"{kind[:-1]} {folder.name} (from an earlier run)"
                remote = storage.join(self.root, under, folder.name)
                journal = self._upload_tree(folder, remote, marker, what)
                line = json.dumps(json.loads(marker_path.read_text()))
                self._index_uploaded(journal, kind, folder.name, line, what)
                shutil.rmtree(folder)

    def _upload_tree(self, staged: Path, remote_dir: str, marker: str, what: str) -> Path:
        """Upload every file under ``staged`` to ``remote_dir``, ``marker`` last; all or nothing.
        Returns the journal entry, which stays until the upload is indexed."""
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
        return journal

    # -- helpers -----------------------------------------------------------------------------

    def _emit(self, message: str) -> None:
        if self.on_event is not None:
            self.on_event(message)

    def _check_lease(self) -> None:
        if self._lease is not None:
            self._lease.check()

    def _retry(self, action: Callable[[], _T], what: str) -> _T:
        return call_with_retries(action, what, self.policy, _retryable, self._emit)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return storage.bounded(self.fs, method, *args, timeout=self.timeout, **kwargs)

    def _put(self, pairs: list[tuple[str, str]]) -> None:
        storage.put_files(self.fs, pairs, self.timeout)

    def _children(self, under: str) -> list[str]:
        """Names of the entries directly under ``root/under`` (none if it does not exist)."""
        path = storage.join(self.root, under) if under else self.root

        def ls() -> list[str]:
            try:
                entries = self._call("ls", path, detail=False)
            except FileNotFoundError:
                return []
            return [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]

        return self._retry(ls, f"listing {path}")

    def _upload_gallery(self, manifests: list[Manifest]) -> None:
        """Build the gallery (index page, detail pages, stats plots) in the work directory and
        upload what the store does not have yet, ``index.html`` last so it never links a page
        that is not there. A ledger of uploaded files' hashes makes a re-run upload only new
        pages and changed plots, and an upload interrupted part-way is completed by the next."""
        from benchgen.gallery import PAGES_DIR, StoreSource, build_gallery, page_path
        from benchgen.stats import PLOTS, STATS_DIR

        out = self.work_dir / GALLERY_DIR
        build_gallery(out, manifests, StoreSource(self.fs, self.root, self.timeout), self.rejections())
        ledger_path = out / ".uploaded.json"
        try:
            ledger: dict[str, str] = json.loads(ledger_path.read_text())
        except (OSError, ValueError):
            ledger = {}
        wanted = [page_path(m.id) for m in manifests] + [f"{STATS_DIR}/{name}" for name in PLOTS.values()]
        digests = {r: hashlib.sha256((out / r).read_bytes()).hexdigest() for r in wanted}
        todo = [r for r in wanted if ledger.get(r) != digests[r]]
        if todo:
            self._emit(f"uploading {len(todo)} gallery files ({PAGES_DIR}/, {STATS_DIR}/)")
            self._put([(str(out / r), storage.join(self.root, r)) for r in todo])
            ledger.update({r: digests[r] for r in todo})
            write_json(ledger_path, ledger)
        # Always put the index: needs_compaction() treats a missing remote index.html as work to do.
        self._put([(str(out / GALLERY_FILE), storage.join(self.root, GALLERY_FILE))])

    def _journal_open(self, what: str, keys: list[str], marker: str) -> Path:
        entry = storage.normalize(marker).replace("/", "_").replace(":", "_")[-150:]
        path = self.journal / f"{entry}.json"
        write_json(path, {"what": what, "keys": keys, "marker": marker})
        return path

    def _replay_journal(self) -> None:
        """Finish the bookkeeping of uploads that a crash or an outage interrupted: an upload
        whose marker (manifest / rejection.json) exists completed and is indexed now; the
        files of the others are deleted."""
        for path in sorted(self.journal.glob("*.json")):
            entry = json.loads(path.read_text())
            marker: str = entry["marker"]
            found = self._retry(
                functools.partial(storage.cat_existing, self.fs, [marker], self.timeout),
                "checking an interrupted upload",
            )
            content = found.get(marker)
            if content is not None:
                folder, _, marker_name = marker.rpartition("/")
                kind = "benchmarks" if marker_name == MANIFEST_FILE else "rejections"
                line = json.dumps(json.loads(content))
                self._index_uploaded(path, kind, folder.rsplit("/", 1)[-1], line, entry["what"])
            elif self._discard([marker, *entry["keys"]]):
                path.unlink()
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
