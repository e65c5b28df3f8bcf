"""HTTP routes of the enrich service."""
