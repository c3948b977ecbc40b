"""`benchgen generate` end to end: packaging, determinism, resume after SIGKILL (leaving no
process behind), busy workers behind a slow candidate, the rejection archive, near-duplicate
rejection, `list`/`show`/`variant`, the Python API and the gallery.

Every candidate goes through the real sandbox, checker, MuJoCo and renderer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mujoco
import numpy as np
import pytest

import benchgen.dataset
import benchgen.publishing
from benchgen.authors.offline import Candidate
from benchgen.check import CheckOptions
from benchgen.generate import GenerateOptions, Generator, Progress
from browser import chromium
from scenario_template import scenario_source

EXAMPLES = Path(benchgen.dataset.__file__).parent / "examples"

BENCHGEN = [sys.executable, "-m", "benchgen"]
RUN_SEED = 3


def generate_cli(
    out: Path, *extra: str, count: int = 2, workers: int = 1
) -> subprocess.CompletedProcess[str]:
    command = [*BENCHGEN, "generate", "--out", str(out), "--count", str(count), "--seed", str(RUN_SEED)]
    command += ["--workers", str(workers), "--quiet", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=1200)


def summary_counts(stderr: str) -> tuple[int, int]:
    """``(candidates, resumed)`` from the run summary's ``… from N candidates (M resumed) …``."""
    found = re.search(r"from\s+(\d+)\s+candidates\s+\((\d+)\s+resumed\)", stderr)
    assert found is not None, stderr
    return int(found[1]), int(found[2])


