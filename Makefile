# The two commands of the quick start live here; everything else is a helper for them.
.PHONY: setup test lint check-format typecheck bench up

setup:
	@bash scripts/setup.sh

## test: install what is needed, then lint, type-check and run every test
##       (real Kafka broker and embedded ClickHouse server included; nothing skipped)
test: setup lint typecheck
	uv run pytest

lint:
	uv run ruff check .
	uv run ruff format --check .

typecheck:
	uv run mypy

bench: setup
	uv run python bench/bench_codec.py

## up: install what is needed, then run the whole platform with the demo data
up: setup
	uv run exos up --demo
