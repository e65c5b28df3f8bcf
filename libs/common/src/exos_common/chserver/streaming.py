"""A query's answer sent block by block as the engine makes it: memory stays at about one
block whatever the result size, and the query stops when the client leaves.

An error before the first block is an ordinary error answer (status and code). After it,
the status line is gone: like ClickHouse, the body ends with the exception text. The
stream is closed (the query cancelled, its connection released) in a worker thread
however the response ends: sent in full, client gone, or cancelled. A block being
fetched when the client leaves is finished first (a worker thread cannot be interrupted).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

import anyio
import structlog
from anyio import to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from exos_common.chserver.compression import ResponseCompressor
from exos_common.chserver.engine import EngineError, ResultStream

log = structlog.get_logger("exos.chserver")

COMPRESS_OFF_LOOP_BYTES = 256 << 10


class EngineStreamResponse(StreamingResponse):
    def __init__(
        self,
        stream: ResultStream,
        first: bytes | None,
        encoding: str | None,
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        super().__init__(_blocks(stream, first, encoding), headers=headers, media_type=media_type)
        self._release: Callable[[], None] = stream.close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await to_thread.run_sync(self._release)


async def first_block(stream: ResultStream) -> bytes | None:
    """The first block, or the error that stops the query before anything is sent."""
    try:
        return await to_thread.run_sync(stream.next_chunk)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(stream.close)
        raise


async def _blocks(
    stream: ResultStream, first: bytes | None, encoding: str | None
) -> AsyncIterator[bytes]:
    compressor = ResponseCompressor(encoding) if encoding else None
    block = first
    while block is not None:
        if block:
            yield await _encoded(compressor, block)
        try:
            block = await to_thread.run_sync(stream.next_chunk)
        except EngineError as ex:
            log.warning("stream_failed", code=ex.code, message=ex.message[:500])
            yield await _encoded(compressor, ("\n" + ex.message + "\n").encode())
            break
    if compressor is not None:
        yield compressor.finish()


async def _encoded(compressor: ResponseCompressor | None, data: bytes) -> bytes:
    if compressor is None:
        return data
    if len(data) > COMPRESS_OFF_LOOP_BYTES:
        return await to_thread.run_sync(compressor.compress, data)
    return compressor.compress(data)
