"""The `exos` command line: all-in-one platform, single services, local infrastructure."""
