"""Which insert failures a retry can fix (transient) and which only the data can (data).

A transient failure keeps the batch and retries it with backoff; a data failure makes
the writer bisect the batch down to the records ClickHouse refuses and quarantine them.
"""

from __future__ import annotations

import re
import struct
from enum import StrEnum

from exos_common.bus import BusError
from exos_common.store import StoreDataError, StoreError, StoreUnavailable


class ErrorClass(StrEnum):
    TRANSIENT = "transient"
    DATA = "data"
    UNKNOWN = "unknown"


# ClickHouse codes for a server that is busy, overloaded, restarting, unreachable or not
# yet migrated: the same rows go in once it recovers (or an operator fixes the schema).
TRANSIENT_CODES = frozenset(
    {
        16,  # NO_SUCH_COLUMN_IN_TABLE: schema not migrated yet
        47,  # UNKNOWN_IDENTIFIER
        60,  # UNKNOWN_TABLE
        81,  # UNKNOWN_DATABASE
        159,  # TIMEOUT_EXCEEDED
        160,  # TOO_SLOW
        164,  # READONLY
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        439,  # CANNOT_SCHEDULE_TASK
        473,  # DEADLOCK_AVOIDED
        497,  # ACCESS_DENIED: an operator's grant fixes it, not the data
        516,  # AUTHENTICATION_FAILED
        999,  # KEEPER_EXCEPTION
    }
)
# Codes for rows ClickHouse cannot take as they are: a retry gets the same answer.
DATA_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        33,  # CANNOT_READ_ALL_DATA
        36,  # BAD_ARGUMENTS
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        43,  # ILLEGAL_TYPE_OF_ARGUMENT
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        128,  # TOO_LARGE_ARRAY_SIZE
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        407,  # DECIMAL_OVERFLOW
        469,  # VIOLATED_CONSTRAINT
    }
)
_HTTP_5XX = re.compile(r"\b(?:response code|status(?: code)?)\W*5\d\d\b", re.IGNORECASE)


def classify(exc: BaseException) -> ErrorClass:
    """The class of one failed insert attempt."""
    if isinstance(exc, StoreDataError):
        return ErrorClass.DATA
    if isinstance(exc, StoreUnavailable):
        return ErrorClass.TRANSIENT
    if isinstance(exc, StoreError):
        return _classify_clickhouse(exc)
    if isinstance(exc, TimeoutError | ConnectionError | OSError | BusError):
        return ErrorClass.TRANSIENT
    # Raised while building or encoding a row: the values themselves do not fit.
    if isinstance(exc, struct.error | OverflowError | ValueError | TypeError):
        return ErrorClass.DATA
    return ErrorClass.UNKNOWN


def _classify_clickhouse(exc: StoreError) -> ErrorClass:
    if exc.code in DATA_CODES or exc.name.startswith("CANNOT_PARSE"):
        return ErrorClass.DATA
    if exc.code in TRANSIENT_CODES:
        return ErrorClass.TRANSIENT
    if exc.code == 0 and _HTTP_5XX.search(exc.message):
        return ErrorClass.TRANSIENT  # a 5xx that names no ClickHouse code: a proxy, a restart
    return ErrorClass.UNKNOWN


def error_name(exc: BaseException) -> str:
    """A short label for metrics and the quarantine table: ClickHouse's error name when
    there is one, else the exception's type."""
    if isinstance(exc, StoreDataError):
        return "CANNOT_ENCODE"
    if isinstance(exc, StoreError) and exc.name:
        return exc.name
    if isinstance(exc, StoreError) and exc.code:
        return f"CODE_{exc.code}"
    return type(exc).__name__


def error_code(exc: BaseException) -> int:
    return exc.code if isinstance(exc, StoreError) else 0
