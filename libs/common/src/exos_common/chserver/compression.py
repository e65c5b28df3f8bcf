"""HTTP Content-Encoding both ways: request bodies decoded chunk by chunk (clickhouse-connect
compresses every insert block as its own lz4/zstd frame, so frames arrive concatenated and
split anywhere), responses compressed when the client accepts it."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import lz4.frame
import zstandard

from exos_common.chserver.protocol import (
    CANNOT_DECOMPRESS,
    UNKNOWN_COMPRESSION_METHOD,
    ProtocolError,
)


class BodyDecoder:
    """Decodes a compressed body chunk by chunk, across concatenated frames (clickhouse-connect
    compresses every insert block as its own lz4/zstd frame; gzip allows several members).
    finish() refuses a body that stops inside a frame: truncated data must not be inserted."""

    def __init__(self, new: Callable[[], Any]) -> None:
        self._new = new
        self._decoder = new()
        self._in_frame = False

    def decode(self, data: bytes) -> bytes:
        out = bytearray()
        try:
            while data:
                self._in_frame = True
                out += self._decoder.decompress(data)
                if not self._decoder.eof:
                    break
                self._in_frame = False
                data = self._decoder.unused_data
                self._decoder = self._new()
        except Exception as ex:  # each codec has its own error type
            raise ProtocolError(CANNOT_DECOMPRESS, f"Cannot decompress request body: {ex}") from ex
        return bytes(out)

    def finish(self) -> None:
        if self._in_frame:
            raise ProtocolError(CANNOT_DECOMPRESS, "Compressed request body ends inside a frame")


def body_decoder(content_encoding: str | None) -> BodyDecoder | None:
    """A chunk-by-chunk decoder for the request's Content-Encoding, None when identity."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity", "none"):
        return None
    if encoding == "lz4":
        return BodyDecoder(lz4.frame.LZ4FrameDecompressor)
    if encoding == "zstd":
        return BodyDecoder(lambda: zstandard.ZstdDecompressor().decompressobj())
    if encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 32+15 accepts both gzip and zlib headers: ClickHouse's "deflate" is zlib.
        return BodyDecoder(lambda: zlib.decompressobj(32 + zlib.MAX_WBITS))
    raise ProtocolError(
        UNKNOWN_COMPRESSION_METHOD,
        f"Unsupported Content-Encoding {encoding!r}; "
        "the embedded server accepts lz4, zstd, gzip, deflate",
        status=415,
    )


RESPONSE_ENCODINGS = ("lz4", "zstd", "gzip", "deflate")


def response_encoding(accept_encoding: str | None, enabled: bool) -> str | None:
    """Like ClickHouse: compress only when enable_http_compression is on (chDB's default is 1,
    and clients read that default from system.settings), in the first encoding the client
    lists that this server can produce."""
    if not enabled or not accept_encoding:
        return None
    for part in accept_encoding.split(","):
        name, _, quality = part.strip().partition(";")
        if name.strip().lower() in RESPONSE_ENCODINGS and quality.strip() not in ("q=0", "q=0.0"):
            return name.strip().lower()
    return None


def compress_body(data: bytes, encoding: str) -> bytes:
    if encoding == "lz4":
        return bytes(lz4.frame.compress(data))
    if encoding == "zstd":
        return zstandard.ZstdCompressor(level=1).compress(data)
    if encoding == "gzip":
        comp = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return comp.compress(data) + comp.flush()
    if encoding == "deflate":
        return zlib.compress(data, 1)
    raise ValueError(f"unsupported response encoding {encoding}")


class ResponseCompressor:
    """Compresses a streamed answer chunk by chunk into one frame (lz4, zstd), one gzip
    member or one zlib stream: the client decodes it as if it were compressed whole."""

    def __init__(self, encoding: str) -> None:
        self._compressor: Any
        self._head: bytes
        if encoding == "lz4":
            self._compressor = lz4.frame.LZ4FrameCompressor()
            self._head = self._compressor.begin()
        elif encoding == "zstd":
            self._compressor = zstandard.ZstdCompressor(level=1).compressobj()
            self._head = b""
        elif encoding in ("gzip", "deflate"):
            wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
            self._compressor = zlib.compressobj(1, zlib.DEFLATED, wbits)
            self._head = b""
        else:
            raise ValueError(f"unsupported response encoding {encoding}")

    def compress(self, data: bytes) -> bytes:
        head, self._head = self._head, b""
        return bytes(head) + bytes(self._compressor.compress(data))

    def finish(self) -> bytes:
        head, self._head = self._head, b""
        return bytes(head) + bytes(self._compressor.flush())
