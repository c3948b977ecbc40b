"""A static HTML gallery of a dataset: contact sheets, names, tiers, constraints, difficulty.

The page is self-contained (no network, no build step) and works from ``file://``.
Tier filter buttons are progressive enhancement: without JavaScript every card shows.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from benchgen.dataset import Manifest

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>benchgen dataset: {count} benchmarks</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; background: #f5f6f8; color: #1c1e21; }}
h1 {{ font-size: 1.4rem; }}
.filters button {{ margin-right: .4rem; padding: .3rem .8rem; border: 1px solid #99a; border-radius: 4px; background: #fff; cursor: pointer; }}
.filters button.active {{ background: #2b59c3; color: #fff; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; margin-top: 1rem; }}
.card {{ background: #fff; border-radius: 8px; padding: .8rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
.card img {{ width: 100%; border-radius: 4px; }}
.card h2 {{ font-size: 1.05rem; margin: .4rem 0; }}
.meta {{ font-size: .85rem; color: #555; }}
.tier {{ display: inline-block; padding: 0 .4rem; border-radius: 3px; background: #e3e9f7; }}
</style>
</head>
<body>
<h1>benchgen dataset: {count} benchmarks</h1>
<div class="filters">
<button data-filter="all" class="active">all</button>
{buttons}
</div>
<div class="grid">
{cards}
</div>
<script>
for (const button of document.querySelectorAll('.filters button')) {{
  button.addEventListener('click', () => {{
    const tier = button.dataset.filter;
    for (const b of document.querySelectorAll('.filters button')) b.classList.toggle('active', b === button);
    for (const card of document.querySelectorAll('.card'))
      card.style.display = (tier === 'all' || card.dataset.tier === tier) ? '' : 'none';
  }});
}}
window.addEventListener('load', () => {{
  const images = [...document.images];
  document.body.dataset.imagesLoaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesTotal = images.length;
}});
</script>
</body>
</html>
"""

CARD = """<div class="card" data-tier="{tier}" id="{id}">
<img src="{sheet}" alt="24 views of {name}" loading="eager">
<h2>{name}</h2>
<div class="meta"><span class="tier">{tier}</span> · {family} · difficulty {difficulty:.2f} · <code>{id}</code></div>
<p>{description}</p>
<div class="meta">{quantity} units · max ${cost:.2f}/unit{weight}</div>
</div>"""


def _card(manifest: Manifest) -> str:
    weight = f" · max {manifest.max_weight_g:.0f} g" if manifest.max_weight_g else ""
    return CARD.format(
        tier=html.escape(manifest.tier),
        id=html.escape(manifest.id),
        sheet=html.escape(f"{manifest.id}/assets/contact_sheet.png"),
        name=html.escape(manifest.name),
        family=html.escape(manifest.family),
        difficulty=float(manifest.difficulty.get("score", 0.0)),
        description=html.escape(manifest.description),
        quantity=manifest.target_quantity,
        cost=manifest.max_unit_cost,
        weight=weight,
    )


def write_gallery(root: Path, manifests: list[Manifest]) -> Path:
    """Write ``root/index.html`` for these manifests; returns its path."""
    tiers = sorted({m.tier for m in manifests})
    buttons = "\n".join(f'<button data-filter="{html.escape(t)}">{html.escape(t)}</button>' for t in tiers)
    page = PAGE.format(count=len(manifests), buttons=buttons, cards="\n".join(_card(m) for m in manifests))
    path = root / "index.html"
    tmp = root / f".index.html.tmp{os.getpid()}"
    tmp.write_text(page)
    os.replace(tmp, path)
    return path
