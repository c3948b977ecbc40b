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
    report.get("metrics", {}).pop("timings_s", None)
    report.get("metrics", {}).pop("sandbox", None)
    digest.update(json.dumps(report, sort_keys=True).encode())
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename), so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


class DatasetWriter:
    """Publishes benchmarks and rejections into a dataset directory, crash-safely."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / STAGING_DIR
        self.rejected = root / REJECTED_DIR

    def prepare(self) -> None:
        """Create the layout, drop leftovers of an interrupted run, and rebuild the index."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.clear_staging()
        self.rejected.mkdir(exist_ok=True)
        self.rebuild_index()

    def clear_staging(self) -> None:
        """Remove work in progress (abandoned or interrupted candidates); it was never visible."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir()

    def stage(self, name: str) -> Path:
        """A fresh private directory for a candidate's work."""
        path = self.staging / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

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
    """One published benchmark: its directory and manifest."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest

    @property
    def id(self) -> str:
        """The benchmark id (also its directory name)."""
        return self.manifest.id

    @property
    def script_path(self) -> Path:
        """The scenario script."""
        return self.path / "script.py"

    @property
    def mjcf_path(self) -> Path:
        """The seed-0, scale-1 MJCF model."""
        return self.path / "assets" / "model.xml"

    def variant(self, seed: int, scale: float, out_dir: Path, render: bool = True) -> Path:
        """Regenerate one randomized variant (MJCF, and renders unless ``render=False``) through the
        sandbox; returns the path of its ``model.xml``."""
        from benchgen.check import build_variant

        return build_variant(self.script_path, seed, scale, out_dir, render=render)

    def __repr__(self) -> str:
        return f"Benchmark({self.id!r}, tier={self.manifest.tier!r})"


class Dataset:
    """A dataset directory, iterable over its benchmarks in candidate order."""

    def __init__(self, root: Path) -> None:
        if not (root / INDEX_FILE).is_file():
            raise FileNotFoundError(f"{root} is not a benchgen dataset (no {INDEX_FILE})")
        self.root = root

    def manifests(self) -> list[Manifest]:
        """Manifests listed in the index."""
        text = (self.root / INDEX_FILE).read_text()
        return [Manifest.model_validate_json(line) for line in text.splitlines() if line.strip()]

    def __iter__(self) -> Iterator[Benchmark]:
        for manifest in self.manifests():
            yield Benchmark(self.root / manifest.id, manifest)

    def __len__(self) -> int:
        return len(self.manifests())

    def get(self, benchmark_id: str) -> Benchmark:
        """The benchmark with this id."""
        for benchmark in self:
            if benchmark.id == benchmark_id:
                return benchmark
        raise KeyError(f"no benchmark {benchmark_id!r} in {self.root}")


def open(root: str | os.PathLike[str]) -> Dataset:  # noqa: A001 - the public name the API promises
    """Open a dataset directory for reading: ``for bench in benchgen.dataset.open(DIR): ...``."""
    return Dataset(Path(root))


def open_benchmark(path: str | os.PathLike[str]) -> Benchmark:
    """Open one benchmark directory (``DIR/<id>``) directly."""
    path = Path(path)
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{path} is not a benchmark directory (no {MANIFEST_FILE})")
    return Benchmark(path, Manifest.model_validate_json(manifest_path.read_text()))
