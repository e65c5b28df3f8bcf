"""Process mining over the event log of orders (domain events) or of sessions (pages)."""
