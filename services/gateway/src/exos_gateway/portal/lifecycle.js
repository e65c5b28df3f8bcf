// Order Lifecycle: Sequences (variants), Bottlenecks, Funnels, Conformance, Rework and
// Anomalies over `/api/process/*`. Every row that stands for cases offers the replay of
// a sample session at the moment that matters.
import { api, view, h, kpis, table, chart, fmt, replayLink, params, setParams, PALETTE } from "/assets/portal.js";
import { pathNode } from "/assets/generic.js";

const over = () => params().get("over") || "orders";
const caseWord = () => (over() === "pages" ? "sessions" : "orders");

function overPicker(parent) {
  const select = h(
    "select",
    { name: "over", "aria-label": "Cases", onchange: (e) => setParams({ over: e.target.value === "orders" ? null : e.target.value }) },
    h("option", { value: "orders" }, "Cases: orders (domain events)"),
    h("option", { value: "pages" }, "Cases: sessions (page flows)"),
  );
  select.value = over();
  parent.append(select);
}

/** A text box bound to a URL parameter (comma-separated steps and the like). */
function paramInput(parent, key, label, placeholder) {
  const input = h("input", { name: key, value: params().get(key) || "", placeholder, size: 48, "aria-label": label });
  const form = h(
    "form.inline",
    { onsubmit: (e) => (e.preventDefault(), setParams({ [key]: input.value.trim() || null })) },
    h("label", {}, label + " ", input),
    h("button", { type: "submit" }, "Apply"),
  );
  parent.append(form);
}

const seconds = (v) => fmt.seconds(v);

function sequences(panel) {
  view(panel, {
    id: "variants",
    title: "Sequences — top variants",
    wide: true,
    load: () => api("/api/process/variants", { over: over(), limit: 10 }),
    isEmpty: (d) => !d.variants.length,
    render: (d, body) => {
      body.append(h("p.narrative", { "data-narrative": "" }, d.narrative));
      kpis(body, [
        { key: "cases", label: `${caseWord()}`, value: fmt.number(d.total_cases) },
        { key: "variants", label: "variants", value: fmt.number(d.total_variants) },
        { key: "top-share", label: "top variant share", value: `${fmt.number(d.variants[0]?.share_pct)}%` },
      ]);
      table(body, d.variants, [
        { key: "path", label: "Path", format: (v) => pathNode(v) },
        { key: "cases", label: "Cases", num: true, format: fmt.number },
        { key: "share_pct", label: "Share", num: true, format: (v) => `${fmt.number(v)}%` },
        { key: "avg_duration_s", label: "Avg duration", num: true, format: seconds },
        { key: "p50_duration_s", label: "Median", num: true, format: seconds },
        { key: "top_segments", label: over() === "pages" ? "Services" : "LOBs", format: (v) => (v || []).join(", ") },
        { key: "samples", label: "Replay", format: (v) => replayLink(v) },
      ]);
    },
  });
}

function bottlenecks(panel) {
  view(panel, {
    id: "bottlenecks",
    title: "Bottlenecks — slowest transitions (p95)",
    wide: true,
    load: () => api("/api/process/bottlenecks", { over: over(), limit: 15 }),
    isEmpty: (d) => !d.bottlenecks.length,
    render: (d, body) => {
      const rows = d.bottlenecks;
      chart(body, {
        type: "bar",
        label: "p95 wait per transition",
        data: {
          labels: rows.map((r) => `${r.step_from} → ${r.step_to}`),
          datasets: [
            { label: "p95 (h)", data: rows.map((r) => r.p95_s / 3600), backgroundColor: "#e15759" },
            { label: "median (h)", data: rows.map((r) => r.p50_s / 3600), backgroundColor: "#4e79a7" },
          ],
        },
        options: { indexAxis: "y", plugins: { legend: { display: true } } },
      }, { height: Math.max(180, rows.length * 26) });
      table(body, rows, [
        { key: (r) => [r.step_from, r.step_to], label: "Transition", format: (v) => pathNode(v) },
        { key: "transitions", label: "Transitions", num: true, format: fmt.number },
        { key: "cases", label: "Cases", num: true, format: fmt.number },
        { key: "avg_s", label: "Avg", num: true, format: seconds },
        { key: "p50_s", label: "p50", num: true, format: seconds },
        { key: "p95_s", label: "p95", num: true, format: seconds },
        { key: "max_s", label: "Max", num: true, format: seconds },
        { key: "samples", label: "Slowest — replay", format: (v) => replayLink(v, v?.[0] ? `▶ ${fmt.seconds(v[0].gap_s)} wait` : "▶ replay") },
      ]);
    },
  });
}

