"""What the guard costs: for each cookbook recipe on the demo data, the statement run
directly (baseline) beside the same statement through the guard (formatQuery, EXPLAIN
AST, EXPLAIN QUERY TREE, EXPLAIN PLAN, then the run under the limits). Median of N runs
each, same process, same data.

Run: `uv run python bench/askai/bench_guard.py [--data .exos/askai-demo] [--runs 7]`
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_db import open_demo

from exos_insights.cookbook import COOKBOOK
from exos_insights.guard import SqlGuard
from exos_insights.settings import InsightsSettings


def median_ms(call: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=".exos/askai-demo")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    store = open_demo(Path(args.data))
    settings = InsightsSettings()
    guard = SqlGuard(store, settings.guard_policy(store.database), settings.guard_limits())
    print(f"{'recipe':<28} {'direct ms':>10} {'guarded ms':>11} {'guard only ms':>14}")
    overheads = []
    for recipe in COOKBOOK:
        direct = median_ms(lambda r=recipe: store.query(r.sql), args.runs)

        def guarded(r: object = recipe) -> None:
            checked = guard.check(r.sql)  # type: ignore[attr-defined]
            guard.resolve(checked)
            guard.run(checked)

        def checks_only(r: object = recipe) -> None:
            guard.resolve(guard.check(r.sql))  # type: ignore[attr-defined]

        total = median_ms(guarded, args.runs)
        overhead = median_ms(checks_only, args.runs)
        overheads.append(overhead)
        print(f"{recipe.name:<28} {direct:>10.1f} {total:>11.1f} {overhead:>14.1f}")
    print(f"median guard overhead: {statistics.median(overheads):.1f} ms per statement")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
