"""The dataset: layout on disk, atomic publishing, the rejection archive, and the reading API.

Layout (the product; documented in the README)::

    DIR/index.jsonl                 one line per accepted benchmark (its manifest), candidate order
    DIR/index.html                  static gallery
    DIR/benchgen.db                 metadata database (SQLite by default)
    DIR/<benchmark_id>/script.py
    DIR/<benchmark_id>/manifest.json
    DIR/<benchmark_id>/report.json  the full check report
    DIR/<benchmark_id>/assets/      model.xml, meshes/, cad/<label>.step, renders/*.png, contact_sheet.png
    DIR/rejected/<candidate_id>/    script.py, report.json (if checked), rejection.json
    DIR/.staging/                   work in progress; never visible, cleared on start

A benchmark becomes visible in one atomic step: its complete directory (manifest written
last) is renamed from ``.staging`` into place, then the index is updated. The index is
rebuilt from the manifests on every start, so a kill between the two steps loses nothing.

A remote dataset (``s3://bucket/prefix``) has the same layout minus ``.staging`` and
``benchgen.db``, which stay in a local work directory; :mod:`benchgen.publishing` uploads
each benchmark's files, manifest last, then rewrites the index. Readers here list a
benchmark only when the index names it and its manifest exists, for both kinds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

INDEX_FILE = "index.jsonl"
MANIFEST_FILE = "manifest.json"
REJECTED_DIR = "rejected"
STAGING_DIR = ".staging"


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
    validation: dict[str, Any]
    review: dict[str, Any]
    difficulty: dict[str, Any]
    signature: dict[str, Any]
    author: dict[str, Any]
    benchgen_version: str
    content_hash: str
    script_sha256: str
    evaluated_with: dict[str, Any]
    candidate: dict[str, Any]
    created_at: str


class Rejection(BaseModel):
    """Why a candidate was not accepted, kept as data in the rejection archive."""

    candidate_id: str
    stage: str = Field(description="check | review | duplicate | author")
    code: str
    message: str
    family: str
    candidate: dict[str, Any]
    script_sha256: str


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def content_hash(benchmark_dir: Path) -> str:
    """Hash of what makes a benchmark: script, MJCF, meshes and the check report minus timings.

    Renders are excluded: their pixels depend on the OpenGL implementation, not on the
    benchmark. Timings are excluded because they measure the machine.
    """
    digest = hashlib.sha256()
    digest.update((benchmark_dir / "script.py").read_bytes())
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


class DatasetWriter:
    """Publishes benchmarks and rejections into a dataset directory, crash-safely."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / STAGING_DIR
        self.rejected = root / REJECTED_DIR

    @property
    def location(self) -> str:
        """The dataset directory as an absolute path (its key in the metadata database)."""
        return str(self.root.resolve())

    def default_db_url(self) -> str:
        """SQLite inside the dataset directory."""
        return f"sqlite:///{(self.root / 'benchgen.db').resolve()}"

    def write_gallery(self, manifests: list[Manifest]) -> str:
        """Write ``index.html``; returns its path."""
        from benchgen.gallery import write_gallery

        return str(write_gallery(self.root, manifests).resolve())

    def prepare(self) -> None:
        """Create the layout, drop leftovers of an interrupted run, and rebuild the index."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.clear_staging()
        self.rejected.mkdir(exist_ok=True)
        self.rebuild_index()

    def clear_staging(self) -> None:
        """Remove work in progress (abandoned or interrupted candidates); it was never visible."""
        fresh_dir(self.staging)

    def stage(self, name: str) -> Path:
        """A fresh private directory for a candidate's work."""
        return fresh_dir(self.staging / name)

    def manifests(self) -> list[Manifest]:
        """Every published benchmark's manifest, in candidate order."""
        found = []
        for path in self.root.glob(f"*/{MANIFEST_FILE}"):
            if path.parent.name in (REJECTED_DIR, STAGING_DIR):
                continue
            found.append(Manifest.model_validate_json(path.read_text()))
        return sorted(found, key=lambda m: (m.candidate.get("index", 0), m.id))

    def rejections(self) -> list[Rejection]:
        """Every archived rejection."""
        return [
            Rejection.model_validate_json(p.read_text())
            for p in sorted(self.rejected.glob("*/rejection.json"))
        ]

    def rebuild_index(self) -> None:
        """Rewrite ``index.jsonl`` from the manifests on disk (the manifests are the truth)."""
        lines = "".join(m.model_dump_json() + "\n" for m in self.manifests())
        tmp = self.root / f".{INDEX_FILE}.tmp{os.getpid()}"
        tmp.write_text(lines)
        os.replace(tmp, self.root / INDEX_FILE)

    def publish(self, staged: Path, manifest: Manifest) -> Path:
        """Make a staged benchmark visible: manifest last, one rename, then the index line."""
        write_json(staged / MANIFEST_FILE, manifest.model_dump(mode="json"))
        target = self.root / manifest.id
        if target.exists():  # a previous run published it; the staged copy is redundant
            shutil.rmtree(staged)
            return target
        os.rename(staged, target)
        with (self.root / INDEX_FILE).open("a") as index:
            index.write(manifest.model_dump_json() + "\n")
        return target

    def archive_rejection(self, staged: Path, rejection: Rejection) -> Path:
        """Move a rejected candidate's files into the archive, with its reason."""
        write_json(staged / "rejection.json", rejection.model_dump(mode="json"))
        for leftover in ("assets",):  # renders of rejected scripts are not kept: they are large
            shutil.rmtree(staged / leftover, ignore_errors=True)
        target = self.rejected / rejection.candidate_id
        if target.exists():
            shutil.rmtree(staged)
            return target
        os.rename(staged, target)
        return target