function funnels(panel) {
  const controls = h("div.controls");
  panel.append(controls);
  paramInput(controls, "steps", "Steps", "default: the happy path (comma-separated)");
  view(panel, {
    id: "funnel",
    title: "Funnel",
    wide: true,
    load: () => api("/api/process/funnel", { over: over(), steps: params().get("steps") }),
    isEmpty: (d) => !d.entered,
    render: (d, body) => {
      kpis(body, [
        { key: "entered", label: "entered", value: fmt.number(d.entered) },
        { key: "completed", label: "completed", value: fmt.number(d.completed) },
        { key: "conversion", label: "conversion", value: `${fmt.number(d.levels.at(-1)?.conversion_pct)}%` },
        { key: "window", label: "window", value: fmt.seconds(d.window_s) },
      ]);
      chart(body, {
        type: "bar",
        label: "cases per funnel step",
        data: {
          labels: d.levels.map((l) => l.step),
          datasets: [{ label: "cases", data: d.levels.map((l) => l.cases), backgroundColor: PALETTE[0] }],
        },
      });
      table(body, d.levels, [
        { key: "level", label: "#", num: true },
        { key: "step", label: "Step" },
        { key: "cases", label: "Reached", num: true, format: fmt.number },
        { key: "conversion_pct", label: "Of entered", num: true, format: (v) => `${fmt.number(v)}%` },
        { key: "step_conversion_pct", label: "Of step before", num: true, format: (v) => `${fmt.number(v)}%` },
        { key: "dropped", label: "Dropped here", num: true, format: fmt.number },
        { key: "dropped_samples", label: "Drop-off — replay", format: (v) => replayLink(v) },
      ]);
    },
  });
}

function conformance(panel) {
  const controls = h("div.controls");
  panel.append(controls);
  paramInput(controls, "path", "Happy path", "default: the demo's happy path (comma-separated)");
  view(panel, {
    id: "conformance",
    title: "Conformance to the happy path",
    wide: true,
    load: () => api("/api/process/conformance", { over: over(), path: params().get("path") }),
    isEmpty: (d) => !d.total,
    render: (d, body) => {
      body.append(h("p", {}, "Path: ", pathNode(d.path)));
      kpis(body, [
        { key: "conformance", label: "conforming", value: `${fmt.number(d.conformance_pct)}%` },
        { key: "conforming", label: `conforming ${caseWord()}`, value: fmt.number(d.conforming) },
        { key: "total", label: `all ${caseWord()}`, value: fmt.number(d.total) },
      ]);
      table(body, d.deviations, [
        { key: "kind", label: "Deviation", format: (v) => h("span.badge.warn", {}, v.replace("_", " ")) },
        { key: "missing_step", label: "First missed step", format: fmt.text },
        { key: "reached", label: "Steps reached", num: true },
        { key: "cases", label: "Cases", num: true, format: fmt.number },
        { key: "share_pct", label: "Share", num: true, format: (v) => `${fmt.number(v)}%` },
        { key: "samples", label: "Replay", format: (v) => replayLink(v) },
      ]);
    },
  });
}

