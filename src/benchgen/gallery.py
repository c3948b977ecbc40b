"""A static HTML gallery of a dataset: an index page and one detail page per benchmark.

Files, relative to the dataset (all written when the index is compacted)::

    index.html          the statistics plots, then one card per benchmark (contact sheet, name,
                        tier, family, difficulty, constraints), with filters: tier, family,
                        difficulty range, free text
    pages/<id>.html     one benchmark: the 24 views at full size, the passive and the solved
                        rollouts, description, constraints, difficulty terms, randomized
                        parameters, verdict metrics, links to its files
    stats/*.png         the plots of :mod:`benchgen.stats`

Every page is self-contained (no network, no build step, no server) and works from
``file://``: links are relative, filters are plain JavaScript over data attributes, and the
filter state lives in the URL's fragment (``index.html#tier=spatial&q=ball``) so a filtered
view can be bookmarked. Without JavaScript every card shows.

A benchmark never changes once published, so its detail page is written once: the page
carries a stamp (:data:`PAGE_VERSION` and the benchmark's content hash) and is rewritten only
when the stamp differs. A compaction therefore reads the ``report.json`` of new benchmarks
only, which matters for remote datasets (see :meth:`benchgen.publishing.RemoteDatasetWriter`).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from benchgen.dataset import GALLERY_FILE, Manifest, Rejection

PAGES_DIR = "pages"
PAGE_VERSION = "1"
"""Bump when the detail page template changes: pages with another stamp are rewritten."""
STAMP = '<meta name="benchgen-page" content="{stamp}">'


class BenchmarkSource(Protocol):
    """Where the gallery reads the files of published benchmarks from."""

    def reports(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """``report.json`` of each of these benchmarks (those that have one)."""
        ...

    def has(self, benchmark_id: str, relative: str, listed: bool) -> bool:
        """Whether the benchmark has the file ``relative``; ``listed`` says whether its report
        or manifest names it."""
        ...


class LocalSource:
    """Benchmarks in a local dataset directory: files are looked at on disk, so a file the
    report names but that is missing is not linked (and one it does not name is)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def reports(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Read each ``<id>/report.json`` that exists and parses."""
        found: dict[str, dict[str, Any]] = {}
        for benchmark_id in ids:
            try:
                found[benchmark_id] = json.loads((self.root / benchmark_id / "report.json").read_text())
            except (OSError, ValueError):
                continue
        return found

    def has(self, benchmark_id: str, relative: str, listed: bool) -> bool:
        """True when the file exists."""
        return (self.root / benchmark_id / relative).is_file()


class StoreSource:
    """Benchmarks in remote storage (fsspec): reports are fetched concurrently, in batches, and a
    file is taken to exist when the report or manifest names it (every named file was uploaded
    before the manifest that made the benchmark visible), which saves one request per file."""

    def __init__(self, fs: Any, root: str, timeout: float | None = None, batch: int = 256) -> None:
        self.fs = fs
        self.root = root
        self.timeout = timeout
        self.batch = batch

    def reports(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Fetch each ``<id>/report.json`` that exists and parses."""
        from benchgen import storage

        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), self.batch):
            chunk = ids[start : start + self.batch]
            paths = {storage.join(self.root, i, "report.json"): i for i in chunk}
            for path, data in storage.cat_existing(self.fs, list(paths), self.timeout).items():
                benchmark_id = paths.get(path)
                if benchmark_id is None:
                    continue
                try:
                    found[benchmark_id] = json.loads(data)
                except ValueError:
                    continue
        return found

    def has(self, benchmark_id: str, relative: str, listed: bool) -> bool:
        """True when the report or manifest names the file."""
        return listed


def _load_rejections(root: Path) -> list[Rejection]:
    from fsspec.implementations.local import LocalFileSystem

    from benchgen.dataset import rejection_index

    return [Rejection.model_validate(r) for r in rejection_index(LocalFileSystem(), str(root)).records()]


# -- the index page -----------------------------------------------------------------------------

