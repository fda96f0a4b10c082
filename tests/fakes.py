"""A scripted OpenAI-compatible server: a real HTTP server on 127.0.0.1 whose replies each test decides.

It stands in for an external service (the user's LLM endpoint), never for code we ship. Every request is
recorded (method, path, headers, JSON body) so tests can inspect exactly what left the app.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    hang: bool = False  # never answer (until the server stops)
    content_type: str = "application/json"


def chat(content: str, model: str = "fake-model") -> Reply:
    """A well-formed chat completion whose message is `content`."""
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }
    return Reply(body=json.dumps(body).encode())


def chat_json(data: Any) -> Reply:
    return chat(json.dumps(data))


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.body.get("messages", [])

    def message(self, role: str) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == role)

    @property
    def text(self) -> str:
        return json.dumps(self.body)


Script = Callable[[Recorded], Reply]


@dataclass
class FakeLLM:
    script: Script = field(default=lambda request: chat("{}"))
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                fake.connections += 1
                super().setup()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                fake.requests.append(recorded)
                reply = fake.script(recorded)
                if reply.hang:
                    fake._stop.wait(120)
                    return
                if reply.delay:
                    fake._stop.wait(reply.delay)
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(reply.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for the serve loop's next poll: 0.5 s by default, paid by every test that closes a fake.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
