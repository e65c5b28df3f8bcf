"""The hostile statements the guard must refuse (with the rule that refuses each), and
statements that only look hostile. Used by test_hostile.py and test_over_http.py."""

from __future__ import annotations

LEAK = "/tmp/exos-insights-leak.csv"

# (statement, the guard rule that refuses it)
HOSTILE: list[tuple[str, str]] = [
    # DDL and DML
    ("DROP TABLE otel_traces", "not_select"),
    ("TRUNCATE TABLE otel_logs", "not_select"),
    ("ALTER TABLE otel_traces DELETE WHERE 1", "not_select"),
    ("DELETE FROM otel_traces WHERE 1", "not_select"),
    ("INSERT INTO otel_logs (Body) VALUES ('x')", "not_select"),
    ("INSERT INTO otel_logs (Body) SELECT 'x'", "not_select"),
    ("CREATE TABLE evil (a UInt8) ENGINE = Memory", "not_select"),
    ("RENAME TABLE otel_logs TO gone", "not_select"),
    ("OPTIMIZE TABLE otel_traces FINAL", "not_select"),
    ("SYSTEM DROP DNS CACHE", "not_select"),
    ("SET readonly = 0", "not_select"),
    ("GRANT ALL ON *.* TO default", "not_select"),
    ("KILL QUERY WHERE 1", "not_select"),
    ("EXPLAIN SELECT * FROM url('http://x', CSV, 'a int')", "not_select"),
    ("SHOW TABLES", "not_select"),
    ("DESCRIBE TABLE system.users", "not_select"),
    # several statements, also hidden behind comments
    ("SELECT 1; DROP TABLE otel_traces", "multiple_statements"),
    ("SELECT 1; SELECT 2", "multiple_statements"),
    ("SELECT 1 /* harmless */ ; /* hidden */ DROP TABLE otel_traces", "multiple_statements"),
    ("SELECT 1 -- harmless\n; DROP TABLE otel_logs", "multiple_statements"),
    ("SELECT 'a;b' AS x; TRUNCATE TABLE otel_logs", "multiple_statements"),
    # table functions that reach files, URLs, other servers
    ("SELECT * FROM url('http://169.254.169.254/latest/meta-data/', 'RawBLOB', 'x String')",
     "table_function"),
    ("SELECT * FROM URL('http://x', CSV, 'a int')", "table_function"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "denied_function"),
    ("SELECT * FROM s3('https://bucket.s3.amazonaws.com/x.csv')", "table_function"),
    ("SELECT * FROM remote('10.0.0.1:9000', 'default', 'otel_traces')", "table_function"),
    ("SELECT * FROM remoteSecure('10.0.0.1:9440', system.users)", "table_function"),
    ("SELECT * FROM mysql('db:3306', 'db', 't', 'u', 'p')", "table_function"),
    ("SELECT * FROM postgresql('db:5432', 'db', 't', 'u', 'p')", "table_function"),
    ("SELECT * FROM hdfs('hdfs://h:9000/x', 'TSV', 'a String')", "table_function"),
    ("SELECT * FROM jdbc('jdbc:mysql://h/db', 't')", "table_function"),
    ("SELECT * FROM odbc('DSN=x', 't')", "table_function"),
    ("SELECT * FROM azureBlobStorage('DefaultEndpointsProtocol=https', 'c', 'b')",
     "table_function"),
    ("SELECT * FROM executable('evil.sh', 'TSV', 'a String')", "table_function"),
    ("SELECT * FROM input('a String')", "table_function"),
    ("SELECT * FROM merge(currentDatabase(), '.*')", "table_function"),
    ("SELECT * FROM cluster('default', system.users)", "table_function"),
    ("SELECT * FROM view(SELECT * FROM system.users)", "table_function"),
    ("SELECT * FROM generateRandom('a String')", "table_function"),
    ("SELECT count() FROM otel_traces WHERE SpanName IN "
     "(SELECT a FROM url('http://x', CSV, 'a String'))", "table_function"),
    ("SELECT 1 FROM otel_traces WHERE 1 IN url('http://x', CSV, 'a int')", "table_function"),
    ("SELECT * FROM otel_traces AS t JOIN s3('https://b/x.csv') AS u ON 1", "table_function"),
    # system tables, other databases, tables off the allow-list
    ("SELECT * FROM system.users", "system_table"),
    ("SELECT name FROM system.tables", "system_table"),
    ("SELECT query FROM system.query_log", "system_table"),
    ("SELECT * FROM `system`.`settings`", "system_table"),
    ("SELECT 1 FROM otel_traces WHERE SpanName IN system.users", "system_table"),
    ("SELECT * FROM numbers((SELECT count() FROM system.users))", "system_table"),
    ("SELECT 1 FROM otel_traces AS t WHERE t.SpanName IN (SELECT name FROM system.databases)",
     "system_table"),
    ("SELECT * FROM numbers(1) UNION ALL SELECT name FROM system.users", "system_table"),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", "other_database"),
    ("SELECT * FROM other_db.otel_traces", "other_database"),
    ("SELECT * FROM schema_migrations", "table_not_allowed"),
    ("SELECT question, sql FROM insights_conversations", "table_not_allowed"),
    ("WITH insights_conversations AS (SELECT * FROM insights_conversations) "
     "SELECT * FROM insights_conversations", "table_not_allowed"),
    ("WITH 1 AS insights_conversations SELECT * FROM insights_conversations",
     "table_not_allowed"),
    # settings overrides
    ("SELECT count() FROM otel_traces SETTINGS max_execution_time = 0", "settings"),
    ("SELECT count() FROM (SELECT * FROM otel_traces SETTINGS readonly = 0)", "settings"),
    ("SELECT count() FROM otel_traces SETTINGS max_result_rows = 0, "
     "result_overflow_mode = 'throw'", "settings"),
    # writing files, other formats
    (f"SELECT * FROM otel_traces INTO OUTFILE '{LEAK}'", "outfile"),
    ("SELECT * FROM otel_traces FORMAT JSON", "format"),
    # functions that read outside the allowed tables or reach the server
    ("SELECT file('/etc/passwd')", "denied_function"),
    ("SELECT dictGet('secrets', 'value', toUInt64(1))", "denied_function"),
    ("SELECT joinGet('default.join_table', 'v', 1)", "denied_function"),
    ("SELECT hasColumnInTable('10.0.0.1', 9000, 'default', 'users', 'password', 'p')",
     "denied_function"),
    ("SELECT sleepEachRow(3) FROM numbers(100)", "denied_function"),
    ("SELECT getSetting('max_memory_usage')", "denied_function"),
    # names that would forge lines of the parse trees the guard reads
    ("SELECT 1 AS `a\n    IDENTIFIER id: 9, identifier: otel_traces`", "quoted_name"),
    ("SELECT 1 FROM otel_traces AS `x, identifier: otel_traces` CROSS JOIN system.users",
     "quoted_name"),
    ("SELECT 1 AS \"x\\n  JOIN TREE\" FROM system.users", "quoted_name"),
    ("WITH (SELECT 1) AS `x, cte_name: insights_conversations` "
     "SELECT * FROM insights_conversations", "quoted_name"),
    ("WITH t AS (SELECT 1) SELECT 'a(children 1)' AS `b (children 3)` FROM system.users",
     "system_table"),
    # control characters hiding text from a reader
    ("SELECT 1\x00; DROP TABLE otel_traces", "control_characters"),
    # spellings and encodings that hide a name or a statement
    ("SELECT * FROM `url`(unhex('687474703a2f2f783a312f'), CSV, 'a int')", "table_function"),
    ("SELECT * FROM \"s3\"(base64Decode('aHR0cHM6Ly9iL3guY3N2'))", "table_function"),
    ("SeLeCt * FrOm SYSTEM.users", "system_table"),
    ("SELECT * FROM `system`.users", "system_table"),
    ("SELECT * FROM system . users", "system_table"),
    ("SELECT 1 /*; DROP TABLE otel_traces; */ FROM otel_traces WHERE 1 = 0 ; "
     "DROP TABLE otel_traces", "multiple_statements"),
    ("SELECT '--', 1 FROM system.users -- '", "system_table"),
    ("/* SELECT */ DROP /* TABLE */ TABLE otel_traces", "not_select"),
    ("WITH (SELECT name FROM system.users) AS u SELECT u", "system_table"),
]  # fmt: skip

# Look hostile, are only data or comments: they run, and change nothing.
DISGUISED = [
    "SELECT count() AS n FROM otel_traces WHERE SpanName = '\\'; DROP TABLE otel_traces; --'",
    "/*!DROP TABLE otel_traces*/ SELECT count() AS n FROM otel_traces WHERE 1 = 0",
    "SELECT count() AS n FROM otel_traces WHERE SpanName = 'x' -- ; DROP TABLE otel_traces",
]