function rework(panel) {
  const controls = h("div.controls");
  panel.append(controls);
  paramInput(controls, "loop", "Loop", "default: review.started, revision.requested");
  view(panel, {
    id: "rework",
    title: "Rework loops",
    wide: true,
    load: () => api("/api/process/rework", { over: over(), loop: params().get("loop") }),
    isEmpty: (d) => !d.cases_total,
    render: (d, body) => {
      if (d.loop) body.append(h("p", {}, "Loop: ", pathNode(d.loop)));
      kpis(body, [
        { key: "rework-rate", label: "rework rate", value: `${fmt.number(d.rework_rate_pct)}%` },
        { key: "with-rework", label: `${caseWord()} with rework`, value: fmt.number(d.cases_with_rework) },
        { key: "loops", label: "loops", value: fmt.number(d.loops_total) },
      ]);
      if (d.distribution.length) {
        chart(body, {
          type: "bar",
          label: "cases by number of loops",
          data: {
            labels: d.distribution.map((r) => `${r.loops} loop${r.loops === 1 ? "" : "s"}`),
            datasets: [{ label: "cases", data: d.distribution.map((r) => r.cases), backgroundColor: PALETTE[1] }],
          },
        }, { height: 180 });
      }
      table(body, d.cases, [
        { key: "case_id", label: over() === "pages" ? "Session" : "Order" },
        { key: "loops", label: "Loops", num: true },
        { key: "samples", label: "Loop — replay", format: (v) => replayLink(v) },
      ]);
    },
  });
}

function anomalies(panel) {
  const controls = h("div.controls");
  const series = h(
    "select",
    { name: "series", "aria-label": "Series", onchange: (e) => setParams({ series: e.target.value }) },
    ["orders", "events", "http_errors", "rage_clicks", "errors"].map((s) => h("option", { value: s }, s.replace("_", " "))),
  );
  series.value = params().get("series") || "orders";
  const bucket = h(
    "select",
    { name: "bucket", "aria-label": "Bucket", onchange: (e) => setParams({ bucket: e.target.value }) },
    h("option", { value: "hour" }, "per hour"),
    h("option", { value: "day" }, "per day"),
  );
  bucket.value = params().get("bucket") || "hour";
  controls.append(h("label", {}, "Series ", series), h("label", {}, "Bucket ", bucket));
  panel.append(controls);
  view(panel, {
    id: "anomalies",
    title: "Anomalies — rolling z-score",
    wide: true,
    load: () => api("/api/process/anomalies", { series: series.value, bucket: bucket.value }),
    isEmpty: (d) => !d.points.length,
    render: (d, body) => {
      kpis(body, [
        { key: "anomalies", label: "anomalies", value: fmt.number(d.anomalies.length) },
        { key: "threshold", label: "|z| threshold", value: fmt.number(d.threshold) },
        { key: "window", label: "baseline buckets", value: fmt.number(d.window) },
      ]);
      const flagged = new Set(d.anomalies.map((a) => a.bucket));
      chart(body, {
        type: "line",
        label: `${d.series} per bucket`,
        data: {
          labels: d.points.map((p) => fmt.datetime(p.bucket)),
          datasets: [
            {
              label: d.series,
              data: d.points.map((p) => p.value),
              borderColor: PALETTE[0],
              pointRadius: d.points.map((p) => (flagged.has(p.bucket) ? 5 : 0)),
              pointBackgroundColor: "#e15759",
            },
            { label: "baseline mean", data: d.points.map((p) => p.mean), borderColor: "#bab0ac", borderDash: [4, 4], pointRadius: 0 },
          ],
        },
        options: { plugins: { legend: { display: true } }, scales: { x: { ticks: { maxTicksLimit: 8 } } } },
      });
      if (d.anomalies.length) {
        table(body, d.anomalies, [
          { key: "bucket", label: "When", format: fmt.datetime },
          { key: "direction", label: "", format: (v) => h("span.badge" + (v === "spike" ? ".bad" : ".warn"), {}, v) },
          { key: "value", label: "Value", num: true, format: fmt.number },
          { key: "mean", label: "Expected", num: true, format: fmt.number },
          { key: "z", label: "z", num: true, format: fmt.number },
          { key: "samples", label: "Replay", format: (v) => replayLink(v) },
        ]);
      } else {
        body.append(h("p.muted", {}, `No bucket beyond |z| ≥ ${d.threshold} in this range.`));
      }
    },
  });
}

export const MODES = [
  { id: "sequences", label: "Sequences", render: sequences },
  { id: "bottlenecks", label: "Bottlenecks", render: bottlenecks },
  { id: "funnels", label: "Funnels", render: funnels },
  { id: "conformance", label: "Conformance", render: conformance },
  { id: "rework", label: "Rework", render: rework },
  { id: "anomalies", label: "Anomalies", render: anomalies },
];

export { overPicker };
