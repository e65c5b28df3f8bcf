"""The ClickHouse HTTP interface as pure functions: what a request asks for, where an
insert's data starts, what the response must say (Content-Encoding: `compression`).
No I/O here, so every rule has a unit test.

What clickhouse-connect sends (driver/_backend/httpcommon.py): the SQL in the body or in the
`query` URL parameter, `param_<name>` bind values, settings as URL parameters mixed with
transport-only parameters, `Content-Encoding` on insert bodies (one lz4/zstd frame per block,
concatenated), `Accept-Encoding` + `enable_http_compression=1` on queries, and multipart
form fields instead of URL parameters when the bind values are large.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP

# Parameters the HTTP layer consumes itself; forwarded with SET they would be rejected as
# unknown settings, or would change the session rather than the query.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "quota_key",
        "user",
        "password",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "enable_http_compression",
        "http_response_buffer_size",
        "add_http_cors_header",
    }
)

# ClickHouse error codes for the refusals this layer raises itself.
NOT_IMPLEMENTED = 48
SYNTAX_ERROR = 62
UNKNOWN_SETTING = 115
UNKNOWN_COMPRESSION_METHOD = 89
CANNOT_DECOMPRESS = 271
READONLY = 164
ACCESS_DENIED = 497
AUTHENTICATION_FAILED = 516
_CODE_NAMES = {
    READONLY: "READONLY",
    ACCESS_DENIED: "ACCESS_DENIED",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
    SYNTAX_ERROR: "SYNTAX_ERROR",
    UNKNOWN_SETTING: "UNKNOWN_SETTING",
    UNKNOWN_COMPRESSION_METHOD: "UNKNOWN_COMPRESSION_METHOD",
    CANNOT_DECOMPRESS: "CANNOT_DECOMPRESS",
}

_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ERROR_CODE = re.compile(r"Code: (\d+)\.")
_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_TRAILING_FORMAT = re.compile(
    r"\bFORMAT\s+(\w+)\s*(?:SETTINGS\s.*)?;?\s*$", re.IGNORECASE | re.DOTALL
)
# Statements whose result is a table even when it has no rows (clickhouse-connect tells an
# empty result from a DDL acknowledgement by the X-ClickHouse-Format header).
_RESULT_KEYWORDS = ("SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN", "CHECK", "(")


class ProtocolError(Exception):
    """A request this server refuses, with the ClickHouse code and HTTP status to answer."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def body(self) -> str:
        return clickhouse_error_text(self.code, str(self))


@dataclass
class RequestSpec:
    """What one HTTP request asks the engine to do, before its body is read."""

    query: str | None = None
    database: str | None = None
    default_format: str = "TabSeparated"
    query_id: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    compress_response: bool | None = None  # None: the engine's enable_http_compression


def parse_params(items: Iterable[tuple[str, str]]) -> RequestSpec:
    """Split URL (or form) parameters into query, bind values, transport options and settings."""
    spec = RequestSpec()
    for key, value in items:
        if key.startswith("param_"):
            spec.params[key[len("param_") :]] = value
        elif key == "query":
            spec.query = value
        elif key == "database":
            spec.database = value or None
        elif key == "default_format":
            spec.default_format = value or spec.default_format
        elif key == "query_id":
            spec.query_id = value or None
        elif key == "enable_http_compression":
            spec.compress_response = value.strip() in ("1", "true")
        elif key in ("compress", "decompress") and value.strip() not in ("", "0", "false"):
            # ClickHouse's own block compression (CityHash-checksummed frames) is a
            # second wire format; answering it with plain bytes would corrupt results.
            raise ProtocolError(
                NOT_IMPLEMENTED,
                f"{key}=1 (ClickHouse native block compression) is not supported by the "
                "embedded server; use HTTP Content-Encoding instead",
            )
        elif key not in TRANSPORT_PARAMS:
            if not _SETTING_NAME.match(key):
                raise ProtocolError(UNKNOWN_SETTING, f"Invalid setting name {key!r}")
            spec.settings[key] = value
    return spec


