// Object-centric process mining over `/api/ocpm/*`: the eight object categories, how
// they co-occur on orders, the handoffs between them, object lifecycles, vendor
// contention, and the event log as OCEL 2.0 / XES downloads.
import { api, view, h, kpis, table, chart, fmt, replayLink, addFilter, PALETTE } from "/assets/portal.js";
import { pathNode } from "/assets/generic.js";

const pct = (v) => `${fmt.number(v)}%`;

function categories(grid) {
  view(grid, {
    id: "ocpm-categories",
    title: "Object categories",
    wide: true,
    load: () => api("/api/ocpm/categories"),
    isEmpty: (d) => !d.categories.some((c) => c.events),
    render: (d, body) => {
      chart(body, {
        type: "bar",
        label: "events by object category",
        data: {
          labels: d.categories.map((c) => c.category),
          datasets: [
            { label: "events", data: d.categories.map((c) => c.events), backgroundColor: PALETTE[0] },
            { label: "orders", data: d.categories.map((c) => c.orders), backgroundColor: PALETTE[1] },
          ],
        },
        options: { plugins: { legend: { display: true } } },
      }, { height: 200 });
      table(body, d.categories, [
        { key: "category", label: "Category" },
        { key: "prefix", label: "SpanName prefix", format: (v) => h("code", {}, v) },
        { key: "events", label: "Events", num: true, format: fmt.number },
        { key: "orders", label: "Orders", num: true, format: fmt.number },
        { key: "operators", label: "Operators", num: true, format: fmt.number },
        { key: "sessions", label: "Sessions", num: true, format: fmt.number },
        { key: "activities", label: "Activities", format: (v) => (v || []).join(", ") },
      ]);
      if (d.uncategorized_events) {
        body.append(h("p.muted", {}, `${fmt.number(d.uncategorized_events)} events fit no category: ${d.uncategorized_activities.join(", ")}`));
      }
    },
  });
}

function interactions(grid) {
  view(grid, {
    id: "ocpm-interactions",
    title: "Object interactions — categories on the same order",
    load: () => api("/api/ocpm/interactions"),
    isEmpty: (d) => !d.edges.length,
    render: (d, body) =>
      table(body, d.edges, [
        { key: (r) => [r.category_a, r.category_b], label: "Categories", format: (v) => pathNode(v) },
        { key: "orders", label: "Orders", num: true, format: fmt.number },
        { key: "share_pct", label: "Share", num: true, format: pct },
      ]),
  });
}

function lifecycles(grid) {
  view(grid, {
    id: "ocpm-lifecycle",
    title: "Object lifecycles",
    load: () => api("/api/ocpm/lifecycle"),
    isEmpty: (d) => !d.lifecycles.length,
    render: (d, body) => {
      chart(body, {
        type: "bar",
        label: "lifecycle duration p50 and p95 (hours)",
        data: {
          labels: d.lifecycles.map((l) => l.name),
          datasets: [
            { label: "p50 (h)", data: d.lifecycles.map((l) => l.p50_s / 3600), backgroundColor: PALETTE[0] },
            { label: "p95 (h)", data: d.lifecycles.map((l) => l.p95_s / 3600), backgroundColor: PALETTE[3] },
          ],
        },
        options: { indexAxis: "y", plugins: { legend: { display: true } } },
      }, { height: Math.max(160, d.lifecycles.length * 28) });
      table(body, d.lifecycles, [
        { key: "name", label: "Object" },
        { key: "objects", label: "Objects", num: true, format: fmt.number },
        { key: "p50_s", label: "p50", num: true, format: fmt.seconds },
        { key: "p95_s", label: "p95", num: true, format: fmt.seconds },
        { key: "max_s", label: "Max", num: true, format: fmt.seconds },
      ]);
    },
  });
}

function handoffs(grid) {
  view(grid, {
    id: "ocpm-handoffs",
    title: "Cross-category handoffs — time lost between categories",
    wide: true,
    load: () => api("/api/ocpm/handoffs"),
    isEmpty: (d) => !d.handoffs.length,
    render: (d, body) =>
      table(body, d.handoffs, [
        { key: (r) => [r.from_category, r.to_category], label: "Handoff", format: (v) => pathNode(v) },
        { key: "handoffs", label: "Handoffs", num: true, format: fmt.number },
        { key: "orders", label: "Orders", num: true, format: fmt.number },
        { key: "avg_s", label: "Avg", num: true, format: fmt.seconds },
        { key: "p50_s", label: "p50", num: true, format: fmt.seconds },
        { key: "p95_s", label: "p95", num: true, format: fmt.seconds },
        { key: "samples", label: "Slowest — replay", format: (v) => replayLink(v, v?.[0] ? `▶ ${fmt.seconds(v[0].gap_s)}` : "▶ replay") },
      ]),
  });
}

function vendors(grid) {
  view(grid, {
    id: "ocpm-vendors",
    title: "Vendor contention",
    wide: true,
    note: "click a vendor to filter on it",
    load: () => api("/api/ocpm/vendors"),
    isEmpty: (d) => !d.vendors.length,
    render: (d, body) => {
      body.append(h("p.muted", {}, "Wait: ", pathNode([d.wait_from, d.wait_to])));
      kpis(body, [
        { key: "vendors", label: "vendors", value: fmt.number(d.vendors.length) },
        { key: "peak", label: "most orders waiting at once", value: fmt.number(Math.max(0, ...d.vendors.map((v) => v.peak_concurrent))) },
      ]);
      table(
        body,
        d.vendors,
        [
          { key: "vendor_name", label: "Vendor", format: (v, r) => v || r.vendor_id },
          { key: "orders", label: "Orders", num: true, format: fmt.number },
          { key: "rework_rate_pct", label: "Rework", num: true, format: pct },
          { key: "waits", label: "Waits", num: true, format: fmt.number },
          { key: "open_waits", label: "Open", num: true, format: fmt.number },
          { key: "p50_wait_s", label: "p50 wait", num: true, format: (v) => (v === null ? "—" : fmt.seconds(v)) },
          { key: "p95_wait_s", label: "p95 wait", num: true, format: (v) => (v === null ? "—" : fmt.seconds(v)) },
          { key: "peak_concurrent", label: "Peak concurrent", num: true, format: fmt.number },
          { key: "peak_at", label: "Peak at", format: fmt.datetime },
          { key: "samples", label: "Longest wait — replay", format: (v) => replayLink(v) },
        ],
        { onRow: (r) => addFilter("vendor", r.vendor_id) },
      );
    },
  });
}

function downloads(grid) {
  const query = new URLSearchParams(location.search);
  const keep = new URLSearchParams();
  for (const key of ["from", "to", "service", "operator", "team", "lob", "vendor"]) if (query.get(key)) keep.set(key, query.get(key));
  const suffix = keep.toString() ? "?" + keep : "";
  grid.append(
    h(
      "section.card.wide",
      { "data-view": "ocpm-export", "data-state": "ready" },
      h("header", {}, h("h2", {}, "Event log")),
      h(
        "p",
        {},
        "The object-centric event log of this range and filters, for PM4Py, Celonis or ProM: ",
        h("a", { href: "/api/ocpm/export/ocel" + suffix, download: "" }, "OCEL 2.0 (JSON)"),
        " · ",
        h("a", { href: "/api/ocpm/export/xes" + suffix, download: "" }, "XES"),
      ),
    ),
  );
}

export function ocpm(panel) {
  const grid = h("div.grid");
  panel.append(grid);
  categories(grid);
  interactions(grid);
  lifecycles(grid);
  handoffs(grid);
  vendors(grid);
  downloads(grid);
}
