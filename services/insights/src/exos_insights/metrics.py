"""Prometheus metrics of insights (on the service's own registry, `/metrics`)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True, slots=True)
class InsightsMetrics:
    statements: Counter
    refusals: Counter
    asks: Counter
    model_seconds: Histogram

    @classmethod
    def on(cls, registry: CollectorRegistry) -> InsightsMetrics:
        return cls(
            statements=Counter(
                "exos_insights_statements_total",
                "Statements judged by the guard, by where they came from and how they ended",
                ["source", "outcome"],
                registry=registry,
            ),
            refusals=Counter(
                "exos_insights_refusals_total",
                "Statements the guard refused, by rule",
                ["rule"],
                registry=registry,
            ),
            asks=Counter(
                "exos_insights_asks_total",
                "Ask AI questions by how they ended",
                ["status"],
                registry=registry,
            ),
            model_seconds=Histogram(
                "exos_insights_model_seconds",
                "Duration of model calls",
                ["call"],
                buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
                registry=registry,
            ),
        )

    def statement(self, source: str, outcome: str, rule: str = "") -> None:
        self.statements.labels(source, outcome).inc()
        if outcome == "refused":
            self.refusals.labels(rule).inc()
