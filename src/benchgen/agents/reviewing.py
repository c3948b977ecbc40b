"""The reviewer's structured decision, the tool it is given with, and the multimodal message it judges.

Images sent (documented choice), seed 0 at scale 1, in this order and cut at ``max_images``:

1. UNSOLVED: a contact sheet of the scene's 24 renders as a solver receives it
   (3 elevations × 8 azimuths in one image: every view at a fraction of the tokens);
2. SOLVED: the same views with the coder's reference design in place (``evaluate_solution()``'s
   renders, before the rollout);
3. SOLVED: the rollout's last frame (the payload should rest in the goal);
4. and 5. full-size UNSOLVED key views: low front (e15_a000) and low side (e15_a090).

With ``max_images`` 1 (servers that take one image per request) the two contact sheets
are stacked into one labelled image, so the reviewer still sees both scenes. A session
without an evaluated solution (checkpointed before solutions existed) gets the unsolved
contact sheet and four key views. The images travel once per review, in the
first request; later turns of the same review carry a caption in their place (see
:mod:`benchgen.agents.adapter`). The format is LangChain's provider-neutral image block
(``{"type": "image", "base64": ..., "mime_type": "image/png"}``), which each integration
converts to its wire format (``image_url`` data URLs for OpenAI).

The decision arrives as a call of the ``submit_review`` tool (arguments validated as
:class:`AgentReview`). A model that answers in text instead gets one more chance; a JSON
object in its text that validates as a complete :class:`AgentReview` is accepted as a last
resort (local models without a tool-call parser often write the call as text).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool, StructuredTool
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, Field, ValidationError, model_validator

from benchgen.rendering import contact_sheet

KEY_VIEWS: tuple[str, ...] = ("e15_a000", "e15_a090", "e35_a045", "e60_a000")
CONTACT_SHEET = "contact_sheet.png"
POSTER = "rollout_poster.png"
BOTH_SHEETS = "unsolved_and_solved.png"
SHEET_CAPTION = "rows look down 15°, 35°, 60°; columns azimuth 0°, 45° ... 315°"
DECISION_TOOL = "submit_review"


class ReviewFields(BaseModel):
    """The arguments of ``submit_review`` (checked as a whole by :class:`AgentReview`)."""

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


class AgentReview(ReviewFields):
    """The reviewer's decision on a submitted benchmark: ``submit_review``'s arguments, justified."""

    @model_validator(mode="after")
    def _justified(self) -> AgentReview:
        if self.decision == "request_changes" and not self.required_fixes:
            raise ValueError("request_changes needs at least one entry in required_fixes")
        if self.decision == "reject" and not self.reasons:
            raise ValueError("reject needs at least one entry in reasons")
        return self


def _views(render_dir: Path) -> list[Path]:
    """The renders of a directory, ordered like a contact sheet: by elevation, then azimuth."""
    views = (render_dir / "renders").glob("*.png")
    return sorted(views, key=lambda p: (abs(int(p.stem[1:3])), int(p.stem.split("_a")[1])))


def _sheet(render_dir: Path, views: list[Path]) -> Path:
    sheet = render_dir / CONTACT_SHEET
    if not sheet.is_file():
        contact_sheet(views, sheet, columns=min(8, len(views)))
    return sheet


def _stacked(top: Path, bottom: Path, out: Path, labels: tuple[str, str]) -> Path:
    """Two sheets one above the other, each under a labelled band (for one-image servers)."""
    if out.is_file():
        return out
    images = [Image.open(top).convert("RGB"), Image.open(bottom).convert("RGB")]
    width = max(i.width for i in images)
    band = 40
    canvas = Image.new("RGB", (width, sum(i.height + band for i in images)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=26)
    y = 0
    for image, label in zip(images, labels, strict=True):
        draw.text((10, y + 6), label, fill=(0, 0, 0), font=font)
        canvas.paste(image, (0, y + band))
        y += image.height + band
    canvas.save(out)
    return out


def review_images(
    render_dir: Path, max_images: int = 1 + len(KEY_VIEWS), solved_dir: Path | None = None
) -> list[tuple[str, Path]]:
    """(caption, path) of the images sent, best first (see the module docstring).

    ``render_dir`` holds simulate()'s renders of the scene; ``solved_dir`` the evaluation
    artifacts of the reference solution (renders with the design in place, rollout poster).
    """
    views = _views(render_dir)
    if not views:
        return []
    by_name = {p.stem: p for p in views}
    sheet = _sheet(render_dir, views)
    solved_views = _views(solved_dir) if solved_dir is not None else []
    if solved_dir is None or not solved_views:
        images = [(f"contact sheet of all views: {SHEET_CAPTION}", sheet)]
        images += [(f"view {name}", by_name[name]) for name in KEY_VIEWS if name in by_name]
        return images[:max_images]
    solved_sheet = _sheet(solved_dir, solved_views)
    if max_images == 1:
        both = _stacked(
            sheet,
            solved_sheet,
            solved_dir / BOTH_SHEETS,
            ("UNSOLVED: the benchmark as shipped", "SOLVED: with the reference design in place"),
        )
        return [
            (
                "top half UNSOLVED (the benchmark as a solver receives it), bottom half SOLVED (the same "
                f"views with the coder's reference design in place); each a contact sheet: {SHEET_CAPTION}",
                both,
            )
        ]
    images = [
        (f"UNSOLVED: the benchmark as a solver receives it, contact sheet: {SHEET_CAPTION}", sheet),
        (
            "SOLVED: the same views with the coder's reference design (/solution.py) in place, "
            "before the rollout",
            solved_sheet,
        ),
    ]
    if (solved_dir / POSTER).is_file():
        images.append(
            (
                "SOLVED: the last frame of the rollout with the design (the payload should rest in the goal)",
                solved_dir / POSTER,
            )
        )
    images += [(f"UNSOLVED: view {name}", by_name[name]) for name in KEY_VIEWS[:2] if name in by_name]
    return images[:max_images]


def png_block(data: bytes) -> dict[str, Any]:
    """A LangChain standard image content block for PNG bytes."""
    return {"type": "image", "base64": base64.b64encode(data).decode("ascii"), "mime_type": "image/png"}


def image_block(path: Path) -> dict[str, Any]:
    """A LangChain standard image content block for a PNG file."""
    return png_block(path.read_bytes())


class DecisionBox:
    """Holds the reviewer's decision of the current review; ``tool()`` is how the model gives it."""

    def __init__(self) -> None:
        self.decision: AgentReview | None = None
        self.from_text = False

    def clear(self) -> None:
        self.decision = None
        self.from_text = False

    def tool(self) -> BaseTool:
        """``submit_review(decision, summary, required_fixes, reasons)``: records the decision."""

        def submit_review(**fields: Any) -> str:
            try:
                self.decision = AgentReview.model_validate(fields)
            except ValidationError as exc:  # sent back in words; the field-level schema cannot say it
                problems = "; ".join(
                    str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
                )
                return f"Refused: {problems}. Call {DECISION_TOOL} again."
            return "Decision recorded. The review is over: stop now."

        return StructuredTool.from_function(
            submit_review,
            name=DECISION_TOOL,
            description="Give your decision on the benchmark (call exactly once, at the end of the review).",
            args_schema=ReviewFields,
        )

    def take_from_text(self, text: str) -> bool:
        """Accept a complete decision written as JSON in a text answer; True when one was found."""
        decision = decision_from_text(text)
        if decision is None:
            return False
        self.decision, self.from_text = decision, True
        return True


