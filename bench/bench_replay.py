"""Opening a 30-minute session replay: first events, full load, bytes on the wire.

Run: `uv run python bench/bench_replay.py [--sessions 12] [--runs 30] [--browser-runs 5]`

A fresh embedded database (chDB) holds `--sessions` recordings of 30 minutes each,
spread over a day, shaped like what the rrweb recorder of the HyperDX SDK sends for an
active user (a ~300 KB full snapshot per page load, a new page load every 5 minutes,
mouse-move batches every 500 ms while active, clicks each followed by a DOM mutation,
scrolls, inputs; idle stretches), one rrweb event per row, snapshots chunked at
950 KiB as the recorder does. The replay service runs under uvicorn on localhost and
is asked over real HTTP with `accept-encoding: gzip`:

- first events: `GET /api/sessions/{id}/events` (the first page: Meta + full snapshot
  and what follows up to `EXOS_REPLAY_FIRST_PAGE_BYTES`), until the body is read and
  parsed: what the player waits for before it shows the page;
- full load: every page until `next` is null;
- bytes on the wire per session minute (gzip), and raw JSON per minute;
- baseline, same run: the bare SQL reading the same rows through the same store
  (the first page's rows; all rows of the session), without HTTP, reassembly or gzip;
- the page opening in headless Chromium: from navigation start to the Replayer having
  built the first frame (the page's own clock, `performance.now()`), each run in a
  fresh browser context (cold cache), over `--browser-runs`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_replay.settings import ReplaySettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "replay" / "tests"))
from live import CHROMIUM, CHROMIUM_ARGS, live_servers

MINUTES = 30
MS = 1_000_000
CHUNK = 950 * 1024
DAY0_MS = 1_795_000_000_000
COLUMNS = ("Timestamp", "ServiceName", "Body", "ResourceAttributes", "ScopeName",
           "ScopeVersion", "LogAttributes")  # fmt: skip


def el(tag: str, node_id: int, children: list[Any], **attributes: str) -> dict[str, Any]:
    return {
        "type": 2,
        "tagName": tag,
        "attributes": attributes,
        "childNodes": children,
        "id": node_id,
    }


def text(node_id: int, content: str) -> dict[str, Any]:
    return {"type": 3, "textContent": content, "id": node_id}


def snapshot(rng: random.Random, page: int) -> dict[str, Any]:
    """A ~600 KB page: a table of orders with text, attributes and inline CSS."""
    ids = iter(range(10, 10**7))
    rows = []
    for r in range(900):
        cells = [
            el("td", next(ids), [text(next(ids), f"ORD-{page}-{r}-{c} {rng.random():.6f}")])
            for c in range(4)
        ]
        rows.append(el("tr", next(ids), cells))
    style = el("style", 5, [], _cssText=".cell{padding:2px 8px}" * 400)
    body = el("body", 6, [el("h1", 7, [text(8, f"Orders page {page}")]), el("table", 9, rows)])
    doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2}
    html = el("html", 3, [el("head", 4, [style]), body])
    return {
        "node": {"type": 0, "id": 1, "childNodes": [doctype, html]},
        "initialOffset": {"left": 0, "top": 0},
    }


def incremental(t: int, **data: Any) -> dict[str, Any]:
    return {"type": 3, "data": data, "timestamp": t}


def active_moment(rng: random.Random, t: int, serial: int) -> list[dict[str, Any]]:
    """Half a second of an active user: a mouse-move batch, sometimes a click with the
    DOM change it causes, a scroll, an input."""
    positions = [
        {"x": rng.randint(0, 1440), "y": rng.randint(0, 900), "id": rng.randint(10, 5000),
         "timeOffset": -i * 50}
        for i in range(8)
    ]  # fmt: skip
    out = [incremental(t, source=1, positions=positions)]
    if rng.random() < 0.1:
        out.append(incremental(t + 5, source=2, type=2, id=rng.randint(10, 5000), x=5, y=5))
        adds = [
            {"parentId": 9, "nextId": None, "node": el("div", 10**7 + serial * 10 + k, [])}
            for k in range(6)
        ]
        out.append(incremental(t + 30, source=0, texts=[], attributes=[], removes=[], adds=adds))
    if rng.random() < 0.1:
        out.append(incremental(t + 10, source=3, id=1, x=0, y=rng.randint(0, 4000)))
    if rng.random() < 0.03:
        out.append(
            incremental(t + 20, source=5, text="*****", isChecked=False, id=rng.randint(10, 5000))
        )
    return out


def recording(rng: random.Random, start_ms: int) -> list[dict[str, Any]]:
    """30 minutes: a page load every 5 minutes, active half-seconds and idle stretches."""
    events: list[dict[str, Any]] = []
    t = start_ms
    end = start_ms + MINUTES * 60_000
    page = 0
    while t < end:
        page += 1
        meta = {"href": f"https://app.test/p{page}", "width": 1440, "height": 900}
        events.append({"type": 4, "data": meta, "timestamp": t})
        events.append({"type": 2, "data": snapshot(rng, page), "timestamp": t + 40})
        page_end = min(end, t + 5 * 60_000)
        t += 100
        while t < page_end:
            if rng.random() < 0.02:  # an idle stretch
                t += rng.randint(5_000, 40_000)
                continue
            events += active_moment(rng, t, len(events))
            t += 500
        t = page_end
    events.append(incremental(end, source=1, positions=[]))
    return events


def rows_of(session: str, events: list[dict[str, Any]]) -> list[list[Any]]:
    resource = {"service.name": "bench-portal", "rum.sessionId": session}
    out = []
    for ordinal, event in enumerate(events, start=1):
        body = orjson.dumps(event).decode()
        total = max(1, -(-len(body) // CHUNK))
        for i in range(total):
            numbers = {
                "rr-web.event": str(ordinal),
                "rr-web.chunk": str(i + 1),
                "rr-web.total-chunks": str(total),
            }
            piece = body[i * CHUNK : (i + 1) * CHUNK]
            out.append(
                [event["timestamp"] * MS, "bench-portal", piece, resource, "rum.rr-web", "3.0.0",
                 numbers]
            )  # fmt: skip
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Any, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


SPAN_COLUMNS = ("Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "ServiceName",
                "ResourceAttributes", "SpanAttributes", "StatusCode")  # fmt: skip
SPAN_MIX = (
    ["HTTP POST"] * 30 + ["click"] * 12 + ["longtask"] * 12 + ["HTTP GET"] * 4
    + ["resourceFetch"] * 6 + ["webvitals"] + ["documentLoad"] + ["routeChange"] * 2
    + ["visibility"] + ["page.order_detail"] + ["email.read"] * 3
)  # fmt: skip


def store_list_sessions(store: Store, sessions: int, rng: random.Random) -> int:
    """Sessions of ~60 spans each (the SpanName mix of a real portal, a few frustration signals
    and errors, visitor and identity attributes), as the list reads them."""
    rows: list[list[Any]] = []
    total = 0
    for n in range(sessions):
        sid = f"list-{n}"
        start = (DAY0_MS + rng.randint(0, 14 * 86_400_000)) * MS
        visitor = {
            "visitor.city": rng.choice(["Chicago", "Denver", "Austin", "Boston"]),
            "visitor.country": "US",
            "visitor.returning": rng.choice(["true", "false"]),
            "user.email": f"op{n % 40}@example.test",
        }
        names = [rng.choice(SPAN_MIX) for _ in range(60)]
        names += ["rage_click"] * (rng.random() < 0.1) + ["dead_click"] * (rng.random() < 0.2)
        for i, name in enumerate(names):
            attrs = {**visitor, "location.href": f"https://app.test/o/{i % 5}"}
            status = "Error" if rng.random() < 0.01 else "Unset"
            rows.append([start + i * 5_000 * MS, f"{n:016x}{i:016x}", f"{i:016x}", "", name,
                         "bench-portal", {"rum.sessionId": sid}, attrs, status])  # fmt: skip
        if len(rows) >= 20_000:
            store.insert("otel_traces", rows, SPAN_COLUMNS)
            total += len(rows)
            rows = []
    if rows:
        store.insert("otel_traces", rows, SPAN_COLUMNS)
        total += len(rows)
    return total


# What the list would cost without the summary: the same figures from the raw spans.
RAW_LIST = """
SELECT ResourceAttributes['rum.sessionId'] AS session_id, min(Timestamp) AS started,
    max(Timestamp) AS ended, countIf(SpanName IN ('documentLoad', 'routeChange')) AS views,
    uniqExactIf(SpanAttributes['location.href'], SpanName IN ('documentLoad', 'routeChange'))
        AS pages,
    uniqExactIf(cityHash64(toUnixTimestamp64Milli(Timestamp), SpanAttributes['target_xpath']),
        SpanName = 'click' AND ParentSpanId = '') AS clicks,
    countIf(StatusCode = 'Error') AS errors,
    countIf(SpanName IN ('rage_click', 'dead_click', 'excessive_scroll', 'quick_back'))
        AS frustration,
    argMaxIf(SpanAttributes['user.email'], Timestamp, SpanAttributes['user.email'] != '')
        AS email,
    max(SpanAttributes['visitor.city']) AS city,
    max(SpanAttributes['visitor.returning'] = 'true') AS returning,
    count() OVER () AS total
