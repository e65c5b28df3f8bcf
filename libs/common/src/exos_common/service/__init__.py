"""What every EXOS HTTP service shares: the uvicorn runner with graceful shutdown,
health/readiness/metrics endpoints, and the error envelope."""