INDEX = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>benchgen dataset: {count} benchmarks</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; background: #f5f6f8; color: #1c1e21; }}
h1 {{ font-size: 1.4rem; }}
a {{ color: #2b59c3; }}
.stats {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .6rem; }}
.stats img {{ width: 100%; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.15); background: #fff; }}
.summary {{ font-size: .9rem; color: #444; margin: .4rem 0 1rem; }}
.filters {{ display: flex; flex-wrap: wrap; gap: .8rem; align-items: center; background: #fff; padding: .6rem .8rem;
  border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.1); margin-top: 1rem; }}
.filters label {{ font-size: .85rem; color: #444; }}
.filters input, .filters select {{ margin-left: .3rem; padding: .2rem .4rem; }}
.filters input[type=number] {{ width: 4.5rem; }}
#shown {{ margin-left: auto; font-size: .85rem; color: #555; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; margin-top: 1rem; }}
.card {{ background: #fff; border-radius: 8px; padding: .8rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
.card img {{ width: 100%; border-radius: 4px; }}
.card h2 {{ font-size: 1.05rem; margin: .4rem 0; }}
.card h2 a {{ color: inherit; }}
.meta {{ font-size: .85rem; color: #555; }}
.tier {{ display: inline-block; padding: 0 .4rem; border-radius: 3px; background: #e3e9f7; }}
.empty {{ display: none; color: #555; margin: 2rem 0; }}
</style>
</head>
<body>
<h1>benchgen dataset: {count} benchmarks</h1>
{stats}
<form class="filters" id="filters" onsubmit="return false">
<label>search<input type="search" id="q" placeholder="name, family, description, id"></label>
<label>tier<select id="tier"><option value="">all</option>{tiers}</select></label>
<label>family<select id="family"><option value="">all</option>{families}</select></label>
<label>difficulty<input type="number" id="dmin" step="0.1" min="0" placeholder="{dmin}"> to
<input type="number" id="dmax" step="0.1" min="0" placeholder="{dmax}"></label>
<button type="reset" id="clear">clear</button>
<span id="shown">{count} of {count} shown</span>
</form>
<div class="grid">
{cards}
</div>
<p class="empty" id="empty">No benchmark matches these filters.</p>
<script>
const fields = ['q', 'tier', 'family', 'dmin', 'dmax'];
const cards = [...document.querySelectorAll('.card')];
function apply() {{
  const v = Object.fromEntries(fields.map(f => [f, document.getElementById(f).value.trim()]));
  const words = v.q.toLowerCase().split(/\\s+/).filter(Boolean);
  const lo = v.dmin === '' ? -Infinity : Number(v.dmin), hi = v.dmax === '' ? Infinity : Number(v.dmax);
  let shown = 0;
  for (const card of cards) {{
    const d = card.dataset, difficulty = Number(d.difficulty);
    const ok = (!v.tier || d.tier === v.tier) && (!v.family || d.family === v.family)
      && difficulty >= lo && difficulty <= hi && words.every(w => d.search.includes(w));
    card.style.display = ok ? '' : 'none';
    shown += ok;
  }}
  document.getElementById('shown').textContent = shown + ' of ' + cards.length + ' shown';
  document.getElementById('empty').style.display = shown ? 'none' : 'block';
  document.body.dataset.visible = shown;
  const state = new URLSearchParams(fields.filter(f => v[f]).map(f => [f, v[f]])).toString();
  try {{ history.replaceState(null, '', state ? '#' + state : location.pathname + location.search); }} catch (e) {{}}
}}
function restore() {{
  const state = new URLSearchParams(location.hash.slice(1));
  for (const f of fields) document.getElementById(f).value = state.get(f) || '';
  apply();
}}
for (const f of fields) document.getElementById(f).addEventListener('input', apply);
document.getElementById('clear').addEventListener('click', () => setTimeout(apply));
window.addEventListener('hashchange', restore);
restore();
window.addEventListener('load', () => {{
  const ready = i => i.complete && i.naturalWidth > 0;
  const sheets = [...document.querySelectorAll('.card img')], plots = [...document.querySelectorAll('.stats img')];
  document.body.dataset.imagesLoaded = sheets.filter(ready).length;
  document.body.dataset.imagesTotal = sheets.length;
  document.body.dataset.plotsLoaded = plots.filter(ready).length;
  document.body.dataset.plotsTotal = plots.length;
}});
</script>
</body>
</html>
"""

CARD = """<div class="card" id="{id}" data-tier="{tier}" data-family="{family}" data-difficulty="{difficulty:.3f}" data-search="{search}">
<a href="{page}"><img src="{sheet}" alt="24 views of {name}" loading="eager"></a>
<h2><a href="{page}">{name}</a></h2>
<div class="meta"><span class="tier">{tier}</span> · {family} · difficulty {difficulty:.2f} · <code>{id}</code></div>
<p>{description}</p>
<div class="meta">{quantity} units · max ${cost:.2f}/unit{weight} · <a href="{page}">details</a></div>
</div>"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def page_path(benchmark_id: str) -> str:
    """A benchmark's detail page, relative to the dataset."""
    return f"{PAGES_DIR}/{benchmark_id}.html"


def _card(manifest: Manifest) -> str:
    weight = f" · max {manifest.max_weight_g:.0f} g" if manifest.max_weight_g else ""
    search = " ".join(
        [
            manifest.id,
            manifest.name,
            manifest.family,
            manifest.tier,
            manifest.theme or "",
            manifest.description,
        ]
    )
    return CARD.format(
        tier=_e(manifest.tier),
        id=_e(manifest.id),
        family=_e(manifest.family),
        search=_e(" ".join(search.lower().split())),
        page=_e(page_path(manifest.id)),
        sheet=_e(f"{manifest.id}/assets/contact_sheet.png"),
        name=_e(manifest.name),
        difficulty=manifest.difficulty.score,
        description=_e(manifest.description),
        quantity=manifest.target_quantity,
        cost=manifest.max_unit_cost,
        weight=weight,
    )


def _stats_block(stats: Any, plots: list[str]) -> str:
    from benchgen.stats import DatasetStats

    assert isinstance(stats, DatasetStats)
    images = "\n".join(f'<img src="{_e(p)}" alt="{_e(Path(p).stem)} plot" loading="eager">' for p in plots)
    rate = "—" if stats.acceptance_rate is None else f"{stats.acceptance_rate:.0%}"
    reasons = ", ".join(f"{r.code} {r.count}" for r in stats.rejection_reasons[:6]) or "none"
    median = "—" if stats.difficulty.median is None else f"{stats.difficulty.median:.2f}"
    summary = (
        f"{stats.benchmarks} accepted, {stats.rejected} rejected (acceptance {rate}); "
        f"median difficulty {median}; rejection reasons: {_e(reasons)}. "
        f"<code>benchgen stats</code> prints the full table."
    )
    return f'<div class="stats">\n{images}\n</div>\n<p class="summary">{summary}</p>'


def index_page(manifests: list[Manifest], stats: Any = None, plots: list[str] | None = None) -> str:
    """The HTML of ``index.html``: ``stats`` (a :class:`benchgen.stats.DatasetStats`) and the
    ``plots`` (paths relative to the dataset) go at the top when given."""
    tiers = sorted({m.tier for m in manifests})
    families = sorted({m.family for m in manifests})
    scores = [m.difficulty.score for m in manifests]
    return INDEX.format(
        count=len(manifests),
        stats=_stats_block(stats, plots or []) if stats is not None else "",
        tiers="".join(f'<option value="{_e(t)}">{_e(t)}</option>' for t in tiers),
        families="".join(f'<option value="{_e(f)}">{_e(f)}</option>' for f in families),
        dmin=f"{math.floor(min(scores) * 10) / 10:g}" if scores else "0",
        dmax=f"{math.ceil(max(scores) * 10) / 10:g}" if scores else "10",
        cards="\n".join(_card(m) for m in manifests),
    )


# -- the detail page ------------------------------------------------------------------------------

DETAIL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
{stamp}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · benchgen</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1400px; padding: 0 1.5rem; background: #f5f6f8; color: #1c1e21; }}
h1 {{ font-size: 1.5rem; margin: .3rem 0; }}
h2 {{ font-size: 1.1rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid #d5d9e0; padding-bottom: .2rem; }}
a {{ color: #2b59c3; }}
.meta {{ color: #555; }}
.tier {{ display: inline-block; padding: 0 .4rem; border-radius: 3px; background: #e3e9f7; }}
.panel {{ background: #fff; border-radius: 8px; padding: .8rem 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); }}
.rollouts {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
.rollouts figure {{ margin: 0; background: #fff; padding: .6rem; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }}
.rollouts img {{ display: block; width: 480px; max-width: 100%; image-rendering: auto; }}
.missing {{ width: 480px; max-width: 100%; height: 120px; display: flex; align-items: center; justify-content: center; color: #777; background: #eceef2; border-radius: 4px; }}
figcaption {{ font-size: .85rem; color: #444; margin-top: .3rem; }}
.views {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(640px, 1fr)); gap: .8rem; }}
.views figure {{ margin: 0; }}
.views img {{ width: 100%; max-width: 640px; border-radius: 4px; background: #fff; }}
table {{ border-collapse: collapse; font-size: .88rem; background: #fff; }}
th, td {{ border: 1px solid #dde1e7; padding: .25rem .5rem; text-align: left; vertical-align: top; }}
th {{ background: #f0f2f6; font-weight: 600; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.tables {{ display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start; }}
.note {{ font-size: .85rem; color: #555; max-width: 60rem; }}
ul.files {{ columns: 2; }}
</style>
</head>
<body>
<p><a href="../index.html">← all benchmarks</a></p>
<h1>{name}</h1>
<p class="meta"><span class="tier">{tier}</span> · family <b>{family}</b> · difficulty <b>{difficulty:.2f}</b> · <code>{id}</code>{theme}</p>
<p class="panel">{description}</p>

<h2>Rollouts (seed 0)</h2>
<div class="rollouts">
{rollouts}
</div>

<h2>Constraints</h2>
<div class="tables">
{constraints}
</div>

<h2>Difficulty {difficulty:.2f}</h2>
{difficulty_table}

<h2>Randomized parameters</h2>
{params}

<h2>Verdict</h2>
<div class="tables">
{verdict}
</div>

<h2>Files</h2>
<ul class="files">
{files}
</ul>

<h2>The {view_count} views (seed 0, scale 1)</h2>
<div class="views">
{views}
</div>
{solution_views}
<script>
for (const img of document.images) {{
  // A missing file: say so in place of a broken-image icon.
  img.addEventListener('error', () => {{
    img.dataset.broken = '1';
    const note = document.createElement('div');
    note.className = 'missing';
    note.textContent = 'not available: ' + img.getAttribute('src');
    img.replaceWith(note);
    note.dataset.brokenSrc = img.getAttribute('src');
  }});
}}
window.addEventListener('load', () => {{
  const images = [...document.images], ready = i => i.complete && i.naturalWidth > 0;
  const animations = [...document.querySelectorAll('img.animation')];
  const b = document.body.dataset;
  b.imagesLoaded = images.filter(ready).length;
  b.imagesTotal = images.length + document.querySelectorAll('[data-broken-src]').length;
  b.animationsLoaded = animations.filter(ready).length;
  b.animationsTotal = animations.length;
  b.broken = [...document.querySelectorAll('[data-broken-src]')].map(n => n.dataset.brokenSrc).join(' ');
}});
</script>
</body>
</html>
"""

VIEW_NAME = re.compile(r"e(\d+)_a(\d+)\.png$")


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            f"{value:.{digits}g}"
            if abs(value) < 1e-3 or abs(value) >= 1e5
            else f"{value:.{digits}f}".rstrip("0").rstrip(".")
        )
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_num(v, digits) for v in value) + ")"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]], caption: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(_num(c))}</td>'
            if isinstance(c, int | float) and not isinstance(c, bool)
            else f"<td>{_e(_num(c))}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _box(zone: dict[str, Any] | None) -> str:
    if not zone:
        return "—"
    lo, hi = zone.get("min", []), zone.get("max", [])
    return f"{_num(list(lo), 4)} → {_num(list(hi), 4)} mm"


def _figure(src: str, caption: str, present: bool, animation: bool = False, poster: str | None = None) -> str:
    if not present:
        return (
            f'<figure><div class="missing">not recorded for this benchmark</div>'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    cls = ' class="animation"' if animation else ""
    poster_link = f' · <a href="{_e(poster)}">last frame</a>' if poster else ""
    return (
        f'<figure><a href="{_e(src)}"><img{cls} src="{_e(src)}" alt="{_e(caption)}" loading="eager"></a>'
        f"<figcaption>{_e(caption)}{poster_link}</figcaption></figure>"
    )


def _declared_range(name: str, choices: dict[str, Any]) -> tuple[float, float] | None:
    """The ``<name>_lo`` / ``<name>_hi`` pair the offline author chose for a parameter, also
    under its family-wide name (``obstacle_0_height`` → ``obstacle_height``, ``deck_tilt_deg``
    → ``deck_tilt``)."""
    generic = re.sub(r"_\d+_", "_", name)
    for key in dict.fromkeys([name, generic, re.sub(r"_deg$", "", name), re.sub(r"_deg$", "", generic)]):
        lo, hi = choices.get(f"{key}_lo"), choices.get(f"{key}_hi")
        if isinstance(lo, int | float) and isinstance(hi, int | float):
            return float(lo), float(hi)
    return None


def _params_section(manifest: Manifest, metrics: dict[str, Any]) -> str:
    """Seed-0 values, their spread across the checked seeds when the report records each
    build's parameters, else the range the author declared for them."""
    per_build = [b for b in metrics.get("per_build", []) if isinstance(b, dict)]
    by_seed: dict[str, list[float]] = {}
    for build in per_build:
        if float(build.get("scale", 1.0)) == 1.0 and isinstance(build.get("params"), dict):
            for key, value in build["params"].items():
                if isinstance(value, int | float):
                    by_seed.setdefault(key, []).append(float(value))
    choices = manifest.author.choices
    rows: list[list[Any]] = []
    for name in sorted(manifest.params):
        value = manifest.params[name]
        seen = by_seed.get(name)
        declared = _declared_range(name, choices)
        spread = f"{_num(min(seen))} … {_num(max(seen))} ({len(seen)} seeds)" if seen else "—"
        drawn = "—"
        if declared is not None and declared[0] - 1e-9 <= value <= declared[1] + 1e-9:
            drawn = f"{_num(declared[0])} … {_num(declared[1])}"
        rows.append([name, value, spread, drawn] if by_seed else [name, value, drawn])
    if not rows:
        return '<p class="note">This benchmark records no randomized parameters.</p>'
    if by_seed:
        note = "Values at seed 0, scale 1; the range is over the checked seeds at scale 1."
    else:
        note = (
            "Values at seed 0, scale 1. The check report does not record each seed's parameters, so "
            "the spread across seeds is not shown; where the author declared the interval a parameter "
            "is drawn from, it is given."
        )
    randomization = metrics.get("randomization", {})
    if randomization:
        note += (
            f" Across seeds {_num(manifest.seeds)} the payload start moves "
            f"{_num(randomization.get('payload_start_spread_ratio'))} and the goal centre "
            f"{_num(randomization.get('goal_center_spread_ratio'))} of the workspace size per axis "
            f"(x, y, z; the bar is {_num(randomization.get('bar'))})."
        )
    headers = ["parameter", "seed 0", "across checked seeds", "drawn from (author)"]
    table = _table(headers if by_seed else [headers[0], headers[1], headers[3]], rows)
    return f'<p class="note">{_e(note)}</p>\n{table}'


def _verdict_section(manifest: Manifest, report: dict[str, Any], metrics: dict[str, Any]) -> str:
    parts: list[str] = []
    review = manifest.review
    recorded = manifest.solution.model_dump() if manifest.solution else metrics.get("solution") or {}
    solution = {k: v for k, v in recorded.items() if v is not None}
    overview = [
        ["accepted", report.get("accepted", True)],
        ["checked seeds", ", ".join(str(s) for s in manifest.seeds)],
        ["scales", ", ".join(f"{s:g}" for s in manifest.scales)],
        ["review", review.approved],
        ["reviewer", review.reviewer],
        ["review notes", "; ".join(review.reasons) or "—"],
        [
            "reference solves",
            f"{solution['success_rate']:.0%} of {solution.get('variants', '?')} variants"
            if "success_rate" in solution
            else "—",
        ],
        ["reference cost (worst)", f"${solution['cost_usd']:.4g}" if "cost_usd" in solution else "—"],
        ["reference weight (worst)", f"{solution['weight_g']:.4g} g" if "weight_g" in solution else "—"],
        ["budget headroom", f"{solution['budget_headroom']:.3g}×" if "budget_headroom" in solution else "—"],
        ["created", manifest.created_at],
        ["benchgen", manifest.benchgen_version],
    ]
    parts.append(_table(["metric", "value"], overview))
    per_build = [b for b in metrics.get("per_build", []) if isinstance(b, dict)]
    if per_build:
        rows = [
            [
                b.get("seed"),
                b.get("scale"),
                b.get("steps"),
                b.get("max_speed"),
                b.get("final_kinetic_energy"),
                b.get("initial_penetration_mm"),
                b.get("payload_end_mm"),
                b.get("payload_in_goal"),
                ", ".join(f"{k}: {v}" for k, v in (b.get("warnings") or {}).items()) or "—",
            ]
            for b in per_build
        ]
        headers = [
            "seed",
            "scale",
            "steps",
            "max speed m/s",
            "final KE J",
            "penetration mm",
            "payload end mm",
            "in goal (nothing built)",
            "warnings",
        ]
        parts.append(_table(headers, rows, "passive stability run per build"))
    per_seed = (metrics.get("solution") or {}).get("per_seed") or []
    if per_seed:
        rows = [
            [s.get("seed"), s.get("scale"), s.get("success"), s.get("code") or "—", s.get("cost_usd")]
            for s in per_seed
            if isinstance(s, dict)
        ]
        parts.append(
            _table(["seed", "scale", "solved", "code", "cost $"], rows, "reference solution per variant")
        )
    collision = metrics.get("collision") or {}
    if collision:
        rows = [
            [label, ", ".join(c.get("methods", [])), c.get("pieces"), c.get("error"), c.get("gap_mm")]
            for label, c in sorted(collision.items())
            if isinstance(c, dict)
        ]
        parts.append(
            _table(["body", "collision geometry", "pieces", "error", "gap mm"], rows, "collision geometry")
        )
    timings = metrics.get("timings_s") or {}
    if timings:
        parts.append(_table(["stage", "seconds"], [[k, v] for k, v in timings.items()], "check timings"))
    return "\n".join(parts)


def _constraints_section(manifest: Manifest, scene: dict[str, Any]) -> str:
    rows: list[list[Any]] = [
        ["units to make", str(manifest.target_quantity)],
        ["max unit cost", f"${manifest.max_unit_cost:.2f}"],
        ["max weight", f"{manifest.max_weight_g:g} g" if manifest.max_weight_g else "—"],
    ]
    if scene:
        payload = scene.get("payload") or {}
        rows += [
            ["payload", f"{payload.get('label', '?')} ({payload.get('material', '?')})"],
            ["payload start", f"{_num(payload.get('start'), 4)} mm" if payload.get("start") else "—"],
            [
                "goal zone" + (f" “{scene['goal_zone'].get('name')}”" if scene.get("goal_zone") else ""),
                _box(scene.get("goal_zone")),
            ],
            ["build zone", _box(scene.get("build_zone"))],
            ["workspace", _box(scene.get("bounds"))],
        ]
        for zone in scene.get("forbid_zones") or []:
            rows.append([f"forbid zone “{zone.get('name', '')}”", _box(zone)])
    tables = [_table(["constraint", "value (seed 0, scale 1)"], rows)]
    parts = scene.get("parts") if scene else None
    if parts:
        part_rows = [
            [p.get("label"), p.get("material"), (p.get("joint") or {}).get("kind", "—")]
            for p in parts
            if isinstance(p, dict)
        ]
        tables.append(_table(["part", "material", "joint"], part_rows, "the scene's parts"))
    return "\n".join(tables)


def _difficulty_section(manifest: Manifest) -> str:
    from benchgen.difficulty import WEIGHTS

    terms = manifest.difficulty.terms
    rows: list[list[Any]] = [["base", "", "", 1.0]]
    for name, value in terms.items():
        if name == "tier":
            rows.append(["tier bonus", value, "", value])
        else:
            weight = WEIGHTS.get(name)
            rows.append([name, value, weight if weight is not None else "", value * weight if weight else ""])
    rows.append(["score", "", "", manifest.difficulty.score])
    note = (
        '<p class="note">score = 1 + Σ weight × term + tier bonus (see <code>benchgen.difficulty</code>).</p>'
    )
    return note + _table(["term", "value", "weight", "contribution"], rows)


def detail_page(manifest: Manifest, report: dict[str, Any] | None, has: Any) -> str:
    """The HTML of ``pages/<id>.html``. ``report`` is the benchmark's ``report.json`` (None when
    missing: the page then shows what the manifest holds); ``has(relative, listed)`` says whether a
    file of the benchmark exists. Links are relative to ``pages/``."""
    report = report or {}
    metrics: dict[str, Any] = dict(report.get("metrics") or {})
    for key, value in manifest.validation.model_dump(mode="json").items():
        if value is not None:
            metrics.setdefault(key, value)
    artifacts: dict[str, Any] = report.get("artifacts") or {}
    solution_artifacts: dict[str, Any] = artifacts.get("solution") or {}
    base = f"../{manifest.id}"

    def link(relative: str) -> str:
        return f"{base}/{relative}"

    def asset(relative: str, listed: bool) -> tuple[str, bool]:
        return link(f"assets/{relative}"), has(f"assets/{relative}", listed)

    passive_name = str(artifacts.get("animation") or "rollout.gif")
    passive_poster = str(artifacts.get("poster") or "rollout_poster.png")
    passive, passive_ok = asset(passive_name, "animation" in artifacts)
    poster_src, poster_ok = asset(passive_poster, "poster" in artifacts)
    recorded_animation = manifest.solution.animation if manifest.solution else None
    solved_name = str(solution_artifacts.get("animation") or recorded_animation or "solution/rollout.gif")
    solved, solved_ok = asset(
        solved_name, "animation" in solution_artifacts or recorded_animation is not None
    )
    solved_poster_name = str(solution_artifacts.get("poster") or "solution/rollout_poster.png")
    solved_poster, solved_poster_ok = asset(solved_poster_name, "poster" in solution_artifacts)
    rollouts = "\n".join(
        [
            _figure(
                passive,
                "passive: what happens if nobody builds anything",
                passive_ok,
                True,
                poster_src if poster_ok else None,
            ),
            _figure(
                solved,
                "solved: the reference solution (solution.py) in place",
                solved_ok,
                True,
                solved_poster if solved_poster_ok else None,
            ),
        ]
    )

    renders = [str(r) for r in artifacts.get("renders") or []] or [
        f"renders/e{e}_a{a:03d}.png" for e in (15, 35, 60) for a in range(0, 360, 45)
    ]
    views: list[str] = []
    for relative in renders:
        src, ok = asset(relative, bool(artifacts.get("renders")))
        match = VIEW_NAME.search(relative)
        caption = f"elevation {int(match[1])}°, azimuth {int(match[2])}°" if match else relative
        if ok:
            views.append(
                f'<figure><a href="{_e(src)}"><img src="{_e(src)}" alt="{_e(caption)}" width="640" '
                f'loading="eager"></a><figcaption>{_e(caption)}</figcaption></figure>'
            )
    view_block = "\n".join(views) or '<p class="note">No renders were recorded for this benchmark.</p>'
    solution_views = ""
    solution_renders = [str(r) for r in solution_artifacts.get("renders") or []]
    shown = [(r, *asset(r, True)) for r in solution_renders]
    shown = [(r, src, ok) for r, src, ok in shown if ok]
    if shown:
        figures = "\n".join(
            f'<figure><a href="{_e(src)}"><img src="{_e(src)}" alt="solved, {_e(r)}" width="640" '
            f'loading="eager"></a><figcaption>with the reference solution: {_e(r)}</figcaption></figure>'
            for r, src, _ok in shown
        )
        solution_views = f'<h2>With the reference solution</h2>\n<div class="views">\n{figures}\n</div>'

    files: list[tuple[str, str, bool]] = [
        ("script.py", "the scenario script", True),
        (
            manifest.solution.file if manifest.solution else "solution.py",
            "the reference solution",
            bool(manifest.solution),
        ),
        (f"assets/{artifacts.get('model', 'model.xml')}", "MJCF model (seed 0, scale 1)", True),
        ("manifest.json", "manifest", True),
        ("report.json", "full check report", bool(report)),
    ]
    files += [(f"assets/{c}", "STEP", True) for c in artifacts.get("cad") or []]
    if solution_artifacts.get("model"):
        files.append(
            (f"assets/{solution_artifacts['model']}", "MJCF model with the reference solution", True)
        )
    items = []
    for relative, what, listed in files:
        if has(relative, listed):
            items.append(f'<li><a href="{_e(link(relative))}">{_e(relative)}</a> — {_e(what)}</li>')
    if not artifacts.get("cad"):
        items.append("<li>STEP files: none recorded</li>")

    scene = metrics.get("scene") or {}
    theme = f" · theme {_e(manifest.theme)}" if manifest.theme else ""
    return DETAIL.format(
        stamp=STAMP.format(stamp=_e(page_stamp(manifest))),
        name=_e(manifest.name),
        tier=_e(manifest.tier),
        family=_e(manifest.family),
        difficulty=manifest.difficulty.score,
        id=_e(manifest.id),
        theme=theme,
        description=_e(manifest.description),
        rollouts=rollouts,
        constraints=_constraints_section(manifest, scene),
        difficulty_table=_difficulty_section(manifest),
        params=_params_section(manifest, metrics),
        verdict=_verdict_section(manifest, report, metrics),
        files="\n".join(items),
        view_count=len(views),
        views=view_block,
        solution_views=solution_views,
    )


def page_stamp(manifest: Manifest) -> str:
    """What a detail page is a function of: the template version and the benchmark's content."""
    return f"v{PAGE_VERSION} {manifest.content_hash}"


def _page_is_current(path: Path, manifest: Manifest) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(600).decode("utf-8", "replace")
    except OSError:
        return False
    return STAMP.format(stamp=_e(page_stamp(manifest))) in head


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds ``data``; True when written."""
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def build_gallery(
    out: Path,
    manifests: list[Manifest],
    source: BenchmarkSource,
    rejections: Iterable[Rejection],
) -> list[str]:
    """Write the gallery into ``out``: the detail pages that are missing or stale, the stats
    plots and ``index.html``. Returns the paths (relative to ``out``) written or changed,
    ``index.html`` last, so a publisher can upload just those, the page that links them last."""
    from benchgen.stats import STATS_DIR, compute_stats, write_plots

    changed: list[str] = []
    stale = [m for m in manifests if not _page_is_current(out / page_path(m.id), m)]
    reports = source.reports([m.id for m in stale])
    for manifest in stale:
        page = detail_page(
            manifest,
            reports.get(manifest.id),
            lambda relative, listed, i=manifest.id: source.has(i, relative, listed),
        )
        if _write_if_changed(out / page_path(manifest.id), page.encode()):
            changed.append(page_path(manifest.id))
    stats = compute_stats(manifests, rejections)
    before = (
        {p.name: p.read_bytes() for p in (out / STATS_DIR).glob("*.png")}
        if (out / STATS_DIR).is_dir()
        else {}
    )
    plots = write_plots(stats, out / STATS_DIR)
    relative_plots = [f"{STATS_DIR}/{p.name}" for p in plots.values()]
    changed += [f"{STATS_DIR}/{p.name}" for p in plots.values() if before.get(p.name) != p.read_bytes()]
    _write_if_changed(out / GALLERY_FILE, index_page(manifests, stats, relative_plots).encode())
    changed.append(GALLERY_FILE)  # always listed: the publisher checks the gallery exists remotely by it
    return changed


def write_gallery(
    root: Path,
    manifests: list[Manifest],
    source: BenchmarkSource | None = None,
    rejections: Iterable[Rejection] | None = None,
) -> Path:
    """Write the gallery of the local dataset ``root`` (``index.html``, ``pages/``, ``stats/``);
    returns the path of ``index.html``. ``source`` and ``rejections`` default to the dataset's
    own benchmark directories and rejection index."""
    if rejections is None:
        rejections = _load_rejections(root)
    build_gallery(root, manifests, source or LocalSource(root), rejections)
    return root / GALLERY_FILE
