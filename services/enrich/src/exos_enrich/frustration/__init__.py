"""Frustration signals detected server-side, one module per rule (docs/pipeline.md,
"Enrich"): rage_click, dead_click, excessive_scroll, quick_back."""
