"""ASGI app answering the ClickHouse HTTP interface from an embedded chDB engine.

Request flow: URL (or multipart form) parameters -> RequestSpec; the body is decoded chunk
by chunk. An insert with data (`INSERT ... FORMAT X` in the `query` parameter, or at the
start of a query-less body, as clickhouse-connect's `insert` sends it) streams the data
into the engine: constant memory, nothing committed unless all of it parsed. Any other
request concatenates `query` + "\\n" + body into one statement, as ClickHouse does.
Engine calls run in worker threads, never on the event loop.

Before any of that, the query endpoint checks, in order: the Host and Origin headers
(`request_guard`: no DNS rebinding, no cross-site browser requests), then the user and
password (`credentials`). A GET runs read-only. `/ping` and the health endpoints stay open.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog
from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.requests import ClientDisconnect

from exos_common.chserver import protocol as p
from exos_common.chserver import request_guard
from exos_common.chserver.compression import (
    BodyDecoder,
    body_decoder,
    compress_body,
    response_encoding,
)
from exos_common.chserver.credentials import Credentials, request_credentials
from exos_common.chserver.engine import SHUTTING_DOWN, Engine, EngineError, Outcome
from exos_common.chserver.metrics import ServerMetrics
from exos_common.chserver.streaming import EngineStreamResponse, first_block
from exos_common.service.health import health_router

log = structlog.get_logger("exos.chserver")

INSERT_APPEND_BYTES = 1 << 20  # fewer, larger appends: each one is a thread hop + parse call
COMPRESS_OFF_LOOP_BYTES = 256 << 10


@dataclass(frozen=True, slots=True)
class Access:
    """Who may query: the credentials, and the Host names and browser origins accepted."""

    credentials: Credentials
    hosts: frozenset[str] = request_guard.allowed_host_names("127.0.0.1")
    origins: frozenset[str] = frozenset()


def create_app(data_dir: Path, access: Access, *, drain_timeout_s: float = 30.0) -> FastAPI:
    """The server for the chDB folder `data_dir`; the engine starts in the lifespan."""
    engine = Engine(data_dir)
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await to_thread.run_sync(engine.open)
        log.info("engine_started", data_dir=engine.path, version=engine.version)
        yield
        drained = await to_thread.run_sync(engine.close, drain_timeout_s)
        log.info("engine_stopped", data_dir=engine.path, drained=drained)

    app = FastAPI(title="EXOS embedded ClickHouse", lifespan=lifespan, openapi_url=None)
    app.state.engine = engine
    app.state.metrics = metrics

    @app.api_route("/ping", methods=["GET", "HEAD"])
    async def ping() -> Response:
        return PlainTextResponse("Ok.\n")

    async def engine_answers() -> bool:
        try:
            await to_thread.run_sync(engine.query, "SELECT 1", "TabSeparated")
        except EngineError:
            return False
        return True

    app.include_router(health_router(metrics.registry, {"clickhouse": engine_answers}))

    @app.api_route("/", methods=["GET", "POST"])
    async def clickhouse(request: Request) -> Response:
        if _bare_get(request):
            return PlainTextResponse("Ok.\n")  # ClickHouse answers a bare GET / like /ping
        refused = _refusal(access, request)
        if refused is not None:
            metrics.error("query", refused.code, 0.0)
            log.warning("request_refused", code=refused.code, reason=str(refused))
            return _error_response(engine, refused.code, refused.status, refused.body(), "")
        return await _handle(engine, metrics, request)

    return app


def _bare_get(request: Request) -> bool:
    """GET / with no query and no body: nothing for the engine to run."""
    headers = request.headers
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and headers.get("content-length", "0") == "0"
        and "transfer-encoding" not in headers
    )


def _refusal(access: Access, request: Request) -> p.ProtocolError | None:
    reason = request_guard.refusal(request.headers, access.hosts, access.origins)
    if reason is not None:
        return p.ProtocolError(p.ACCESS_DENIED, reason, status=403)
    user, password = request_credentials(request.headers, request.query_params)
    if not access.credentials.admits(user, password):
        message = (
            f"{user or 'default'}: Authentication failed: password is incorrect, "
            "or there is no user with such name"
        )
        return p.ProtocolError(p.AUTHENTICATION_FAILED, message, status=401)
    return None


async def _handle(engine: Engine, metrics: ServerMetrics, request: Request) -> Response:
    started = time.perf_counter()
    query_id = request.query_params.get("query_id") or str(uuid.uuid4())
    kind = "query"
    readonly = request.method == "GET"  # as ClickHouse: only POST may change anything
    try:
        spec = p.parse_params(request.query_params.multi_items())
        chunks = _decoded(request, body_decoder(request.headers.get("content-encoding")))
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = p.parse_form(content_type, await _read_all(chunks))
            spec = p.parse_params([*request.query_params.multi_items(), *form])
            chunks = _empty()
        if spec.query is not None:
            insert = p.split_insert(spec.query)
        else:
            insert, chunks = await _peek_inline_insert(chunks)
        if insert is not None:
            kind = "insert"
            outcome = await _stream_insert(engine, spec, insert, chunks, readonly)
            fmt = None
        else:
            sql = _join(spec.query, await _read_all(chunks))
            if not sql.strip():
                if request.method == "GET":
                    return PlainTextResponse("Ok.\n")  # ClickHouse answers GET / like /ping
                raise p.ProtocolError(p.SYNTAX_ERROR, "Empty query")
            head = sql[:4096].decode("utf-8", "replace")
            kind = "insert" if p.strip_leading_noise(head)[:6].upper() == "INSERT" else "query"
            blockwise = p.streams_format(
                p.output_format(sql.decode("utf-8", "replace"), spec.default_format)
            )
            if kind == "query" and blockwise and p.streams_result(head):
                response = await _stream_answer(engine, request, spec, sql, readonly, query_id)
                metrics.observe(kind, time.perf_counter() - started, 0)
                return response
            outcome = await to_thread.run_sync(_run_query, engine, sql, spec, readonly)
            fmt = _result_format(sql, spec.default_format, outcome) if kind == "query" else None
    except (p.ProtocolError, EngineError) as ex:
        return _error(engine, metrics, ex, kind, query_id, time.perf_counter() - started)
    except ClientDisconnect:
        log.info("client_disconnected", kind=kind, query_id=query_id)
        return Response(status_code=400)
    elapsed = time.perf_counter() - started
    metrics.observe(kind, elapsed, outcome.written_rows)
    log.debug(
        "request",
        kind=kind,
        query_id=query_id,
        seconds=round(elapsed, 6),
        written_rows=outcome.written_rows,
    )
    return await _response(engine, request, spec, outcome, fmt, query_id)


def _statement(sql: bytes) -> str | bytes:
    # Plain text goes as str: chdb also takes bytes, which inline binary insert data needs.
    try:
        return sql.decode("utf-8")
    except UnicodeDecodeError:
        return sql


async def _stream_answer(
    engine: Engine,
    request: Request,
    spec: p.RequestSpec,
    sql: bytes,
    readonly: bool,
    query_id: str,
) -> Response:
    """A statement that answers a table: sent block by block (see `streaming`)."""
    stream = await to_thread.run_sync(
        lambda: engine.stream_query(
            _statement(sql),
            spec.default_format,
            params=spec.params,
            settings=spec.settings,
            database=spec.database,
            readonly=readonly,
        )
    )
    first = await first_block(stream)
    fmt = p.output_format(sql.decode("utf-8", "replace"), spec.default_format)
    if first is None:
        # chDB streams nothing at all for an empty result, not even a format's header
        # (JSON's meta, TSVWithNames' names): run it again whole for those bytes.
        outcome = await to_thread.run_sync(_run_query, engine, sql, spec, readonly)
        return await _response(engine, request, spec, outcome, fmt, query_id)
    headers = {
        "X-ClickHouse-Query-Id": query_id,
        "X-ClickHouse-Timezone": engine.timezone,
        "X-ClickHouse-Summary": p.summary_header(),  # counters are known only at the end
        "X-ClickHouse-Format": fmt,
    }
    enabled = engine.http_compression if spec.compress_response is None else spec.compress_response
    encoding = response_encoding(request.headers.get("accept-encoding"), enabled)
    if encoding:
        headers["Content-Encoding"] = encoding
    return EngineStreamResponse(stream, first, encoding, headers, p.content_type(fmt))


def _run_query(engine: Engine, sql: bytes, spec: p.RequestSpec, readonly: bool) -> Outcome:
    return engine.query(
        _statement(sql),
        spec.default_format,
        params=spec.params,
        settings=spec.settings,
        database=spec.database,
        readonly=readonly,
    )


async def _stream_insert(
    engine: Engine,
    spec: p.RequestSpec,
    insert: tuple[str, str],
    chunks: AsyncIterator[bytes],
    readonly: bool,
) -> Outcome:
    statement, fmt = insert
    stream = await to_thread.run_sync(
        lambda: engine.begin_insert(
            statement, fmt, settings=spec.settings, database=spec.database, readonly=readonly
        )
    )
    try:
        pending = bytearray()
        async for chunk in chunks:
            pending += chunk
            if len(pending) >= INSERT_APPEND_BYTES:
                await to_thread.run_sync(stream.append, bytes(pending))
                pending.clear()
        if pending:
            await to_thread.run_sync(stream.append, bytes(pending))
    except BaseException:
        # Client gone, bad compression, unparsable data or cancelled: commit nothing.
        # Aborting is an engine call: a worker thread does it, even under cancellation.
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(stream.cancel)
        raise
    # A cancellation waits for the worker thread: finish() always releases the stream.
    return await to_thread.run_sync(stream.finish)


async def _response(
    engine: Engine,
    request: Request,
    spec: p.RequestSpec,
    outcome: Outcome,
    fmt: str | None,
    query_id: str,
) -> Response:
    headers = {
        "X-ClickHouse-Query-Id": query_id,
        "X-ClickHouse-Timezone": engine.timezone,
        "X-ClickHouse-Summary": p.summary_header(
            outcome.read_rows,
            outcome.read_bytes,
            outcome.written_rows,
            outcome.written_bytes,
            outcome.elapsed_s,
        ),
    }
    body = outcome.body
    if fmt is not None:
        headers["X-ClickHouse-Format"] = fmt
    enabled = engine.http_compression if spec.compress_response is None else spec.compress_response
    encoding = response_encoding(request.headers.get("accept-encoding"), enabled)
    if encoding and body:
        if len(body) > COMPRESS_OFF_LOOP_BYTES:
            body = await to_thread.run_sync(compress_body, body, encoding)
        else:
            body = compress_body(body, encoding)
        headers["Content-Encoding"] = encoding
    media_type = p.content_type(fmt) if fmt else "text/plain; charset=UTF-8"
    return Response(body, headers=headers, media_type=media_type)


def _error(
    engine: Engine,
    metrics: ServerMetrics,
    ex: p.ProtocolError | EngineError,
    kind: str,
    query_id: str,
    elapsed: float,
) -> Response:
    if isinstance(ex, EngineError):
        code, text = ex.code, ex.message
        status = _ENGINE_STATUS.get(code, 500)
    else:
        code, status, text = ex.code, ex.status, ex.body()
    metrics.error(kind, code, elapsed)
    log.warning("request_failed", kind=kind, query_id=query_id, code=code, message=text[:500])
    return _error_response(engine, code, status, text, query_id)


# As ClickHouse answers them; 503 on shutdown so clients retry elsewhere or later.
_ENGINE_STATUS = {SHUTTING_DOWN: 503, p.ACCESS_DENIED: 403, p.READONLY: 403}


def _error_response(engine: Engine, code: int, status: int, text: str, query_id: str) -> Response:
    headers = {
        "X-ClickHouse-Exception-Code": str(code),
        "X-ClickHouse-Query-Id": query_id,
        "X-ClickHouse-Timezone": engine.timezone,
    }
    return PlainTextResponse(text + "\n", status_code=status, headers=headers)


def _result_format(sql: bytes, default_format: str, outcome: Outcome) -> str | None:
    """The X-ClickHouse-Format header: only statements that answer a table get one."""
    text = sql.decode("utf-8", "replace")
    if outcome.body or p.produces_result(text):
        return p.output_format(text, default_format)
    return None


def _join(query: str | None, body: bytes) -> bytes:
    if query and body:
        return query.encode() + b"\n" + body
    return query.encode() if query else body


async def _decoded(request: Request, decoder: BodyDecoder | None) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        data = decoder.decode(chunk) if decoder and chunk else chunk
        if data:
            yield data
    if decoder:
        decoder.finish()


async def _peek_inline_insert(
    chunks: AsyncIterator[bytes],
) -> tuple[tuple[str, str] | None, AsyncIterator[bytes]]:
    """Read just enough of a query-less body to tell whether it is `INSERT ... FORMAT X`
    followed by data; return the insert (if so) and the body from where the data starts."""
    head = b""
    at_end = False
    while True:
        found = p.split_inline_insert(head, at_end)
        if found != p.NEED_MORE:
            break
        try:
            head += await chunks.__anext__()
        except StopAsyncIteration:
            at_end = True
    if isinstance(found, tuple):
        statement, fmt, offset = found
        return (statement, fmt), _chain(head[offset:], chunks)
    return None, _chain(head, chunks)


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


async def _empty() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _read_all(chunks: AsyncIterator[bytes]) -> bytes:
    parts = [chunk async for chunk in chunks]
    return b"".join(parts)
