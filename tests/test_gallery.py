"""The gallery (index page with filters and plots, one detail page per benchmark) and
`benchgen stats`.

Unit tests build pages and statistics from hand-made manifests; the e2e tests generate a
small real dataset once and drive a real headless Chromium over it: the index, a card's link
to its detail page, every image and animation loaded, screenshots that are not blank.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from benchgen.cli import app
from benchgen.dataset import Manifest, Rejection, write_json
from benchgen.gallery import LocalSource, detail_page, index_page, page_path, write_gallery
from benchgen.stats import PLOTS, band_of, compute_stats, png_bytes, render_plots, write_plots
from browser import chromium
from records import manifest_fields

BENCHGEN = [sys.executable, "-m", "benchgen"]
VIEWS = [f"renders/e{e}_a{a:03d}.png" for e in (15, 35, 60) for a in range(0, 360, 45)]


def manifest(
    index: int,
    family: str = "gap_pit",
    tier: str = "spatial",
    score: float = 3.5,
    cost: float | None = 1.0,
    description: str = "A ball rolls into the bin.",
) -> Manifest:
    """A manifest of the shape generate writes, for a benchmark nobody checked."""
    fields = manifest_fields(
        index,
        id=f"{family}-{index:012x}",
        name=family,
        tier=tier,
        description=description,
        family=family,
        target_quantity=50,
        max_unit_cost=10.0,
        max_weight_g=1000.0,
        params={"ball_radius": 17.0, "obstacle_0_height": 60.0, "gap": 250.0},
        scales=[1.0, 2.0],
        difficulty={"score": score, "terms": {"distance": 0.5, "blockers": 1.0, "tier": 0.0}},
        author={
            "kind": "offline",
            "family": family,
            "choices": {
                "ball_radius_lo": 16.0,
                "ball_radius_hi": 18.0,
                "obstacle_height_lo": 40,
                "obstacle_height_hi": 90,
            },
        },
        solution=None
        if cost is None
        else {"cost_usd": cost, "success_rate": 1.0, "variants": 4, "animation": "solution/rollout.gif"},
    )
    return Manifest.model_validate(fields)


def rejection(number: int, code: str, stage: str = "check") -> Rejection:
    return Rejection(
        candidate_id=f"c{number}",
        stage=stage,
        code=code,
        message=f"{code} at seed {number}",
        family="gap_pit",
        candidate={"index": 100 + number, "seed": 0},
        script_sha256="0" * 64,
    )


def report(passive: bool) -> dict[str, Any]:
    artifacts: dict[str, Any] = {
        "model": "model.xml",
        "renders": VIEWS,
        "cad": ["cad/ledge.step", "cad/ball.step"],
        "solution": {
            "model": "solution/model.xml",
            "renders": [],
            "animation": "solution/rollout.gif",
            "poster": "solution/rollout_poster.png",
        },
    }
    if passive:
        artifacts.update(animation="rollout.gif", poster="rollout_poster.png")
    return {
        "accepted": True,
        "metrics": {
            "scene": {
                "payload": {"label": "ball", "material": "abs", "start": [-100.0, 0.0, 200.0]},
                "goal_zone": {"name": "bin", "min": [50, -50, 0], "max": [150, 50, 80]},
                "build_zone": {"min": [-300, -150, 0], "max": [300, 150, 290]},
                "bounds": {"min": [-320, -160, 0], "max": [320, 160, 300]},
                "forbid_zones": [{"name": "pit", "min": [-50, -160, 0], "max": [20, 160, 40]}],
                "parts": [{"label": "ledge", "material": "steel", "joint": {"kind": "fixed"}}],
            },
            "per_build": [
                {"seed": 0, "scale": 1.0, "steps": 1000, "max_speed": 2.0, "payload_in_goal": False},
                {"seed": 1, "scale": 1.0, "steps": 1000, "max_speed": 2.2, "payload_in_goal": False},
            ],
            "solution": {"per_seed": [{"seed": 0, "scale": 1.0, "success": True, "cost_usd": 0.5}]},
            "randomization": {"bar": 0.4, "payload_start_spread_ratio": [0.8, 0.1, 0.0]},
            "timings_s": {"sandbox": 1.0},
        },
        "artifacts": artifacts,
    }


def png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image.paste((255, 255, 255), (8, 8, size[0] // 2, size[1] // 2))
    image.save(path)


def gif(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [Image.new("RGB", (32, 24), (40 * i, 90, 160)) for i in range(4)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def benchmark_dir(bench: Path, m: Manifest, passive: bool, with_report: bool = True) -> Path:
    """Fill ``bench`` with a benchmark's small stand-in files; ``passive`` adds the passive rollout."""
    assets = bench / "assets"
    for name in ("script.py", "solution.py"):
        (bench / name).parent.mkdir(parents=True, exist_ok=True)
        (bench / name).write_text("# stand-in\n")
    write_json(bench / "manifest.json", m.model_dump(mode="json"))
    if with_report:
        write_json(bench / "report.json", report(passive))
    (assets / "cad").mkdir(parents=True)
    for name in ("model.xml", "solution/model.xml"):
        (assets / name).parent.mkdir(parents=True, exist_ok=True)
        (assets / name).write_text("<mujoco/>")
    for name in ("ledge.step", "ball.step"):
        (assets / "cad" / name).write_text("ISO-10303-21;")
    for number, view in enumerate(VIEWS):
        png(assets / view, (10 * number, 120, 200))
    png(assets / "contact_sheet.png", (200, 80, 40), (160, 45))
    gif(assets / "solution" / "rollout.gif")
    png(assets / "solution" / "rollout_poster.png", (30, 30, 30))
    if passive:
        gif(assets / "rollout.gif")
        png(assets / "rollout_poster.png", (60, 60, 60))
    return bench


