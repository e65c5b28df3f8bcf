// Process Mining: Operator Patterns, Order Lifecycle (six modes), Process Map and OCPM.
import { api, view, h, kpis, table, chart, fmt, tabs, shortcuts, addFilter, PALETTE, params, setParams } from "/assets/portal.js";
import { MODES, overPicker } from "/assets/lifecycle.js";
import { drawProcessMap } from "/assets/process-map.js";
import { ocpm } from "/assets/ocpm.js";
import { pathNode } from "/assets/generic.js";

const root = document.getElementById("process");

function operators(panel) {
  const grid = h("div.grid");
  panel.append(grid);
  view(grid, {
    id: "operators",
    title: "Operator Patterns — leaderboard",
    wide: true,
    note: "click a row to filter on the operator",
    load: () => api("/api/process/operators", { limit: 20 }),
    isEmpty: (d) => !d.operators.length,
    render: (d, body) => {
      kpis(body, [
        { key: "operators", label: "operators", value: fmt.number(d.total_operators) },
        { key: "events", label: "domain events", value: fmt.number(d.total_events) },
        { key: "top-share", label: "top operator share", value: `${fmt.number(d.operators[0]?.events_share_pct)}%` },
      ]);
      const top = d.operators.slice(0, 12);
      const categories = [...new Set(top.flatMap((o) => Object.keys(o.categories)))];
      chart(body, {
        type: "bar",
        label: "task distribution per operator",
        data: {
          labels: top.map((o) => o.name || o.operator_id),
          datasets: categories.map((c, i) => ({ label: c, data: top.map((o) => o.categories[c] || 0), backgroundColor: PALETTE[i % PALETTE.length] })),
        },
        options: { plugins: { legend: { display: true, position: "bottom" } }, scales: { x: { stacked: true }, y: { stacked: true } } },
      }, { height: 260 });
      table(
        body,
        d.operators,
        [
          { key: "name", label: "Operator", format: (v, r) => `${v || r.operator_id}` },
          { key: "role", label: "Role" },
          { key: "team", label: "Team" },
          { key: "events", label: "Events", num: true, format: fmt.number },
          { key: "events_share_pct", label: "Share", num: true, format: (v) => `${fmt.number(v)}%` },
          { key: "orders", label: "Orders", num: true, format: fmt.number },
          { key: "sessions", label: "Sessions", num: true, format: fmt.number },
          { key: "events_per_order", label: "Events/order", num: true, format: fmt.number },
          { key: "automation_opportunity_pct", label: "Automation opp.", num: true, format: (v) => h("span.badge" + (v >= 50 ? ".good" : ""), {}, `${fmt.number(v)}%`) },
          { key: "top_activities", label: "Top activities", format: (v) => (v || []).slice(0, 3).map((a) => `${a.activity} (${a.events})`).join(", ") },
        ],
        { onRow: (row) => addFilter("operator", row.operator_id) },
      );
    },
  });
  view(grid, {
    id: "automation",
    title: "Automation candidates",
    note: "routine activities with the most events",
    load: () => api("/api/process/operators", { limit: 20 }),
    isEmpty: (d) => !d.automation_candidates.length,
    render: (d, body) => {
      chart(body, {
        type: "bar",
        label: "routine activities",
        data: {
          labels: d.automation_candidates.map((a) => a.activity),
          datasets: [{ label: "events", data: d.automation_candidates.map((a) => a.events), backgroundColor: PALETTE[2] }],
        },
        options: { indexAxis: "y" },
      });
    },
  });
}

function lifecycle(panel) {
  const controls = h("div.controls");
  panel.append(controls);
  overPicker(controls);
  const sub = h("div.subtabs");
  panel.append(sub);
  tabs(sub, "mode", MODES, (id, inner) => MODES.find((m) => m.id === id).render(inner));
}

function processMap(panel) {
  const controls = h("div.controls");
  panel.append(controls);
  overPicker(controls);
  view(panel, {
    id: "process-map",
    title: "Process Map — directly-follows graph",
    wide: true,
    note: "edge width: frequency; red: slowest p95",
    load: () => api("/api/process/map", { over: params().get("over") || "orders", limit: 25 }),
    isEmpty: (d) => !d.nodes.length,
    render: (d, body) => {
      kpis(body, [
        { key: "cases", label: "cases", value: fmt.number(d.cases) },
        { key: "activities", label: "activities", value: fmt.number(d.nodes.length) },
        { key: "transitions", label: "transitions shown", value: fmt.number(d.edges.length) },
      ]);
      drawProcessMap(body, d);
      const details = h("details", {}, h("summary", {}, "Transitions as a table"));
      body.append(details);
      table(details, d.edges, [
        { key: (r) => [r.step_from, r.step_to], label: "Transition", format: (v) => pathNode(v) },
        { key: "frequency", label: "Times", num: true, format: fmt.number },
        { key: "cases", label: "Cases", num: true, format: fmt.number },
        { key: "p50_s", label: "Median", num: true, format: fmt.seconds },
        { key: "p95_s", label: "p95", num: true, format: fmt.seconds },
      ]);
    },
  });
}

const SECTIONS = [
  { id: "operators", label: "Operator Patterns", render: operators },
  { id: "lifecycle", label: "Order Lifecycle", render: lifecycle },
  { id: "map", label: "Process Map", render: processMap },
  { id: "ocpm", label: "OCPM", render: ocpm },
];

const sectionTabs = tabs(root, "view", SECTIONS, (id, panel) => SECTIONS.find((s) => s.id === id).render(panel));

shortcuts.add("[", "Previous section", () => sectionTabs.move(-1));
shortcuts.add("]", "Next section", () => sectionTabs.move(1));
MODES.forEach((m, i) =>
  shortcuts.add(String(i + 1), `Order Lifecycle: ${m.label}`, () => setParams({ view: "lifecycle", mode: m.id })),
);