def _json_objects(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    index = text.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        index = text.find("{", end)
    return found


def decision_from_text(text: str) -> AgentReview | None:
    """The first JSON object in ``text`` that is a complete decision, bare or as a written tool call."""
    for value in _json_objects(text):
        arguments = next(
            (value[k] for k in ("arguments", "parameters", "args", "input") if k in value), value
        )
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                continue
        try:
            return AgentReview.model_validate(arguments)
        except ValidationError:
            continue
    return None


def review_message(
    theme: str | None,
    tier: str | None,
    plan: str,
    report_summary: dict[str, Any],
    images: list[tuple[str, Path]],
    round_: int,
    scrub: Callable[[str], str] = str,
    evaluation: dict[str, Any] | None = None,
) -> HumanMessage:
    """The reviewer's input: the brief, the plan, the check report, the solution's evaluation and the renders.

    ``scrub`` maps host paths out of the text (see :class:`benchgen.agents.hostpaths.HostPaths`).
    """
    captions = "\n".join(f"Image {i + 1}: {caption}" for i, (caption, _) in enumerate(images))
    report = json.dumps(report_summary, default=str)[:4000]
    solution = (
        "\n\n## Reference solution (/solution.py), scored by the trusted evaluator (passed)\n"
        + json.dumps(evaluation, default=str)[:3000]
        if evaluation
        else ""
    )
    compare = (
        " UNSOLVED images show the benchmark as a solver receives it; SOLVED images show it with the "
        "coder's reference design in place. Judge the puzzle on the UNSOLVED ones, and on the SOLVED "
        "ones whether the design is a plausible answer (not a degenerate block)."
        if evaluation and any("SOLVED" in caption.replace("UNSOLVED", "") for caption, _ in images)
        else ""
    )
    text = (
        f"Review round {round_}.\nTheme: {theme or '(free choice)'}\nTier: {tier or '(planner chose)'}\n\n"
        f"## plan.md\n{plan}\n\n## Trusted check report (seed 0..7, accepted)\n{report}{solution}\n\n"
        f"## Renders of seed 0 at scale 1\n{captions}\n\n"
        f"The images are attached to this message only.{compare} The script is /script.py, the solution "
        "/solution.py. If you read files before deciding, first write down what the images show. "
        f"Decide by calling {DECISION_TOOL} once."
    )
    content: list[str | dict[str, Any]] = [{"type": "text", "text": scrub(text)}]
    content += [image_block(path) for _, path in images]
    return HumanMessage(content=content)
