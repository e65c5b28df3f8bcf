"""The model behind Ask AI, through the `openai` client: any OpenAI-compatible chat
completions endpoint. Answers are structured output (a JSON schema in
`response_format`), validated here; never prose picked apart with patterns. The model
gets the question, the schema and earlier turns, never a credential."""

from __future__ import annotations

from typing import Any

import openai
import orjson
from pydantic import BaseModel, ValidationError

from exos_insights.metrics import InsightsMetrics
from exos_insights.prompt import CHART_KINDS, NARRATIVE_SCHEMA, SQL_ANSWER_SCHEMA
from exos_insights.settings import InsightsSettings

NOT_CONFIGURED = (
    "Ask AI has no model configured. Set EXOS_OPENAI_API_KEY (and EXOS_OPENAI_MODEL, "
    "default gpt-4.1) for OpenAI, or EXOS_OPENAI_BASE_URL for any OpenAI-compatible "
    "server (Azure OpenAI, vLLM, Ollama, ...), then restart insights. The SQL console "
    "(POST /api/insights/sql) and the cookbook (GET /api/insights/cookbook) work without one."
)


class ModelError(RuntimeError):
    """The model could not be reached or did not answer in the schema."""


class ChartSuggestion(BaseModel):
    kind: str = "table"
    x: str = ""
    y: list[str] = []


class SqlAnswer(BaseModel):
    sql: str
    explanation: str
    title: str = ""
    chart: ChartSuggestion = ChartSuggestion()

    def normalised_chart(self) -> ChartSuggestion:
        kind = self.chart.kind if self.chart.kind in CHART_KINDS else "table"
        return ChartSuggestion(kind=kind, x=self.chart.x, y=self.chart.y)


class Narrative(BaseModel):
    narrative: str


class Model:
    def __init__(self, settings: InsightsSettings, metrics: InsightsMetrics) -> None:
        self.metrics = metrics
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self.name = settings.openai_model
        self._client = openai.AsyncOpenAI(
            # A keyless local server still needs a placeholder: the client insists on one.
            api_key=key or "no-key",
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
        )

    async def sql_answer(self, messages: list[dict[str, str]]) -> SqlAnswer:
        data = await self._complete(messages, "sql_answer", SQL_ANSWER_SCHEMA)
        try:
            return SqlAnswer.model_validate(data)
        except ValidationError as exc:
            raise ModelError(f"the model's answer does not fit the schema: {exc}") from exc

    async def narrative(self, messages: list[dict[str, str]]) -> str:
        data = await self._complete(messages, "narrative", NARRATIVE_SCHEMA)
        try:
            return Narrative.model_validate(data).narrative
        except ValidationError as exc:
            raise ModelError(f"the model's answer does not fit the schema: {exc}") from exc

    async def _complete(
        self, messages: list[dict[str, str]], name: str, schema: dict[str, Any]
    ) -> dict[str, Any]:
        # The SDK types these as TypedDicts; plain dicts are what it sends.
        response_format: Any = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
        chat: Any = messages
        try:
            with self.metrics.model_seconds.labels(name).time():
                completion = await self._client.chat.completions.create(
                    model=self.name, messages=chat, temperature=0, response_format=response_format
                )
        except openai.OpenAIError as exc:
            raise ModelError(f"the model endpoint failed: {exc}") from exc
        if not completion.choices or completion.choices[0].message.content is None:
            raise ModelError("the model returned no answer")
        content = completion.choices[0].message.content
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise ModelError(f"the model did not answer in JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ModelError("the model's answer is not a JSON object")
        return parsed

    async def close(self) -> None:
        await self._client.close()
