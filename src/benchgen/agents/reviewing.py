"""The reviewer's structured decision and the multimodal message it judges.

Images sent (documented choice): a contact sheet of all 24 renders (3 elevations × 8
azimuths, one image, so the model sees every view at a fraction of the tokens) plus four
full-size key views: low front (e15_a000), low side (e15_a090), three-quarter
(e35_a045) and steep top (e60_a000). Five images per review, in the provider-neutral
LangChain image block format (``{"type": "image", "base64": ..., "mime_type": "image/png"}``),
which each integration converts to its wire format (``image_url`` data URLs for OpenAI).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field, model_validator

from benchgen.review import contact_sheet

KEY_VIEWS: tuple[str, ...] = ("e15_a000", "e15_a090", "e35_a045", "e60_a000")
CONTACT_SHEET = "contact_sheet.png"


class AgentReview(BaseModel):
    """The reviewer's decision on a submitted benchmark (returned as a tool call, never parsed from text)."""

    decision: Literal["approve", "request_changes", "reject"] = Field(
        description="approve: good as is; request_changes: fixable, list required_fixes; reject: cannot be fixed, list reasons"
    )
    summary: str = Field(
        description="What the renders show and how well they match the plan and theme (2-4 sentences)."
    )
    required_fixes: list[str] = Field(
        default_factory=list,
        description="For request_changes: concrete, checkable changes the coder must make.",
    )
    reasons: list[str] = Field(
        default_factory=list, description="For reject: why this benchmark cannot become good."
    )

    @model_validator(mode="after")
    def _justified(self) -> AgentReview:
        if self.decision == "request_changes" and not self.required_fixes:
            raise ValueError("request_changes needs at least one entry in required_fixes")
        if self.decision == "reject" and not self.reasons:
            raise ValueError("reject needs at least one entry in reasons")
        return self


def review_images(render_dir: Path) -> list[tuple[str, Path]]:
    """(caption, path) of the images sent: the contact sheet first, then the key views that exist."""
    views = sorted((render_dir / "renders").glob("*.png"))
    if not views:
        return []
    by_name = {p.stem: p for p in views}
    ordered = sorted(views, key=lambda p: (abs(int(p.stem[1:3])), int(p.stem.split("_a")[1])))
    sheet = render_dir / CONTACT_SHEET
    if not sheet.is_file():
        contact_sheet(ordered, sheet, columns=8)
    images = [
        ("contact sheet of all views: rows look down 15°, 35°, 60°; columns azimuth 0°, 45° ... 315°", sheet)
    ]
    images += [(f"view {name}", by_name[name]) for name in KEY_VIEWS if name in by_name]
    return images


def image_block(path: Path) -> dict[str, Any]:
    """A LangChain standard image content block for a PNG file."""
    return {
        "type": "image",
        "base64": base64.b64encode(path.read_bytes()).decode("ascii"),
        "mime_type": "image/png",
    }


def review_message(
    theme: str | None,
    tier: str | None,
    plan: str,
    report_summary: dict[str, Any],
    images: list[tuple[str, Path]],
    round_: int,
) -> HumanMessage:
    """The reviewer's input: the brief, the plan, the check report and the renders."""
    captions = "\n".join(f"Image {i + 1}: {caption}" for i, (caption, _) in enumerate(images))
    text = (
        f"Review round {round_}.\nTheme: {theme or '(free choice)'}\nTier: {tier or '(planner chose)'}\n\n"
        f"## plan.md\n{plan}\n\n## Trusted check report (seed 0..7, accepted)\n{json.dumps(report_summary, default=str)[:4000]}\n\n"
        f"## Renders of seed 0 at scale 1\n{captions}\n\nThe script is /script.py. Decide with the AgentReview tool."
    )
    content: list[str | dict[str, Any]] = [{"type": "text", "text": text}]
    content += [image_block(path) for _, path in images]
    return HumanMessage(content=content)
