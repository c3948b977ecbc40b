"""Publishing cost as a dataset grows: per-publish time at 10, 1 000 and 10 000 benchmarks on S3.

Publishes N synthetic benchmarks (a script, a report, an MJCF, a mesh, a contact sheet and
a manifest of realistic size, ~7 KB) one after the other to the local S3 server that
``scripts/services.sh`` runs (moto), with :class:`benchgen.publishing.RemoteDatasetWriter`,
exactly as ``generate`` publishes an accepted benchmark: files, manifest last, then one
index segment. Prints the mean time of the publishes just before 10, 1 000 and 10 000
benchmarks exist, against two references measured at the same sizes:

- the raw library call: one ``s3fs`` PUT of the same files (the floor of a publish);
- what publishing cost before index segments: rewriting ``index.jsonl`` in full after
  every benchmark (one PUT of n manifest lines), which grows linearly with n.

Then the end-of-run costs: compacting the segments into ``index.jsonl`` (one streaming
pass) and a reader's ``benchgen.dataset.open(url)`` listing everything.

Usage: ``.venv/bin/python benchmarks/bench_publish.py [N]`` (default 10 000; 10-40 min: moto is slow).
Starts the services when they are not running (and stops them afterwards).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".ci" / "services.env"
MILESTONES = (10, 1_000, 10_000)
WINDOW = 50
"""Publishes averaged at each milestone (the last ``WINDOW`` before it)."""


def services_env() -> tuple[dict[str, str], bool]:
    """Connection info of the running services, starting them if needed (→ started=True)."""
    started = False
    if subprocess.run(["bash", "scripts/services.sh", "status"], cwd=ROOT, capture_output=True).returncode:
        subprocess.run(["bash", "scripts/services.sh", "start"], cwd=ROOT, check=True)
        started = True
    env = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'")
    return env, started


def configure(endpoint: str) -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        BENCHGEN_S3_ENDPOINT_URL=endpoint,
    )
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(key, None)


def synthetic_manifest(index: int) -> object:
    from benchgen.dataset import Manifest

    fields: dict[str, Any] = {
        "id": f"synthetic-{index:012d}",
        "name": f"synthetic benchmark {index}",
        "tier": "spatial",
        "theme": None,
        "description": "A synthetic benchmark of realistic manifest size, for publishing costs.",
        "family": "synthetic",
        "target_quantity": 100,
        "max_unit_cost": 12.5,
        "max_weight_g": None,
        "params": {f"p{k}": float(k) for k in range(20)},
        "seeds": list(range(8)),
        "scales": [0.5, 1.0, 2.0],
        "validation": {
            "per_build": [SIMULATION | {"seed": s, "max_speed": 0.1 * s} for s in range(11)],
            "collision": {f"body{k}": COLLISION for k in range(30)},
        },
        "review": {
            "approved": True,
            "reasons": ["payload and goal visible"],
            "payload_visible_views": 24,
            "goal_visible_views": 24,
            "clipped_views": 0,
            "blank_views": 0,
        },
        "difficulty": {"score": 3.0, "terms": {"distance": 1.0}},
        "signature": {"structure": "spatial|forbid=1", "features": [0.1] * 40},
        "author": {"kind": "offline", "family": "synthetic", "choices": {}},
        "benchgen_version": "bench",
        "content_hash": f"{index:064x}",
        "script_sha256": f"{index:064d}",
        "evaluated_with": {"benchgen_version": "bench", "check_options_sha256": "0" * 64, "isolation": None},
        "candidate": {"index": index, "seed": 0, "run_key": "bench"},
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    return Manifest.model_validate(fields)


SIMULATION: dict[str, Any] = {
    "scale": 1.0,
    "steps": 1500,
    "initial_penetration_mm": 0.0,
    "final_kinetic_energy": 0.0,
    "final_part_speed": 0.0,
    "slowest_settling_part": None,
    "payload_end_mm": [1.0, 2.0, 3.0],
    "payload_in_goal": False,
    "warnings": {},
    "params": {"gap": 120.0},
}
COLLISION: dict[str, Any] = {"pieces": 3, "methods": ["coacd"], "error": 0.01, "seconds": 0.0, "cached": True}


def stage_files(directory: Path) -> None:
    """The files of a small benchmark (real ones add 24 renders: more files per publish, same growth)."""
    (directory / "assets" / "meshes").mkdir(parents=True)
    (directory / "script.py").write_text("# synthetic\n" + "x = 1\n" * 400)
    (directory / "report.json").write_text(json.dumps({"accepted": True, "metrics": {"k": [0.5] * 1200}}))
    (directory / "assets" / "model.xml").write_text("<mujoco>" + "<!-- pad -->" * 400 + "</mujoco>")
    (directory / "assets" / "meshes" / "part.stl").write_bytes(os.urandom(20_000))
    (directory / "assets" / "contact_sheet.png").write_bytes(os.urandom(60_000))


def main(count: int) -> None:
    env, started = services_env()
    configure(env["BENCHGEN_TEST_S3_ENDPOINT"])
    from benchgen import storage
    from benchgen.dataset import open as open_dataset
    from benchgen.publishing import RemoteDatasetWriter

    bucket = f"bench-publish-{uuid.uuid4().hex[:8]}"
    fs, _ = storage.filesystem(f"s3://{bucket}")
    fs.mkdir(bucket)
    url = f"s3://{bucket}/dataset"
    milestones = [m for m in MILESTONES if m <= count] or [count]
    template = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    stage_files(template)
    try:
        writer = RemoteDatasetWriter(url, work_dir=template / "work")
        writer.check()
        writer.acquire("bench")
        writer.prepare()
        publish_s: list[float] = []
        raw_s: dict[int, float] = {}
        full_index_s: dict[int, float] = {}
        lines: list[str] = []
        for index in range(count):
            manifest = synthetic_manifest(index)
            staged = writer.stage(f"c{index}")
            shutil.copytree(template, staged, dirs_exist_ok=True, ignore=shutil.ignore_patterns("work"))
            started_at = time.perf_counter()
            writer.publish(staged, manifest)  # type: ignore[arg-type]
            publish_s.append(time.perf_counter() - started_at)
            lines.append(manifest.model_dump_json())  # type: ignore[attr-defined]
            if index + 1 in milestones:
                raw_s[index + 1] = raw_put(fs, template, f"{bucket}/raw/{index}")
                full_index_s[index + 1] = full_index_put(fs, lines, f"{bucket}/raw/index.jsonl")
            if (index + 1) % 1000 == 0:
                print(f"  published {index + 1}", file=sys.stderr)
        compact_started = time.perf_counter()
        writer.compact()
        compact_s = time.perf_counter() - compact_started
        writer.release()
        read_started = time.perf_counter()
        listed = len(open_dataset(url))
        read_s = time.perf_counter() - read_started
    finally:
        shutil.rmtree(template, ignore_errors=True)
        fs.rm(bucket, recursive=True)
        if started:
            subprocess.run(["bash", "scripts/services.sh", "stop"], cwd=ROOT, check=False)

    print(
        f"{count} synthetic benchmarks published to moto S3, one after the other (6 files + 1 index segment each)"
    )
    print(f"{'benchmarks':>11}{'publish ms':>12}{'raw PUT ms':>12}{'ratio':>7}{'full index rewrite ms':>23}")
    for milestone in milestones:
        window = publish_s[max(0, milestone - WINDOW) : milestone]
        mean_ms = statistics.mean(window) * 1000
        raw_ms = raw_s[milestone] * 1000
        print(
            f"{milestone:>11}{mean_ms:>12.1f}{raw_ms:>12.1f}{mean_ms / raw_ms:>7.2f}{full_index_s[milestone] * 1000:>23.1f}"
        )
    first = statistics.mean(publish_s[: min(WINDOW, count)])
    last = statistics.mean(publish_s[-WINDOW:])
    print(f"per-publish growth from the first to the last {WINDOW} publishes: {last / first:.2f}x")
    print(f"compaction of {count} segments into index.jsonl (+ gallery): {compact_s:.1f} s")
    print(f"reader: open + list {listed} benchmarks: {read_s:.1f} s")


def raw_put(fs: object, template: Path, prefix: str) -> float:
    """Seconds for s3fs alone to PUT the benchmark's files (the floor of one publish), median of 5."""
    from benchgen import storage

    files = [p for p in template.rglob("*") if p.is_file() and "work" not in p.parts]
    times = []
    for attempt in range(5):
        pairs = [(str(p), f"{prefix}/{attempt}/{p.relative_to(template).as_posix()}") for p in files]
        started = time.perf_counter()
        storage.put_files(fs, pairs, timeout=60)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def full_index_put(fs: object, lines: list[str], path: str) -> float:
    """Seconds for one full rewrite of an index of ``len(lines)`` manifests (the old per-publish cost)."""
    data = ("\n".join(lines) + "\n").encode()
    started = time.perf_counter()
    fs.pipe_file(path, data)  # type: ignore[attr-defined]
    return time.perf_counter() - started


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