def local_dataset(root: Path, manifests: list[Manifest], rejections: list[Rejection]) -> Path:
    """A dataset directory with these (already compacted) indexes."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.jsonl").write_text("".join(m.model_dump_json() + "\n" for m in manifests))
    (root / "rejected").mkdir()
    (root / "rejected" / "index.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rejections))
    return root


def colours(path: Path) -> int:
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


# -- statistics ---------------------------------------------------------------------------------


def test_stats_count_families_tiers_bands_acceptance_and_reasons() -> None:
    manifests = [
        manifest(0, "gap_pit", "spatial", 2.5, cost=1.0),
        manifest(1, "gap_pit", "spatial", 3.2, cost=2.0),
        manifest(2, "lever_seesaw", "mechanism", 5.9, cost=None),
        manifest(3, "flap_gate", "kinematic", 3.99, cost=0.5),
    ]
    rejections = [rejection(0, "unsolved"), rejection(1, "unsolved"), rejection(2, "duplicate", "duplicate")]
    stats = compute_stats(manifests, rejections, "somewhere")
    assert stats.benchmarks == 4 and stats.rejected == 3
    assert stats.acceptance_rate == pytest.approx(4 / 7, abs=1e-4)
    assert list(stats.by_tier.items()) == [("spatial", 2), ("kinematic", 1), ("mechanism", 1)]
    assert list(stats.by_family.items()) == [("gap_pit", 2), ("flap_gate", 1), ("lever_seesaw", 1)]
    assert stats.by_difficulty_band == {"2–3": 1, "3–4": 2, "5–6": 1}
    assert band_of(3.99) == "3–4"
    assert sum(stats.difficulty_histogram.counts) == 4
    assert stats.difficulty_histogram.edges[0] <= 2.5 and stats.difficulty_histogram.edges[-1] > 5.9
    assert stats.cost_budget.count == 3 and stats.without_reference == 1
    assert stats.cost_budget.max == pytest.approx(0.2)
    assert sum(stats.cost_budget_histogram.counts) == 3
    assert [(r.code, r.count) for r in stats.rejection_reasons] == [("unsolved", 2), ("duplicate", 1)]
    assert stats.rejections_by_stage == {"check": 2, "duplicate": 1}
    empty = compute_stats([], [])
    assert empty.acceptance_rate is None and empty.difficulty.count == 0


def test_plots_are_non_empty_and_byte_identical_for_the_same_dataset(tmp_path: Path) -> None:
    manifests = [manifest(i, f"family_{i % 3}", ("spatial", "kinematic")[i % 2], 2 + i / 3) for i in range(9)]
    stats = compute_stats(manifests, [rejection(0, "unsolved")])
    first = write_plots(stats, tmp_path / "a")
    second = write_plots(compute_stats(manifests, [rejection(0, "unsolved")]), tmp_path / "b")
    assert set(first) == set(PLOTS)
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name
        assert colours(path) > 20, name  # bars, text and grid, not a blank canvas
    before = first["families"].stat().st_mtime_ns
    write_plots(stats, tmp_path / "a")  # unchanged plots are not rewritten
    assert first["families"].stat().st_mtime_ns == before
    for image in render_plots(compute_stats([], [])).values():  # an empty dataset still draws
        assert len(png_bytes(image)) > 100


def test_stats_command_prints_tables_json_and_writes_plots(tmp_path: Path) -> None:
    manifests = [manifest(0), manifest(1, "flap_gate", "kinematic", 4.5)]
    root = local_dataset(tmp_path / "ds", manifests, [rejection(0, "trivial")])
    runner = CliRunner()
    result = runner.invoke(app, ["stats", str(root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (
        data["benchmarks"] == 2
        and data["rejected"] == 1
        and data["acceptance_rate"] == pytest.approx(2 / 3, 1e-3)
    )
    assert data["by_family"] == {"flap_gate": 1, "gap_pit": 1}
    for name in PLOTS.values():
        assert colours(root / "stats" / name) > 20
    table = runner.invoke(app, ["stats", str(root), "--no-plots"])
    assert table.exit_code == 0
    assert "acceptance rate" in table.stdout and "trivial" in table.stdout and "flap_gate" in table.stdout
    elsewhere = runner.invoke(app, ["stats", str(root), "--plots", str(tmp_path / "plots")])
    assert elsewhere.exit_code == 0 and (tmp_path / "plots" / "difficulty.png").is_file()
    missing = runner.invoke(app, ["stats", str(tmp_path / "nothing")])
    assert missing.exit_code == 2


# -- pages --------------------------------------------------------------------------------------


def test_index_page_links_cards_to_detail_pages_and_carries_filter_data() -> None:
    manifests = [
        manifest(0, "gap_pit", "spatial", 2.5, description="Ball <b>over</b> the gap & pit"),
        manifest(1, "lever_seesaw", "mechanism", 5.0),
    ]
    page = index_page(manifests, compute_stats(manifests, []), ["stats/difficulty.png"])
    first = manifests[0]
    assert f'href="{page_path(first.id)}"' in page and page_path(first.id) == f"pages/{first.id}.html"
    assert 'data-tier="spatial" data-family="gap_pit" data-difficulty="2.500"' in page
    assert "&lt;b&gt;over&lt;/b&gt; the gap &amp; pit" in page and "<b>over</b>" not in page
    assert 'data-search="gap_pit-000000000000 gap_pit gap_pit spatial ball &lt;b&gt;over&lt;/b&gt;' in page
    for control in ('id="q"', 'id="tier"', 'id="family"', 'id="dmin"', 'id="dmax"'):
        assert control in page
    assert '<option value="lever_seesaw">' in page and '<option value="mechanism">' in page
    assert '<img src="stats/difficulty.png"' in page
    assert "2 accepted, 0 rejected (acceptance 100%)" in page
    assert "http://" not in page and "https://" not in page  # static, nothing fetched


def test_detail_page_shows_views_rollouts_constraints_terms_params_metrics_and_files(tmp_path: Path) -> None:
    m = manifest(0)
    benchmark_dir(tmp_path / m.id, m, passive=True)
    source = LocalSource(tmp_path)
    page = detail_page(m, source.reports([m.id])[m.id], lambda rel, listed: source.has(m.id, rel, listed))
    base = f"../{m.id}"
    for view in VIEWS:
        assert f'<img src="{base}/assets/{view}"' in page
    assert "elevation 35°, azimuth 90°" in page and "The 24 views" in page
    assert f'<img class="animation" src="{base}/assets/rollout.gif"' in page
    assert f'<img class="animation" src="{base}/assets/solution/rollout.gif"' in page
    for relative in (
        "script.py",
        "solution.py",
        "assets/model.xml",
        "assets/cad/ledge.step",
        "assets/cad/ball.step",
    ):
        assert f'href="{base}/{relative}"' in page, relative
    assert 'href="../index.html"' in page
    assert "A ball rolls into the bin." in page and "family <b>gap_pit</b>" in page
    assert "forbid zone “pit”" in page and "$10.00" in page and "1000 g" in page
    assert "<td>blockers</td>" in page and "score = 1 + Σ weight × term" in page
    # seed-0 value with the range the author declared (also under the family-wide name)
    assert re.search(r"<td>obstacle_0_height</td><td[^>]*>60</td><td>40 … 90</td>", page), page
    assert "does not record each seed" in page
    assert "passive stability run per build" in page and "reference solution per variant" in page


def test_detail_page_degrades_when_files_or_report_are_missing(tmp_path: Path) -> None:
    m = manifest(1)
    bench = benchmark_dir(tmp_path / m.id, m, passive=False)
    (bench / "assets" / "cad" / "ball.step").unlink()
    source = LocalSource(tmp_path)
    page = detail_page(m, source.reports([m.id])[m.id], lambda rel, listed: source.has(m.id, rel, listed))
    assert "assets/rollout.gif" not in page and "not recorded for this benchmark" in page
    assert "assets/solution/rollout.gif" in page
    assert "cad/ledge.step" in page and "cad/ball.step" not in page
    bare = detail_page(m, None, lambda rel, listed: False)  # no report, no files at all
    assert "No renders were recorded" in bare and bare.count("not recorded for this benchmark") == 2
    assert "<td>ball_radius</td>" in bare


def test_write_gallery_writes_each_detail_page_once(tmp_path: Path) -> None:
    manifests = [manifest(0), manifest(1, "flap_gate", "kinematic", 4.0)]
    root = local_dataset(tmp_path / "ds", manifests, [rejection(0, "unsolved")])
    for number, m in enumerate(manifests):
        benchmark_dir(root / m.id, m, passive=bool(number))
    index = write_gallery(root, manifests)
    assert index == root / "index.html"
    pages = [root / page_path(m.id) for m in manifests]
    assert all(p.is_file() for p in pages)
    assert "1 rejected" in index.read_text()
    assert sorted(p.name for p in (root / "stats").iterdir()) == sorted(PLOTS.values())
    stamps = [p.stat().st_mtime_ns for p in pages]
    (root / manifests[0].id / "report.json").unlink()  # a current page is not rebuilt: its report is not read
    write_gallery(root, [*manifests, manifest(2, "step_up")])
    assert [p.stat().st_mtime_ns for p in pages] == stamps
    assert (root / page_path(manifest(2, "step_up").id)).is_file()


def test_remote_gallery_uploads_pages_and_plots_once(tmp_path: Path) -> None:
    import fsspec

    from benchgen.publishing import RemoteDatasetWriter

    url = "memory://gallery-test/ds"
    events: list[str] = []
    writer = RemoteDatasetWriter(url, work_dir=tmp_path / "work", on_event=events.append)
    writer.prepare()
    manifests = [manifest(0), manifest(1, "flap_gate", "kinematic", 4.0)]
    for number, m in enumerate(manifests):
        writer.publish(benchmark_dir(writer.stage(f"c{number}"), m, passive=bool(number)), m)
    writer.compact()
    fs = fsspec.filesystem("memory")
    root = "/gallery-test/ds"
    assert fs.exists(f"{root}/index.html")
    for m in manifests:
        page = fs.cat_file(f"{root}/{page_path(m.id)}").decode()
        assert f"../{m.id}/assets/solution/rollout.gif" in page
    assert ("../" + manifests[1].id + "/assets/rollout.gif") in fs.cat_file(
        f"{root}/{page_path(manifests[1].id)}"
    ).decode()
    for name in PLOTS.values():
        assert fs.cat_file(f"{root}/stats/{name}")[:4] == b"\x89PNG"
    uploads = [e for e in events if "gallery files" in e]
    assert uploads == ["uploading 6 gallery files (pages/, stats/)"], events
    events.clear()
    # A second gallery upload (compact() itself cannot run twice here: memory:// truncates
    # index.jsonl when it is reopened for writing while being read, which S3 does not).
    writer._upload_gallery(list(writer.manifests()))
    assert not [e for e in events if "gallery files" in e], events  # nothing new to upload


# -- a real dataset in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A two-benchmark dataset made by the CLI with two workers."""
    out = tmp_path_factory.mktemp("gallery") / "dataset"
    command = [
        *BENCHGEN,
        "generate",
        "--out",
        str(out),
        "--count",
        "2",
        "--seed",
        "3",
        "--workers",
        "2",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr
    yield out


def body_data(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:2000]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body[1]))


