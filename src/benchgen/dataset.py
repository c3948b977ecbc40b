"""The dataset: layout, crash-safe publishing into a directory, the index, and the reading API.

Layout (the product; documented in the README)::

    DIR/index.jsonl                 compacted index: one line per accepted benchmark (its manifest), candidate order
    DIR/index.d/<id>.jsonl          index segments: one per benchmark published since the last compaction
    DIR/index.html                  static gallery (written when the index is compacted)
    DIR/benchgen.db                 metadata database (SQLite by default)
    DIR/<benchmark_id>/script.py
    DIR/<benchmark_id>/manifest.json
    DIR/<benchmark_id>/report.json  the full check report
    DIR/<benchmark_id>/assets/      model.xml, meshes/, cad/<label>.step, renders/*.png, contact_sheet.png
    DIR/rejected/<candidate_id>/    script.py, report.json (if checked), rejection.json
    DIR/rejected/index.jsonl        compacted index of the rejections (+ rejected/index.d/ segments)
    DIR/.lease                      the writer's lock (one writer per dataset)
    DIR/.staging/                   work in progress; never visible, cleared on start
    DIR/.publishing/                notes of publishes in progress (repaired on start)

Publishing costs O(1) per benchmark whatever the size of the dataset: its complete directory
(manifest written last) is renamed into place, then one small index *segment* is written.
Segments are merged into ``index.jsonl`` when a run ends (or by ``benchgen index compact``),
one streaming pass per run rather than one rewrite per benchmark. Readers see the union of
the compacted index and the segments, so a dataset is complete and consistent at any
moment, compacted or not. The index names a benchmark only after its manifest exists, and
nothing deletes an indexed benchmark, so readers need not look at every manifest.

A remote dataset (``s3://bucket/prefix``) has the same layout (its lease is ``.lease.json``)
minus ``.staging`` and ``benchgen.db``, which stay in a local work directory;
:mod:`benchgen.publishing` uploads each benchmark's files, manifest last, then its segment.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import heapq
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fsspec.spec import AbstractFileSystem
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import from_json

from benchgen.difficulty import Difficulty
from benchgen.errors import InfrastructureError, UsageError
from benchgen.settings import Settings
from benchgen.similarity import Signature
from benchgen.verdict import BuildMetrics, CollisionInfo, Randomization, ReviewVerdict

if TYPE_CHECKING:
    from benchgen.evaluate import EvaluationReport
    from benchgen.leaderboard import LeaderboardSummary
    from benchgen.solving import EvaluateOptions

INDEX_FILE = "index.jsonl"
SEGMENTS_DIR = "index.d"
MANIFEST_FILE = "manifest.json"
REJECTION_FILE = "rejection.json"
REJECTED_DIR = "rejected"
STAGING_DIR = ".staging"
GALLERY_FILE = "index.html"
PUBLISHING_DIR = ".publishing"
"""Notes of renames in progress: a kill between a rename and its index segment is repaired on start."""
LOCAL_LEASE_FILE = ".lease"


class Validation(BaseModel):
    """What the check measured that a consumer may want: every build's stability run, the
    randomization across seeds, how each body's collision geometry was made, the scale ratios."""

    per_build: list[BuildMetrics] = Field(default_factory=list)
    randomization: Randomization | None = None
    collision: dict[str, CollisionInfo] = Field(default_factory=dict)
    scale_extent_ratios: dict[str, dict[str, float]] = Field(default_factory=dict)


class SolutionSummary(BaseModel):
    """The reference solution (``<id>/solution.py``) as the gate judged it."""

    file: str = "solution.py"
    success_rate: float | None = None
    """Over the checked variants."""
    variants: int = 0
    cost_usd: float | None = None
    """The most expensive variant's design cost."""
    weight_g: float | None = None
    budget_headroom: float | None = None
    """``max_unit_cost / cost_usd``."""
    weight_headroom: float | None = None
    """``max_weight_g / weight_g`` (None without a weight limit)."""
    animation: str | None = None
    """The solved rollout, relative to the benchmark directory."""


