"""A scripted stand-in for an LLM: a real HTTP server speaking OpenAI chat completions.

The agent tests point LangChain's OpenAI client at it (``base_url``), so everything
between the agents and the wire is real: request bodies, tool schemas, tool calls,
images, usage accounting and retries. Each POST to ``/v1/chat/completions`` consumes
the next scripted :class:`Reply`, which may insist on the role of the caller (read
from the ``Role: <name>`` line every benchgen agent prompt starts with). Every request
body is recorded for assertions. Both plain JSON and SSE streaming are served.

Two kinds of request are answered without consuming the script, as a model would:
the capability probe (``Role: preflight``: it calls the offered tool, or, on a server
without tool calling, writes the call as text) and a summarisation request (deepagents'
"Context Extraction Assistant" prompt: a short summary).

A :class:`ServerProfile` makes the server refuse what real servers refuse, before the
model sees the request, with their HTTP 400s: a system message whose content is not a
string (strict chat templates; on by default), ``tool_choice: "required"`` (older vLLM),
more than N images (vLLM's ``--limit-mm-per-prompt``), any image (a text-only model), or
a prompt longer than the context window (vLLM's wording, counted like LangChain's
approximate counter: 4 characters per token, 85 per image). ``PROFILES`` names presets
that behave like vLLM, Ollama, llama.cpp and LM Studio. Model behaviours (text-only
answers, JSON in text, malformed tool arguments, never submitting) are scripted replies.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROLE_PATTERN = re.compile(r"Role: (\w+)")


@dataclass(frozen=True)
class ServerProfile:
    """What the server refuses (HTTP 400) before any model sees the request."""

    string_system: bool = True
    """Refuse a system message whose content is a list of parts (many chat templates do)."""
    tool_choice: bool = True
    """Accept ``tool_choice: "required"`` / a named tool; False refuses it like vLLM before 0.8."""
    max_images: int | None = None
    """Refuse more images than this in one request (vLLM ``--limit-mm-per-prompt``)."""
    images: bool = True
    """False refuses any image (a text-only model)."""
    context_tokens: int | None = None
    """Refuse a prompt longer than this (approximate count, see :func:`prompt_tokens`)."""
    tool_calls: bool = True
    """False: the server has no tool-call parser; the probe is answered with the call written as text."""
    count_tokens: bool = False
    """Report tokens measured from the request and the reply (see :func:`prompt_tokens`), not the scripted ones."""


PROFILES: dict[str, ServerProfile] = {
    "openai": ServerProfile(string_system=False),
    # vLLM before 0.8 (no tool_choice "required"), started with --limit-mm-per-prompt image=1
    "vllm": ServerProfile(tool_choice=False, max_images=1),
    # Ollama accepts tool_choice and ignores it; its text models take no images
    "ollama": ServerProfile(images=False),
    # llama.cpp's server with -c 8192 and a strict chat template
    "llama.cpp": ServerProfile(context_tokens=8192),
    # LM Studio with a model loaded without its tool-call template
    "lm-studio": ServerProfile(tool_calls=False),
}


@dataclass
class Reply:
    """One scripted assistant turn: text and/or tool calls, with the usage to report.

    A tool call's arguments are a dict, or a string sent as is (to script malformed JSON).
    """

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    role: str | None = None
    """When set, the request must come from this role (else the stub answers HTTP 400)."""
    prompt_tokens: int = 120
    completion_tokens: int = 30
    delay_s: float = 0.0
    """Seconds to wait before answering (cut short when the server stops)."""


def call(role: str, tool: str, /, **args: Any) -> Reply:
    """A reply with one tool call ``tool(**args)``; ``_prompt_tokens``, ``_completion_tokens`` set its usage."""
    usage = {k.removeprefix("_"): args.pop(k) for k in ("_prompt_tokens", "_completion_tokens") if k in args}
    return Reply(tool_calls=[(tool, args)], role=role, **usage)


def say(role: str, text: str, **kwargs: Any) -> Reply:
    """A plain text reply (ends an agent's loop)."""
    return Reply(content=text, role=role, **kwargs)


@dataclass
class Recorded:
    """One request as the server saw it, and the reply it got (None when refused)."""

    body: dict[str, Any]
    role: str | None
    reply: Reply | None
    status: int = 200
    error: str | None = None
    usage: tuple[int, int] = (0, 0)
    """(prompt, completion) tokens reported to the client."""
    delivered: bool = False
    """The reply was written to the client (False while delayed, or when the server stopped first)."""


SUMMARY_MARKER = "Context Extraction Assistant"


def request_role(body: dict[str, Any]) -> str | None:
    """The ``Role: <name>`` marker of the system message, if any."""
    for message in body.get("messages", []):
        if message.get("role") in ("system", "developer"):
            match = ROLE_PATTERN.search(message_text(message))
            if match:
                return match.group(1).lower()
    return None


def message_text(message: dict[str, Any]) -> str:
    """All text of an OpenAI message, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def image_count(body: dict[str, Any]) -> int:
    """Images in a request (``image_url`` parts of any message)."""
    return sum(
        1
        for message in body.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    )


def prompt_tokens(body: dict[str, Any]) -> int:
    """Approximate prompt size: 4 characters per token of text, tool calls and tool schemas; 85 per image."""
    chars = 0
    for message in body.get("messages", []):
        chars += len(message_text(message)) + 16
        for call in message.get("tool_calls") or []:
            chars += len(call["function"]["name"]) + len(call["function"].get("arguments") or "")
    chars += len(json.dumps(body.get("tools", [])))
    return chars // 4 + 85 * image_count(body)


def refusal(body: dict[str, Any], profile: ServerProfile) -> str | None:
    """Why the server refuses ``body`` before any model sees it, in the words real servers use."""
    for message in body.get("messages", []):
        if (
            profile.string_system
            and message.get("role") == "system"
            and not isinstance(message.get("content"), str)
        ):
            return "Conversation roles must alternate and the system message content must be a string"
    choice = body.get("tool_choice")
    if not profile.tool_choice and choice not in (None, "auto", "none"):
        return f'"tool_choice" = {json.dumps(choice)} is not supported; only "auto" and "none" are'
    images = image_count(body)
    if images and not profile.images:
        return "image input is not supported by this model"
    if profile.max_images is not None and images > profile.max_images:
        return f"At most {profile.max_images} image(s) may be provided in one request."
    tokens = prompt_tokens(body)
    if profile.context_tokens is not None and tokens > profile.context_tokens:
        return (
            f"This model's maximum context length is {profile.context_tokens} tokens. However, you "
            f"requested {tokens} tokens in the messages. Please reduce the length of the messages."
        )
    return None


def automatic_reply(body: dict[str, Any], role: str | None, profile: ServerProfile) -> Reply | None:
    """The model's own answer to a capability probe or a summarisation request; None otherwise."""
    if role == "preflight":
        tools = [t["function"]["name"] for t in body.get("tools", [])]
        if not tools:
            return Reply(content="ok", role=role, prompt_tokens=40, completion_tokens=2)
        if not profile.tool_calls:
            return Reply(
                content=json.dumps({"name": tools[0], "arguments": {"ok": True}}),
                role=role,
                prompt_tokens=40,
                completion_tokens=12,
            )
        return Reply(tool_calls=[(tools[0], {"ok": True})], role=role, prompt_tokens=40, completion_tokens=12)
    if any(SUMMARY_MARKER in message_text(m) for m in body.get("messages", [])):
        return Reply(
            content="Summary: plan and todo were read; the coder is working on /script.py.",
            role="summarizer",
            prompt_tokens=400,
            completion_tokens=20,
        )
    return None


class StubLLM:
    """The server. Use as a context manager; ``base_url`` is what clients need."""

    def __init__(self, replies: list[Reply], profile: ServerProfile | None = None) -> None:
        self.profile = profile or ServerProfile()
        self._replies = list(replies)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
        """Script errors (exhausted, wrong role): a test expecting a clean run asserts this is empty."""
        self.refusals: list[str] = []
        """Requests the server profile refused (expected in the server-behaviour tests)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> StubLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def add(self, *replies: Reply) -> None:
        """Append more scripted replies (e.g. for a resumed session)."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._replies)

    def bodies(self, role: str | None = None) -> list[dict[str, Any]]:
        """Recorded request bodies, optionally only those of one role."""
        with self._lock:
            return [r.body for r in self.requests if role is None or r.role == role]

    def answered(self, role: str | None = None) -> list[Recorded]:
        """Requests whose reply reached the client, optionally only those of one role."""
        with self._lock:
            return [r for r in self.requests if r.delivered and (role is None or r.role == role)]

    def usage_by_role(self) -> dict[str, tuple[int, int]]:
        """Tokens reported in delivered replies, summed per role: (prompt, completion).

        Summaries are attributed to the role of the request before them (the agent that
        was summarising); capability probes are not part of any session and are left out.
        """
        totals: dict[str, tuple[int, int]] = {}
        previous: str | None = None
        with self._lock:
            for r in self.requests:
                role = previous if r.role == "summarizer" else r.role
                if r.role not in ("summarizer", "preflight", None):
                    previous = r.role
                if not r.delivered or role in (None, "preflight"):
                    continue
                p, c = totals.get(role, (0, 0))
                totals[role] = (p + r.usage[0], c + r.usage[1])
        return totals

    def wait_for(self, role: str, count: int = 1, timeout_s: float = 120.0) -> None:
        """Block until ``count`` requests of ``role`` arrived (raise TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.bodies(role)) >= count:
                return
            time.sleep(0.05)
        raise TimeoutError(f"no {count} request(s) from {role!r} within {timeout_s}s; errors: {self.errors}")

    def _next(self, body: dict[str, Any]) -> Recorded:
        role = request_role(body)
        refused = refusal(body, self.profile)
        automatic = automatic_reply(body, role, self.profile) if refused is None else None
        with self._lock:
            record = Recorded(body=body, role=automatic.role if automatic else role, reply=automatic)
            if refused is not None:
                record.status, record.error = 400, refused
                self.refusals.append(refused)
            elif automatic is not None:
                pass
            elif not self._replies:
                record.error = f"stub script exhausted (request from role {role!r})"
            elif self._replies[0].role is not None and self._replies[0].role != role:
                record.error = (
                    f"stub expected a request from {self._replies[0].role!r}, got one from {role!r}"
                )
            else:
                record.reply = self._replies.pop(0)
            if record.reply is None and refused is None:
                record.status = 400
                self.errors.append(record.error or "")
            elif record.reply is not None:
                record.usage = (
                    (prompt_tokens(body), completion_tokens(record.reply))
                    if self.profile.count_tokens
                    else (record.reply.prompt_tokens, record.reply.completion_tokens)
                )
            self.requests.append(record)
        return record

    def _delivered(self, record: Recorded) -> None:
        with self._lock:
            record.delivered = True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the access log
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                record = stub._next(body)
                reply = record.reply
                if reply is None:
                    error = {"message": record.error, "type": "BadRequestError", "param": None, "code": 400}
                    self._json(record.status, {"object": "error", **error, "error": error})
                    return
                if reply.delay_s and stub._stopping.wait(reply.delay_s):
                    return
                model = body.get("model", "stub")
                if body.get("stream"):
                    self._stream(
                        reply,
                        record.usage,
                        model,
                        bool((body.get("stream_options") or {}).get("include_usage")),
                    )
                else:
                    self._json(200, completion(reply, record.usage, model))
                stub._delivered(record)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply, usage: tuple[int, int], model: str, include_usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in stream_chunks(reply, usage, model, include_usage):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{i}_{name}_{time.monotonic_ns()}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]


def completion_tokens(reply: Reply) -> int:
    """Approximate size of a reply (4 characters per token)."""
    chars = len(reply.content or "") + sum(
        len(name) + len(args if isinstance(args, str) else json.dumps(args))
        for name, args in reply.tool_calls
    )
    return max(1, chars // 4)


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


def completion(reply: Reply, usage: tuple[int, int], model: str) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    return {
        "id": f"chatcmpl-stub-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}
        ],
        "usage": _usage(usage),
    }


def stream_chunks(
    reply: Reply, usage: tuple[int, int], model: str, include_usage: bool
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of an SSE stream for ``reply``."""
    base = {
        "id": f"chatcmpl-stub-{time.monotonic_ns()}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    yield {
        **base,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
    }
    if reply.content:
        yield {**base, "choices": [{"index": 0, "delta": {"content": reply.content}, "finish_reason": None}]}
    for i, tool_call in enumerate(_tool_calls(reply)):
        delta = {"tool_calls": [{"index": i, **tool_call}]}
        yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    finish = "tool_calls" if reply.tool_calls else "stop"
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    if include_usage:
        yield {**base, "choices": [], "usage": _usage(usage)}
