"""Settings of insights (EXOS_* variables): the model Ask AI talks to, and the guard
every statement of Ask AI and the SQL console passes."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from exos_common.schema.access import ReaderSettings
from exos_common.settings import RuntimeSettings, ServiceTrustSettings, StoreSettings, split_list
from exos_insights.guard.engine import Limits
from exos_insights.guard.rules import Policy

# `services/insights/web` of the repository: Chart.js from npm (scripts/setup.sh).
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[2] / "web"
DEFAULT_SYSTEM_TABLES = "one,numbers,numbers_mt,zeros,functions,data_type_families,time_zones"
DEFAULT_TABLE_FUNCTIONS = "numbers,numbers_mt,zeros,generate_series,values"


class InsightsSettings(ReaderSettings, StoreSettings, ServiceTrustSettings, RuntimeSettings):
    openai_base_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible API (e.g. `https://api.openai.com/v1`, "
        "an Azure OpenAI or vLLM/Ollama `/v1` URL). Unset: the `openai` client's default "
        "(api.openai.com) when a key is set.",
    )
    openai_model: str = Field("gpt-4.1", description="Model Ask AI asks (chat completions).")
    openai_api_key: SecretStr | None = Field(
        None,
        description="API key of the model's endpoint. Ask AI is off (503) until a key or "
        "a base URL is set; the SQL console and cookbook work without.",
    )
    openai_timeout_s: float = Field(60.0, gt=0, description="Timeout of one model call.")
    openai_max_retries: int = Field(
        1, ge=0, le=5, description="Retries of a model call on connection errors and 429/5xx."
    )
    insights_max_execution_time_s: int = Field(
        20, ge=1, description="`max_execution_time` of every statement a user or model runs."
    )
    insights_max_result_rows: int = Field(
        1000, ge=1, description="Rows a statement returns at most (the rest is cut, flagged)."
    )
    insights_max_result_bytes: int = Field(
        32 * 1024**2,
        ge=1024**2,
        description="Bytes (uncompressed) a statement returns at most; the rest is cut.",
    )
    insights_max_memory_usage: int = Field(
        2 * 1024**3,
        ge=64 * 1024**2,
        description="`max_memory_usage` in bytes of every statement a user or model runs.",
    )
    insights_max_rows_to_read: int = Field(
        10_000_000_000,
        ge=0,
        description="`max_rows_to_read` of every statement a user or model runs (0: no "
        "limit); over it the statement fails with 422.",
    )
    insights_max_sql_chars: int = Field(
        20_000, ge=100, description="Longest statement accepted (characters)."
    )
    insights_allowed_system_tables: str = Field(
        DEFAULT_SYSTEM_TABLES,
        description="Comma-separated `system.*` tables that may be read (nothing that shows "
        "users, settings, queries, logs or other databases).",
    )
    insights_allowed_table_functions: str = Field(
        DEFAULT_TABLE_FUNCTIONS,
        description="Comma-separated table functions that may be used; every other one "
        "(url, file, s3, remote, mysql, ...) is refused.",
    )
    insights_grounding_ttl_s: float = Field(
        300.0,
        ge=0,
        description="How long the schema, SpanName taxonomy and attribute keys sampled for "
        "the prompt are cached.",
    )
    insights_grounding_sample_rows: int = Field(
        50_000, ge=100, description="Newest spans/logs sampled for the attribute keys."
    )
    insights_history_turns: int = Field(
        6, ge=0, le=50, description="Earlier turns of a conversation sent with a follow-up."
    )
    insights_narrative_rows: int = Field(
        30, ge=1, le=500, description="Result rows the model sees to write its narrative."
    )

    # A factory, so the generated settings table says "(computed)", not this machine's path.
    insights_web_dir: Path = Field(
        default_factory=lambda: DEFAULT_WEB_DIR,
        description="Folder holding the Ask AI page's `node_modules` (Chart.js; npm, pinned), "
        "served under `/ask/assets/vendor/`; default the repository's `services/insights/web`.",
    )

    @property
    def allowed_system_tables(self) -> frozenset[str]:
        return frozenset(split_list(self.insights_allowed_system_tables))

    @property
    def allowed_table_functions(self) -> frozenset[str]:
        return frozenset(split_list(self.insights_allowed_table_functions))

    def guard_policy(self, database: str) -> Policy:
        return Policy(
            database=database,
            tables=self.allowed_tables,
            system_tables=self.allowed_system_tables,
            table_functions=self.allowed_table_functions,
            max_chars=self.insights_max_sql_chars,
        )

    def guard_limits(self) -> Limits:
        return Limits(
            max_execution_time_s=self.insights_max_execution_time_s,
            max_result_rows=self.insights_max_result_rows,
            max_result_bytes=self.insights_max_result_bytes,
            max_memory_usage=self.insights_max_memory_usage,
            max_rows_to_read=self.insights_max_rows_to_read,
        )

    def reader_store_settings(self) -> StoreSettings | None:
        """Where the console's and Ask AI's statements run when they have a user of their
        own (EXOS_INSIGHTS_CLICKHOUSE_USER); None: on the service's store."""
        if not self.insights_clickhouse_user or self.clickhouse_url.startswith("chdb://"):
            return None
        return StoreSettings.model_validate(
            {
                **self.model_dump(include=set(StoreSettings.model_fields)),
                "clickhouse_user": self.insights_clickhouse_user,
                "clickhouse_password": self.insights_clickhouse_password,
            }
        )

    @property
    def model_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None
