"""Settings: EXOS_* variables, validation, and the table of docs/configuration.md generated
from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from exos.settings_doc import BEGIN, END, render_table
from exos_common.settings import KafkaSettings, StoreSettings
from exos_common.store import Target

CONFIGURATION_DOC = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_variables_are_read_with_the_exos_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_KAFKA_BOOTSTRAP", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("EXOS_RETENTION_LOGS_DAYS", "7")
    monkeypatch.setenv("EXOS_CLICKHOUSE_URL", "https://ch.example.test:8443")
    assert KafkaSettings().kafka_bootstrap == "kafka-0:9092,kafka-1:9092"
    store = StoreSettings()
    assert store.retention_logs_days == 7
    assert store.clickhouse_url == "https://ch.example.test:8443"


def test_bad_values_are_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_CLICKHOUSE_URL", "mysql://db")
    with pytest.raises(ValidationError, match="must start with chdb://, http:// or https://"):
        StoreSettings()
    monkeypatch.setenv("EXOS_CLICKHOUSE_URL", "chdb:///tmp/x")
    monkeypatch.setenv("EXOS_RETENTION_TRACES_DAYS", "0")
    with pytest.raises(ValidationError, match="retention_traces_days"):
        StoreSettings()


def test_clickhouse_url_names_an_embedded_folder_or_a_server(tmp_path: Path) -> None:
    assert Target.parse(f"chdb://{tmp_path}/db").chdb_path == tmp_path / "db"
    assert Target.parse("chdb://.exos/ch").chdb_path == Path.cwd() / ".exos" / "ch"
    assert Target.parse("http://127.0.0.1:8123").http_url == "http://127.0.0.1:8123"


def test_every_variable_is_in_the_table_once() -> None:
    table = render_table()
    for name in ("EXOS_KAFKA_BOOTSTRAP", "EXOS_CLICKHOUSE_URL", "EXOS_RETENTION_LOGS_DAYS"):
        assert table.count(f"| `{name}` |") == 1
    assert "| `EXOS_CLICKHOUSE_PASSWORD` | (unset) |" in table


def test_configuration_table_is_current() -> None:
    page = CONFIGURATION_DOC.read_text()
    current = page[page.index(BEGIN) + len(BEGIN) : page.index(END)].strip()
    assert current == render_table(), (
        "docs/configuration.md settings table is stale: "
        "run `uv run python -m exos.settings_doc --write`"
    )