def published(out: Path) -> dict[str, str]:
    """id → content hash of every benchmark the index lists: ``index.jsonl`` plus the segments
    of benchmarks published since it was last compacted (read directly, not via benchgen)."""
    lines: list[str] = []
    if (out / "index.jsonl").is_file():
        lines += (out / "index.jsonl").read_text().splitlines()
    for segment in sorted((out / "index.d").glob("*.jsonl")):
        lines += segment.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    records.sort(key=lambda m: m["candidate"]["index"])
    return {m["id"]: m["content_hash"] for m in records}


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (from /proc; zombies count as gone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            children.setdefault(int(parent), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A two-benchmark dataset made by the CLI with two workers."""
    out = tmp_path_factory.mktemp("gen") / "dataset"
    result = generate_cli(out, workers=2)
    assert result.returncode == 0, result.stderr
    assert "gallery:" in result.stderr
    yield out


@pytest.mark.e2e
def test_dataset_layout_and_manifest(dataset_dir: Path) -> None:
    ids = published(dataset_dir)
    assert len(ids) == 2
    for benchmark_id, digest in ids.items():
        bench = dataset_dir / benchmark_id
        manifest = json.loads((bench / "manifest.json").read_text())
        for key in (
            "name",
            "tier",
            "description",
            "target_quantity",
            "max_unit_cost",
            "params",
            "seeds",
            "scales",
            "validation",
            "review",
            "difficulty",
            "author",
            "benchgen_version",
            "created_at",
        ):
            assert key in manifest, key
        assert manifest["content_hash"] == digest == benchgen.dataset.content_hash(bench)
        assert manifest["review"]["approved"] is True
        assert manifest["difficulty"]["score"] > 1.0
        assert json.loads((bench / "report.json").read_text())["accepted"] is True
        assets = bench / "assets"
        assert len(list((assets / "renders").glob("*.png"))) == 24
        assert (assets / "contact_sheet.png").is_file()
        assert list((assets / "cad").glob("*.step"))
        model = mujoco.MjModel.from_xml_path(str(assets / "model.xml"))
        assert model.nbody >= 3
    assert (dataset_dir / "benchgen.db").is_file()
    assert not list((dataset_dir / ".staging").iterdir())


@pytest.mark.e2e
def test_rerun_resumes_without_rechecking(dataset_dir: Path) -> None:
    before = published(dataset_dir)
    result = generate_cli(dataset_dir)
    assert result.returncode == 0, result.stderr
    assert published(dataset_dir) == before
    candidates, resumed = summary_counts(result.stderr)
    # Every candidate was decided by the first run: none was checked again.
    assert resumed == candidates >= len(before)


@pytest.mark.e2e
def test_sigkill_then_resume_gives_the_uninterrupted_result(dataset_dir: Path, tmp_path: Path) -> None:
    """Kill mid-run: no half benchmark is visible, no worker, resource tracker or sandbox
    survives the killed process (item 4 of issue 12); re-running finishes with the same
    benchmarks as the uninterrupted two-worker run (so results do not depend on workers or
    interruptions)."""
    out = tmp_path / "killed"
    command = [*BENCHGEN, "generate", "--out", str(out), "--count", "2", "--seed", str(RUN_SEED), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    # Wait until the first benchmark is published and the next candidate is being checked.
    while time.monotonic() < deadline:
        if published(out) and any((out / ".staging").glob("*/script.py")):
            break
        time.sleep(0.5)
    below = descendants(process.pid)
    assert any(b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in below if alive(pid))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(pid) for pid in below):
        time.sleep(0.5)
    survivors = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in below if alive(pid)}
    assert not survivors, survivors
    for manifest in out.glob("*/manifest.json"):
        bench = manifest.parent
        assert (bench / "script.py").is_file() and (bench / "report.json").is_file()
        assert len(list((bench / "assets" / "renders").glob("*.png"))) == 24
    result = generate_cli(out)
    assert result.returncode == 0, result.stderr
    assert published(out) == published(dataset_dir)


@pytest.mark.e2e
def test_list_show_variant_and_python_api(dataset_dir: Path, tmp_path: Path) -> None:
    listing = subprocess.run(
        [*BENCHGEN, "list", str(dataset_dir)], capture_output=True, text=True, timeout=120
    )
    assert listing.returncode == 0
    dataset = benchgen.dataset.open(dataset_dir)
    benches = list(dataset)
    assert len(benches) == len(dataset) == 2
    # Piped: one tab-separated line per benchmark, the full id first.
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == [b.id for b in benches]
    bench = benches[0]
    shown = subprocess.run([*BENCHGEN, "show", str(bench.path)], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and bench.manifest.name in shown.stdout
    prefix = subprocess.run(
        [*BENCHGEN, "show", str(dataset_dir / bench.id[:-4])], capture_output=True, text=True, timeout=120
    )
    assert prefix.returncode == 0 and bench.manifest.content_hash in prefix.stdout

    out = tmp_path / "variant"
    result = subprocess.run(
        [*BENCHGEN, "variant", str(bench.path), "--seed", "5", "--scale", "1.5", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    variant = mujoco.MjModel.from_xml_path(str(out / "model.xml"))
    scene = json.loads((out / "scene.json").read_text())
    assert scene["seed"] == 5 and scene["scale"] == 1.5
    assert len(list((out / "renders").glob("*.png"))) == 24
    original = mujoco.MjModel.from_xml_path(str(bench.mjcf_path))
    assert variant.nbody == original.nbody
    # A different seed at a larger scale is a different scene, built from the stored script.
    assert not np.allclose(variant.stat.extent, original.stat.extent)


def _scripted_author(sources: list[str], solution: str | None = None):  # type: ignore[no-untyped-def]
    """An author that hands out the given scripts in order (each one then goes through the real checks)."""
    queue = list(sources)

    def author(rng: np.random.Generator, theme: str | None, tier: str | None) -> Candidate:
        # The generator authors ahead of what it commits; look-ahead past the list repeats the last.
        script = queue.pop(0) if len(queue) > 1 else queue[0]
        return Candidate(family="fixture", tier="spatial", script=script, choices={}, solution=solution)

    return author


@pytest.mark.e2e
def test_rejection_archive_and_near_duplicates(tmp_path: Path) -> None:
    """Every stage's rejection is archived; what passes them all is published with its reference solution."""
    example = EXAMPLES / "concave_bin.py"
    valid = example.read_text()
    sources = [
        scenario_source(before="raise ValueError('broken on purpose')"),  # script_error
        valid,  # accepted
        valid + "\n# the same scene, reworded\n",  # near-duplicate of the accepted one
        scenario_source(),  # its reference does not fit this scene: unsolved
        valid.replace('Part("bin", bin_part, material="pla")', 'Part("bin", bin_part, material="abs")'),
    ]
    out = tmp_path / "ds"
    options = GenerateOptions(out=out, count=2, seed=0, workers=1)
    solution = (EXAMPLES / "concave_bin_solution.py").read_text()
    summary = Generator(options, author=_scripted_author(sources, solution)).run()
    assert summary.accepted == 2 and summary.candidates == 5
    assert summary.rejected == {"script_error": 1, "near_duplicate": 1, "unsolved": 1}
    published = sorted(out.glob("*/manifest.json"))
    for path in published:
        manifest = benchgen.dataset.Manifest.model_validate_json(path.read_text())
        assert (path.parent / "solution.py").read_text() == solution
        reference = manifest.solution
        assert reference is not None and reference.success_rate == 1.0
        assert reference.budget_headroom is not None and reference.budget_headroom > 1
        assert manifest.difficulty.terms["budget"] > 0
        assert reference.animation is not None
        assert (path.parent / "assets" / reference.animation).stat().st_size > 10_000
    archive = {r.code: r for r in benchgen.publishing.DatasetWriter(out).rejections()}
    assert "broken on purpose" in archive["script_error"].message
    assert (out / "rejected" / archive["script_error"].candidate_id / "script.py").read_text() == sources[0]
    assert archive["near_duplicate"].stage == "duplicate"
    _evaluate_whole_dataset(out, [p.parent.name for p in published], solution, tmp_path / "sols")


def _evaluate_whole_dataset(dataset: Path, ids: list[str], solution: str, solutions: Path) -> None:
    """`evaluate DATASET SOLUTIONS_DIR`: the leaderboard file, reused rows on a re-run, and the API."""
    solutions.mkdir()
    (solutions / f"{ids[0]}.py").write_text(solution)
    empty = "from benchgen.solution import Design\n\n\ndef design(view):\n    return Design(parts=[])\n"
    (solutions / f"{ids[1]}.py").write_text(empty)
    command = [*BENCHGEN, "evaluate", str(dataset), str(solutions), "--seeds", "2", "--no-scales", "--json"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 1, first.stderr  # one of the two is not solved
    summary = json.loads(first.stdout)
    assert summary["overall"] == {
        "benchmarks": 2,
        "solved": 1,
        "mean_success_rate": 0.5,
        "mean_cost_ratio": summary["overall"]["mean_cost_ratio"],
    }
    assert 0 < summary["overall"]["mean_cost_ratio"] < 1 and summary["reused"] == 0
    results = solutions / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["id"] for r in rows] == ids  # dataset order, whatever finished first
    assert rows[0]["passed"] and rows[0]["success_rate"] == 1.0 and len(rows[0]["per_seed"]) == 2
    assert rows[1]["code"] in ("missed_goal", "in_forbid_zone") and rows[1]["cost_ratio"] == 0.0
    assert all(r["content_hash"] and r["solution_sha256"] for r in rows)
    before = results.read_bytes()
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert json.loads(again.stdout)["reused"] == 2 and results.read_bytes() == before
    from benchgen.solving import EvaluateOptions

    report = benchgen.dataset.open(dataset)[ids[0]].evaluate(
        solutions / f"{ids[0]}.py", EvaluateOptions(seeds=1, first_seed=5, scales=False)
    )
    assert report.passed and report.per_seed[0].seed == 5


@pytest.mark.e2e
def test_workers_stay_busy_behind_a_slow_candidate(tmp_path: Path) -> None:
    """While the oldest candidate is still being checked, the other worker goes on with later
    ones (item 8 of issue 12): candidates 4 and 5 are checked while candidate 0 still runs,
    which committing in order with a window of two per worker never allowed. The run is
    interrupted then (candidate 0 would take minutes); no timing is involved."""
    slow = scenario_source(header="import time\ntime.sleep(600)")
    fast = [scenario_source(header=f"raise RuntimeError('broken {k}')") for k in range(1, 6)]
    options = GenerateOptions(
        out=tmp_path / "ds", count=1, seed=0, workers=2, budget_factor=6, check=CheckOptions(timeout_s=900)
    )
    staging = tmp_path / "ds" / ".staging"
    deadline = time.monotonic() + 600
    seen: dict[str, bool] = {}

    def checked(index: int) -> bool:
        return any(staging.glob(f"c{index:05d}-*/report.json"))

    def watch(progress: Progress) -> None:
        if checked(4) and checked(5) and not checked(0):
            seen["later ones checked while the first still ran"] = True
            raise KeyboardInterrupt
        if time.monotonic() > deadline or checked(0):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        # A reference solution, so that no candidate is turned away before it is checked.
        solution = (EXAMPLES / "concave_bin_solution.py").read_text()
        Generator(options, on_progress=watch, author=_scripted_author([slow, *fast], solution)).run()
    assert seen, "candidates 4 and 5 were not checked while candidate 0 ran"
    # Committed strictly in order: nothing after the slow head was archived.
    assert list(benchgen.publishing.DatasetWriter(tmp_path / "ds").rejections()) == []


@pytest.mark.e2e
def test_gallery_loads_in_headless_chromium(dataset_dir: Path, tmp_path: Path) -> None:
    page = (dataset_dir / "index.html").resolve().as_uri()
    dom = chromium(tmp_path, "--dump-dom", page).stdout
    assert 'data-images-total="2"' in dom, dom[:2000]
    assert 'data-images-loaded="2"' in dom
    shot = tmp_path / "gallery.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", page)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    # The contact sheets are colourful renders on a light page: plenty of distinct colours.
    assert len(np.unique(pixels.reshape(-1, 3)[::7], axis=0)) > 200


@pytest.mark.e2e
def test_a_run_deals_one_benchmark_per_family(tmp_path: Path) -> None:
    """Nine benchmarks from nine families are nine different families (issue 15): candidates
    are dealt in rounds over the families, the under-represented first, not drawn at random.
    Fewer checked seeds keep it quick; every candidate still goes through the whole pipeline."""
    from benchgen.authors import families, offline

    names = [f.name for f in offline.FAMILIES if families.solution(f.name) is not None][:9]
    assert len(names) == 9
    options = GenerateOptions(
        out=tmp_path / "ds", count=9, seed=11, workers=2, families=names, check=CheckOptions(seeds=2)
    )
    summary = Generator(options).run()
    assert summary.stopped_because == "count_reached"
    dealt = [bench.manifest.family for bench in benchgen.dataset.open(options.out)]
    assert sorted(dealt) == sorted(names), summary.rejected
