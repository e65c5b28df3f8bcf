// Site Health over `/api/site-health/*`: error rate over time, Web Vitals p75 by page
// (Google's bands), long tasks, console errors by fingerprint and HTTP monitoring.
import { api, view, h, kpis, table, chart, fmt, replayLink, addFilter, PALETTE } from "/assets/portal.js";

const grid = document.getElementById("health");
const BAND = { good: "good", "needs-improvement": "warn", poor: "bad" };

view(grid, {
  id: "errors",
  title: "Error rate",
  wide: true,
  load: () => api("/api/site-health/errors"),
  isEmpty: (d) => !d.sessions && !d.series.length,
  render: (d, body) => {
    kpis(body, [
      { key: "errors", label: "errors", value: fmt.number(d.errors) },
      { key: "error-sessions", label: "sessions with errors", value: fmt.number(d.error_sessions) },
      { key: "sessions", label: "sessions", value: fmt.number(d.sessions) },
      { key: "error-rate", label: "error rate (sessions)", value: fmt.pct(d.error_rate) },
    ]);
    chart(body, {
      type: "line",
      label: `errors per ${d.bucket}`,
      data: {
        labels: d.series.map((p) => fmt.datetime(p.bucket)),
        datasets: [
          { label: "errors", data: d.series.map((p) => p.errors), borderColor: "#e15759", backgroundColor: "#e15759", yAxisID: "y", pointRadius: 2 },
          { label: "sessions", data: d.series.map((p) => p.sessions), borderColor: PALETTE[0], backgroundColor: PALETTE[0], yAxisID: "y1", pointRadius: 0 },
        ],
      },
      options: { plugins: { legend: { display: true } }, scales: { y: { beginAtZero: true }, y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } } },
    });
  },
});

view(grid, {
  id: "web-vitals",
  title: "Web Vitals — p75 by page",
  wide: true,
  note: "bands: good / needs improvement / poor",
  load: () => api("/api/site-health/web-vitals"),
  isEmpty: (d) => !d.vitals.length,
  render: (d, body) => {
    const metrics = [...new Set(d.vitals.map((v) => v.metric))];
    const pages = [...new Set(d.vitals.map((v) => v.page))];
    const cell = new Map(d.vitals.map((v) => [`${v.page}|${v.metric}`, v]));
    table(
      body,
      pages.map((page) => ({ page })),
      [
        { key: "page", label: "Page", format: fmt.text },
        ...metrics.map((m) => ({
          key: (r) => cell.get(`${r.page}|${m}`),
          label: `${m.toUpperCase()} p75`,
          num: true,
          format: (v) => {
            if (!v) return "—";
            const shown = m === "cls" ? fmt.number(v.p75) : fmt.ms(v.p75);
            return h(
              "span",
              {},
              h("span.badge." + (BAND[v.band] || "x"), { title: `${v.samples} samples, ${fmt.pct(v.poor_share)} poor` }, shown),
              v.poor_samples?.length ? [" ", replayLink(v.poor_samples, "▶")] : null,
            );
          },
        })),
      ],
      { onRow: (r) => addFilter("page", r.page) },
    );
  },
});

view(grid, {
  id: "long-tasks",
  title: "Long tasks by page",
  load: () => api("/api/site-health/long-tasks"),
  isEmpty: (d) => !d.pages.length,
  render: (d, body) => {
    chart(body, {
      type: "bar",
      label: "main-thread blocking by page",
      data: { labels: d.pages.map((p) => p.page), datasets: [{ label: "blocking (s)", data: d.pages.map((p) => p.blocking_ms / 1000), backgroundColor: PALETTE[1] }] },
      options: { indexAxis: "y" },
    }, { height: Math.max(160, d.pages.length * 24) });
    table(body, d.pages, [
      { key: "page", label: "Page" },
      { key: "tasks", label: "Tasks", num: true, format: fmt.number },
      { key: "blocking_ms", label: "Blocking", num: true, format: fmt.ms },
      { key: "p75_ms", label: "p75", num: true, format: fmt.ms },
      { key: "max_ms", label: "Max", num: true, format: fmt.ms },
      { key: "worst", label: "Worst — replay", format: (v) => replayLink(v ? [v] : []) },
    ]);
  },
});

view(grid, {
  id: "console-errors",
  title: "Console errors",
  load: () => api("/api/site-health/console-errors"),
  isEmpty: (d) => !d.groups.length,
  render: (d, body) =>
    table(body, d.groups, [
      { key: "pattern", label: "Message", format: (v) => h("code", {}, v) },
      { key: "occurrences", label: "Times", num: true, format: fmt.number },
      { key: "sessions", label: "Sessions", num: true, format: fmt.number },
      { key: "last_seen", label: "Last seen", format: fmt.datetime },
      { key: "samples", label: "Replay", format: (v) => replayLink(v) },
    ]),
});

view(grid, {
  id: "http",
  title: "HTTP monitoring",
  wide: true,
  load: () => api("/api/site-health/http"),
  isEmpty: (d) => !d.calls,
  render: (d, body) => {
    kpis(body, [
      { key: "calls", label: "calls", value: fmt.number(d.calls) },
      { key: "failed", label: "failed", value: fmt.number(d.failed) },
      { key: "error-rate", label: "error rate", value: fmt.pct(d.error_rate) },
      ...Object.entries(d.status).map(([k, v]) => ({ key: `status-${k}`, label: k.replace("_", " "), value: fmt.number(v) })),
    ]);
    table(body, d.endpoints, [
      { key: "method", label: "" },
      { key: "endpoint", label: "Endpoint", format: (v) => h("code", {}, v) },
      { key: "calls", label: "Calls", num: true, format: fmt.number },
      { key: "failed", label: "Failed", num: true, format: (v) => (v ? h("span.badge.bad", {}, fmt.number(v)) : "0") },
      { key: "error_rate", label: "Error rate", num: true, format: fmt.pct },
      { key: "p50_ms", label: "p50", num: true, format: fmt.ms },
      { key: "p95_ms", label: "p95", num: true, format: fmt.ms },
      { key: "p99_ms", label: "p99", num: true, format: fmt.ms },
      { key: "failure_samples", label: "Failure — replay", format: (v) => replayLink(v) },
    ]);
  },
});
