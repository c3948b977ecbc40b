"""What each model's server accepts, checked before any work and remembered for the run.

Servers differ from the hosted APIs in ways that break an agent on first contact: older
vLLM refuses ``tool_choice: "required"`` (Ollama ignores it), vLLM often allows one image
per request, a server started without a tool-call parser answers tool requests in plain
text, and a text-only model rejects images. :func:`probe_capabilities` makes one short
call per model (the reviewer's carries ``max_images`` small images) and reports every
problem in one line; :class:`Capabilities` keeps what was learned (a server that refused
``tool_choice`` is never sent it again during the run).
"""

from __future__ import annotations

import io
import threading
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import StructuredTool

from benchgen.agents.settings import AgentConfigError, AgentSettings

PROBE_SYSTEM = (
    "Role: preflight\nThis is a capability check of the server before a long session. "
    "Answer only by calling the tool you are given."
)
PROBE_TASK = "Call the `ready` tool now with ok=true."
IMAGE_WORDS: tuple[str, ...] = ("image", "multimodal", "multi-modal", "mmproj", "vision")
TOOL_CALLING_HINT = (
    "enable tool calling on the server (vLLM: --enable-auto-tool-choice --tool-call-parser <parser>; "
    "llama.cpp: --jinja) or use a model that supports tools"
)


class ImagesRejected(AgentConfigError):
    """The reviewer's server refused the images of a request."""


class Capabilities:
    """Per run: which models' servers accept ``tool_choice`` (thread-safe, shared by sessions)."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._no_tool_choice: set[str] = set()

    def tool_choice(self, model: str) -> bool:
        """Whether to ask ``model``'s server to force a tool call."""
        with self._lock:
            return self.settings.tool_choice and model not in self._no_tool_choice

    def refuse_tool_choice(self, model: str) -> bool:
        """Remember that ``model``'s server refuses ``tool_choice``; True the first time."""
        with self._lock:
            new = model not in self._no_tool_choice
            self._no_tool_choice.add(model)
            return new

    def summary(self) -> dict[str, Any]:
        """What was learned, for logs and manifests."""
        with self._lock:
            return {"tool_choice_refused_by": sorted(self._no_tool_choice)}


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def error_text(exc: BaseException) -> str:
    """The provider's message of an error, on one line."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())


def is_tool_choice_refusal(exc: BaseException) -> bool:
    """A request refused because of its ``tool_choice`` (vLLM without ``required`` support)."""
    return _status(exc) in (400, 422) and "tool_choice" in error_text(exc).lower()


def is_image_rejection(exc: BaseException) -> bool:
    """A request refused because of its images (too many per prompt, or no vision support)."""
    status = _status(exc)
    text = error_text(exc).lower()
    return status is not None and 400 <= status < 600 and any(word in text for word in IMAGE_WORDS)


def images_rejected(model: str, count: int, exc: BaseException) -> ImagesRejected:
    """The one-line error for a server that refused ``count`` images."""
    hint = (
        "pass --max-images 1 if it takes one image per request, else use a vision model"
        if count > 1
        else "use a vision model (and a server started with image support)"
    )
    return ImagesRejected(
        f"reviewer model {model!r} rejected {count} image(s) in one request ({error_text(exc)[:200]}): {hint}"
    )


def probe_image() -> bytes:
    """A small PNG (64×64, large enough for every vision encoder's minimum)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _ready(ok: bool) -> str:
    """Confirm that you can call tools."""
    return "ok"


def _ask(model: Any, spec: str, messages: list[BaseMessage], capabilities: Capabilities) -> AIMessage:
    tool = StructuredTool.from_function(_ready, name="ready")
    forced = capabilities.tool_choice(spec)
    try:
        reply = model.bind_tools([tool], tool_choice="any" if forced else None).invoke(messages)
    except Exception as exc:
        if not (forced and is_tool_choice_refusal(exc)):
            raise
        capabilities.refuse_tool_choice(spec)
        reply = model.bind_tools([tool]).invoke(messages)
    assert isinstance(reply, AIMessage)
    return reply


def _unusable(spec: str, settings: AgentSettings, exc: BaseException) -> str:
    """One line for a model whose probe call failed (unreachable server, unknown model, bad key ...)."""
    text = error_text(exc)[:300]
    if _status(exc) is None and "connect" in text.lower():
        where = settings.base_url or "its provider"
        return f"model {spec!r}: cannot reach {where} ({text})"
    return f"model {spec!r}: {text}"


def _probe(spec: str, settings: AgentSettings, capabilities: Capabilities, images: int) -> list[str]:
    """Problems of one model: unreachable, no tool calls, images refused."""
    from benchgen.agents.models import make_chat_model
    from benchgen.agents.reviewing import png_block

    model = make_chat_model(spec, settings)
    system = SystemMessage(PROBE_SYSTEM)
    content: list[str | dict[str, Any]] = [{"type": "text", "text": PROBE_TASK}]
    content += [png_block(probe_image()) for _ in range(images)]
    problems: list[str] = []
    try:
        reply = _ask(model, spec, [system, HumanMessage(content=content)], capabilities)
    except Exception as exc:
        if not (images and is_image_rejection(exc)):
            return [_unusable(spec, settings, exc)]
        problems.append(str(images_rejected(spec, images, exc)))
        try:  # still find out whether tools work, so one run reports everything
            reply = _ask(model, spec, [system, HumanMessage(PROBE_TASK)], capabilities)
        except Exception as again:
            return [*problems, _unusable(spec, settings, again)]
    if not reply.tool_calls:
        problems.append(f"model {spec!r} answered without calling a tool: {TOOL_CALLING_HINT}")
    return problems


def probe_capabilities(settings: AgentSettings, capabilities: Capabilities | None = None) -> Capabilities:
    """One short call per model: it must call a tool; the reviewer's call carries ``max_images`` images.

    Raises :class:`AgentConfigError` listing every problem on one line. Returns the run's
    :class:`Capabilities` (e.g. with ``tool_choice`` dropped for a server that refused it).
    The probe's few tokens are not part of any session's usage.
    """
    capabilities = capabilities or Capabilities(settings)
    problems: list[str] = []
    for spec in dict.fromkeys((settings.model, settings.reviewer)):
        images = settings.max_images if spec == settings.reviewer else 0
        problems += _probe(spec, settings, capabilities, images)
    if problems:
        raise AgentConfigError("capability check failed: " + "; ".join(problems))
    return capabilities
