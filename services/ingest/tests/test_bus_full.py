"""A full in-process bus (the pipeline is behind) turns requests away with 503 and
Retry-After, stores nothing of them, and accepts again once the consumers committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ingest_samples as sample
from google.rpc import status_pb2
from ingest_testkit import API_KEY, decoded, drain
from prometheus_client.parser import text_string_to_metric_families

from exos_common.bus import TopicPartition
from exos_common.bus.memory import InProcessBus
from exos_common.topics import Topic, pipeline_topic_specs

JSON = {"content-type": "application/json", "authorization": API_KEY}
PROTOBUF = {"content-type": "application/x-protobuf", "authorization": API_KEY}


def errors(text: str, reason: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample_ in family.samples:
            if sample_.name == "exos_ingest_errors_total" and sample_.labels["reason"] == reason:
                return float(sample_.value)
    return 0.0


async def test_full_bus_is_503_with_retry_after_until_the_pipeline_commits(
    make_client: Any, tmp_path: Path
) -> None:
    # One byte of room: the first request fits an empty bus, nothing fits after it.
    bus = InProcessBus(directory=tmp_path / "bus", max_pending_bytes=1)
    await bus.start()
    await bus.ensure_topics(pipeline_topic_specs(1, 1, 8 * 1024 * 1024))
    pipeline = await bus.consumer([Topic.SPANS_RAW, Topic.LOGS_RAW], "pipeline")
    client = await make_client(bus=bus, ingest_retry_after_s=9)
    body = sample.json_bytes(sample.hyperdx_traces())

    assert (await client.post("/v1/traces", content=body, headers=JSON)).status_code == 200
    refused = await client.post("/v1/traces", content=body, headers=JSON)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "9"
    assert "full" in refused.json()["message"]
    protobuf = sample.protobuf_traces(sample.hyperdx_traces()).SerializeToString()
    refused = await client.post("/v1/traces", content=protobuf, headers=PROTOBUF)
    assert refused.status_code == 503
    assert status_pb2.Status.FromString(refused.content).code == 14  # UNAVAILABLE
    assert errors((await client.get("/metrics")).text, "bus_full") == 2

    fetched = await pipeline.fetch(100, 0.1)
    # One request of one session: its three spans in one message, its two console
    # logs in another.
    assert sorted((r.topic, r.offset) for r in fetched) == [
        ("otlp.logs.raw", 0),
        ("otlp.spans.raw", 0),
    ]
    assert [len(decoded([r])) for r in sorted(fetched, key=lambda r: r.topic)] == [2, 3]
    await pipeline.commit({r.topic_partition: r.next_offset for r in fetched})
    assert bus.pending_bytes == 0
    assert (await client.post("/v1/traces", content=body, headers=JSON)).status_code == 200

    # Nothing of the refused requests was stored: offsets stay contiguous.
    await pipeline.close()
    spans = await drain(bus, Topic.SPANS_RAW)
    assert [r.offset for r in spans] == [1]
    assert [s.name for s in decoded(spans)] == ["click", "webvitals", "console.error"]  # type: ignore[union-attr]
    assert await pipeline.committed(TopicPartition(Topic.SPANS_RAW, 0)) == 1
    await bus.stop()
