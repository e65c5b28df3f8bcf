"""Frustration signals detected server-side, one module per rule (seed "Frustration
Signal Detection"): rage_click, dead_click, excessive_scroll, quick_back."""
