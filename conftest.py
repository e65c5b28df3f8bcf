"""Fixtures shared by every test in the workspace: real local infrastructure."""

pytest_plugins = [
    "exos_common.testing.kafka",
    "exos_common.testing.clickhouse",
    "exos_common.testing.chdb",
    "exos_common.testing.stores",
    "exos_common.testing.browser",
]
