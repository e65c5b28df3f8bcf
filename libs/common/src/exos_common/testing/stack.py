"""The whole platform as separate processes, wired exactly as docker-compose and the
Helm chart wire it: ingest, TWO enrich and TWO writer replicas (one consumer group
each), query-api, replay, insights and the gateway in front of the read services.

`env` holds the infrastructure (Kafka bootstrap, ClickHouse URL and database, the LLM
URL); every process gets the same variables plus its own instance id and port.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

from exos_common.testing.processes import ServiceProcess

READ_SERVICES = ("query-api", "replay", "insights")


class Stack:
    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path,
        *,
        api_key: str,
        gateway_token: str,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        run = uuid.uuid4().hex[:8]
        self.api_key = api_key
        self.gateway_token = gateway_token
        self.env = (
            dict(env)
            | {
                "EXOS_INGEST_API_KEYS": api_key,
                # The gateway sends it; query-api, replay and insights require it.
                "EXOS_SERVICE_SECRET": f"service-secret-{run}",
                "EXOS_ENRICH_GROUP": f"enrich-{run}",
                "EXOS_WRITER_GROUP": f"writer-{run}",
            }
            | dict(overrides or {})
        )
        self.ingest = ServiceProcess("ingest", self.env, log_dir)
        self.enrich = [
            ServiceProcess("enrich", self.env | {"EXOS_INSTANCE_ID": f"enrich-{run}-{i}"}, log_dir)
            for i in range(2)
        ]
        self.writers = [
            ServiceProcess("writer", self.env | {"EXOS_INSTANCE_ID": f"writer-{run}-{i}"}, log_dir)
            for i in range(2)
        ]
        self.readers = {name: ServiceProcess(name, self.env, log_dir) for name in READ_SERVICES}
        gateway_env = self.env | {
            "EXOS_GATEWAY_AUTH": "tokens",
            "EXOS_GATEWAY_TOKENS": gateway_token,
            "EXOS_QUERY_API_URL": self.readers["query-api"].url,
            "EXOS_REPLAY_URL": self.readers["replay"].url,
            "EXOS_INSIGHTS_URL": self.readers["insights"].url,
            "EXOS_ENRICH_URL": self.enrich[0].url,
        }
        self.gateway = ServiceProcess("gateway", gateway_env, log_dir)

    @property
    def services(self) -> list[ServiceProcess]:
        return [
            *self.writers,
            *self.enrich,
            self.ingest,
            *self.readers.values(),
            self.gateway,
        ]

    def start(self) -> Stack:
        """Start every process; if one fails to start, stop those already running."""
        try:
            for service in self.services:
                service.launch()
            for service in self.services:
                service.wait_ready(240.0)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
