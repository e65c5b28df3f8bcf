"""The consumer side of the pipeline, shared by enrich and the writer: a fetch loop with
decode -> dead-letter -> handler steps, batch bounds, retry with backoff, and metrics.
Commits belong to the handlers (the last step of each chain), never to the loop."""