def set_statement(settings: Mapping[str, str]) -> str | None:
    """One `SET a = '1', b = 'x'` for the request's settings; quoted values are coerced by
    the engine to the setting's type, exactly as ClickHouse applies URL parameters."""
    if not settings:
        return None
    return "SET " + ", ".join(f"{name} = {quote_string(value)}" for name, value in settings.items())


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def strip_leading_noise(sql: str) -> str:
    """The statement without leading whitespace and comments."""
    return sql[_LEADING_NOISE.match(sql).end() :]  # type: ignore[union-attr]


def split_insert(sql: str) -> tuple[str, str] | None:
    """`INSERT INTO t (a, b) FORMAT Native` -> ("INSERT INTO t (a, b)", "Native"), the shape
    of an insert whose data is the request body; None for any other statement."""
    text = sql.strip().rstrip(";").encode("utf-8")
    found = split_inline_insert(text, at_end=True)
    if not isinstance(found, tuple) or found[2] != len(text):
        return None  # not an insert, or data inline in the query itself
    return found[0], found[1]


MAX_INSERT_HEAD = 256 << 10  # ClickHouse's max_query_size: the statement before the data
NEED_MORE = "need_more"
# Plain searches, no nested quantifiers: these run on request bodies of any size, and a
# backtracking pattern went quadratic on long whitespace runs.
_FORMAT_KEYWORD = re.compile(rb"\sFORMAT\s+(\w+)", re.IGNORECASE)
_NOT_A_DATA_INSERT = re.compile(rb"\b(?:VALUES|SELECT|WITH)\b", re.IGNORECASE)


def split_inline_insert(head: bytes, at_end: bool) -> tuple[str, str, int] | str | None:
    """For a body that starts with `INSERT INTO t (cols) FORMAT X\n<data>` (clickhouse-connect's
    `insert` and uncompressed `raw_insert` send this, with no `query` parameter):
    (statement, format, offset of the data). NEED_MORE when `head` is too short to tell and
    more body follows; None when the body is some other statement. The data starts after
    the format name, blanks and one newline, as in ClickHouse's ParserInsertQuery."""
    start = _skip_leading_noise(head)
    if start is None or len(head) - start < 6:
        return NEED_MORE if not at_end and len(head) < MAX_INSERT_HEAD else None
    if head[start : start + 6].upper() != b"INSERT":
        return None
    match = _FORMAT_KEYWORD.search(head, start)
    if match is None:
        return NEED_MORE if not at_end and len(head) < MAX_INSERT_HEAD else None
    statement = head[start : match.start()]
    if _NOT_A_DATA_INSERT.search(statement):
        return None
    offset = match.end()
    while offset < len(head) and head[offset] in b" \t":
        offset += 1
    offset += head.startswith(b"\r", offset)
    offset += head.startswith(b"\n", offset)
    if offset == len(head) and not at_end:
        return NEED_MORE  # the format name or its newline may continue in the next chunk
    return statement.decode("utf-8").strip(), match.group(1).decode("ascii"), offset


def _skip_leading_noise(head: bytes) -> int | None:
    """Offset of the first statement byte after blanks and comments; None if a comment is
    still open at the end of `head`."""
    pos = 0
    while pos < len(head):
        if head[pos : pos + 1].isspace():
            pos += 1
        elif head.startswith(b"--", pos) or head.startswith(b"#", pos):
            newline = head.find(b"\n", pos)
            if newline < 0:
                return None
            pos = newline + 1
        elif head.startswith(b"/*", pos):
            close = head.find(b"*/", pos + 2)
            if close < 0:
                return None
            pos = close + 2
        else:
            return pos
    return pos