class AuthorRecord(BaseModel):
    """Who wrote the script: the author kind, the family and its structural choices; the agent
    author adds its provenance (model, session, usage) as further fields."""

    model_config = ConfigDict(extra="allow")

    kind: str
    family: str
    choices: dict[str, Any] = Field(default_factory=dict)


class EvaluatedWith(BaseModel):
    """What the verdict was computed with, so a reader can tell whether it is still current."""

    benchgen_version: str
    check_options_sha256: str
    isolation: str | None


class CandidateRef(BaseModel):
    """Where a candidate came from in its run: its index in the run's stream, the run seed and
    the run key (the author settings); a decision recorded without a run key belongs to no stream."""

    index: int
    seed: int
    run_key: str | None = None


class RejectedCandidate(CandidateRef):
    """A rejected candidate's origin plus its structural choices."""

    choices: dict[str, Any] = Field(default_factory=dict)


class Manifest(BaseModel):
    """Everything a consumer needs to know about one accepted benchmark."""

    id: str
    name: str
    tier: str
    theme: str | None
    description: str
    family: str
    target_quantity: int
    max_unit_cost: float
    max_weight_g: float | None
    params: dict[str, float]
    seeds: list[int]
    scales: list[float]
    validation: Validation
    review: ReviewVerdict
    difficulty: Difficulty
    signature: Signature
    author: AuthorRecord
    benchgen_version: str
    content_hash: str
    script_sha256: str
    evaluated_with: EvaluatedWith
    candidate: CandidateRef
    created_at: str
    solution: SolutionSummary | None = None
    """The reference solution as the gate judged it: success rate over the checked variants,
    its worst-case cost and weight, and the budget headroom (budget ÷ cost)."""

    @field_validator("solution", mode="before")
    @classmethod
    def _no_solution(cls, value: object) -> object:
        # Manifests written before the solvability gate existed carry an empty object.
        return None if value == {} else value