class Benchmark:
    """One published benchmark: its manifest and where its files are.

    ``location`` is a local directory or, for a remote dataset, the benchmark's URL. For a
    remote benchmark, :attr:`path`, :attr:`script_path` and :attr:`mjcf_path` are local
    copies, downloaded on first use into the cache (``$BENCHGEN_CACHE_DIR/benchmarks/``).
    """

    def __init__(self, location: str | os.PathLike[str], manifest: Manifest) -> None:
        from benchgen import storage

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

        fs, root = storage.filesystem(self.location)
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

        from benchgen.check import build_variant

        if self._local is not None:
            return build_variant(self._local / "script.py", seed, scale, out_dir, render=render)
        with tempfile.TemporaryDirectory(prefix="benchgen-variant-") as tmp:
            script = Path(tmp) / "script.py"
            script.write_bytes(self.read_bytes("script.py"))
            return build_variant(script, seed, scale, out_dir, render=render)

    def _file(self, relative: str) -> Path:
        if self._local is not None:
            return self._local / relative
        self._fetch_files([relative])
        return self._cache_dir() / relative

    def _cache_dir(self) -> Path:
        from benchgen.check import default_cache_dir

        return default_cache_dir() / "benchmarks" / f"{self.id}-{self.manifest.content_hash[:16]}"

    def _remote_files(self, under: str) -> list[str]:
        """Paths, relative to the benchmark, of the remote files under ``under``."""
        from benchgen import storage

        fs, root = storage.filesystem(self.location)
        base = storage.join(root, under) if under else root
        return sorted(str(p)[len(root) :].lstrip("/") for p in fs.find(base))

    def _fetch_files(self, relatives: list[str], dest: Path | None = None) -> None:
        """Download those files not already in ``dest`` (each one atomically: temp + rename)."""
        from benchgen import storage

        target = dest or self._cache_dir()
        missing = [r for r in relatives if not (target / r).is_file()]
        if not missing:
            return
        fs, root = storage.filesystem(self.location)
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

    A benchmark is listed when the index names it and its manifest exists (a manifest is
    written only after all of a benchmark's files). The listing is read once; call
    :meth:`refresh` to see benchmarks published since.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        from benchgen import storage

        self.remote = storage.is_remote(root)
        self.root: Path | str = storage.normalize(root) if self.remote else Path(root)
        self._fs, self._path = storage.filesystem(root)
        self._manifests: list[Manifest] | None = None
        if not self._fs.isfile(storage.join(self._path, INDEX_FILE)):
            raise FileNotFoundError(f"{root} is not a benchgen dataset (no {INDEX_FILE})")

    def refresh(self) -> None:
        """Forget the cached listing."""
        self._manifests = None

    def manifests(self) -> list[Manifest]:
        """Manifests of the benchmarks listed in the index whose manifest exists."""
        if self._manifests is None:
            self._manifests = self._read_manifests()
        return list(self._manifests)

    def _read_manifests(self) -> list[Manifest]:
        from benchgen import storage

        text = self._fs.cat_file(storage.join(self._path, INDEX_FILE)).decode()
        listed = [Manifest.model_validate_json(line) for line in text.splitlines() if line.strip()]
        paths = [storage.join(self._path, m.id, MANIFEST_FILE) for m in listed]
        found = storage.cat_existing(self._fs, paths)
        return [Manifest.model_validate_json(found[p]) for p in paths if p in found]

    def _location_of(self, benchmark_id: str) -> str | Path:
        if isinstance(self.root, Path):
            return self.root / benchmark_id
        return f"{self.root}/{benchmark_id}"

    def __iter__(self) -> Iterator[Benchmark]:
        for manifest in self.manifests():
            yield Benchmark(self._location_of(manifest.id), manifest)

    def __len__(self) -> int:
        return len(self.manifests())

    def get(self, benchmark_id: str) -> Benchmark:
        """The benchmark with this id."""
        for benchmark in self:
            if benchmark.id == benchmark_id:
                return benchmark
        raise KeyError(f"no benchmark {benchmark_id!r} in {self.root}")


def open(root: str | os.PathLike[str]) -> Dataset:  # noqa: A001 - the public name the API promises
    """Open a dataset for reading: ``for bench in benchgen.dataset.open(DIR_OR_URL): ...``.

    ``root`` is a directory or an fsspec URL (``s3://bucket/prefix``; see :mod:`benchgen.storage`).
    """
    return Dataset(root)


def open_benchmark(path: str | os.PathLike[str]) -> Benchmark:
    """Open one benchmark (``DIR/<id>`` or ``s3://bucket/prefix/<id>``) directly."""
    from benchgen import storage

    fs, root = storage.filesystem(path)
    try:
        data = fs.cat_file(storage.join(root, MANIFEST_FILE))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is not a benchmark directory (no {MANIFEST_FILE})") from None
    location = path if storage.is_remote(path) else Path(path)
    return Benchmark(location, Manifest.model_validate_json(data))
