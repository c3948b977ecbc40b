"""The last step before the wire: every model request made to fit the server, every answer made usable.

:class:`ServerAdapter` is the innermost middleware of each role (it takes the slot of
deepagents' ``UnsupportedContentMiddleware`` and keeps its filtering), so it sees the
request exactly as it will be sent:

- **Plain system prompt.** Middleware appends sections as content parts; many chat
  templates reject a list in a system message, so the parts are joined into one string.
- **Images once, and few.** An image travels in the first request after it appears (the
  reviewer's first turn, or the turn after a ``read_file`` of a PNG); later requests carry
  a caption in its place. At most ``max_images`` per request, and none for a model that
  was not checked for image input (only the reviewer's model is).
- **tool_choice where supported.** The reviewer is asked to always call a tool; a server
  that refuses ``tool_choice`` (HTTP 400 naming it) gets the request again without it,
  and :class:`~benchgen.agents.capabilities.Capabilities` remembers that for the run.
- **A decision within budget.** On the reviewer's last allowed turn only the decision tool
  is offered, with a one-line reminder.
- **Malformed tool calls answered.** A tool call whose arguments are not valid JSON would
  otherwise end the agent's loop silently; it becomes a call that returns an error
  telling the model what was wrong.
- **No host paths.** Every tool result is passed through
  :class:`~benchgen.agents.hostpaths.HostPaths` before the model sees it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from deepagents.middleware.unsupported_content import UnsupportedContentMiddleware
from langchain.agents.middleware.types import ModelRequest, ModelResponse, ToolCallRequest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.types import Command

from benchgen.agents.capabilities import (
    Capabilities,
    images_rejected,
    is_image_rejection,
    is_tool_choice_refusal,
)
from benchgen.agents.hostpaths import HostPaths

logger = logging.getLogger(__name__)

IMAGE_TYPES = frozenset({"image", "image_url"})
SENT_EARLIER = "[image shown in an earlier message of this conversation; it is sent only once]"
OVER_LIMIT = "[image not attached: at most {limit} image(s) per request]"
NO_VISION = "[image not attached: this model is not used for images]"
LAST_TURN = "This is the last turn of the review: call {tool} now with your decision."


def system_text(message: SystemMessage) -> str:
    """A system message's content as one string."""
    if isinstance(message.content, str):
        return message.content
    parts = [
        block if isinstance(block, str) else str(block.get("text", ""))
        for block in message.content
        if isinstance(block, str) or block.get("type") == "text"
    ]
    return "".join(parts)


def _is_image(block: object) -> bool:
    return isinstance(block, dict) and block.get("type") in IMAGE_TYPES


def _replace_images(message: AnyMessage, keep: Callable[[], bool], note: Callable[[], str]) -> AnyMessage:
    if isinstance(message.content, str) or not any(_is_image(b) for b in message.content):
        return message
    content: list[str | dict[str, Any]] = []
    for block in message.content:
        if _is_image(block) and not keep():
            content.append({"type": "text", "text": note()})
        else:
            content.append(block)
    return message.model_copy(update={"content": content})


def ration_images(messages: list[AnyMessage], limit: int) -> tuple[list[AnyMessage], int]:
    """Messages with images before the model's last turn captioned, and at most ``limit`` kept after it.

    Returns the messages and the number of images kept.
    """
    last_ai = max((i for i, m in enumerate(messages) if isinstance(m, AIMessage)), default=-1)
    over_limit = OVER_LIMIT.format(limit=limit) if limit else NO_VISION
    kept = 0

    def keep_new() -> bool:
        nonlocal kept
        kept += 1
        return kept <= limit

    result: list[AnyMessage] = []
    for index, message in enumerate(messages):
        if not isinstance(message, (HumanMessage, ToolMessage)):
            result.append(message)
        elif index < last_ai:
            result.append(_replace_images(message, lambda: False, lambda: SENT_EARLIER))
        else:
            result.append(_replace_images(message, keep_new, lambda: over_limit))
    return result, min(kept, limit)


