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
# Pinned off unless the text is an INSERT that calls nothing: with them on,
# `INSERT ... VALUES (file('/etc/x'))` evaluates the call inside the data, where no
# statement check looks. An INSERT of literals keeps them on, so a bad literal still gets
# its CANNOT_PARSE_* error (with them off, any bad literal is SUPPORT_IS_DISABLED).
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
_EXPLAIN_AST = re.compile(r"EXPLAIN\s+AST\b", re.IGNORECASE)
# EXPLAIN forms that only parse (the SQL console's guard sends them to inspect a
# statement): the calls they print are not made.
_PARSE_ONLY_EXPLAIN = re.compile(
    r"^EXPLAIN\s+(AST\b|QUERY\s+TREE\s+run_passes\s*=\s*0\b)", re.IGNORECASE
)
# Tokens of an INSERT's text: string literals (skipped: they call nothing) and names (bare,
# `quoted` or "quoted"), each with whether blanks or comments and "(" follow (a call).
_TEXT_TOKENS = re.compile(
    rb"'(?:[^'\\]|\\.)*'|(?P<name>[A-Za-z_][A-Za-z0-9_]*|`(?:[^`\\]|\\.)*`|\"(?:[^\"\\]|\\.)*\")"
    rb"(?P<call>(?:\s|--[^\n]*\n|/\*.*?\*/)*\()?",
    re.DOTALL,
)


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
    # EXPLAIN AST prints the statement's tree and writes nothing, even when the statement
    # has INTO OUTFILE (checked; EXPLAIN QUERY TREE does write it).
    if clause and not _EXPLAIN_AST.match(statement.lstrip()):
        raise StatementRefused(f"{' '.join(clause.group(1).upper().split())} is not allowed")
    setting = _FORBIDDEN_SETTING.search(code)
    if setting:
        raise StatementRefused(f"Setting {setting.group(1)} cannot be changed over HTTP")


def parse_only(normalized: str) -> bool:
    return _PARSE_ONLY_EXPLAIN.match(normalized.lstrip()) is not None


SCAN_VALUES_BYTES = 1 << 20  # larger inline VALUES texts are not scanned: pinned instead


def literal_values_insert(text: bytes) -> bool:
    """`INSERT INTO t [(cols)] [SETTINGS ...] VALUES <data>` whose data calls nothing
    (string literals skipped): the one text that may keep expression evaluation on."""
    if len(text) > SCAN_VALUES_BYTES:
        return False
    in_data = False
    for token in _TEXT_TOKENS.finditer(text):
        name = token.group("name")
        if name is None:
            continue  # a string literal
        if in_data:
            if token.group("call") or name.upper() in (b"SELECT", b"WITH"):
                return False  # a call, or a subquery that may hold one
        elif name.upper() in (b"SELECT", b"WITH", b"FORMAT", b"FUNCTION"):
            return False
        elif name.upper() == b"VALUES":
            in_data = True
    return in_data


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


def pinned_settings(request_settings: Mapping[str, str], pin: bool = True) -> dict[str, str]:
    """The request's settings, then the pinned ones (which win) when `pin`."""
    return {**request_settings, **PINNED_SETTINGS} if pin else dict(request_settings)
