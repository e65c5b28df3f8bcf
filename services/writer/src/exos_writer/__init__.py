"""EXOS writer: the enriched topics into ClickHouse, in batches, exactly once."""
