"""The production-like value sets: Kafka durability, the pinned image, and an ingest that
is keyed, rate-limited and CORS-restricted; and the image digest option."""

from __future__ import annotations

from typing import Any

import pytest

from exos_common.topics import pipeline_topic_specs
from exos_ingest.settings import IngestSettings

from .helm import (
    PRODUCTION,
    by_kind,
    container,
    container_env,
    object_name,
    render,
    template,
    workloads,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4


def _images(docs: list[dict[str, Any]]) -> dict[str, str]:
    owners = {**workloads(docs), **by_kind(docs, "Job")}
    images = {name: container(owner)["image"] for name, owner in owners.items()}
    for name, pod in by_kind(docs, "Pod").items():
        images[name] = pod["spec"]["containers"][0]["image"]
    return images


@pytest.mark.parametrize("value_set", sorted(PRODUCTION))
def test_topics_are_replicated_three_times_with_two_in_sync(value_set: str) -> None:
    docs = render(PRODUCTION[value_set])
    shared = by_kind(docs, "ConfigMap")["exos-config"]["data"]
    replication = int(shared["EXOS_KAFKA_REPLICATION_FACTOR"])
    assert replication == 3
    partitions = int(shared["EXOS_KAFKA_TOPIC_PARTITIONS"])
    specs = pipeline_topic_specs(partitions, replication, 1024 * 1024)
    assert {s.replication_factor for s in specs} == {3}
    assert {s.configs["min.insync.replicas"] for s in specs} == {"2"}


@pytest.mark.parametrize("value_set", sorted(PRODUCTION))
def test_production_ingest_is_keyed_rate_limited_and_cors_restricted(value_set: str) -> None:
    docs = render(PRODUCTION[value_set])
    env = container_env(docs, workloads(docs)[object_name("ingest")])
    assert env["EXOS_INGEST_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "exos-ingest"
    settings = IngestSettings.model_validate(
        {k.removeprefix("EXOS_").lower(): v["value"] for k, v in env.items() if "value" in v}
    )
    assert settings.ingest_allow_anonymous is False
    assert settings.cors_origins(distributed=True) == ["https://app.contoso.com"]
    assert settings.ingest_rate_limit_records_per_s == 2000
    assert settings.rate_limit_burst == 20000


def test_default_image_is_the_tag_of_the_app_version() -> None:
    images = _images(render())
    assert set(images.values()) == {"exos:0.1.0"}


def test_a_digest_pins_every_pod_and_wins_over_the_tag() -> None:
    docs = render(sets=[f"string:image.digest={DIGEST}", "string:image.tag=9.9.9"])
    images = _images(docs)
    # Every service, the migration Job and the helm test pod run the pinned build.
    assert len(images) == 7 + 2
    assert set(images.values()) == {f"exos@{DIGEST}"}


@pytest.mark.parametrize(
    "digest", ["latest", "sha256:abc", "sha256:" + "G" * 64, "sha512:" + "0" * 64, DIGEST + " "]
)
def test_a_digest_that_is_not_sha256_is_refused(digest: str) -> None:
    result = template(sets=[f"string:image.digest={digest}"])
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert "digest" in result.stderr