class ServerAdapter(UnsupportedContentMiddleware):  # type: ignore[type-arg]
    """See the module docstring. One instance per role and session run."""

    def __init__(
        self,
        role: str,
        model: str,
        capabilities: Capabilities,
        host_paths: HostPaths,
        *,
        max_images: int = 0,
        decision_tool: str | None = None,
        turn_cap: int | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.role = role
        self.model = model
        self.capabilities = capabilities
        self.host_paths = host_paths
        self.max_images = max_images
        self.decision_tool = decision_tool
        self.turn_cap = turn_cap
        self.on_event = on_event or (lambda _: None)
        self._lock = threading.Lock()
        self._malformed: dict[str, str] = {}

    @property
    def name(self) -> str:
        return "UnsupportedContentMiddleware"  # takes that slot: the innermost one

    # -- requests ----------------------------------------------------------------

    def _prepare(self, request: ModelRequest[Any]) -> tuple[ModelRequest[Any], int]:
        updates: dict[str, Any] = {}
        if request.system_message is not None and not isinstance(request.system_message.content, str):
            updates["system_message"] = SystemMessage(system_text(request.system_message))
        messages, images = ration_images(list(request.messages), self.max_images)
        if self.decision_tool is not None:
            if self.capabilities.tool_choice(self.model):
                updates["tool_choice"] = "any"
            turns = sum(isinstance(m, AIMessage) for m in messages)
            if self.turn_cap is not None and turns >= self.turn_cap - 1:
                updates["tools"] = [
                    t for t in request.tools if getattr(t, "name", None) == self.decision_tool
                ]
                messages.append(HumanMessage(LAST_TURN.format(tool=self.decision_tool)))
        updates["messages"] = messages
        return request.override(**updates), images

    def _call(
        self,
        request: ModelRequest[Any],
        images: int,
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        while True:
            try:
                return handler(request)
            except Exception as exc:
                if request.tool_choice is not None and is_tool_choice_refusal(exc):
                    if self.capabilities.refuse_tool_choice(self.model):
                        self.on_event(
                            f"the server of {self.model} refused tool_choice; continuing without it for this run"
                        )
                    request = request.override(tool_choice=None)
                    continue
                if images and is_image_rejection(exc):
                    raise images_rejected(self.model, images, exc) from exc
                raise

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        prepared, images = self._prepare(request)
        response: ModelResponse[Any] = super().wrap_model_call(
            prepared, lambda filtered: self._call(filtered, images, handler)
        )
        return self._answerable(response)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        raise NotImplementedError("benchgen runs its agents synchronously")

    # -- answers -----------------------------------------------------------------

    def _answerable(self, response: ModelResponse[Any]) -> ModelResponse[Any]:
        """Turn tool calls with unparseable arguments into calls that get an error back."""
        result = list(response.result)
        for index, message in enumerate(result):
            if not isinstance(message, AIMessage) or not message.invalid_tool_calls:
                continue
            calls = list(message.tool_calls)
            for bad in message.invalid_tool_calls:
                call_id = bad.get("id") or f"call_{uuid.uuid4().hex[:12]}"
                name = bad.get("name") or "unknown_tool"
                with self._lock:
                    self._malformed[call_id] = (
                        f"Error: the arguments of your {name} call are not valid JSON "
                        f"({(bad.get('error') or 'unparseable')[:200]}). Call {name} again with a JSON object."
                    )
                calls.append({"name": name, "args": {}, "id": call_id, "type": "tool_call"})
            result[index] = message.model_copy(update={"tool_calls": calls, "invalid_tool_calls": []})
        return replace(response, result=result) if result != list(response.result) else response

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]]
    ) -> ToolMessage | Command[Any]:
        call = request.tool_call
        with self._lock:
            error = self._malformed.pop(call["id"] or "", None)
        if error is not None:
            return ToolMessage(content=error, tool_call_id=call["id"], name=call["name"], status="error")
        return self._scrubbed(handler(request))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        raise NotImplementedError("benchgen runs its agents synchronously")

    def _scrub_message(self, message: ToolMessage) -> ToolMessage:
        if isinstance(message.content, str):
            return message.model_copy(update={"content": self.host_paths.scrub(message.content)})
        content = [
            {**block, "text": self.host_paths.scrub(block["text"])}
            if isinstance(block, dict) and isinstance(block.get("text"), str)
            else (self.host_paths.scrub(block) if isinstance(block, str) else block)
            for block in message.content
        ]
        return message.model_copy(update={"content": content})

    def _scrubbed(self, result: ToolMessage | Command[Any]) -> ToolMessage | Command[Any]:
        if isinstance(result, ToolMessage):
            return self._scrub_message(result)
        update = result.update
        if isinstance(update, dict) and isinstance(update.get("messages"), list):
            messages = [
                self._scrub_message(m) if isinstance(m, ToolMessage) else m for m in update["messages"]
            ]
            return replace(result, update={**update, "messages": messages})
        return result
