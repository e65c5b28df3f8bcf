"""What a statement sent over HTTP may do: read and write the database, nothing outside it.

chDB runs as clickhouse-local, which lets `file()` read any path (its user_files_path is
not enforced), `url()`/`s3()`/`remote()` reach any host, `INTO OUTFILE` write anywhere and
`SYSTEM` act on the process; it also runs every statement of a `;`-separated text. None of
that may be reached through the HTTP port. The engine's own parser decides, so comments,
case or quoting cannot hide a call:

- `formatQuerySingleLine` parses the text as exactly one statement (several are refused,
  as ClickHouse's HTTP interface does) and gives its normalised text;
- `EXPLAIN AST` lists every function, table function, table engine and dictionary source
  the statement names.

Refused: table functions and table engines that reach files, other hosts or programs
(everything but a known-local list, so new ones are refused until reviewed), dictionary
sources, INTO OUTFILE / FROM INFILE, SYSTEM / BACKUP / RESTORE / ATTACH, and settings that
would turn expressions inside INSERT data back on (the connection pins them off, because
a VALUES row is evaluated by the data parser, which no statement check sees).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

ACCESS_DENIED = 497

# Table functions and table engines that only read or write this database or generate data.
LOCAL_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generaterandom",
        "generateseries",
        "generate_series",
        "primes",
        "values",
        "sqlstandardvalues",
        "null",
        "view",
        "viewifpermitted",
        "viewexplain",
        "merge",
        "mergetreeindex",
        "mergetreeprojection",
        "mergetreeanalyzeindexes",
        "dictionary",
        "input",
        "format",
        "loop",
    }
)
LOCAL_TABLE_ENGINES = frozenset(
    {
        "memory",
        "log",
        "tinylog",
        "stripelog",
        "null",
        "set",
        "join",
        "view",
        "materializedview",
        "buffer",
        "dictionary",
        "merge",
        "generaterandom",
    }
)
# Pinned off on every HTTP connection: with them on, `INSERT ... VALUES (file('/etc/x'))`
# evaluates the call inside the data, where no statement check looks.
PINNED_SETTINGS = {
    "input_format_values_interpret_expressions": "0",
    "input_format_values_deduce_templates_of_expressions": "0",
}
# Settings a request may not set (URL parameter or SETTINGS clause): the pinned ones, the
# paths of schema/template files a format would read.
_FORBIDDEN_SETTING = re.compile(
    r"\b(input_format_values_interpret_expressions|"
    r"input_format_values_deduce_templates_of_expressions|format_schema\w*|"
    r"format_template_\w+|format_avro_schema_registry_url|schema_inference_\w*file\w*)\b",
    re.IGNORECASE,
)
_FORBIDDEN_STATEMENTS = ("SYSTEM", "BACKUP", "RESTORE", "ATTACH")
_FILE_CLAUSES = re.compile(r"\b(INTO\s+OUTFILE|FROM\s+INFILE)\b", re.IGNORECASE)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_AST_CALL = re.compile(r"^\s*(Function|FunctionWithKeyValueArguments)\s+(\S+)")


class StatementRefused(Exception):
    """A statement the server will not run, with ClickHouse's ACCESS_DENIED code."""

    code = ACCESS_DENIED


def denied_names(table_functions: Iterable[str], table_engines: Iterable[str]) -> frozenset[str]:
    """Lowercase names of the engine's table functions and engines that are not local.
    Computed from the engine itself, so one added by a chDB upgrade is refused."""
    functions = {name.lower() for name in table_functions} - LOCAL_TABLE_FUNCTIONS
    engines = {
        name.lower()
        for name in table_engines
        if not name.lower().endswith("mergetree") and name.lower() not in LOCAL_TABLE_ENGINES
    }
    return frozenset(functions | engines)


def forbidden_setting(names: Iterable[str]) -> str | None:
    for name in names:
        if _FORBIDDEN_SETTING.fullmatch(name.strip()):
            return name
    return None


def check_normalized(statement: str) -> None:
    """Rules on the engine's normalised single-line text of the statement."""
    head = statement.lstrip().split(" ", 1)[0].upper()
    if head in _FORBIDDEN_STATEMENTS:
        raise StatementRefused(f"{head} statements are not allowed over HTTP")
    code = _STRING_LITERAL.sub("''", statement)  # a literal may mention anything
    clause = _FILE_CLAUSES.search(code)
    if clause:
        raise StatementRefused(f"{' '.join(clause.group(1).upper().split())} is not allowed")
    setting = _FORBIDDEN_SETTING.search(code)
    if setting:
        raise StatementRefused(f"Setting {setting.group(1)} cannot be changed over HTTP")


def check_ast(ast: str, denied: frozenset[str]) -> None:
    """Rules on `EXPLAIN AST` output: every call the statement makes, wherever it sits."""
    for line in ast.splitlines():
        match = _AST_CALL.match(line)
        if match is None:
            continue
        kind, name = match.groups()
        if kind == "FunctionWithKeyValueArguments":
            raise StatementRefused(f"Dictionary source {name} is not allowed over HTTP")
        if name.lower() in denied:
            raise StatementRefused(
                f"{name} reaches files, other hosts or programs and is not allowed over HTTP"
            )


def pinned_settings(request_settings: Mapping[str, str]) -> dict[str, str]:
    """The request's settings, then the pinned ones (which win)."""
    return {**request_settings, **PINNED_SETTINGS}
