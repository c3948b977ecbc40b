"""Dataset statistics: counts by family, tier and difficulty band, the acceptance rate, the
rejection reasons, and plots of them (``benchgen stats DIR|URL``; the gallery shows the plots).

The statistics come from the two indexes only (the accepted benchmarks' manifests and the
rejection archive), so they cost one streaming read however large the dataset.

The plots are drawn with Pillow, not matplotlib: four simple charts do not justify a heavy
dependency, and Pillow's PNG writer adds no timestamp or version, so the same dataset always
gives byte-identical files (a re-run uploads nothing new).
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, Field

from benchgen.dataset import Manifest, Rejection
from benchgen.settings import Settings

STATS_DIR = "stats"
"""Where the plots go, relative to the dataset (``DIR/stats/*.png``)."""

PLOTS = {
    "difficulty": "difficulty.png",
    "families": "families.png",
    "tiers": "tiers.png",
    "cost_budget": "cost_budget.png",
}
"""Plot name → file name under :data:`STATS_DIR`, in the order the gallery shows them."""

TIER_ORDER = ("spatial", "kinematic", "mechanism")
BAND_WIDTH = 1.0
"""Difficulty bands are unit-wide ``[k, k+1)``: the score has no natural thresholds, and unit
bands read directly off its documented terms (see :mod:`benchgen.difficulty`)."""
HISTOGRAM_BIN = 0.25
"""Width of the difficulty histogram's bins."""
COST_BINS = 10


class Histogram(BaseModel):
    """Counts of values in consecutive bins ``[edges[i], edges[i+1])`` (the last one closed)."""

    edges: list[float] = Field(default_factory=list)
    counts: list[int] = Field(default_factory=list)


class Summary(BaseModel):
    """Minimum, median, mean and maximum of a list of values (all None when it is empty)."""

    count: int = 0
    min: float | None = None
    median: float | None = None
    mean: float | None = None
    max: float | None = None


class RejectionReason(BaseModel):
    """How many candidates were rejected for one reason, with one example message."""

    code: str
    stage: str
    count: int
    example: str


class DatasetStats(BaseModel):
    """What ``benchgen stats`` prints (``--json`` prints exactly this)."""

    location: str = ""
    benchmarks: int
    rejected: int
    acceptance_rate: float | None
    """Accepted ÷ (accepted + rejected); None when no candidate was recorded."""
    by_tier: dict[str, int]
    by_family: dict[str, int]
    by_difficulty_band: dict[str, int]
    difficulty: Summary
    difficulty_histogram: Histogram
    cost_budget: Summary
    """The reference solution's worst-case cost ÷ ``max_unit_cost`` (benchmarks that have one)."""
    cost_budget_histogram: Histogram
    without_reference: int
    """Accepted benchmarks whose manifest records no reference solution cost."""
    rejection_reasons: list[RejectionReason]
    rejections_by_stage: dict[str, int]


def _summary(values: list[float]) -> Summary:
    if not values:
        return Summary()
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return Summary(
        count=len(ordered),
        min=round(ordered[0], 4),
        median=round(median, 4),
        mean=round(sum(ordered) / len(ordered), 4),
        max=round(ordered[-1], 4),
    )


def _histogram(values: list[float], lo: float, hi: float, bins: int) -> Histogram:
    if not values or bins <= 0 or hi <= lo:
        return Histogram()
    width = (hi - lo) / bins
    edges = [round(lo + i * width, 6) for i in range(bins + 1)]
    counts = [0] * bins
    for value in values:
        index = min(max(int((value - lo) / width), 0), bins - 1)
        counts[index] += 1
    return Histogram(edges=edges, counts=counts)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ value (a readable axis end)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value - 1e-12:
            return step * power
    return 10.0 * power


def band_of(score: float) -> str:
    """The difficulty band of a score, e.g. ``"3–4"`` for 3.97 (see :data:`BAND_WIDTH`)."""
    lo = math.floor(score / BAND_WIDTH) * BAND_WIDTH
    return f"{lo:g}–{lo + BAND_WIDTH:g}"


def _tier_key(tier: str) -> tuple[int, str]:
    return (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), tier)


def cost_budget_ratio(manifest: Manifest) -> float | None:
    """The reference solution's worst-case unit cost ÷ the benchmark's ``max_unit_cost``, if recorded."""
    cost = manifest.solution.cost_usd if manifest.solution else None
    if cost is None or not manifest.max_unit_cost:
        return None
    return cost / manifest.max_unit_cost


def compute_stats(
    manifests: Iterable[Manifest], rejections: Iterable[Rejection], location: str = ""
) -> DatasetStats:
    """Statistics of these benchmarks and rejections (each iterated once)."""
    tiers: Counter[str] = Counter()
    families: Counter[str] = Counter()
    bands: Counter[float] = Counter()
    scores: list[float] = []
    ratios: list[float] = []
    count = 0
    for manifest in manifests:
        count += 1
        tiers[manifest.tier] += 1
        families[manifest.family] += 1
        score = manifest.difficulty.score
        scores.append(score)
        bands[math.floor(score / BAND_WIDTH) * BAND_WIDTH] += 1
        ratio = cost_budget_ratio(manifest)
        if ratio is not None:
            ratios.append(ratio)
    reasons: dict[tuple[str, str], RejectionReason] = {}
    stages: Counter[str] = Counter()
    rejected = 0
    for rejection in rejections:
        rejected += 1
        stages[rejection.stage] += 1
        key = (rejection.code, rejection.stage)
        if key in reasons:
            reasons[key].count += 1
        else:
            reasons[key] = RejectionReason(
                code=rejection.code, stage=rejection.stage, count=1, example=rejection.message[:300]
            )
    total = count + rejected
    lo = math.floor(min(scores) / HISTOGRAM_BIN) * HISTOGRAM_BIN if scores else 0.0
    hi = (math.floor(max(scores) / HISTOGRAM_BIN) + 1) * HISTOGRAM_BIN if scores else 0.0
    top = _nice_ceiling(max(ratios)) if ratios else 1.0
    return DatasetStats(
        location=location,
        benchmarks=count,
        rejected=rejected,
        acceptance_rate=round(count / total, 4) if total else None,
        by_tier={t: tiers[t] for t in sorted(tiers, key=_tier_key)},
        by_family={f: n for f, n in sorted(families.items(), key=lambda item: (-item[1], item[0]))},
        by_difficulty_band={f"{b:g}–{b + BAND_WIDTH:g}": bands[b] for b in sorted(bands)},
        difficulty=_summary(scores),
        difficulty_histogram=_histogram(scores, lo, hi, round((hi - lo) / HISTOGRAM_BIN)),
        cost_budget=_summary(ratios),
        cost_budget_histogram=_histogram(ratios, 0.0, top, COST_BINS),
        without_reference=count - len(ratios),
        rejection_reasons=sorted(reasons.values(), key=lambda r: (-r.count, r.code, r.stage)),
        rejections_by_stage=dict(sorted(stages.items(), key=lambda item: (-item[1], item[0]))),
    )


def dataset_stats(location: str | os.PathLike[str], settings: Settings | None = None) -> DatasetStats:
    """Statistics of the dataset at ``location`` (directory or URL), read from its two indexes.

    Raises what :func:`benchgen.dataset.open` raises when it is not a readable dataset."""
    from benchgen import storage
    from benchgen.dataset import open as open_dataset
    from benchgen.dataset import rejection_index

    dataset = open_dataset(location, settings)
    fs, root = storage.filesystem(location, dataset.settings.storage)
    rejections = (Rejection.model_validate(r) for r in rejection_index(fs, root).records())
    return compute_stats(dataset.iter_manifests(), rejections, str(dataset.root))


# -- plots ---------------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 360
BACKGROUND = (255, 255, 255)
INK = (28, 30, 33)
GRID = (225, 228, 234)
COLORS = {
    "difficulty": (43, 89, 195),
    "families": (46, 140, 87),
    "tiers": (196, 112, 32),
    "cost_budget": (150, 60, 160),
}


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: Any) -> float:
    return float(draw.textlength(text, font=font))


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: float) -> str:
    """``text``, shortened with an ellipsis to fit ``width`` pixels."""
    if _text_width(draw, text, font) <= width:
        return text
    while text and _text_width(draw, text + "…", font) > width:
        text = text[:-1]
    return text + "…"


def _canvas(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((16, 10), title, fill=INK, font=_font(17))
    return image, draw


def _no_data(draw: ImageDraw.ImageDraw) -> None:
    draw.text((WIDTH / 2, HEIGHT / 2), "no data", fill=(120, 120, 120), font=_font(16), anchor="mm")


def bar_chart(title: str, counts: dict[str, int], color: tuple[int, int, int]) -> Image.Image:
    """Horizontal bars, one per label (long labels such as family names stay readable)."""
    image, draw = _canvas(title)
    if not counts:
        _no_data(draw)
        return image
    font = _font(13)
    items = list(counts.items())[:14]  # more would not be legible at this size
    left, right, top, bottom = 150, WIDTH - 50, 44, HEIGHT - 16
    row = min((bottom - top) / len(items), 40.0)
    most = max(n for _, n in items)
    for i, (label, n) in enumerate(items):
        y0 = top + i * row + row * 0.15
        y1 = top + (i + 1) * row - row * 0.15
        x1 = left + (right - left) * n / most
        draw.rectangle((left, y0, max(x1, left + 1), y1), fill=color)
        middle = (y0 + y1) / 2
        draw.text((left - 8, middle), _fit(draw, label, font, left - 24), fill=INK, font=font, anchor="rm")
        draw.text((x1 + 6, middle), str(n), fill=INK, font=font, anchor="lm")
    if len(counts) > len(items):
        draw.text((WIDTH - 16, 14), f"top {len(items)} of {len(counts)}", fill=INK, font=font, anchor="ra")
    return image


def histogram_chart(
    title: str, histogram: Histogram, color: tuple[int, int, int], label: str = "{:g}"
) -> Image.Image:
    """Vertical bars over consecutive bins, with the count above each non-empty bar."""
    image, draw = _canvas(title)
    if not histogram.counts:
        _no_data(draw)
        return image
    font = _font(12)
    left, right, top, bottom = 48, WIDTH - 20, 48, HEIGHT - 40
    tick = max(1, math.ceil(max(histogram.counts) / 4))  # whole counts on the axis
    most = 4 * tick
    for k in range(5):  # light horizontal grid with count ticks
        y = bottom - (bottom - top) * k / 4
        draw.line((left, y, right, y), fill=GRID)
        draw.text((left - 6, y), str(k * tick), fill=INK, font=font, anchor="rm")
    bins = len(histogram.counts)
    width = (right - left) / bins
    for i, n in enumerate(histogram.counts):
        if n:
            x0, x1 = left + i * width + 1, left + (i + 1) * width - 1
            y = bottom - (bottom - top) * n / most
            draw.rectangle((x0, y, max(x1, x0 + 1), bottom), fill=color)
            draw.text(((x0 + x1) / 2, y - 3), str(n), fill=INK, font=font, anchor="md")
    step = max(1, math.ceil(bins / 8))  # at most ~9 tick labels
    for i in range(0, bins + 1, step):
        x = left + i * width
        draw.line((x, bottom, x, bottom + 4), fill=INK)
        draw.text((x, bottom + 6), label.format(histogram.edges[i]), fill=INK, font=font, anchor="ma")
    draw.line((left, bottom, right, bottom), fill=INK)
    return image


def render_plots(stats: DatasetStats) -> dict[str, Image.Image]:
    """The four charts, by plot name (see :data:`PLOTS`)."""
    return {
        "difficulty": histogram_chart(
            f"Difficulty ({stats.benchmarks} benchmarks)", stats.difficulty_histogram, COLORS["difficulty"]
        ),
        "families": bar_chart("Benchmarks by family", stats.by_family, COLORS["families"]),
        "tiers": bar_chart("Benchmarks by tier", stats.by_tier, COLORS["tiers"]),
        "cost_budget": histogram_chart(
            f"Reference cost / budget ({stats.cost_budget.count} with a reference)",
            stats.cost_budget_histogram,
            COLORS["cost_budget"],
            "{:.3g}",
        ),
    }


def png_bytes(image: Image.Image) -> bytes:
    """The PNG encoding of ``image``: no metadata chunks, so identical pixels give identical bytes."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def write_plots(stats: DatasetStats, out_dir: Path) -> dict[str, Path]:
    """Write the plots into ``out_dir`` (created); returns name → path. A file whose bytes
    would not change is left alone, so its modification time says when the plot last changed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, image in render_plots(stats).items():
        path = out_dir / PLOTS[name]
        data = png_bytes(image)
        if not path.is_file() or path.read_bytes() != data:
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        written[name] = path
    return written


def publish_plots(
    stats: DatasetStats, location: str | os.PathLike[str], settings: Settings | None = None
) -> list[str]:
    """Write the plots into the dataset at ``location`` (``DIR/stats/`` or uploaded to
    ``URL/stats/``); returns where each one went."""
    from benchgen import storage

    if not storage.is_remote(location):
        return [str(p) for p in write_plots(stats, Path(location) / STATS_DIR).values()]
    connection = (settings or Settings.from_env()).storage
    fs, root = storage.filesystem(location, connection)
    timeout = connection.operation_timeout_s
    with tempfile.TemporaryDirectory(prefix="benchgen-stats-") as tmp:
        paths = write_plots(stats, Path(tmp))
        pairs = [(str(p), storage.join(root, STATS_DIR, p.name)) for p in paths.values()]
        storage.put_files(fs, pairs, timeout)
    url = storage.normalize(location)
    return [storage.join(url, STATS_DIR, PLOTS[name]) for name in paths]
