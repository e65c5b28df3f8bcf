"""Command groups of the `exos` CLI, one module each."""
