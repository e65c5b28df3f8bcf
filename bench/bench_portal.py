"""Portal page loads and API latency on the demo data, in Chromium.

Run: `uv run python bench/bench_portal.py [--scale 1.0] [--runs 7] [--api-runs 20]`
(target: pages load under 1 s; API p95 measured). Not part of `make test`.

Starts `exos up --demo` (the default demo at scale 1.0) as a separate process, then for
every page: `--runs` navigations in a fresh browser context each (no cache), measuring
from navigation start (1) to the load event, (2) to the first data rendered (the first
view that asked the API shows its answer) and (3) to all data rendered (every view of
the page left its loading state). The `/api` requests each page
made are then replayed `--api-runs` times each, one at a time, for their p50/p95.
Baselines from the same run: the Docs page (server-rendered, no API call) for page
loads, `/healthz` for API latency.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.gateway.portal_platform import CHROMIUM, CHROMIUM_ARGS, DemoPlatform

PAGES = [
    ("Docs (baseline, no API)", "/guide"),
    ("Home", "/"),
    ("Process Mining: Operator Patterns", "/process-mining"),
    ("Process Mining: Sequences", "/process-mining?view=lifecycle&mode=sequences"),
    ("Process Mining: Bottlenecks", "/process-mining?view=lifecycle&mode=bottlenecks"),
    ("Process Mining: Funnels", "/process-mining?view=lifecycle&mode=funnels"),
    ("Process Mining: Conformance", "/process-mining?view=lifecycle&mode=conformance"),
    ("Process Mining: Rework", "/process-mining?view=lifecycle&mode=rework"),
    ("Process Mining: Anomalies", "/process-mining?view=lifecycle&mode=anomalies"),
    ("Process Mining: Process Map", "/process-mining?view=map"),
    ("Sessions", "/sessions"),
    ("Product Analytics", "/analytics"),
    ("Site Health", "/site-health"),
    ("Ask AI (insights page)", "/ask"),
]
# The first data on screen: the first view that loaded from the API shows it (views
# with no API call, like Home's quick start, are ready from the start and do not count).
FIRST = """() => {
  if (document.readyState !== 'complete') return false;
  const views = [...document.querySelectorAll('[data-view]')];
  if (views.length === 0) return performance.now();
  return views.some((v) => v.dataset.state !== 'loading' && v.dataset.renderMs !== undefined)
    || views.every((v) => v.dataset.state !== 'loading') ? performance.now() : false;
}"""
# All the data: no view is loading any more (Docs has none: its load).
RENDERED = """() => {
  const views = document.querySelectorAll('[data-view]');
  const loading = document.querySelectorAll('[data-state=loading]');
  if (document.readyState !== 'complete') return false;
  if (views.length > 0 && loading.length > 0) return false;
  return performance.now();
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure_page(
    browser: Browser, url: str, runs: int
) -> tuple[list[float], list[float], list[float], set[str]]:
    loads, first, rendered, calls = [], [], [], set()
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on(
            "request",
            lambda r: calls.add(r.url) if urlsplit(r.url).path.startswith("/api/") else None,
        )
        page.goto(url, wait_until="commit")
        shown = page.wait_for_function(FIRST, polling="raf", timeout=120_000).json_value()
        done = page.wait_for_function(RENDERED, polling="raf", timeout=120_000).json_value()
        load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        loads.append(float(load))
        first.append(float(shown))
        rendered.append(float(done))
        context.close()
    return loads, first, rendered, calls


def row(name: str, took: list[float]) -> str:
    return f"| {name} | {percentile(took, 0.5):.1f} | {percentile(took, 0.95):.1f} |"


def api_latency(url: str, runs: int) -> list[float]:
    took = []
    with httpx.Client(timeout=120) as client:
        client.get(url)  # warm
        for _ in range(runs):
            began = time.perf_counter()
            answer = client.get(url)
            took.append((time.perf_counter() - began) * 1000)
            answer.raise_for_status()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--api-runs", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        platform = DemoPlatform(Path(folder) / "data", scale=args.scale)
        began = time.monotonic()
        platform.start(timeout_s=900)
        print(
            f"demo (scale {args.scale}) loaded in {time.monotonic() - began:.0f} s: "
            f"{platform.count('SELECT count() FROM otel_traces'):,} spans, "
            f"{platform.count('SELECT uniqExact(SessionId) FROM session_summary'):,} sessions"
        )
        print(f"load average before the pages: {os.getloadavg()[0]:.1f}")
        try:
            all_calls: dict[str, set[str]] = {}
            print(
                "\n| page | load event p50 / max (ms) | first data p50 / max (ms) "
                "| all data p50 / max (ms) |"
            )
            print("|---|---:|---:|---:|")

            def cell(values: list[float]) -> str:
                return f"{statistics.median(values):.0f} / {max(values):.0f}"

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                measure_page(browser, platform.portal + "/", 1)  # warm the server
                for name, path in PAGES:
                    loads, first, rendered, calls = measure_page(
                        browser, platform.portal + path, args.runs
                    )
                    all_calls[name] = calls
                    print(f"| {name} | {cell(loads)} | {cell(first)} | {cell(rendered)} |")
                browser.close()

            print(f"\n| API call ({args.api_runs} sequential runs) | p50 (ms) | p95 (ms) |")
            print("|---|---:|---:|")
            base = api_latency(platform.portal + "/healthz", args.api_runs)
            print(row("`/healthz` (baseline)", base))
            seen: set[str] = set()
            for calls in all_calls.values():
                for url in sorted(calls):
                    if url in seen:
                        continue
                    seen.add(url)
                    took = api_latency(url, args.api_runs)
                    shown = urlsplit(url).path + (
                        "?" + urlsplit(url).query if urlsplit(url).query else ""
                    )
                    print(row(f"`{shown}`", took))
            print(f"\nload average after: {os.getloadavg()[0]:.1f}")
        finally:
            platform.stop()


if __name__ == "__main__":
    main()
