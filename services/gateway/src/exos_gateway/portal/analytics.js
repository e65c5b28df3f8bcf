// Product Analytics over `/api/analytics/*`: overview, top pages, breakdowns, journeys,
// a page funnel (with its network health), calls by page and weekly retention.
import { api, view, h, kpis, table, chart, bars, fmt, params, setParams, addFilter, replayLink, PALETTE } from "/assets/portal.js";
import { pathNode } from "/assets/generic.js";

const grid = document.getElementById("analytics");
const DIMENSIONS = ["browser", "os", "device", "country", "city", "service"];

view(grid, {
  id: "overview",
  title: "Overview",
  wide: true,
  load: () => api("/api/analytics/overview"),
  isEmpty: (d) => !d.sessions,
  render: (d, body) =>
    kpis(body, [
      { key: "sessions", label: "sessions", value: fmt.number(d.sessions) },
      { key: "visitors", label: "visitors", value: fmt.number(d.visitors) },
      { key: "pageviews", label: "page views", value: fmt.number(d.pageviews) },
      { key: "pages-per-session", label: "pages / session", value: fmt.number(d.pageviews_per_session) },
      { key: "bounce", label: "bounce rate", value: fmt.pct(d.bounce_rate) },
      { key: "avg-duration", label: "avg duration", value: fmt.seconds(d.avg_duration_s) },
      { key: "median-duration", label: "median duration", value: fmt.seconds(d.median_duration_s) },
    ]),
});

view(grid, {
  id: "top-pages",
  title: "Top pages",
  note: "click to filter",
  load: () => api("/api/analytics/pages", { limit: 15 }),
  isEmpty: (d) => !d.pages.length,
  render: (d, body) =>
    bars(body, d.pages, {
      label: (r) => r.page,
      value: (r) => r.pageviews,
      format: (v, r) => `${fmt.number(v)} views · ${fmt.number(r.sessions)} sessions`,
      onClick: (r) => addFilter("page", r.page),
    }),
});

function dimensionSelect() {
  const select = h("select", { name: "dimension", "aria-label": "Break down by", onchange: (e) => setParams({ dimension: e.target.value }) }, DIMENSIONS.map((d) => h("option", { value: d }, d)));
  select.value = params().get("dimension") || "browser";
  return select;
}

view(grid, {
  id: "breakdown",
  title: "Breakdown",
  note: "click a row to filter",
  load: () => api("/api/analytics/breakdown", { dimension: params().get("dimension") || "browser" }),
  isEmpty: (d) => !d.rows.length,
  render: (d, body) => {
    body.append(h("div.controls", {}, h("label", {}, "By ", dimensionSelect())));
    chart(body, {
      type: "doughnut",
      label: `sessions by ${d.dimension}`,
      data: { labels: d.rows.map((r) => r.value || "(unknown)"), datasets: [{ data: d.rows.map((r) => r.sessions), backgroundColor: PALETTE }] },
      options: { plugins: { legend: { display: true, position: "right" } } },
    }, { height: 180 });
    table(
      body,
      d.rows,
      [
        { key: "value", label: d.dimension, format: fmt.text },
        { key: "sessions", label: "Sessions", num: true, format: fmt.number },
        { key: "visitors", label: "Visitors", num: true, format: fmt.number },
        { key: "share", label: "Share", num: true, format: fmt.pct },
        { key: "bounce_rate", label: "Bounce", num: true, format: fmt.pct },
      ],
      { onRow: (r) => addFilter(d.dimension, r.value) },
    );
  },
});

async function topPages(count) {
  // The same request as the Top pages view: one answer for the three views.
  const pages = await api("/api/analytics/pages", { limit: 15 });
  return pages.pages.slice(0, count).map((p) => p.page);
}

view(grid, {
  id: "journeys",
  title: "User journeys",
  wide: true,
  load: async () => {
    const anchor = params().get("anchor") || (await topPages(1))[0];
    if (!anchor) return { journeys: [], queries: [] };
    return api("/api/analytics/journeys", { anchor, direction: params().get("direction") || "from", depth: 3, limit: 12 });
  },
  isEmpty: (d) => !d.journeys.length,
  render: (d, body) => {
    const anchor = h("input", { name: "anchor", value: d.anchor, "aria-label": "Anchor page", size: 24 });
    const direction = h("select", { name: "direction", "aria-label": "Direction" }, h("option", { value: "from" }, "from"), h("option", { value: "to" }, "to"));
    direction.value = d.direction;
    body.append(
      h(
        "form.controls",
        { onsubmit: (e) => (e.preventDefault(), setParams({ anchor: anchor.value.trim() || null, direction: direction.value === "from" ? null : direction.value })) },
        h("label", {}, "Paths ", direction),
        anchor,
        h("button", { type: "submit" }, "Show"),
      ),
    );
    table(body, d.journeys, [
      { key: "path", label: "Path", format: (v) => pathNode(v) },
      { key: "sessions", label: "Sessions", num: true, format: fmt.number },
      { key: "samples", label: "Replay", format: (v) => replayLink(v) },
    ]);
  },
});

