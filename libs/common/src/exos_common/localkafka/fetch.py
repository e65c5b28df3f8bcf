"""Fetch a pinned Apache Kafka (its runtime jars) from Maven Central into the cache.

Layout: `<cache_dir>/kafka/<version>/{pom.xml, libs/*.jar, READY}`. The folder is built
under a temporary name and renamed into place, so a crash or a concurrent fetch never
leaves a half-filled folder that a later start would trust. Once `READY` exists a start
needs neither the network nor Maven.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Pinned so a cache folder always holds the same jars. Kafka 4.x already ships
# log4j-api/core as runtime deps but no SLF4J binding; without one the broker's SLF4J
# logging falls silent, so the pom adds log4j's SLF4J 1.x binding (Kafka uses SLF4J 1.7).
LOG4J_VERSION = "2.24.3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
READY_MARKER = "READY"


class KafkaFetchError(RuntimeError):
    """Maven could not fetch the Kafka jars."""


@dataclass(frozen=True)
class KafkaDist:
    """A Kafka version whose jars are on disk."""

    version: str
    home: Path
    cached: bool  # True when this call reused the cache without running Maven

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        # A JVM wildcard entry: java expands it to every jar in the folder.
        return str(self.libs / "*")


def render_pom(kafka_version: str, log4j_version: str = LOG4J_VERSION) -> str:
    """A throwaway pom whose only job is to resolve Kafka's runtime jars into `libs/`."""
    deps = [("org.apache.kafka", "kafka_2.13", kafka_version)] + [
        ("org.apache.logging.log4j", artifact, log4j_version)
        for artifact in ("log4j-api", "log4j-core", "log4j-slf4j-impl")
    ]
    dep_xml = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>exos.local</groupId>
  <artifactId>kafka-{kafka_version}-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dep_xml}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{DEPENDENCY_PLUGIN_VERSION}</version>
        <configuration>
          <outputDirectory>${{project.basedir}}/libs</outputDirectory>
          <includeScope>runtime</includeScope>
        </configuration>
      </plugin>
    </plugins>
  </build>
</project>
"""


def kafka_home(cache_dir: Path, version: str) -> Path:
    return cache_dir / "kafka" / version


def cached_kafka(cache_dir: Path, version: str) -> KafkaDist | None:
    """The cached distribution, or None when it was never completely fetched."""
    home = kafka_home(cache_dir, version)
    if (home / READY_MARKER).is_file():
        return KafkaDist(version=version, home=home, cached=True)
    return None


def fetch_kafka(version: str, cache_dir: Path, *, timeout_s: float = 900.0) -> KafkaDist:
    """Return the jars of Kafka `version`, running Maven only when the cache lacks them."""
    found = cached_kafka(cache_dir, version)
    if found is not None:
        return found
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaFetchError(f"Kafka {version} is not in {cache_dir} and `mvn` is not on PATH")
    home = kafka_home(cache_dir, version)
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".fetch-{version}-", dir=home.parent))
    try:
        (staging / "pom.xml").write_text(render_pom(version))
        _run_maven(mvn, staging, timeout_s)
        if not any((staging / "libs").glob(f"kafka_2.13-{version}.jar")):
            raise KafkaFetchError(f"Maven finished but kafka_2.13-{version}.jar is missing")
        (staging / READY_MARKER).write_text(version + "\n")
        try:
            staging.rename(home)
        except OSError:
            # Another process won the race (or a stale incomplete folder is in the way).
            if cached_kafka(cache_dir, version) is None:
                shutil.rmtree(home)
                staging.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return KafkaDist(version=version, home=home, cached=False)


def _run_maven(mvn: str, project: Path, timeout_s: float) -> None:
    cmd = [mvn, "-q", "-B", "-f", str(project / "pom.xml"), "dependency:copy-dependencies"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise KafkaFetchError(f"Maven did not finish within {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise KafkaFetchError(f"Maven failed with exit code {done.returncode}:\n{tail}")
