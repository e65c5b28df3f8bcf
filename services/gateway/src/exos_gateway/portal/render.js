// How views draw their data: figures, tables, Chart.js charts and bar lists.
import { h } from "/assets/dom.js";
import { fmt } from "/assets/format.js";


export function kpis(body, items) {
  body.append(
    h(
      "dl.kpis",
      {},
      items.map((item) => h("div.kpi", { "data-kpi": item.key || item.label }, h("dt", {}, item.label), h("dd", {}, item.value))),
    ),
  );
}

/** A table of `rows`; each column: {key, label, format(value, row) -> text|Node, num}. */
export function table(body, rows, columns, { onRow = null, limit = 200 } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th" + (c.num ? ".num" : ""), { scope: "col" }, c.label)));
  const lines = rows.slice(0, limit).map((row, index) => {
    const tr = h(
      "tr",
      { tabindex: onRow ? "0" : null, "data-row": index },
      columns.map((c) => {
        const raw = typeof c.key === "function" ? c.key(row) : row[c.key];
        const shown = c.format ? c.format(raw, row) : raw ?? "";
        return h("td" + (c.num ? ".num" : ""), {}, shown);
      }),
    );
    if (onRow) {
      tr.classList.add("clickable");
      tr.addEventListener("click", (event) => {
        if (!event.target.closest("a,button")) onRow(row, event);
      });
      tr.addEventListener("keydown", (event) => {
        if (event.key === "Enter") onRow(row, event);
      });
    }
    return tr;
  });
  const el = h("table.data", {}, h("thead", {}, head), h("tbody", {}, lines));
  body.append(h("div.table-wrap", {}, el));
  if (rows.length > limit) body.append(h("p.muted", {}, `First ${limit} of ${rows.length} rows.`));
  return el;
}

export const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** A Chart.js chart in `body`; `config` is Chart.js's. */
export function chart(body, config, { height = 220 } = {}) {
  const canvas = h("canvas", { role: "img", "aria-label": config.label || "chart" });
  body.append(h("div.chart", { style: `height:${height}px` }, canvas));
  if (!window.Chart) {
    body.append(h("p.state.error", {}, "Chart.js is not installed (run scripts/setup.sh)."));
    return null;
  }
  const options = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: (config.data?.datasets?.length || 0) > 1 } },
    ...config.options,
  };
  return new window.Chart(canvas, { ...config, options });
}

/** A horizontal bar list (label, value) — dense, no canvas needed, clickable. */
export function bars(body, rows, { label, value, format = fmt.number, onClick = null, extra = null }) {
  const max = Math.max(1, ...rows.map((r) => Number(value(r)) || 0));
  const list = h(
    "ol.bars",
    {},
    rows.map((row) => {
      const v = Number(value(row)) || 0;
      const item = h(
        "li",
        { tabindex: onClick ? "0" : null },
        h("span.bar-label", {}, label(row)),
        h("span.bar", {}, h("span.fill", { style: `width:${(100 * v) / max}%` })),
        h("span.bar-value", {}, format(v, row)),
        extra ? extra(row) : null,
      );
      if (onClick) {
        item.classList.add("clickable");
        item.addEventListener("click", (event) => {
          if (!event.target.closest("a,button")) onClick(row);
        });
        item.addEventListener("keydown", (event) => event.key === "Enter" && onClick(row));
      }
      return item;
    }),
  );
  body.append(list);
}

