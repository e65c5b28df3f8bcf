"""Downloads made by a blocking generator that holds a database stream.

Starlette pulls a sync body iterator in worker threads but never closes it: a client
that goes away, an error or a cancellation leaves the generator (and the ClickHouse
result stream inside it) open until the garbage collector finds it. Here every chunk
is made in a worker thread and the generator is closed, in a worker thread too, however
the response ends, so the stream is released at once and never on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Mapping
from typing import Any

import anyio
from anyio import to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

_DONE: Any = object()


async def pulled_in_threads(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """`chunks` one by one from worker threads; closed (in a thread) when this ends."""
    try:
        while True:
            chunk = await to_thread.run_sync(next, chunks, _DONE)
            if chunk is _DONE:
                return
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(chunks.close)


class ClosingStreamingResponse(StreamingResponse):
    """A streamed download whose producer is closed when the response ends: sent in
    full, client gone, failed or cancelled."""

    def __init__(
        self,
        chunks: Generator[bytes, None, None],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._pulled = pulled_in_threads(chunks)
        super().__init__(self._pulled, media_type=media_type, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._pulled.aclose()  # type: ignore[attr-defined]