class Rejection(BaseModel):
    """Why a candidate was not accepted, kept as data in the rejection archive."""

    candidate_id: str
    stage: str = Field(description="check | review | duplicate | author")
    code: str
    message: str
    family: str
    candidate: RejectedCandidate
    script_sha256: str


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def content_hash(benchmark_dir: Path) -> str:
    """Hash of what makes a benchmark: script, reference solution, MJCF, meshes and the check report minus timings.

    Renders are excluded: their pixels depend on the OpenGL implementation, not on the
    benchmark. Timings are excluded because they measure the machine.
    """
    digest = hashlib.sha256()
    digest.update((benchmark_dir / "script.py").read_bytes())
    if (benchmark_dir / "solution.py").is_file():
        digest.update((benchmark_dir / "solution.py").read_bytes())
    assets = benchmark_dir / "assets"
    for path in [assets / "model.xml", *sorted((assets / "meshes").glob("*.stl"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    report = json.loads((benchmark_dir / "report.json").read_text())
    metrics = report.get("metrics", {})
    metrics.pop("timings_s", None)
    metrics.pop("sandbox", None)
    for body in metrics.get("collision", {}).values():  # decomposition time and cache hit: the machine's
        if isinstance(body, dict):
            body.pop("seconds", None)
            body.pop("cached", None)
    digest.update(json.dumps(report, sort_keys=True).encode())
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename), so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def fresh_dir(path: Path) -> Path:
    """Make ``path`` an empty directory (removing whatever was there) and return it."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


class IndexChanged(InfrastructureError, RuntimeError):
    """The compacted index was replaced while it was being read (a compaction finished)."""


class NotADataset(UsageError, FileNotFoundError):
    """The location exists (or may) but holds no benchgen index."""


class LeaseHeld(UsageError, RuntimeError):
    """Another process is writing this dataset (one writer per dataset)."""


def record_key(record: dict[str, Any]) -> tuple[int, str]:
    """Order of index records: candidate index, then id (benchmarks) or candidate id (rejections)."""
    candidate = record.get("candidate") or {}
    return int(candidate.get("index", 0)), str(record.get("id") or record.get("candidate_id") or "")


def record_id(record: dict[str, Any]) -> str:
    """Identity of an index record: the benchmark id or the rejection's candidate id."""
    return str(record.get("id") or record.get("candidate_id"))


class SegmentedIndex:
    """An append-only index over any fsspec filesystem: ``index.jsonl`` plus ``index.d/*.jsonl``.

    Appending writes one small segment (O(1) whatever the index size); :meth:`compact` merges
    the segments into ``index.jsonl`` in one streaming pass and then deletes them. Readers
    list and read the segments *before* streaming ``index.jsonl``: a compaction writes the
    new ``index.jsonl`` before deleting segments, so a reader racing with it may miss a
    deleted segment only if it then reads the new ``index.jsonl``, which holds its records.
    Records are JSON objects with a ``candidate.index``; the merge orders them by
    :func:`record_key` and keeps one record per :func:`record_id` (the segment's).
    """

    def __init__(self, fs: AbstractFileSystem, root: str, under: str = "") -> None:
        from benchgen import storage

        self.fs = fs
        self.local = not _is_remote_fs(fs)
        self.dir = storage.join(root, under) if under else root
        self.base = storage.join(self.dir, INDEX_FILE)
        self.segments = storage.join(self.dir, SEGMENTS_DIR)
        self._written: dict[str, bytes] = {}
        """Segments this object wrote (path → content): the writer's compaction need not read
        them back, only those an earlier, interrupted run left."""

    # -- reading ------------------------------------------------------------------------------

    def exists(self) -> bool:
        """True when the index (compacted or any segment) exists."""
        return bool(self.fs.exists(self.base)) or bool(self.segment_paths())

    def segment_paths(self) -> list[str]:
        """Paths of the segments, sorted (none when the directory does not exist)."""
        try:
            entries = self.fs.ls(self.segments, detail=False)
        except FileNotFoundError:
            return []
        paths = [str(e).rstrip("/") for e in entries]
        return sorted(p for p in paths if p.endswith(".jsonl"))

    def _read_segments(self) -> dict[str, tuple[dict[str, Any], bytes]]:
        """id → (record, line) of every segment's records."""
        from benchgen import storage

        paths = self.segment_paths()
        found = {p: self._written[p] for p in paths if p in self._written}
        found.update(storage.cat_existing(self.fs, [p for p in paths if p not in found]))
        records: dict[str, tuple[dict[str, Any], bytes]] = {}
        for path in sorted(found):
            for line in found[path].splitlines():
                if line.strip():
                    record = from_json(line)
                    records[record_id(record)] = (record, line)
        return records

    def _base_lines(self, chunk: int = 8 * 1024**2) -> Iterator[bytes]:
        """Lines of ``index.jsonl`` streamed in large reads (none if absent); :class:`IndexChanged`
        when the file is replaced during the read (s3fs pins the ETag it started with)."""
        try:
            handle: IO[bytes] = self.fs.open(self.base, "rb", block_size=chunk, cache_type="none")
        except FileNotFoundError:
            return
        rest = b""
        with handle:
            while True:
                try:
                    data = handle.read(chunk)
                except OSError as exc:
                    if type(exc).__name__ == "FileExpired":
                        raise IndexChanged(f"{self.base} was replaced while reading it") from exc
                    raise
                if not data:
                    break
                lines = (rest + data).split(b"\n")
                rest = lines.pop()
                yield from (line for line in lines if line.strip())
        if rest.strip():
            yield rest

    def merged(self) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Every record (with its JSON line) of the compacted index and the segments, in
        :func:`record_key` order, one per id, segments overriding the compacted index."""
        segments = self._read_segments()
        ordered = sorted(segments.values(), key=lambda item: record_key(item[0]))

        def base() -> Iterator[tuple[dict[str, Any], bytes]]:
            for line in self._base_lines():
                record = from_json(line)
                if record_id(record) not in segments:
                    yield record, line

        yield from heapq.merge(base(), ordered, key=lambda item: record_key(item[0]))

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, in order (see :meth:`merged`)."""
        for record, _ in self.merged():
            yield record

    # -- writing ------------------------------------------------------------------------------

    def segment_path(self, name: str) -> str:
        """Where the segment ``name`` (a benchmark id or candidate id) is written."""
        from benchgen import storage

        return storage.join(self.segments, f"{name}.jsonl")

    def write_segment(self, name: str, line: str) -> None:
        """Append one record: write its segment (atomically: temp + rename locally, one PUT remotely)."""
        data = (line.rstrip("\n") + "\n").encode()
        path = self.segment_path(name)
        if self.local:
            _atomic_write(Path(path), data)
        else:
            self.fs.pipe_file(path, data)
        self._written[path] = data

    def ensure(self) -> None:
        """Create an empty compacted index if there is none, so the dataset is recognisable."""
        if self.local:
            base = Path(self.base)
            if not base.exists():
                base.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(base, b"")
        elif not self.fs.exists(self.base):
            self.fs.pipe_file(self.base, b"")

    def compact(self, on_record: Callable[[dict[str, Any]], None] | None = None) -> int:
        """Merge the segments into ``index.jsonl`` (streamed) and delete them; returns the
        number of records. ``on_record`` sees every record on the way."""
        segments = self.segment_paths()
        count = 0
        with self._base_writer() as out:
            for record, line in self.merged():
                out.write(line + b"\n")
                count += 1
                if on_record is not None:
                    on_record(record)
        if segments:
            if self.local:
                for path in segments:
                    Path(path).unlink(missing_ok=True)
            else:
                self.fs.rm(segments)
        for path in segments:
            self._written.pop(path, None)
        return count

    @contextlib.contextmanager
    def _base_writer(self) -> Iterator[IO[bytes]]:
        """A writer of the new ``index.jsonl`` that replaces the old one only when complete
        (rename locally; a remote object appears when its upload completes)."""
        if self.local:
            base = Path(self.base)
            tmp = base.with_name(f".{base.name}.tmp{os.getpid()}")
            with tmp.open("wb") as handle:
                yield handle
            os.replace(tmp, base)
            return
        with self.fs.open(self.base, "wb") as remote:
            yield remote


def _is_remote_fs(fs: AbstractFileSystem) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return not any(p in ("file", "local") for p in protocols)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def benchmark_index(fs: AbstractFileSystem, root: str) -> SegmentedIndex:
    """The index of a dataset's accepted benchmarks."""
    return SegmentedIndex(fs, root)


def rejection_index(fs: AbstractFileSystem, root: str) -> SegmentedIndex:
    """The index of a dataset's rejection archive."""
    return SegmentedIndex(fs, root, REJECTED_DIR)


def light_manifest(record: dict[str, Any]) -> Manifest:
    """A manifest without its bulky ``validation`` metrics (for galleries and listings)."""
    return Manifest.model_validate({**record, "validation": {}})


def lease_owner(run_id: str) -> dict[str, Any]:
    """Who holds a lease: host, process, run, since when (for the message a second writer sees)."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "run_id": run_id,
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def describe_owner(owner: dict[str, Any]) -> str:
    """``host h, pid 12, run abc, since ...`` (or ``unknown`` when the lease holds no details)."""
    if not owner:
        return "unknown"
    return f"host {owner.get('host')}, pid {owner.get('pid')}, run {owner.get('run_id')}, since {owner.get('since')}"


class FileLease:
    """One writer per local dataset: an exclusive ``flock`` on ``DIR/.lease``.

    The kernel releases it when the process dies, however it dies, so a crashed writer
    never blocks the next run.
    """

    def __init__(self, root: Path, owner: dict[str, Any]) -> None:
        self.path = root / LOCAL_LEASE_FILE
        self.owner = owner
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lease or raise :class:`LeaseHeld` at once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read()
            handle.close()
            try:
                holder = json.loads(text) if text.strip() else {}
            except ValueError:
                holder = {}
            raise LeaseHeld(
                f"{self.path.parent} is being written by another run ({describe_owner(holder)}); "
                "one writer per dataset: wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(self.owner) + "\n")
        handle.flush()
        self._handle = handle

    def check(self) -> None:
        """A local lease cannot be lost while the process lives."""

    def release(self) -> None:
        """Give the lease up (closing the file releases the lock)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Benchmark:
    """One published benchmark: its manifest and where its files are.

    ``location`` is a local directory or, for a remote dataset, the benchmark's URL. For a
    remote benchmark, :attr:`path`, :attr:`script_path` and :attr:`mjcf_path` are local
    copies, downloaded on first use into the cache (``$BENCHGEN_CACHE_DIR/benchmarks/``).
    """

    def __init__(
        self, location: str | os.PathLike[str], manifest: Manifest, settings: Settings | None = None
    ) -> None:
        from benchgen import storage

        self.settings = settings or Settings.from_env()
        """Where remote files are cached and how the store is reached."""
        self.remote = storage.is_remote(location)
        self.location = storage.normalize(location) if self.remote else os.fspath(location)
        self.manifest = manifest
        self._local: Path | None = None if self.remote else Path(location)

    @property
    def id(self) -> str:
        """The benchmark id (also its directory name)."""
        return self.manifest.id

    @property
    def path(self) -> Path:
        """The benchmark directory on local disk (a remote benchmark is downloaded whole)."""
        if self._local is not None:
            return self._local
        return self.fetch()

    @property
    def script_path(self) -> Path:
        """The scenario script."""
        return self._file("script.py")

    @property
    def mjcf_path(self) -> Path:
        """The seed-0, scale-1 MJCF model (with its meshes beside it)."""
        if self._local is not None:
            return self._local / "assets" / "model.xml"
        self._fetch_files(["assets/model.xml", *self._remote_files("assets/meshes")])
        return self._cache_dir() / "assets" / "model.xml"

    def read_bytes(self, relative: str) -> bytes:
        """The content of one of the benchmark's files, e.g. ``"report.json"``."""
        if self._local is not None:
            return (self._local / relative).read_bytes()
        from benchgen import storage

        fs, root = storage.filesystem(self.location, self.settings.storage)
        return bytes(fs.cat_file(storage.join(root, relative)))

    def fetch(self, dest: Path | None = None) -> Path:
        """Download a remote benchmark's files into ``dest`` (default: the cache); returns the
        directory. A local benchmark is already here: its directory is returned."""
        if self._local is not None:
            return self._local
        self._fetch_files(self._remote_files(""), dest)
        return dest or self._cache_dir()

    def variant(self, seed: int, scale: float, out_dir: Path, render: bool = True) -> Path:
        """Regenerate one randomized variant (MJCF, and renders unless ``render=False``) through the
        sandbox; returns the path of its ``model.xml``. A remote benchmark's script is
        downloaded to a temporary directory first; the sandbox always runs locally."""
        import tempfile

        from benchgen.check import CheckOptions, build_variant

        options = CheckOptions(cache_dir=self.settings.cache_dir)
        if self._local is not None:
            return build_variant(self._local / "script.py", seed, scale, out_dir, options, render)
        with tempfile.TemporaryDirectory(prefix="benchgen-variant-") as tmp:
            script = Path(tmp) / "script.py"
            script.write_bytes(self.read_bytes("script.py"))
            return build_variant(script, seed, scale, out_dir, options, render)

    def evaluate(
        self,
        solution: str | os.PathLike[str],
        options: EvaluateOptions | None = None,
        out_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> EvaluationReport:
        """Score a solution file (``design(view) -> Design``) against this benchmark, exactly as
        ``benchgen evaluate DIR/<id> SOLUTION`` does; returns the
        :class:`benchgen.evaluate.EvaluationReport`. ``options`` is a
        :class:`benchgen.solving.EvaluateOptions` (default: 8 seeds plus the reference scales)."""
        from benchgen.check import CheckOptions
        from benchgen.solving import EvaluateOptions, evaluate_solution

        options = options or EvaluateOptions(check=CheckOptions(cache_dir=self.settings.cache_dir))
        return evaluate_solution(
            self.script_path, Path(solution), options, out_dir=out_dir, progress=progress
        )

    def _file(self, relative: str) -> Path:
        if self._local is not None:
            return self._local / relative
        self._fetch_files([relative])
        return self._cache_dir() / relative

    def _cache_dir(self) -> Path:

        return self.settings.cache_dir / "benchmarks" / f"{self.id}-{self.manifest.content_hash[:16]}"

    def _remote_files(self, under: str) -> list[str]:
        """Paths, relative to the benchmark, of the remote files under ``under``."""
        from benchgen import storage

        fs, root = storage.filesystem(self.location, self.settings.storage)
        base = storage.join(root, under) if under else root
        return sorted(str(p)[len(root) :].lstrip("/") for p in fs.find(base))

    def _fetch_files(self, relatives: list[str], dest: Path | None = None) -> None:
        """Download those files not already in ``dest`` (each one atomically: temp + rename)."""
        from benchgen import storage

        target = dest or self._cache_dir()
        missing = [r for r in relatives if not (target / r).is_file()]
        if not missing:
            return
        fs, root = storage.filesystem(self.location, self.settings.storage)
        for relative in missing:
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            fs.get_file(storage.join(root, relative), str(tmp))
            os.replace(tmp, path)

    def __repr__(self) -> str:
        return f"Benchmark({self.id!r}, tier={self.manifest.tier!r})"


class Dataset:
    """A dataset, local directory or remote URL, iterable over its benchmarks in candidate order.

    The listing comes from the index (compacted ``index.jsonl`` plus the segments of
    benchmarks published since), read once; call :meth:`refresh` to see benchmarks
    published since. Opening fails with a :class:`benchgen.storage.StoreError` subclass that
    says whether the location is missing, unreachable or forbidden, and with
    :class:`NotADataset` when it answers but holds no index.
    """

    def __init__(self, root: str | os.PathLike[str], settings: Settings | None = None) -> None:
        from benchgen import storage

        self.settings = settings or Settings.from_env()
        self.remote = storage.is_remote(root)
        self.root: Path | str = storage.normalize(root) if self.remote else Path(root)
        self._fs, self._path = storage.filesystem(root, self.settings.storage)
        self._manifests: list[Manifest] | None = None
        if not storage.probe(root, settings=self.settings.storage):
            raise storage.StoreNotFound(f"{root}: nothing at this location")
        self.index = benchmark_index(self._fs, self._path)
        try:
            exists = self.index.exists()
        except Exception as exc:
            raise storage.classify(exc, str(root), self.settings.storage) from exc
        if not exists:
            raise NotADataset(f"{root} is not a benchgen dataset (no {INDEX_FILE})")

    def refresh(self) -> None:
        """Forget the cached listing."""
        self._manifests = None

    def manifests(self) -> list[Manifest]:
        """Manifests of the benchmarks listed in the index (compacted or not)."""
        if self._manifests is None:
            self._manifests = self._read_manifests()
        return list(self._manifests)

    def _read_manifests(self, attempts: int = 3) -> list[Manifest]:
        for attempt in range(attempts):
            try:
                return [Manifest.model_validate(r) for r in self.index.records()]
            except IndexChanged:  # a compaction replaced index.jsonl under us: read again
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def iter_manifests(self) -> Iterator[Manifest]:
        """Stream the manifests without keeping them (for very large datasets)."""
        if self._manifests is not None:
            yield from self._manifests
            return
        for record in self.index.records():
            yield Manifest.model_validate(record)

    def _location_of(self, benchmark_id: str) -> str | Path:
        if isinstance(self.root, Path):
            return self.root / benchmark_id
        return f"{self.root}/{benchmark_id}"

    def __iter__(self) -> Iterator[Benchmark]:
        for manifest in self.manifests():
            yield Benchmark(self._location_of(manifest.id), manifest, self.settings)

    def __len__(self) -> int:
        return len(self.manifests())

    def resolve(self, benchmark_id: str) -> str:
        """The full id of ``benchmark_id`` or of the one benchmark whose id starts with it."""
        ids = [m.id for m in self.manifests()]
        if benchmark_id in ids:
            return benchmark_id
        matches = [i for i in ids if i.startswith(benchmark_id)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f"{benchmark_id!r} is ambiguous in {self.root}: {', '.join(matches[:5])}")
        raise KeyError(f"no benchmark {benchmark_id!r} in {self.root}")

    def __getitem__(self, benchmark_id: str) -> Benchmark:
        return self.get(benchmark_id)

    def evaluate(
        self,
        solutions: str | os.PathLike[str],
        results: str | os.PathLike[str],
        options: EvaluateOptions | None = None,
        workers: int = 1,
    ) -> LeaderboardSummary:
        """Score ``solutions/<id>.py`` against every benchmark; write the results JSONL and return
        the :class:`benchgen.leaderboard.LeaderboardSummary` (see :mod:`benchgen.leaderboard`)."""
        from benchgen.leaderboard import evaluate_dataset

        return evaluate_dataset(self, Path(solutions), Path(results), options, workers=workers)

    def get(self, benchmark_id: str) -> Benchmark:
        """The benchmark with this id (or unique id prefix)."""
        full = self.resolve(benchmark_id)
        for manifest in self.manifests():
            if manifest.id == full:
                return Benchmark(self._location_of(full), manifest, self.settings)
        raise KeyError(f"no benchmark {benchmark_id!r} in {self.root}")


def open(  # noqa: A001 - the public name the API promises
    root: str | os.PathLike[str], settings: Settings | None = None
) -> Dataset:
    """Open a dataset for reading: ``for bench in benchgen.dataset.open(DIR_OR_URL): ...``.

    ``root`` is a directory or an fsspec URL (``s3://bucket/prefix``; see :mod:`benchgen.storage`);
    ``settings`` None reads them from the environment (:meth:`Settings.from_env`).
    """
    return Dataset(root, settings)


def open_benchmark(path: str | os.PathLike[str], settings: Settings | None = None) -> Benchmark:
    """Open one benchmark, ``DIR/<id>`` or ``s3://bucket/prefix/<id>``, where ``<id>`` is an
    id as ``benchgen list`` prints it or a unique prefix of one."""
    from benchgen import storage

    settings = settings or Settings.from_env()
    text = os.fspath(path).rstrip("/")
    fs, root = storage.filesystem(text, settings.storage)
    try:
        data = fs.cat_file(storage.join(root, MANIFEST_FILE))
    except FileNotFoundError:
        data = None
    except Exception as exc:
        raise storage.classify(exc, text, settings.storage) from exc
    if data is None:
        parent, _, name = text.rpartition("/")
        if not parent or not name:
            raise FileNotFoundError(f"{path} is not a benchmark (no {MANIFEST_FILE})")
        try:
            dataset = Dataset(parent, settings)
            return dataset.get(name)
        except (NotADataset, storage.StoreNotFound):
            raise FileNotFoundError(f"{path} is not a benchmark (no {MANIFEST_FILE})") from None
        except KeyError as exc:
            raise FileNotFoundError(str(exc.args[0])) from None
    location = text if storage.is_remote(text) else Path(text)
    return Benchmark(location, Manifest.model_validate_json(data), settings)
