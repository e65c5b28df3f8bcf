"""pytest fixtures that start real local infrastructure (Kafka broker, embedded ClickHouse)."""