FROM otel_traces
WHERE session_id != ''
GROUP BY session_id
ORDER BY frustration DESC, errors DESC, started DESC
LIMIT 50
"""


class PageHead(msgspec.Struct):
    """A page's cursor and events, each kept as raw JSON: the body is read, checked as
    JSON and split by event, not turned into Python objects (the browser parses it)."""

    next: str | None
    events: list[msgspec.Raw]


PAGE_HEAD = msgspec.json.Decoder(PageHead)

BARE_ALL = """
SELECT Body FROM hyperdx_sessions
WHERE ResourceAttributes['rum.sessionId'] = {s:String}
ORDER BY Timestamp, toUInt64OrZero(LogAttributes['rr-web.event']),
         toUInt64OrZero(LogAttributes['rr-web.chunk'])
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--browser-runs", type=int, default=5)
    parser.add_argument("--gzip-level", type=int, default=ReplaySettings().replay_gzip_level)
    parser.add_argument(
        "--list-sessions", type=int, default=5000, help="sessions of spans for the list"
    )
    args = parser.parse_args()
    level = args.gzip_level

    folder = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    settings = StoreSettings(clickhouse_url=f"chdb://{folder}", clickhouse_database="bench")
    store: Store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=1000)
    rng = random.Random(7)
    target = "bench-session-0"
    json_bytes = 0
    began = time.perf_counter()
    for n in range(args.sessions):
        start = DAY0_MS + n * 2 * 3600_000  # every two hours
        events = recording(rng, start)
        rows = rows_of(f"bench-session-{n}", events)
        if n == 0:
            json_bytes = sum(len(r[2].encode()) for r in rows)
            event_count = len(events)
        for i in range(0, len(rows), 2000):
            store.insert("hyperdx_sessions", rows[i : i + 2000], COLUMNS)
    took = time.perf_counter() - began
    print(f"stored {args.sessions} sessions of {MINUTES} min in {took:.1f} s; the one opened:")
    print(f"{event_count} events, {json_bytes / 1e6:.2f} MB of JSON")

    first_rows = len(store.query(
        "SELECT 1 FROM hyperdx_sessions WHERE ResourceAttributes['rum.sessionId'] = {s:String}"
        " AND Timestamp <= fromUnixTimestamp64Milli({t:Int64})",
        {"s": target, "t": DAY0_MS + 40},
    ))  # fmt: skip

    spans = store_list_sessions(store, args.list_sessions, rng)
    print(f"stored {args.list_sessions} more sessions with {spans} spans for the list")

    with (
        live_servers(store, settings=ReplaySettings(replay_gzip_level=level)) as servers,
        httpx.Client(
            base_url=servers.replay, headers={"accept-encoding": "gzip"}, timeout=60
        ) as client,
    ):
        url = f"/api/sessions/{target}/events"
        wire = {"first": 0, "all": 0}

        def first_events() -> None:
            response = client.get(url)
            wire["first"] = int(response.headers.get("content-length", len(response.content)))
            assert PAGE_HEAD.decode(response.content).events

        def full_load() -> None:
            total, after, pages = 0, None, 0
            while True:
                response = client.get(url, params={"after": after} if after else None)
                total += int(response.headers.get("content-length", len(response.content)))
                page = PAGE_HEAD.decode(response.content)
                pages += 1
                after = page.next
                if after is None:
                    break
            wire["all"], wire["pages"] = total, pages

        first_events()  # warm
        first = timed(first_events, args.runs)
        full = timed(full_load, max(5, args.runs // 3))
        bare_first = timed(
            lambda: store.query(BARE_ALL + " LIMIT {n:UInt32}", {"s": target, "n": first_rows}),
            args.runs,
        )
        bare_all = timed(lambda: store.query(BARE_ALL, {"s": target}), max(5, args.runs // 3))
        detail = timed(lambda: client.get(f"/api/sessions/{target}").json(), max(5, args.runs // 3))
        opens = browser_open(servers.replay, target, args.browser_runs)
        listing = timed(
            lambda: client.get("/api/sessions", params={"sort": "frustration"}).json(), args.runs
        )
        raw_list = timed(lambda: store.query(RAW_LIST), max(5, args.runs // 3))

    table = [
        ("first events: `GET /events` first page over HTTP, gzip", first),
        ("baseline: bare SQL of the same rows", bare_first),
        (f"full load: every page ({wire['pages']}) over HTTP, gzip", full),
        ("baseline: bare SQL of all the session's rows", bare_all),
        ("detail `GET /api/sessions/{id}` (integrity: every chunk checked)", detail),
        ("page opens in Chromium: navigation start to first frame built", opens),
        ("session list `GET /api/sessions?sort=frustration` (summary)", listing),
        ("baseline: the same list computed from otel_traces", raw_list),
    ]
    print("\n| measure | p50 | p95 |\n|---|---:|---:|")
    for label, (p50, p95) in table:
        print(f"| {label} | {p50:.1f} ms | {p95:.1f} ms |")
    per_minute = wire["all"] / MINUTES / 1e3
    print(f"\nfirst page on the wire: {wire['first'] / 1e3:.1f} KB (gzip)")
    print(f"replay on the wire: {per_minute:.1f} KB per session minute (gzip level {level});")
    print(f"as JSON: {json_bytes / MINUTES / 1e3:.1f} KB per session minute")
    store.close()
    shutil.rmtree(folder, ignore_errors=True)


def browser_open(base: str, session: str, runs: int) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    samples = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs + 1):
            page = browser.new_page()
            page.goto(f"{base}/replay/{session}", wait_until="commit")
            page.wait_for_selector("body[data-state='ready']", timeout=60_000)
            # the browser's clock: from navigation start to the first frame built
            samples.append(float(page.evaluate("() => window.exosPlayer.timings.built")))
            page.close()
        browser.close()
    samples = samples[1:]  # the first run warms the browser's cache of rrweb.js
    return statistics.median(samples), percentile(samples, 0.95)


if __name__ == "__main__":
    main()
