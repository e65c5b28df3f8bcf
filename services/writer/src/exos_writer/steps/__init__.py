"""The writer's steps after decode, each given only the callables it needs:
accumulate -> announce intent -> insert (retry, timeout, classify, bisect,
quarantine) -> commit."""
