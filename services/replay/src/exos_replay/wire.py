"""JSON responses gzipped in the route itself when the client accepts it: in the
all-in-one process the portal copies the replay routes onto its own app, so a
middleware of the replay app would not be there."""

from __future__ import annotations

import zlib

from fastapi import Request, Response

MIN_GZIP_BYTES = 1024  # smaller bodies cost more to wrap than they save


def accepts_gzip(request: Request) -> bool:
    accepted = request.headers.get("accept-encoding", "")
    return any(part.split(";")[0].strip() == "gzip" for part in accepted.split(","))


def gzip_bytes(body: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip container
    return compressor.compress(body) + compressor.flush()


def json_response(request: Request, body: bytes, level: int, status: int = 200) -> Response:
    headers = {"vary": "accept-encoding"}
    if len(body) >= MIN_GZIP_BYTES and accepts_gzip(request):
        body = gzip_bytes(body, level)
        headers["content-encoding"] = "gzip"
    return Response(body, status_code=status, media_type="application/json", headers=headers)
