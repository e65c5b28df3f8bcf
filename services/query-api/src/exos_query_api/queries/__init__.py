"""The SQL of product analytics, site health and stats, next to the pure functions that
run it and shape the rows into response models (routers in `api/` stay thin)."""