def output_format(sql: str, default_format: str) -> str:
    """The format the engine answers in: a trailing FORMAT clause wins over default_format."""
    match = _TRAILING_FORMAT.search(sql)
    return match.group(1) if match else default_format


def streams_result(sql: str) -> bool:
    """Queries chDB can answer block by block (it refuses streaming for SHOW, DESCRIBE,
    EXISTS, EXPLAIN...; those answers are small)."""
    word = strip_leading_noise(sql)[:6].upper()
    return word.startswith(("SELECT", "WITH", "("))


# Output formats whose blocks concatenate into the whole answer. The others carry a header
# or a document around the rows (JSON's meta, CSVWithNames' names, Values' commas,
# Pretty's frames), which chDB's stream repeats per block: those are answered whole.
_BLOCKWISE_FORMATS = frozenset(
    name.lower()
    for name in (
        "TabSeparated",
        "TSV",
        "TabSeparatedRaw",
        "TSVRaw",
        "CSV",
        "JSONEachRow",
        "JSONLines",
        "NDJSON",
        "JSONCompactEachRow",
        "JSONStringsEachRow",
        "JSONCompactStringsEachRow",
        "RowBinary",
        "Native",
        "LineAsString",
    )
)


def streams_format(fmt: str) -> bool:
    """Whether an answer in `fmt` can be sent block by block."""
    return fmt.lower() in _BLOCKWISE_FORMATS


def produces_result(sql: str) -> bool:
    return strip_leading_noise(sql)[:10].upper().startswith(_RESULT_KEYWORDS)


def content_type(fmt: str) -> str:
    name = fmt.lower()
    if name.startswith("json"):
        streaming = "eachrow" in name or "lines" in name
        return ("application/x-ndjson" if streaming else "application/json") + "; charset=UTF-8"
    if name.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if name.startswith("csv"):
        return "text/csv; charset=UTF-8"
    if name.startswith(("pretty", "vertical", "markdown", "values", "xml", "template")):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


def summary_header(
    read_rows: int = 0,
    read_bytes: int = 0,
    written_rows: int = 0,
    written_bytes: int = 0,
    elapsed_s: float = 0.0,
) -> str:
    """X-ClickHouse-Summary: ClickHouse sends every counter as a JSON string."""
    return json.dumps(
        {
            "read_rows": str(read_rows),
            "read_bytes": str(read_bytes),
            "written_rows": str(written_rows),
            "written_bytes": str(written_bytes),
            "total_rows_to_read": str(read_rows),
            "result_rows": "0",
            "result_bytes": "0",
            "elapsed_ns": str(int(elapsed_s * 1e9)),
        },
        separators=(",", ":"),
    )


def error_code(message: str) -> int:
    """The ClickHouse code in an engine message; 1000 (POCO_EXCEPTION-like) when absent."""
    match = _ERROR_CODE.search(message)
    return int(match.group(1)) if match else 1000


def clean_error(message: str) -> str:
    """The engine message from `Code: ` on: chdb's Python wrappers prefix their own text."""
    start = message.find("Code: ")
    return (message[start:] if start >= 0 else message).strip()


def clickhouse_error_text(code: int, message: str) -> str:
    """The body ClickHouse writes for an exception, so clients parse ours the same way."""
    return f"Code: {code}. DB::Exception: {message}. ({_CODE_NAMES.get(code, 'UNKNOWN_EXCEPTION')})"


# --- multipart form (clickhouse-connect moves large bind values there) -----------------


def parse_form(content_type_header: str, body: bytes) -> list[tuple[str, str]]:
    """The text fields of a multipart/form-data body. File fields are external tables,
    which chdb's query API cannot take, so they are refused."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type_header.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ProtocolError(SYNTAX_ERROR, "Malformed multipart/form-data body")
    fields: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            raise ProtocolError(NOT_IMPLEMENTED, "External data (file fields) is not supported")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.append((name, payload.decode("utf-8")))
    return fields
