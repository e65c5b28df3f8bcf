"""A local OpenAI-compatible model server for tests: `POST /v1/chat/completions` on
127.0.0.1, answering from a script and recording (and checking) what it was sent.

    with FakeLLM() as llm:                      # llm.base_url -> http://127.0.0.1:N/v1
        llm.expect({"sql": "SELECT 1", ...}, check=lambda req: ...)   # one reply per call
        settings = InsightsSettings(openai_base_url=llm.base_url, openai_api_key="test")
        ...
        assert llm.failures == []                # every check passed
        llm.requests[0]["messages"]              # what the service sent

Each `expect` queues one reply (a dict is sent as the message's JSON content, as
structured output does); its `check` gets the request body and may assert: a failed
check answers 400 with the assertion's message and is kept in `failures`. With the
queue empty, `responder(request)` answers if set, otherwise 500 "no scripted reply".
Used by the insights tests; the gateway and end-to-end tests reuse it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from exos_common.testing.servers import serve_in_thread

Check = Callable[[dict[str, Any]], None]
Reply = dict[str, Any] | str


@dataclass(slots=True)
class _Step:
    reply: Reply
    check: Check | None


def prompt_text(request: dict[str, Any]) -> str:
    """All message contents of a chat request, joined: what checks usually search."""
    return "\n".join(str(m.get("content", "")) for m in request.get("messages", []))


def last_user_message(request: dict[str, Any]) -> str:
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


class FakeLLM:
    def __init__(self, responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.responder = responder
        self._script: deque[_Step] = deque()
        self._lock = threading.Lock()
        self._serving: AbstractContextManager[str] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def expect(self, reply: Reply, check: Check | None = None) -> None:
        with self._lock:
            self._script.append(_Step(reply, check))

    @property
    def pending(self) -> int:
        """Scripted replies not asked for yet."""
        return len(self._script)

    def _answer(self, body: dict[str, Any]) -> JSONResponse:
        with self._lock:
            self.requests.append(body)
            step = self._script.popleft() if self._script else None
        if step is None:
            if self.responder is None:
                return _error(500, "no scripted reply left")
            step = _Step(self.responder(body), None)
        if step.check is not None:
            try:
                step.check(body)
            except AssertionError as exc:
                message = f"request {len(self.requests)}: {exc}"
                self.failures.append(message)
                return _error(400, message)
        content = step.reply if isinstance(step.reply, str) else json.dumps(step.reply)
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
        )

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> JSONResponse:
            return self._answer(await request.json())

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "fake", "object": "model"}]}

        return app

    def start(self) -> FakeLLM:
        self._serving = serve_in_thread(self.app(), timeout_s=10)
        base = self._serving.__enter__()
        self.port = int(base.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.__exit__(None, None, None)
            self._serving = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "code": None}},
        status_code=status,
    )
