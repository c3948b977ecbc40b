"""A scripted stand-in for an LLM: a real HTTP server speaking OpenAI chat completions.

The agent tests point LangChain's OpenAI client at it (``base_url``), so everything
between the agents and the wire is real: request bodies, tool schemas, tool calls,
images, usage accounting and retries. Each POST to ``/v1/chat/completions`` consumes
the next scripted :class:`Reply`, which may insist on the role of the caller (read
from the ``Role: <name>`` line every benchgen agent prompt starts with). Every request
body is recorded for assertions. Both plain JSON and SSE streaming are served.
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


@dataclass
class Reply:
    """One scripted assistant turn: text and/or tool calls, with the usage to report."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    role: str | None = None
    """When set, the request must come from this role (else the stub answers HTTP 400)."""
    prompt_tokens: int = 120
    completion_tokens: int = 30
    delay_s: float = 0.0
    """Seconds to wait before answering (cut short when the server stops)."""


def call(role: str, tool: str, /, **args: Any) -> Reply:
    """A reply with one tool call ``tool(**args)``; ``_prompt_tokens``/``_completion_tokens`` set its usage."""
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


class StubLLM:
    """The server. Use as a context manager; ``base_url`` is what clients need."""

    def __init__(self, replies: list[Reply]) -> None:
        self._replies = list(replies)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
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

    def usage_by_role(self) -> dict[str, tuple[int, int]]:
        """Tokens the stub reported, summed per role: (prompt, completion)."""
        totals: dict[str, tuple[int, int]] = {}
        with self._lock:
            for r in self.requests:
                if r.reply is None or r.role is None:
                    continue
                p, c = totals.get(r.role, (0, 0))
                totals[r.role] = (p + r.reply.prompt_tokens, c + r.reply.completion_tokens)
        return totals

    def wait_for(self, role: str, count: int = 1, timeout_s: float = 120.0) -> None:
        """Block until ``count`` requests of ``role`` arrived (raise TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.bodies(role)) >= count:
                return
            time.sleep(0.05)
        raise TimeoutError(f"no {count} request(s) from {role!r} within {timeout_s}s; errors: {self.errors}")

    def _next(self, body: dict[str, Any]) -> tuple[Reply | None, str | None]:
        role = request_role(body)
        with self._lock:
            if not self._replies:
                error = f"stub script exhausted (request from role {role!r})"
                reply = None
            elif self._replies[0].role is not None and self._replies[0].role != role:
                error = f"stub expected a request from {self._replies[0].role!r}, got one from {role!r}"
                reply = None
            else:
                error = None
                reply = self._replies.pop(0)
            self.requests.append(Recorded(body=body, role=role, reply=reply))
            if error:
                self.errors.append(error)
        return reply, error

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
                reply, error = stub._next(body)
                if reply is None:
                    self._json(400, {"error": {"message": error, "type": "invalid_request_error"}})
                    return
                if reply.delay_s and stub._stopping.wait(reply.delay_s):
                    return
                model = body.get("model", "stub")
                if body.get("stream"):
                    self._stream(reply, model, bool((body.get("stream_options") or {}).get("include_usage")))
                else:
                    self._json(200, completion(reply, model))

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply, model: str, include_usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in stream_chunks(reply, model, include_usage):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{i}_{name}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def completion(reply: Reply, model: str) -> dict[str, Any]:
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
        "usage": _usage(reply),
    }


def stream_chunks(reply: Reply, model: str, include_usage: bool) -> Iterator[dict[str, Any]]:
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
        yield {**base, "choices": [], "usage": _usage(reply)}