def assert_not_blank(shot: Path) -> None:
    """A real page with renders: many colours, contrast, no single colour covering nearly all of it."""
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.uint8).reshape(-1, 3)
    values, counts = np.unique(pixels[::3], axis=0, return_counts=True)
    assert len(values) > 200, f"{shot}: {len(values)} colours"
    assert counts.max() / counts.sum() < 0.8, f"{shot}: one colour covers {counts.max() / counts.sum():.0%}"
    assert pixels.astype(float).std() > 20, f"{shot}: no contrast"


@pytest.mark.e2e
def test_index_and_detail_page_load_in_headless_chromium(generated: Path, tmp_path: Path) -> None:
    index = (generated / "index.html").resolve()
    dom = chromium(tmp_path, "--dump-dom", index.as_uri()).stdout
    data = body_data(dom)
    assert data["images-total"] == data["images-loaded"] == "2", data
    assert data["plots-total"] == data["plots-loaded"] == str(len(PLOTS)), data
    assert data["visible"] == "2"
    index_shot = tmp_path / "index.png"
    chromium(tmp_path, f"--screenshot={index_shot}", "--window-size=1280,1200", index.as_uri())
    assert_not_blank(index_shot)

    # Follow the first card's link, as a click would: resolve its href against the index.
    href = re.search(r'<div class="card"[^>]*>\s*<a href="([^"]+)"', dom)
    assert href, dom[:3000]
    detail = (index.parent / href[1]).resolve()
    assert detail.is_file(), detail
    dom = chromium(tmp_path, "--dump-dom", detail.as_uri()).stdout
    data = body_data(dom)
    assert data["broken"] == "", data
    assert int(data["images-total"]) >= 24 + 2, data  # 24 views, the two rollouts (and the solved renders)
    assert data["images-loaded"] == data["images-total"], data
    assert data["animations-loaded"] == data["animations-total"], data
    bench = json.loads((generated / detail.stem / "report.json").read_text())
    expected = 1 + (
        "animation" in bench["artifacts"]
    )  # the solved rollout, and the passive one when recorded
    assert int(data["animations-total"]) == expected, data
    detail_shot = tmp_path / "detail.png"
    chromium(tmp_path, f"--screenshot={detail_shot}", "--window-size=1280,1600", detail.as_uri())
    assert_not_blank(detail_shot)


