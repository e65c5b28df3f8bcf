# The two commands of the quick start live here; everything else is a helper for them.
.PHONY: setup setup-up test lint check-format typecheck bench up

setup:
	@bash scripts/setup.sh

# Only what `exos up` needs: no Java, Maven, Chromium, Helm or dev packages.
setup-up:
	@bash scripts/setup.sh up

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

## up: install what the all-in-one needs, then run the whole platform with the demo data
##     (--no-dev: `uv run` would otherwise sync the test tools in first)
up: setup-up
	uv run --locked --no-dev exos up --demo