async function funnelSteps() {
  const chosen = params().getAll("fstep").filter(Boolean);
  return chosen.length >= 2 ? chosen : await topPages(3);
}

view(grid, {
  id: "page-funnel",
  title: "Page funnel",
  wide: true,
  note: "steps: the top pages unless chosen",
  load: async () => {
    const steps = await funnelSteps();
    if (steps.length < 2) return { steps: [], queries: [] };
    const [funnel, network] = await Promise.all([
      api("/api/analytics/funnel", { steps }),
      api("/api/analytics/funnel/network", { steps }),
    ]);
    return { ...funnel, network: network.steps, queries: [...funnel.queries, ...network.queries] };
  },
  isEmpty: (d) => !d.steps.length || !d.steps[0].sessions,
  render: (d, body) => {
    const input = h("input", { name: "fsteps", value: d.steps.map((s) => s.step).join(", "), size: 60, "aria-label": "Funnel steps" });
    body.append(
      h(
        "form.controls",
        {
          onsubmit: (e) => {
            e.preventDefault();
            const steps = input.value.split(",").map((s) => s.trim()).filter(Boolean);
            const next = new URLSearchParams(location.search);
            next.delete("fstep");
            for (const s of steps) next.append("fstep", s);
            history.pushState(null, "", "?" + next);
            setParams({}, { push: false });
          },
        },
        h("label", {}, "Steps ", input),
        h("button", { type: "submit" }, "Apply"),
      ),
    );
    chart(body, {
      type: "bar",
      label: "sessions per funnel step",
      data: { labels: d.steps.map((s) => s.step), datasets: [{ label: "sessions", data: d.steps.map((s) => s.sessions), backgroundColor: PALETTE[0] }] },
    }, { height: 180 });
    const net = new Map((d.network || []).map((n) => [n.step, n]));
    table(body, d.steps, [
      { key: "step", label: "Step" },
      { key: "sessions", label: "Sessions", num: true, format: fmt.number },
      { key: "conversion_from_first", label: "Of first", num: true, format: fmt.pct },
      { key: "conversion_from_previous", label: "Of previous", num: true, format: fmt.pct },
      { key: "dropped", label: "Dropped", num: true, format: fmt.number },
      { key: "drop_off_samples", label: "Drop-off — replay", format: (v) => replayLink(v) },
      { key: (r) => net.get(r.step), label: "Calls failed / slow", num: true, format: (n) => (n ? `${fmt.number(n.failed)} / ${fmt.number(n.slow)}` : "—") },
      { key: (r) => net.get(r.step), label: "p95 call", num: true, format: (n) => (n ? fmt.ms(n.p95_ms) : "—") },
    ]);
  },
});

view(grid, {
  id: "calls-by-page",
  title: "API calls by page",
  load: () => api("/api/analytics/network"),
  isEmpty: (d) => !d.pages.length,
  render: (d, body) =>
    table(body, d.pages, [
      { key: "page", label: "Page" },
      { key: "calls", label: "Calls", num: true, format: fmt.number },
      { key: "failed", label: "Failed", num: true, format: fmt.number },
      { key: "slow", label: `≥ ${fmt.ms(d.slow_ms)}`, num: true, format: fmt.number },
      { key: "p95_ms", label: "p95", num: true, format: fmt.ms },
      { key: "samples", label: "Replay", format: (v) => replayLink(v) },
    ]),
});

view(grid, {
  id: "retention",
  title: "Weekly retention",
  load: () => api("/api/analytics/retention", { weeks: 6 }),
  isEmpty: (d) => !d.cohorts.length,
  render: (d, body) => {
    const weeks = Array.from({ length: d.weeks + 1 }, (_, i) => i);
    table(body, d.cohorts, [
      { key: "cohort_week", label: "Cohort" },
      { key: "visitors", label: "Visitors", num: true, format: fmt.number },
      ...weeks.map((w) => ({
        key: (r) => r.rates?.[w],
        label: `W${w}`,
        num: true,
        format: (v) => (v === undefined ? "" : h("span", { style: `background:rgba(47,95,179,${0.1 + 0.8 * v});color:${v > 0.5 ? "#fff" : "inherit"};padding:0 4px;border-radius:3px` }, fmt.pct(v))),
      })),
    ]);
  },
});