@pytest.mark.e2e
def test_index_filters_run_in_chromium_from_the_url_fragment(generated: Path, tmp_path: Path) -> None:
    manifests = [json.loads(line) for line in (generated / "index.jsonl").read_text().splitlines() if line]
    first = manifests[0]
    uri = (generated / "index.html").resolve().as_uri()
    cases = {
        f"#family={first['family']}": sum(m["family"] == first["family"] for m in manifests),
        f"#tier={first['tier']}": sum(m["tier"] == first["tier"] for m in manifests),
        "#q=no-such-benchmark-anywhere": 0,
        f"#q={first['id']}": 1,
        "#dmin=99": 0,
        "#dmin=0&dmax=99": len(manifests),
    }
    for fragment, visible in cases.items():
        data = body_data(chromium(tmp_path, "--dump-dom", uri + fragment).stdout)
        assert data["visible"] == str(visible), (fragment, data)


@pytest.mark.e2e
def test_stats_command_on_a_generated_dataset(generated: Path) -> None:
    result = subprocess.run(
        [*BENCHGEN, "stats", str(generated), "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    ids = [json.loads(line)["id"] for line in (generated / "index.jsonl").read_text().splitlines() if line]
    assert data["benchmarks"] == len(ids) == 2
    assert sum(data["by_family"].values()) == sum(data["by_tier"].values()) == 2
    assert data["acceptance_rate"] == pytest.approx(2 / (2 + data["rejected"]), abs=1e-3)
    assert data["cost_budget"]["count"] == 2 and 0 < data["cost_budget"]["max"] <= 1
    for name in PLOTS.values():
        path = generated / "stats" / name
        image = Image.open(path)
        assert image.size == (640, 360) and colours(path) > 20, name
    table = subprocess.run([*BENCHGEN, "stats", str(generated)], capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "acceptance rate" in table.stdout


def test_detail_page_shows_the_spread_across_seeds_when_builds_record_their_params() -> None:
    m = manifest(2)
    recorded = report(passive=True)
    recorded["metrics"]["per_build"] = [
        {"seed": 0, "scale": 1.0, "params": {"gap": 250.0}},
        {"seed": 1, "scale": 1.0, "params": {"gap": 210.5}},
        {"seed": 0, "scale": 2.0, "params": {"gap": 999.0}},  # other scales are not seeds' draws
    ]
    page = detail_page(m, recorded, lambda rel, listed: listed)
    assert "across checked seeds" in page and "does not record each seed" not in page
    assert re.search(r"<td>gap</td><td[^>]*>250</td><td>210\.5 … 250 \(2 seeds\)</td>", page), page
