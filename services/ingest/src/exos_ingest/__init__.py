"""EXOS ingest: the OTLP/HTTP receiver that puts browser telemetry on Kafka."""
